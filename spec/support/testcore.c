/*
** testcore.c: `dockerpty_test`, a module for specs only (never shipped):
** what a spec needs of the process that Lua and the core do not give.
**   fail_alloc_after(n)  the state's allocator fails every allocation that
**                        grows memory after n more have succeeded
**   restore_alloc()      the original allocator again
**   disposition(name)    "default", "ignore" or "handler" for a signal
*/
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>

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

__attribute__((visibility("default"))) int luaopen_dockerpty_test(lua_State *L);

int luaopen_dockerpty_test(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"fail_alloc_after", t_fail_alloc_after},
        {"restore_alloc", t_restore_alloc},
        {"disposition", t_disposition},
        {NULL, NULL}
    };
    luaL_newlib(L, funcs);
    return 1;
}
