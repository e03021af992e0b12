/*
** core.c: luaopen_dockerpty_core, the only exported symbol. Opens each
** concern of the C core into one module table, in dependency order.
*/
#include <stdlib.h>

#include "dockerpty.h"

int luaopen_dockerpty_core(lua_State *L) {
#ifdef DP_SANITIZE_ENV
    /* Test builds only (make SANITIZE=1): the sanitizer runtimes are in; the
    ** programs the specs start should not get them (see the Makefile). */
    unsetenv("LD_PRELOAD");
#endif
    /* libcurl is not loaded here: only TCP and TLS endpoints need it
    ** (curlapi.c loads it on first use). */
    lua_newtable(L);
    lua_pushliteral(L, DP_VERSION);
    lua_setfield(L, -2, "_VERSION");
    util_open(L);     /* fd helpers used by every other file */
    curlapi_open(L);  /* libcurl on demand: curl_version, curl_loaded */
    term_open(L);     /* termios, window size */
    demux_open(L);    /* stream framing, used by pumps */
    escape_open(L);   /* detach keys, used by pumps */
    cast_open(L);     /* asciicast event text, used by recordings */
    vtmodes_open(L);  /* terminal modes left on, used by pumps */
    httphead_open(L); /* response head parser, used by conn */
    conn_open(L);     /* hijacked connections, sources and sinks of pumps */
    http_open(L);     /* REST requests */
    pump_open(L);     /* pumps, over all of the above */
    sigstate_open(L); /* signal dispositions of a blocking run; kill */
    loop_open(L);     /* the loop that steps or runs pumps */
    sha256_open(L);   /* context store names (context.lua) */
    return 1;
}
