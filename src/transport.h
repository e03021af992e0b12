/*
** transport.h: how the core moves bytes to and from the daemon. One small
** interface, one file per transport:
**   tr_unix.c  a unix socket, spoken to directly (no libcurl)
**   tr_curl.c  libcurl in connect-only mode: TCP, TLS, or a unix socket
**              with transport "libcurl"
**   ssh.c      a child (`ssh ... docker system dial-stdio`) whose stdin
**              and stdout are one end of a socketpair
** A transport only moves bytes: connect, read, write, half-close, close,
** and the fd to poll. HTTP is above it (conn.c, http.c). transport.c
** checks the endpoint options and holds what the transports share.
**
** Errors: every operation returns 0, EAGAIN (nothing can move now: poll
** t->fd) or an errno value, and on failure leaves in the transport
**   t->errname  the NAME of the failure when it is not the errno's name:
**               "timeout", a "CURLE_..." name, "libcurl" (not loadable);
**               NULL: the errno's name (dp_transport_errname)
**   t->why      the reason in a few words, without the endpoint's name
**               ("Connection refused", "ssh exited with status 255");
**               "": strerror (dp_transport_why)
** No transport writes a sentence for the user: lua/dockerpty/errors.lua
** does, from the NAME and the reason.
*/
#ifndef DP_TRANSPORT_H
#define DP_TRANSPORT_H

#include <limits.h>
#include <stddef.h>
#include <sys/un.h>
#include "curlapi.h"
#include "ssh.h"

#pragma GCC visibility push(hidden)

/*
** Endpoint options shared by core.connect (conn.c) and core.http (http.c),
** checked by dp_endpoint_check (transport.c): `socket`, `url` or `ssh` (the
** argv of a command whose stdin and stdout are the byte stream, as `ssh ...
** docker system dial-stdio`), `tls = {ca, cert, key, verify}`,
** `connect_timeout`, `where`, `transport` ("plain", the default for a
** socket, or "libcurl", the only one for a url).
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

/* Validate the endpoint table at arg into *ep. Raises on misuse. */
void dp_endpoint_check(lua_State *L, int arg, dp_endpoint *ep);

typedef struct dp_transport dp_transport;

typedef struct dp_transport_ops {
    const char *name;        /* "unix", "libcurl", "ssh" */
    /* Connect to ep within ep->connect_timeout; sets t->fd (non-blocking,
    ** close-on-exec). On failure the transport is closed. */
    int (*connect)(dp_transport *t, const dp_endpoint *ep);
    /* Up to len (> 0) bytes: 0 with *n > 0, 0 with *n == 0 at EOF. */
    int (*read)(dp_transport *t, char *buf, size_t len, size_t *n);
    /* 0 with *n bytes written, maybe fewer than len. */
    int (*write)(dp_transport *t, const char *buf, size_t len, size_t *n);
    /* No more writes (TLS: close_notify first); reading goes on. */
    int (*shutdown)(dp_transport *t);
    /* Release everything; idempotent. t->fd becomes -1. */
    void (*close)(dp_transport *t);
    /* Optional: the stream ended (EOF, reset) before any answer came. The
    ** reason when the far side explains it (the ssh child's last stderr
    ** line), then the failure's NAME is the transport's name; else NULL. */
    const char *(*lost)(dp_transport *t);
} dp_transport_ops;

struct dp_transport {
    const dp_transport_ops *ops;
    int fd;                  /* the fd to poll; -1 when closed */
    int tls;                 /* 1 over https */
    CURL *curl;              /* tr_curl: the easy handle */
    char *early;             /* tr_curl: bytes read while connecting (malloc);
                             ** the caller of connect takes them over */
    size_t earlylen;
    dp_ssh ssh;              /* ssh: the child (pid 0 otherwise) */
    const char *errname;     /* see above; a static string or NULL */
    char why[384];
};

extern const dp_transport_ops dp_tr_unix, dp_tr_curl, dp_tr_ssh;

/* A closed transport, of the kind ep asks for (ops set, fd -1). */
void dp_transport_init(dp_transport *t, const dp_endpoint *ep);
/* The failure's NAME and reason (see above) for the errno value err. */
const char *dp_transport_errname(const dp_transport *t, int err);
const char *dp_transport_why(const dp_transport *t, int err);
/* Record a failure: t->errname = name, t->why = why (truncated); err. */
int dp_transport_fail(dp_transport *t, int err, const char *name, const char *why);

/*
** For the transports over a socket (tr_unix.c): recv and send retried on
** EINTR, shutdown(SHUT_WR), close. EAGAIN for EWOULDBLOCK.
*/
int dp_sock_read(dp_transport *t, char *buf, size_t len, size_t *n);
int dp_sock_write(dp_transport *t, const char *buf, size_t len, size_t *n);
int dp_sock_shutdown(dp_transport *t);

/* Connect a non-blocking, close-on-exec unix socket to ep->socket within
** ep->connect_timeout. 0 with *fd set, or an errno value (ETIMEDOUT). */
int dp_unix_connect(const dp_endpoint *ep, int *fd);

#pragma GCC visibility pop

#endif
