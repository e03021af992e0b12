/*
** fuzz_pump.c: libFuzzer target F5: the end-to-end pump. Embeds Lua with
** the whole C core (luaopen_dockerpty_core) and runs spec/fuzz/pump_driver.lua
** on each input: a scripted fake daemon on a socketpair or a real hijacked
** connection (libcurl, unix socket), fuzzer-chosen chunking, the loop run
** one poll round at a time, outputs checked against reference decoders.
**
** What the driver cannot do from Lua is provided here as `tune`:
**   tune.sndbuf(fd)  a small SO_SNDBUF, so sinks fill and writes come short
**   tune.inject(fd)  read()/write() and recv()/send() (a socket fd) by the
**                    core on fd go through the fault schedule: the core is
**                    linked with --wrap=read,--wrap=write,--wrap=recv,--wrap=send
**   tune.faults(s)   the schedule, one byte per intercepted call, cycled:
**                    0-159 pass, 160-191 EINTR, 192-223 EAGAIN with nothing
**                    done, 224-255 a short transfer of 1 + (b - 224) bytes.
**                    After a fault the next call on that fd passes, so the
**                    core always makes progress.
**   tune.fail(fd, n, name)  write() on fd takes n bytes in all (the last
**                    write short if need be), then fails with errno `name`
**                    ("EPIPE", "ENOSPC" or "EIO") for good: a sink whose
**                    reader went away or whose disk filled, mid-frame
**   tune.reset()     forget the fds, the schedule and the failing fd
** The faults are deterministic: no timers, no threads.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "dockerpty.h"

/* The specs' own module (spec/support/testcore.c), linked in. */
int luaopen_dockerpty_test(lua_State *L);

#ifndef DP_FUZZ_DIR
#error "DP_FUZZ_DIR: the directory of pump_driver.lua"
#endif

/* The specs' own module (spec/support/testcore.c, linked in): the listener. */
int luaopen_dockerpty_test(lua_State *L);

/* {======================================================
** Fault injection
** ======================================================= */

#define MAXFD 1024

static unsigned char g_inject[MAXFD];   /* 1: injected; 2: last call faulted */
static unsigned char g_faults[256];
static size_t g_nfaults, g_fpos;
static int g_failfd = -1, g_failerr;    /* tune.fail: the fd, its errno */
static size_t g_failleft;               /* ... and the bytes it takes still */

ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __real_recv(int fd, void *buf, size_t n, int flags);
ssize_t __real_send(int fd, const void *buf, size_t n, int flags);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags);
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags);

/* 0: pass; -1: fail with *err; > 0: limit the transfer to that many bytes. */
static long fault(int fd, size_t n, int *err) {
    unsigned char b;
    if (fd < 0 || fd >= MAXFD || !g_inject[fd] || g_nfaults == 0 || n == 0)
        return 0;
    if (g_inject[fd] == 2) {
        g_inject[fd] = 1;
        return 0;
    }
    b = g_faults[g_fpos++ % g_nfaults];
    if (b < 160)
        return 0;
    g_inject[fd] = 2;
    if (b < 192) {
        *err = EINTR;
        return -1;
    }
    if (b < 224) {
        *err = EAGAIN;
        return -1;
    }
    return 1 + (b - 224);
}

/* recv() and read() alike: flags < 0 for read(). */
static ssize_t in_call(int fd, void *buf, size_t n, int flags) {
    int err = 0;
    long f = fault(fd, n, &err);
    if (f < 0) {
        errno = err;
        return -1;
    }
    if (f > 0 && (size_t)f < n)
        n = (size_t)f;
    return flags < 0 ? __real_read(fd, buf, n) : __real_recv(fd, buf, n, flags);
}

/* send() and write() alike, flags < 0 for write(); tune.fail applies. */
static ssize_t out_call(int fd, const void *buf, size_t n, int flags) {
    int err = 0;
    long f;
    ssize_t r;
    if (fd == g_failfd && n > 0) {
        if (g_failleft == 0) {
            errno = g_failerr;
            return -1;
        }
        if (n > g_failleft)
            n = g_failleft;
    }
    f = fault(fd, n, &err);
    if (f < 0) {
        errno = err;
        return -1;
    }
    if (f > 0 && (size_t)f < n)
        n = (size_t)f;
    r = flags < 0 ? __real_write(fd, buf, n) : __real_send(fd, buf, n, flags);
    if (fd == g_failfd && r > 0)
        g_failleft -= (size_t)r;
    return r;
}

ssize_t __wrap_read(int fd, void *buf, size_t n) { return in_call(fd, buf, n, -1); }
ssize_t __wrap_recv(int fd, void *buf, size_t n, int flags) { return in_call(fd, buf, n, flags); }
ssize_t __wrap_write(int fd, const void *buf, size_t n) { return out_call(fd, buf, n, -1); }
ssize_t __wrap_send(int fd, const void *buf, size_t n, int flags) { return out_call(fd, buf, n, flags); }

static int tune_sndbuf(lua_State *L) {
    int fd = (int)luaL_checkinteger(L, 1);
    int size = 4096;   /* the kernel doubles it and keeps a minimum */
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return 0;
}

static int tune_inject(lua_State *L) {
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd < MAXFD, 1, "fd out of range");
    g_inject[fd] = 1;
    return 0;
}

static int tune_faults(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (n > sizeof g_faults)
        n = sizeof g_faults;
    memcpy(g_faults, s, n);
    g_nfaults = n;
    g_fpos = 0;
    return 0;
}

static int tune_fail(lua_State *L) {
    static const char *const names[] = {"EPIPE", "ENOSPC", "EIO", NULL};
    static const int errs[] = {EPIPE, ENOSPC, EIO};
    int fd = (int)luaL_checkinteger(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 0, 2, "negative byte count");
    g_failerr = errs[luaL_checkoption(L, 3, NULL, names)];
    g_failleft = (size_t)n;
    g_failfd = fd;
    return 0;
}

static int tune_reset(lua_State *L) {
    (void)L;
    memset(g_inject, 0, sizeof g_inject);
    g_nfaults = g_fpos = 0;
    g_failfd = -1;
    return 0;
}

/* }====================================================== */

static lua_State *g_L;
static char g_sock[108];

static void cleanup(void) {
    if (g_sock[0])
        unlink(g_sock);
}

static int traceback(lua_State *L) {
    luaL_traceback(L, L, luaL_tolstring(L, 1, NULL), 1);
    return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static const luaL_Reg tune[] = {
        {"sndbuf", tune_sndbuf},
        {"inject", tune_inject},
        {"faults", tune_faults},
        {"fail", tune_fail},
        {"reset", tune_reset},
        {NULL, NULL}
    };
    lua_State *L = luaL_newstate();
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    luaL_openlibs(L);
    luaL_requiref(L, "dockerpty_test", luaopen_dockerpty_test, 0);
    lua_pop(L, 1);
    luaL_requiref(L, "dockerpty.core", luaopen_dockerpty_core, 0);
    lua_setglobal(L, "core");
    if (luaL_dofile(L, DP_FUZZ_DIR "/pump_driver.lua") != LUA_OK) {
        fprintf(stderr, "fuzz_pump: %s\n", lua_tostring(L, -1));
        exit(1);
    }
    lua_setglobal(L, "driver");
    lua_createtable(L, 0, 2);
    snprintf(g_sock, sizeof g_sock, "/tmp/dp-fuzz-pump-%ld.sock", (long)getpid());
    atexit(cleanup);
    lua_pushstring(L, g_sock);
    lua_setfield(L, -2, "socket");
    luaL_newlib(L, tune);
    lua_setfield(L, -2, "tune");
    /* No byte may be lost when a pump stops (F5-1, fixed); DP_FUZZ_STRICT=0
    ** allows the old bounded loss. */
    lua_pushboolean(L, getenv("DP_FUZZ_STRICT") == NULL || strcmp(getenv("DP_FUZZ_STRICT"), "0") != 0);
    lua_setfield(L, -2, "strict");
    lua_setglobal(L, "opts");
    g_L = L;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lua_State *L = g_L;
    lua_settop(L, 0);
    lua_pushcfunction(L, traceback);
    lua_getglobal(L, "driver");
    lua_getfield(L, -1, "run");
    lua_remove(L, -2);
    lua_getglobal(L, "core");
    lua_pushlstring(L, (const char *)data, size);
    lua_getglobal(L, "opts");
    if (lua_pcall(L, 3, 0, 1) != LUA_OK) {
        fprintf(stderr, "fuzz_pump: check failed: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_settop(L, 0);
    /* Free this input's garbage now: libFuzzer runs LeakSanitizer after an
    ** input that leaves more mallocs than frees, which is slow. */
    lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
