/*
** fdio.h: fds that pumps read and write without touching a description
** others share (docs/design.md, "Descriptors").
**
** The O_NONBLOCK flag belongs to an open file description, which a shell,
** a pipe's other writer or the terminal's other programs share with us:
** setting it on fd 1 makes their writes fail with EAGAIN. So a pump never
** sets it on a caller's fd. Instead, by the fd's type:
**   socket   recv/send with MSG_DONTWAIT (per call, no flag changed);
**   file     a regular file or block device never blocks for long: as is;
**   private  a pipe, FIFO or character device (a terminal) is opened again
**            through /proc/self/fd/N: a description of our own, which we
**            make non-blocking and close when done;
**   shared   when that reopening fails (no /proc, no permission): the fd
**            as is, read only after poll() said so and written at most
**            PIPE_BUF bytes after poll() said POLLOUT, which a pipe or a
**            terminal takes without blocking.
** Writes to a pipe whose reader went away must not kill the process with
** SIGPIPE, and a library must not change the process's disposition:
** dp_fdio_write blocks SIGPIPE in this thread around the write and takes
** back a SIGPIPE it caused.
*/
#ifndef DP_FDIO_H
#define DP_FDIO_H

#include <stddef.h>
#include <sys/types.h>
#include "dockerpty.h"

#pragma GCC visibility push(hidden)

enum { DP_FD_SOCKET = 1, DP_FD_FILE, DP_FD_PRIVATE, DP_FD_SHARED };

typedef struct dp_fdio {
    int fd;          /* the fd we do I/O on: the caller's, or our own copy */
    int user_fd;     /* the caller's fd */
    int mode;        /* DP_FD_* */
    int fifo;        /* a pipe or FIFO: a write may raise SIGPIPE */
} dp_fdio;

/* Classify user_fd and, for a pipe, FIFO or character device, open a
** private description for reading (writing = 0) or writing. Never fails:
** falls back to DP_FD_SHARED. */
void dp_fdio_open(dp_fdio *f, int user_fd, int writing);
/* Close our own copy, if any (idempotent). */
void dp_fdio_close(dp_fdio *f);
/* 1 when a read or write may be tried without poll() first (it would say
** EAGAIN rather than block). */
int dp_fdio_nonblocking(const dp_fdio *f);
/* read/write that never block on a socket or private fd; -1 with errno
** (EAGAIN when nothing can move now). */
ssize_t dp_fdio_read(const dp_fdio *f, char *buf, size_t n);
ssize_t dp_fdio_write(const dp_fdio *f, const char *buf, size_t n);
/* Pipe writes between these two share one SIGPIPE guard (no Lua code may
** run between them); nested, per thread. */
void dp_fdio_batch_begin(void);
void dp_fdio_batch_end(void);

#pragma GCC visibility pop

#endif
