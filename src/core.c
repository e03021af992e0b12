/*
** core.c: luaopen_dockerpty_core, the only exported symbol. Opens each
** concern of the C core into one module table, in dependency order.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "dockerpty.h"

/* Standard descriptors 0, 1 and 2 that are closed (`prog <&-`) are opened
** on /dev/null before the core opens anything: otherwise the first socket
** would land on fd 0 and be read as stdin, or on fd 1 and get the output.
** open() takes the lowest free number, so in this order each lands where
** it is missing. They are not close-on-exec: they stand for the standard
** streams, which children inherit like any others. */
static void core_fill_stdfds(void) {
    int fd;
    for (fd = 0; fd <= 2; fd++) {
        int n;
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (n >= 0 && n != fd)
            close(n);   /* another thread took fd meanwhile: leave it */
    }
}

int luaopen_dockerpty_core(lua_State *L) {
#ifdef DP_SANITIZE_ENV
    /* Test builds only (make SANITIZE=1): the sanitizer runtimes are in; the
    ** programs the specs start should not get them (see the Makefile). */
    unsetenv("LD_PRELOAD");
#endif
    /* libcurl is not loaded here: only TCP and TLS endpoints need it
    ** (curlapi.c loads it on first use). */
    core_fill_stdfds();
    lua_newtable(L);
    lua_pushliteral(L, DP_VERSION);
    lua_setfield(L, -2, "_VERSION");
    util_open(L);     /* fd helpers used by every other file */
    curlapi_open(L);  /* libcurl on demand: curl_version */
    term_open(L);     /* termios, window size */
    demux_open(L);    /* stream framing, used by pumps */
    escape_open(L);   /* detach keys, used by pumps */
    cast_open(L);     /* asciicast event text, used by recordings */
    vtmodes_open(L);  /* terminal modes left on, used by pumps */
    httpcodec_open(L); /* HTTP/1.1 codec, used by http and the session engine */
    conn_open(L);     /* hijacked connections, sources and sinks of pumps */
    http_open(L);     /* REST requests */
    pump_open(L);     /* pumps, over all of the above */
    sigstate_open(L); /* signal dispositions of a blocking run */
    loop_open(L);     /* the loop that steps or runs pumps */
    sha256_open(L);   /* context store names (context.lua) */
    return 1;
}
