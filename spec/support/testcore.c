/*
** testcore.c: `dockerpty_test`, a module for specs only (never shipped):
** what a spec needs of the process that Lua and the core do not give.
**   fail_alloc_after(n)  the state's allocator fails every allocation that
**                        grows memory after n more have succeeded
**   restore_alloc()      the original allocator again
**   disposition(name)    "default", "ignore" or "handler" for a signal
**   listen_unix(path)    a listening unix socket for a fake daemon
**   accept(fd[, ms])     a connection from it
** and, in the section "Processes, fds and ptys", the raw OS calls specs
** make around the core (they left dockerpty.core, which ships):
**   openpty([rows, cols]), pipe(), socketpair(), close(fd), shutdown(fd),
**   getpid(), kill(pid, name)
**   heap()               bytes the C allocator has handed out and not had
**                        back (glibc's mallinfo2: in-use chunks of every
**                        arena plus mmapped ones); nil elsewhere
** and, in "Terminals, heads and libcurl", what specs inspect of the core:
**   tcgetattr(f), termflags(f), setwinsize(f, rows, cols),
**   parse_head(s) (src/httphead.c's parser), curl_loaded()
** Failures return nil, "call: strerror", errno name, as the core's
** primitives do.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

#include "curlapi.h"   /* CURLAPI_SONAME */
#include "httphead.h"

static lua_Alloc g_orig;
static void *g_ud;
static long g_left = -1;     /* < 0: not armed */

static void *failing_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    if (nsize > 0 && (ptr == NULL || nsize > osize) && g_left >= 0) {
        if (g_left == 0)
            return NULL;
        g_left--;
    }
    return g_orig(ud, ptr, osize, nsize);
}

static int t_fail_alloc_after(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    if (g_orig == NULL) {
        g_orig = lua_getallocf(L, &g_ud);
        lua_setallocf(L, failing_alloc, g_ud);
    }
    g_left = n;
    return 0;
}

static int t_restore_alloc(lua_State *L) {
    g_left = -1;
    if (g_orig != NULL) {
        lua_setallocf(L, g_orig, g_ud);
        g_orig = NULL;
    }
    return 0;
}

static int t_disposition(lua_State *L) {
    static const struct { const char *name; int signo; } names[] = {
        {"INT", SIGINT}, {"TERM", SIGTERM}, {"HUP", SIGHUP}, {"USR1", SIGUSR1},
        {"USR2", SIGUSR2}, {"WINCH", SIGWINCH}, {"PIPE", SIGPIPE}, {NULL, 0}
    };
    const char *s = luaL_checkstring(L, 1);
    struct sigaction sa;
    int i;
    for (i = 0; names[i].name; i++)
        if (strcmp(names[i].name, s) == 0)
            break;
    if (names[i].name == NULL)
        return luaL_argerror(L, 1, "unknown signal");
    sigaction(names[i].signo, NULL, &sa);
    if (sa.sa_handler == SIG_DFL)
        lua_pushliteral(L, "default");
    else if (sa.sa_handler == SIG_IGN)
        lua_pushliteral(L, "ignore");
    else
        lua_pushliteral(L, "handler");
    return 1;
}

/* {======================================================================
** The fake daemon's listener (spec/support/fakedaemon.lua, fakeengine.lua):
** every fd close-on-exec; failures are nil, "call: strerror", "ENAME".
** ======================================================================= */

static int t_fail(lua_State *L, const char *call, int err) {
    const char *name = strerrorname_np(err);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", call, strerror(err));
    lua_pushstring(L, name ? name : "EUNKNOWN");
    return 3;
}

/* listen_unix(path) -> fd | nil, message, name */
static int t_listen_unix(lua_State *L) {
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len);
    struct sockaddr_un sa;
    int fd, e;
    luaL_argcheck(L, len > 0 && len < sizeof sa.sun_path, 1, "path too long");
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return t_fail(L, "socket", errno);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
        e = errno;
        close(fd);
        return t_fail(L, "bind", e);
    }
    lua_pushinteger(L, fd);
    return 1;
}

/* Milliseconds of a monotonic clock. */
static long long t_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* accept(fd[, timeout_ms]) -> fd | nil, "timeout", "timeout" | nil, message,
** name. No timeout (or a negative one): wait for ever. */
static int t_accept(lua_State *L) {
    int fd = (int)luaL_checkinteger(L, 1);
    lua_Integer ms = luaL_optinteger(L, 2, -1);
    long long deadline = ms < 0 ? -1 : t_now_ms() + (long long)ms;
    struct pollfd p;
    int r;
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            long long left = deadline - t_now_ms();
            wait = left <= 0 ? 0 : (left > INT_MAX ? INT_MAX : (int)left);
        }
        p.fd = fd;
        p.events = POLLIN;
        r = poll(&p, 1, wait);
        if (r > 0)
            break;
        if (r == 0) {
            lua_pushnil(L);
            lua_pushliteral(L, "timeout");
            lua_pushliteral(L, "timeout");
            return 3;
        }
        if (errno != EINTR)
            return t_fail(L, "poll", errno);
    }
    r = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (r < 0)
        return t_fail(L, "accept", errno);
    lua_pushinteger(L, r);
    return 1;
}

/* }====================================================================== */

/* {======================================================
** Processes, fds and ptys: what the specs do around the core. Every fd is
** close-on-exec, as the core's own are.
** ======================================================= */

static int t_pushpair(lua_State *L, const int fds[2]) {
    lua_pushinteger(L, fds[0]);
    lua_pushinteger(L, fds[1]);
    return 2;
}

static unsigned short t_checkdim(lua_State *L, int idx) {
    lua_Integer v = luaL_checkinteger(L, idx);
    luaL_argcheck(L, v >= 0 && v <= 0xffff, idx, "out of range");
    return (unsigned short)v;
}

/* The slave of a master that posix_openpt opened and unlocked, sized
** when ws is not NULL; -1 with errno and *what set on failure. */
static int t_openslave(int master, const struct winsize *ws, const char **what) {
    char name[128];
    int slave, err;
    if ((err = ptsname_r(master, name, sizeof name)) != 0) {
        errno = err;
        *what = "ptsname_r";
        return -1;
    }
    slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        *what = "open";
        return -1;
    }
    if (ws != NULL && ioctl(slave, TIOCSWINSZ, ws) < 0) {
        err = errno;
        close(slave);
        errno = err;
        *what = "ioctl";
        return -1;
    }
    return slave;
}

/* openpty([rows, cols]): a pty pair (master, slave); the slave does not
** become the controlling terminal. Sized when rows and cols are given. */
static int t_openpty(lua_State *L) {
    int sized = !lua_isnoneornil(L, 1);
    struct winsize ws;
    const char *what;
    int fds[2], err;
    memset(&ws, 0, sizeof ws);
    if (sized) {
        ws.ws_row = t_checkdim(L, 1);
        ws.ws_col = t_checkdim(L, 2);
    }
    /* From here on no Lua call may raise until both fds are pushed. */
    fds[0] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fds[0] < 0)
        return t_fail(L, "posix_openpt", errno);
    if (grantpt(fds[0]) < 0)
        what = "grantpt";
    else if (unlockpt(fds[0]) < 0)
        what = "unlockpt";
    else if ((fds[1] = t_openslave(fds[0], sized ? &ws : NULL, &what)) >= 0)
        return t_pushpair(L, fds);
    err = errno;
    close(fds[0]);
    return t_fail(L, what, err);
}

static int t_pipe(lua_State *L) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return t_fail(L, "pipe", errno);
    return t_pushpair(L, fds);
}

static int t_socketpair(lua_State *L) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
        return t_fail(L, "socketpair", errno);
    return t_pushpair(L, fds);
}

static int t_close(lua_State *L) {
    int fd = (int)luaL_checkinteger(L, 1);
    if (close(fd) < 0)
        return t_fail(L, "close", errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* shutdown(fd): shut the write side of a socket (SHUT_WR). */
static int t_shutdown(lua_State *L) {
    int fd = (int)luaL_checkinteger(L, 1);
    if (shutdown(fd, SHUT_WR) < 0)
        return t_fail(L, "shutdown", errno);
    lua_pushboolean(L, 1);
    return 1;
}

static int t_getpid(lua_State *L) {
    lua_pushinteger(L, getpid());
    return 1;
}

/* kill(pid, name): send the signal "TERM", "SIGUSR1"... to pid. */
static int t_kill(lua_State *L) {
    static const struct { const char *name; int signo; } names[] = {
        {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"TERM", SIGTERM},
        {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"WINCH", SIGWINCH},
        {"ALRM", SIGALRM}, {"CONT", SIGCONT}, {"TSTP", SIGTSTP},
        {"KILL", SIGKILL}, {"STOP", SIGSTOP}, {NULL, 0}
    };
    lua_Integer pid = luaL_checkinteger(L, 1);
    const char *s = luaL_checkstring(L, 2);
    int i;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (i = 0; names[i].name; i++)
        if (strcmp(names[i].name, s) == 0)
            break;
    if (names[i].name == NULL)
        return luaL_error(L, "unknown signal '%s'", lua_tostring(L, 2));
    if (kill((pid_t)pid, names[i].signo) < 0)
        return t_fail(L, "kill", errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* RSS also moves when the allocator keeps or returns free pages; this is
** what is in use, so a leak shows and a freed page kept does not */
static int t_heap(lua_State *L) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 mi = mallinfo2();
    lua_pushinteger(L, (lua_Integer)(mi.uordblks + mi.hblkhd));
#else
    lua_pushnil(L);
#endif
    return 1;
}

static const luaL_Reg proc_funcs[] = {
    {"openpty", t_openpty},
    {"pipe", t_pipe},
    {"socketpair", t_socketpair},
    {"close", t_close},
    {"shutdown", t_shutdown},
    {"getpid", t_getpid},
    {"kill", t_kill},
    {"heap", t_heap},
    {NULL, NULL}
};

/* }====================================================== */

/* {======================================================
** Terminals, heads and libcurl: what the specs inspect of the core's
** work. A terminal argument is a Lua file handle or an fd.
** ======================================================= */

static int t_checkfd(lua_State *L, int idx) {
    luaL_Stream *p;
    if (lua_isinteger(L, idx))
        return (int)luaL_checkinteger(L, idx);
    p = (luaL_Stream *)luaL_testudata(L, idx, LUA_FILEHANDLE);
    if (p == NULL || p->closef == NULL)
        luaL_typeerror(L, idx, "file or fd");
    return fileno(p->f);
}

static int t_getattr(lua_State *L, struct termios *t) {
    int fd = t_checkfd(L, 1);
    memset(t, 0, sizeof *t);   /* padding bytes compare equal */
    return tcgetattr(fd, t);
}

/* tcgetattr(f): the bytes of its struct termios, for comparing states */
static int t_tcgetattr(lua_State *L) {
    struct termios t;
    if (t_getattr(L, &t) < 0)
        return t_fail(L, "tcgetattr", errno);
    lua_pushlstring(L, (const char *)&t, sizeof t);
    return 1;
}

/* termflags(f): {iflag=, oflag=, cflag=, lflag=, vmin=, vtime=} */
static int t_termflags(lua_State *L) {
    struct termios t;
    if (t_getattr(L, &t) < 0)
        return t_fail(L, "tcgetattr", errno);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, (lua_Integer)t.c_iflag);
    lua_setfield(L, -2, "iflag");
    lua_pushinteger(L, (lua_Integer)t.c_oflag);
    lua_setfield(L, -2, "oflag");
    lua_pushinteger(L, (lua_Integer)t.c_cflag);
    lua_setfield(L, -2, "cflag");
    lua_pushinteger(L, (lua_Integer)t.c_lflag);
    lua_setfield(L, -2, "lflag");
    lua_pushinteger(L, t.c_cc[VMIN]);
    lua_setfield(L, -2, "vmin");
    lua_pushinteger(L, t.c_cc[VTIME]);
    lua_setfield(L, -2, "vtime");
    return 1;
}

/* setwinsize(f, rows, cols): TIOCSWINSZ; the pty's foreground group gets
** SIGWINCH */
static int t_setwinsize(lua_State *L) {
    int fd = t_checkfd(L, 1);
    struct winsize ws;
    memset(&ws, 0, sizeof ws);
    ws.ws_row = t_checkdim(L, 2);
    ws.ws_col = t_checkdim(L, 3);
    if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
        return t_fail(L, "ioctl", errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* parse_head(s): the core's response head parser (src/httphead.c):
** status, reason, headers, length of the head; 0 when more bytes are
** needed; nil, "malformed response head", "protocol" */
static int t_parse_head(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    dp_head h;
    long n = dp_head_parse(s, len, &h);
    if (n < 0) {
        luaL_pushfail(L);
        lua_pushliteral(L, "malformed response head");
        lua_pushliteral(L, "protocol");
        return 3;
    }
    lua_pushinteger(L, n == 0 ? 0 : h.status);
    if (n == 0)
        return 1;
    lua_pushlstring(L, h.reason, h.reason_len);
    dp_head_push(L, &h);
    lua_pushinteger(L, n);
    return 4;
}

/* curl_loaded(): whether libcurl is in the process (the core loads it
** with dlopen on first use, src/curlapi.c) */
static int t_curl_loaded(lua_State *L) {
    void *lib = dlopen(CURLAPI_SONAME, RTLD_NOW | RTLD_NOLOAD);
    lua_pushboolean(L, lib != NULL);
    if (lib != NULL)
        dlclose(lib);
    return 1;
}

static const luaL_Reg core_funcs[] = {
    {"tcgetattr", t_tcgetattr},
    {"termflags", t_termflags},
    {"setwinsize", t_setwinsize},
    {"parse_head", t_parse_head},
    {"curl_loaded", t_curl_loaded},
    {NULL, NULL}
};

/* }====================================================== */

__attribute__((visibility("default"))) int luaopen_dockerpty_test(lua_State *L);

int luaopen_dockerpty_test(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"fail_alloc_after", t_fail_alloc_after},
        {"restore_alloc", t_restore_alloc},
        {"disposition", t_disposition},
        {"listen_unix", t_listen_unix},
        {"accept", t_accept},
        {NULL, NULL}
    };
    luaL_newlib(L, funcs);
    luaL_setfuncs(L, proc_funcs, 0);   /* processes, fds and ptys */
    luaL_setfuncs(L, core_funcs, 0);   /* terminals, heads, libcurl */
    return 1;
}
