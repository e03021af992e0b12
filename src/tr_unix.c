/*
** tr_unix.c: the unix socket transport (no libcurl), and the socket
** operations that the ssh transport (ssh.c) shares: its end of the
** socketpair is a stream socket too.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dockerpty.h"
#include "util.h"
#include "transport.h"

/* A socket failure: EAGAIN for EWOULDBLOCK, else err (its strerror). */
static int sock_err(dp_transport *t, int err) {
    if (err == EAGAIN || err == EWOULDBLOCK)
        return EAGAIN;
    return dp_transport_fail(t, err, NULL, NULL);
}

int dp_sock_read(dp_transport *t, char *buf, size_t len, size_t *n) {
    *n = 0;
    for (;;) {
        ssize_t r = recv(t->fd, buf, len, 0);
        if (r >= 0) {
            *n = (size_t)r;
            return 0;
        }
        if (errno != EINTR)
            return sock_err(t, errno);
    }
}

int dp_sock_write(dp_transport *t, const char *buf, size_t len, size_t *n) {
    *n = 0;
    for (;;) {
        ssize_t r = send(t->fd, buf, len, MSG_NOSIGNAL);
        if (r >= 0) {
            *n = (size_t)r;
            return 0;
        }
        if (errno != EINTR)
            return sock_err(t, errno);
    }
}

int dp_sock_shutdown(dp_transport *t) {
    if (shutdown(t->fd, SHUT_WR) < 0) {
        int e = errno;
        char why[128];
        snprintf(why, sizeof why, "shutdown: %s", strerror(e));
        return dp_transport_fail(t, e, NULL, why);
    }
    return 0;
}

int dp_unix_connect(const dp_endpoint *ep, int *fdp) {
    struct sockaddr_un sa;
    size_t len = strlen(ep->socket);
    long long deadline;
    int fd, err = 0;
    *fdp = -1;
    if (len >= sizeof sa.sun_path)
        return ENAMETOOLONG;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, ep->socket, len);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return errno;
    deadline = dp_now_ms() + ep->connect_timeout;
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            err = 0;
            break;
        }
        err = errno;
        if (err == EINTR)
            continue;
        if (err == EISCONN) {
            err = 0;
            break;
        }
        if (err == EINPROGRESS || err == EALREADY) {
            /* wait until writable, then ask for the outcome */
            socklen_t sl = sizeof err;
            int r = dp_wait_fd(fd, POLLOUT, deadline);
            if (r == 0)
                err = ETIMEDOUT;
            else if (r < 0)
                err = -r;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
                err = errno;
            break;
        }
        if (err != EAGAIN)
            break;
        /* EAGAIN: the daemon's accept backlog is full (it is not taking
        ** connections). The socket is not connecting: ask again shortly. */
        if (dp_now_ms() >= deadline) {
            err = ETIMEDOUT;
            break;
        }
        poll(NULL, 0, 5);
    }
    if (err != 0) {
        close(fd);
        return err;
    }
    *fdp = fd;
    return 0;
}

static int unix_connect(dp_transport *t, const dp_endpoint *ep) {
    int err = dp_unix_connect(ep, &t->fd);
    if (err == ETIMEDOUT)
        return dp_transport_fail(t, err, "timeout", "connection timed out");
    if (err != 0)
        return dp_transport_fail(t, err, NULL, NULL);
    return 0;
}

static void unix_close(dp_transport *t) {
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

const dp_transport_ops dp_tr_unix = {
    "unix", unix_connect, dp_sock_read, dp_sock_write, dp_sock_shutdown, unix_close, NULL
};
