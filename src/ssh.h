/*
** ssh.h: the ssh transport's child process. An `ssh ... docker system
** dial-stdio` child has its stdin and stdout on one end of a socketpair; the
** other end is an ordinary stream socket that the plain transport (conn.c,
** http.c) reads and writes as it does a unix socket. Its stderr goes to a
** pipe whose last line explains a failure.
*/
#ifndef DP_SSH_H
#define DP_SSH_H

#include <stddef.h>
#include <sys/types.h>

#pragma GCC visibility push(hidden)

#define DP_SSH_ARGS 2048     /* room for the argv, NUL-separated */
#define DP_SSH_MAXARGC 64

typedef struct dp_ssh {
    int spawned;         /* 1 once a child was started */
    pid_t pid;           /* the child until reaped; 0: none */
    int errfd;           /* read end of its stderr pipe; -1 */
    int status;          /* wait status once reaped; -1 before */
    size_t partlen;      /* bytes in part */
    char part[256];      /* the stderr line being read */
    char last[256];      /* the last non-empty stderr line */
} dp_ssh;

/* A dp_ssh with no child. */
void dp_ssh_init(dp_ssh *s);

/*
** Start the child: argc NUL-separated strings at args (args[0] is the
** program, looked up in PATH). It runs in its own session (a terminal's
** SIGINT is not for it), with default signal dispositions, and dies with
** us (PR_SET_PDEATHSIG). 0 with *fd our non-blocking, close-on-exec end, or
** an errno value (ENOENT when the program is not found).
*/
int dp_ssh_spawn(dp_ssh *s, const char *args, int argc, int *fd);

/*
** After EOF on our end: wait up to wait_ms for the child to end and for its
** stderr. 0 when it exited with status 0, else ECONNABORTED with a reason
** in msg ("ssh exited with status 255: <last stderr line>").
*/
int dp_ssh_outcome(dp_ssh *s, long wait_ms, char *msg, size_t size);

/*
** End the child (call after closing our end): a short wait, then SIGTERM,
** then SIGKILL; always reaped. Idempotent. The last stderr line stays in
** s->last.
*/
void dp_ssh_close(dp_ssh *s);

#pragma GCC visibility pop

#endif
