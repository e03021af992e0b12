/*
** fdio.c: pump I/O on caller's fds without changing shared descriptions
** (see fdio.h).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"

/* Open /proc/self/fd/N anew, non-blocking; -1 when that is not possible
** or gives no new description of the same object. */
static int fdio_reopen(int fd, int writing) {
    char path[64];
    struct stat a, b;
    int nfd;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    nfd = open(path, (writing ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (nfd < 0)
        return -1;
    if (fstat(fd, &a) < 0 || fstat(nfd, &b) < 0 || a.st_dev != b.st_dev ||
        a.st_ino != b.st_ino || a.st_rdev != b.st_rdev) {
        close(nfd);
        return -1;
    }
    return nfd;
}

void dp_fdio_open(dp_fdio *f, int user_fd, int writing) {
    struct stat st;
    int fl, nfd;
    f->fd = f->user_fd = user_fd;
    f->fifo = 0;
    f->mode = DP_FD_SHARED;
    if (fstat(user_fd, &st) < 0)
        return;                     /* a closed fd: its I/O reports EBADF */
    if (S_ISSOCK(st.st_mode)) {
        f->mode = DP_FD_SOCKET;
        return;
    }
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode)) {
        f->mode = DP_FD_FILE;
        return;
    }
    f->fifo = S_ISFIFO(st.st_mode);
    fl = fcntl(user_fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) {
        f->mode = DP_FD_PRIVATE;    /* non-blocking by its owner's choice: as is */
        return;
    }
    nfd = fdio_reopen(user_fd, writing);
    if (nfd >= 0) {
        f->fd = nfd;
        f->mode = DP_FD_PRIVATE;
    }
}

void dp_fdio_close(dp_fdio *f) {
    if (f->fd >= 0 && f->fd != f->user_fd)
        close(f->fd);
    f->fd = f->user_fd = -1;
}

int dp_fdio_nonblocking(const dp_fdio *f) {
    return f->mode == DP_FD_SOCKET || f->mode == DP_FD_PRIVATE ||
           f->mode == DP_FD_FILE;
}

ssize_t dp_fdio_read(const dp_fdio *f, char *buf, size_t n) {
    if (f->mode == DP_FD_SOCKET)
        return recv(f->fd, buf, n, MSG_DONTWAIT);
    return read(f->fd, buf, n);
}

/* SIGPIPE blocked in this thread around a write to a pipe; a SIGPIPE the
** write raised is taken back, one that was pending before is left alone.
** pipe_guard returns whether one was pending. */
static int pipe_guard(sigset_t *old) {
    sigset_t pipeset, pending;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    sigpending(&pending);
    pthread_sigmask(SIG_BLOCK, &pipeset, old);
    return sigismember(&pending, SIGPIPE) == 1;
}

static void pipe_unguard(const sigset_t *old, ssize_t r, int e, int was_pending) {
    if (r < 0 && e == EPIPE && !was_pending) {
        sigset_t pipeset;
        struct timespec zero = {0, 0};
        sigemptyset(&pipeset);
        sigaddset(&pipeset, SIGPIPE);
        while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
    errno = e;
}

/* A batch: the writes between dp_fdio_batch_begin and _end share one
** guard (three system calls fewer per write); per thread, nested. */
static __thread int batch_depth, batch_pending, batch_epipe;
static __thread sigset_t batch_old;

void dp_fdio_batch_begin(void) {
    if (batch_depth++ == 0) {
        batch_pending = pipe_guard(&batch_old);
        batch_epipe = 0;
    }
}

void dp_fdio_batch_end(void) {
    int e = errno;
    if (--batch_depth == 0)
        pipe_unguard(&batch_old, batch_epipe ? -1 : 0, EPIPE, batch_pending);
    errno = e;
}

static ssize_t fdio_write_fifo(const dp_fdio *f, const char *buf, size_t n) {
    sigset_t old;
    int was_pending;
    ssize_t r;
    if (batch_depth > 0) {
        r = write(f->fd, buf, n);
        if (r < 0 && errno == EPIPE)
            batch_epipe = 1;
        return r;
    }
    was_pending = pipe_guard(&old);
    r = write(f->fd, buf, n);
    pipe_unguard(&old, r, errno, was_pending);
    return r;
}

ssize_t dp_fdio_write(const dp_fdio *f, const char *buf, size_t n) {
    if (f->mode == DP_FD_SOCKET)
        return send(f->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (f->mode == DP_FD_SHARED && n > PIPE_BUF)
        n = PIPE_BUF;       /* what poll()'s POLLOUT promises to take */
    if (f->fifo)
        return fdio_write_fifo(f, buf, n);
    return write(f->fd, buf, n);
}
