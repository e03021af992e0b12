/*
** conn.h: a connection to the daemon: a plain unix socket, or libcurl in
** connect-only mode (TCP, TLS, or a unix socket with transport "libcurl"):
** the hijacked attach/exec stream, and the raw HTTP exchanges the Lua layer
** writes itself (wait). Used as a source and sink by the pumps.
*/
#ifndef DP_CONN_H
#define DP_CONN_H

#include <limits.h>
#include <stddef.h>
#include <sys/un.h>
#include "curlapi.h"
#include "dockerpty.h"
#include "ssh.h"

#pragma GCC visibility push(hidden)

typedef struct dp_conn {
    CURL *curl;          /* libcurl transport only; NULL for a plain socket */
    int fd;              /* the socket; -1 once closed */
    int tls;             /* 1 over https */
    int wclosed;         /* half-closed by us */
    char *pre;           /* bytes read past the response head (malloc) */
    size_t prelen, preoff;
    char where[256];     /* "unix:///run/docker.sock" or "tcp://h:p", for messages */
    char errmsg[512];    /* text of the last error from recv/send/shutdown */
    dp_ssh ssh;          /* the ssh transport's child (pid 0 otherwise) */
} dp_conn;

/*
** Endpoint options shared by core.connect (conn.c) and core.http (http.c):
** `socket`, `url` or `ssh` (the argv of a command whose stdin and stdout
** are the byte stream, as `ssh ... docker system dial-stdio`; spoken to as
** a socket is), `tls = {ca, cert, key, verify}`, `connect_timeout`,
** `where`, `transport` ("plain", the default for a socket, or "libcurl",
** the only one for a url). dp_endpoint_check raises on misuse;
** dp_endpoint_apply sets the libcurl options every handle gets (http/https
** only, no redirects, no proxy, keepalive on TCP, TLS verification unless
** turned off).
*/
typedef struct dp_endpoint {
    char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char url[1024];          /* base URL, no trailing slash; "" with socket */
    char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];   /* "" when unset */
    int tls;                 /* https */
    int verify;              /* TLS peer and host verification */
    int plain;               /* a unix socket or ssh, without libcurl */
    int sshargc;             /* ssh: the argv's length; 0 otherwise */
    char ssh[DP_SSH_ARGS];   /* ssh: the argv, NUL-separated */
    long connect_timeout;    /* ms */
    char where[256];         /* display name for messages */
} dp_endpoint;

void dp_endpoint_check(lua_State *L, int arg, dp_endpoint *ep);
CURLcode dp_endpoint_apply(CURL *curl, const dp_endpoint *ep);
/* Connect a non-blocking, close-on-exec unix socket to ep->socket within
** ep->connect_timeout. 0 with *fd set, or an errno value (ETIMEDOUT). */
int dp_unix_connect(const dp_endpoint *ep, int *fd);
/* The plain transport's connect: dp_unix_connect, or for ssh the spawned
** child (in *child, which the caller reaps with dp_ssh_close after closing
** *fd). 0 or an errno value. */
int dp_plain_connect(const dp_endpoint *ep, int *fd, dp_ssh *child);
/* Push nil, "cannot connect to the Docker daemon at <where>: <why ssh
** ended>", "ssh" for an ssh child that closed the stream before an
** answer (waits a little for its exit and stderr); returns the count. */
int dp_push_ssherr(lua_State *L, const char *where, dp_ssh *child);
/* Push nil, "cannot connect to the Docker daemon at <where>: <reason>",
** name, errno for an errno value from dp_unix_connect ("timeout" for
** ETIMEDOUT); returns the count. */
int dp_push_unixerr(lua_State *L, const dp_endpoint *ep, int err);
/* Load libcurl (curlapi.h) or push nil, message, "libcurl"; returns 0 when
** loaded, else the count pushed. */
int dp_curl_need(lua_State *L);
/* "CURLE_COULDNT_CONNECT" for a CURLcode. */
const char *dp_curle_name(CURLcode code);
/* Push nil, "cannot connect to the Docker daemon at <where>: <reason>",
** name [, errno]; returns the count. */
int dp_push_connerr(lua_State *L, const char *where, CURL *curl, CURLcode rc,
                    const char *errbuf);

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
