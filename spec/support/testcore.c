/*
** testcore.c: `dockerpty_test`, a module for specs only (never shipped):
** what a spec needs of the process that Lua and the core do not give.
**   fail_alloc_after(n)  the state's allocator fails every allocation that
**                        grows memory after n more have succeeded
**   restore_alloc()      the original allocator again
**   disposition(name)    "default", "ignore" or "handler" for a signal
**   listen_unix(path)    a listening unix socket for a fake daemon
**   accept(fd[, ms])     a connection from it
*/
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>

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
    return 1;
}
