/*
** conn.h: dockerpty.Conn, a connection to the daemon over one of the
** transports of transport.h (unix socket, libcurl, ssh): the hijacked
** attach/exec stream, and the raw HTTP exchanges the Lua layer writes
** itself (wait). Used as a source and sink by the pumps. Also what http.c
** shares with the transports (the libcurl options, the CURLE_* names, the
** sealing of libcurl's fds, and its connection errors).
*/
#ifndef DP_CONN_H
#define DP_CONN_H

#include <stddef.h>
#include "curlapi.h"
#include "dockerpty.h"
#include "ssh.h"
#include "transport.h"

#pragma GCC visibility push(hidden)

typedef struct dp_conn {
    dp_transport tr;     /* what moves the bytes */
    int fd;              /* tr.fd (read by the pumps); -1 once closed */
    int tls;             /* tr.tls: 1 over https */
    int wclosed;         /* half-closed by us */
    char *pre;           /* bytes read past the response head (malloc) */
    size_t prelen, preoff;
    char where[256];     /* "unix:///run/docker.sock" or "tcp://h:p", for messages */
    char errmsg[512];    /* "<where>: <reason>" of the last failure of recv/send/shutdown */
} dp_conn;

/* Set the libcurl options every handle gets (tr_curl.c): http/https only,
** no redirects, no proxy, keepalive on TCP, TLS verification unless turned
** off. Not the URL. */
CURLcode dp_endpoint_apply(CURL *curl, const dp_endpoint *ep);
/*
** The first curl_easy_perform of a handle also makes libcurl's internal
** multi handle, with a socketpair (its wakeup) that libcurl 7.x opens
** inheritable. Around that first perform: dp_fds_note records the fds open
** without FD_CLOEXEC, dp_fds_seal sets FD_CLOEXEC on those opened since
** (a per-descriptor flag: no shared file description changes). Up to
** DP_FDS_MAX; the connection sockets themselves are close-on-exec from
** birth (CURLOPT_OPENSOCKETFUNCTION).
*/
#define DP_FDS_MAX 65536
typedef struct dp_fdset {
    unsigned char bits[DP_FDS_MAX / 8];
} dp_fdset;
void dp_fds_note(dp_fdset *s);
void dp_fds_seal(const dp_fdset *before);
/* Load libcurl (curlapi.h) or push nil, message, "libcurl"; returns 0 when
** loaded, else the count pushed. */
int dp_curl_need(lua_State *L);
/* "CURLE_COULDNT_CONNECT" for a CURLcode. */
const char *dp_curle_name(CURLcode code);
/* A failed connection attempt of libcurl: *name ("timeout", NULL for the
** errno's name, or a CURLE_ name) and why[size]; returns the errno value
** (the OS error, ETIMEDOUT or EIO). */
int dp_curl_connfail(CURL *curl, CURLcode rc, const char *errbuf, const char **name,
                     char *why, size_t size);
/* dp_push_connerr: a failed libcurl connection attempt of http.c
** (dp_curl_connfail), in the core's failure shape: push nil, reason, NAME
** and return 3 (lua/dockerpty/errors.lua writes the sentence). */
int dp_push_connerr(lua_State *L, CURL *curl, CURLcode rc, const char *errbuf);

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
