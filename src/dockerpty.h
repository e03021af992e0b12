/*
** dockerpty.h: shared declarations of the C core `dockerpty.core`.
** Only luaopen_dockerpty_core is exported; everything else is hidden.
*/
#ifndef DOCKERPTY_H
#define DOCKERPTY_H

#include <lua.h>
#include <lauxlib.h>

#define DP_EXPORT __attribute__((visibility("default")))
#define DP_HIDDEN __attribute__((visibility("hidden")))

#define DP_VERSION "0.1.0"

#if defined(__GNUC__)
#define dp_unlikely(x) __builtin_expect(!!(x), 0)
#else
#define dp_unlikely(x) (x)
#endif

/* Userdata type names (the metatables' __name). */
#define DP_TERMSTATE "dockerpty.TermState"
#define DP_DEMUX     "dockerpty.Demux"
#define DP_ESCAPE    "dockerpty.Escape"
#define DP_VTMODES   "dockerpty.VtModes"
#define DP_CONN      "dockerpty.Conn"
#define DP_HTTP      "dockerpty.Http"
#define DP_PUMP      "dockerpty.Pump"
#define DP_LOOP      "dockerpty.Loop"

/* Each concern registers its functions into the module table at -1. */
DP_HIDDEN int util_open(lua_State *L);
DP_HIDDEN int curlapi_open(lua_State *L);
DP_HIDDEN int term_open(lua_State *L);
DP_HIDDEN int demux_open(lua_State *L);
DP_HIDDEN int escape_open(lua_State *L);
DP_HIDDEN int cast_open(lua_State *L);
DP_HIDDEN int vtmodes_open(lua_State *L);
DP_HIDDEN int httpcodec_open(lua_State *L);
DP_HIDDEN int conn_open(lua_State *L);
DP_HIDDEN int http_open(lua_State *L);
DP_HIDDEN int pump_open(lua_State *L);
DP_HIDDEN int sigstate_open(lua_State *L);
DP_HIDDEN int loop_open(lua_State *L);
DP_HIDDEN int sha256_open(lua_State *L);

int DP_EXPORT luaopen_dockerpty_core(lua_State *L);

#endif
