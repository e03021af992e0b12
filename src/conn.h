/*
** conn.h: a connection to the daemon made through libcurl in connect-only
** mode (unix socket, TCP or TLS): the hijacked attach/exec stream, and the
** raw HTTP exchanges the Lua layer writes itself (wait). Used as a source
** and sink by the pumps.
*/
#ifndef DP_CONN_H
#define DP_CONN_H

#include <stddef.h>
#include <curl/curl.h>
#include "dockerpty.h"

#pragma GCC visibility push(hidden)

typedef struct dp_conn {
    CURL *curl;          /* NULL once closed */
    int fd;              /* CURLINFO_ACTIVESOCKET, -1 once closed */
    int tls;             /* 1 over https */
    int wclosed;         /* half-closed by us */
    char *pre;           /* bytes read past the response head (malloc) */
    size_t prelen, preoff;
    char where[256];     /* "unix:///run/docker.sock" or "tcp://h:p", for messages */
    char errmsg[512];    /* text of the last error from recv/send/shutdown */
} dp_conn;

/* luaL_checkudata + "attempt to use a closed connection" (raises). */
dp_conn *dp_conn_check(lua_State *L, int idx);

/*
** Non-blocking receive; serves the pre-buffer first. Returns 0 with *n > 0
** bytes, 0 with *n == 0 at EOF, EAGAIN when nothing is ready, or another
** errno value on failure (text in c->errmsg).
*/
int dp_conn_recv(dp_conn *c, char *buf, size_t len, size_t *n);

/* Non-blocking send: 0 with *n bytes sent (maybe fewer than len), EAGAIN,
** or an errno value (EPIPE, ECONNRESET...; text in c->errmsg). */
int dp_conn_send(dp_conn *c, const char *buf, size_t len, size_t *n);

/* Half-close: no more writes; reading goes on. 0 or an errno value. Over
** TLS sends close_notify first. */
int dp_conn_shutdown(dp_conn *c);

/* Bytes already buffered that poll() will not report (pre-buffer). */
size_t dp_conn_pending(const dp_conn *c);

#pragma GCC visibility pop

#endif
