/*
** ssh.c: the child process of the ssh transport: spawned with its stdin and
** stdout on one end of a socketpair and its stderr on a pipe, and always
** reaped. Only our own child is ever signalled, and only while it is not
** yet reaped (so its pid cannot belong to anyone else). And the ssh
** transport of transport.h over it: the socket operations of tr_unix.c, plus
** what the child's end means (EOF or a reset: how it ended).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dockerpty.h"
#include "util.h"
#include "transport.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define SSH_TERM_WAIT 2000      /* ms between SIGTERM and SIGKILL */

void dp_ssh_init(dp_ssh *s) {
    memset(s, 0, sizeof *s);
    s->errfd = -1;
    s->status = -1;
}

/* Take one stderr line (without its end) into s->last when not blank. */
static void ssh_line(dp_ssh *s) {
    size_t n = s->partlen;
    while (n > 0 && (s->part[n - 1] == '\r' || s->part[n - 1] == ' ' || s->part[n - 1] == '\t'))
        n--;
    if (n > 0) {
        memcpy(s->last, s->part, n);
        s->last[n] = '\0';
    }
    s->partlen = 0;
}

/* Read what the stderr pipe holds without waiting; closes it at EOF.
** Returns 1 at EOF (or with no pipe), else 0. */
static int ssh_drain(dp_ssh *s) {
    char buf[1024];
    while (s->errfd >= 0) {
        ssize_t n = read(s->errfd, buf, sizeof buf);
        ssize_t i;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            close(s->errfd);
            s->errfd = -1;
            if (s->partlen > 0)
                ssh_line(s);
            break;
        }
        for (i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                ssh_line(s);
            } else if (s->partlen < sizeof s->part - 1) {
                s->part[s->partlen++] = buf[i];
            }
        }
    }
    return 1;
}

/* waitpid without blocking; 1 once reaped. */
static int ssh_try_reap(dp_ssh *s) {
    int st;
    pid_t r;
    if (s->pid <= 0)
        return 1;
    do {
        r = waitpid(s->pid, &st, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    /* ECHILD: SIGCHLD is ignored and the system reaped it for us */
    s->status = r == s->pid ? st : 0;
    s->pid = 0;
    return 1;
}

/* Until the deadline (dp_now_ms): wait for the child's end and its
** stderr's EOF. 1 when reaped. */
static int ssh_wait(dp_ssh *s, long long deadline) {
    for (;;) {
        int eof = ssh_drain(s);
        long long now;
        if (ssh_try_reap(s)) {
            ssh_drain(s);    /* all it wrote is in the pipe now */
            return 1;
        }
        now = dp_now_ms();
        if (now >= deadline)
            return 0;
        if (!eof) {
            long long until = now + 10 < deadline ? now + 10 : deadline;
            dp_wait_fd(s->errfd, POLLIN, until);
        } else {
            usleep(5000);
        }
    }
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void ssh_child(int sock, int errw, int statw, pid_t parent, char *const argv[]) {
    struct sigaction sa;
    sigset_t none;
    int sig, e;
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(sock, 0) < 0 || dup2(sock, 1) < 0 || dup2(errw, 2) < 0)
        goto fail;
    /* Nothing of the host's but these three reaches ssh. */
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    execvp(argv[0], argv);
fail:
    e = errno;
    while (write(statw, &e, sizeof e) < 0 && errno == EINTR)
        ;
    _exit(127);
}

/* A close-on-exec duplicate above 2 of fd (closing fd) when fd is 0-2, so
** that dup2 in the child never meets its own target. -1 on failure. */
static int ssh_above2(int fd) {
    int nfd;
    if (fd > 2)
        return fd;
    nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

int dp_ssh_spawn(dp_ssh *s, const char *args, int argc, int *fd) {
    char *argv[DP_SSH_MAXARGC + 1];
    int sv[2] = {-1, -1}, ep[2] = {-1, -1}, st[2] = {-1, -1};
    int i, err = 0, childerr = 0;
    pid_t parent = getpid(), pid;
    ssize_t n;
    *fd = -1;
    dp_ssh_init(s);
    if (argc < 1 || argc > DP_SSH_MAXARGC)
        return EINVAL;
    for (i = 0; i < argc; i++) {
        argv[i] = (char *)args;
        args += strlen(args) + 1;
    }
    argv[argc] = NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        pipe2(ep, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0) {
        err = errno;
        goto out;
    }
    sv[1] = ssh_above2(sv[1]);
    ep[1] = ssh_above2(ep[1]);
    st[1] = ssh_above2(st[1]);
    if (sv[1] < 0 || ep[1] < 0 || st[1] < 0) {
        err = errno;
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        err = errno;
        goto out;
    }
    if (pid == 0)
        ssh_child(sv[1], ep[1], st[1], parent, argv);
    close(st[1]);
    st[1] = -1;
    do {
        n = read(st[0], &childerr, sizeof childerr);
    } while (n < 0 && errno == EINTR);
    s->spawned = 1;
    s->pid = pid;
    s->errfd = ep[0];
    ep[0] = -1;
    dp_setnonblock(s->errfd, 1);
    if (n == (ssize_t)sizeof childerr) {
        err = childerr;          /* exec failed: the child is gone */
        dp_ssh_close(s);
        goto out;
    }
    *fd = sv[0];
    sv[0] = -1;
    dp_setnonblock(*fd, 1);      /* our end only: the child's is its own */
out:
    for (i = 0; i < 2; i++) {
        if (sv[i] >= 0)
            close(sv[i]);
        if (ep[i] >= 0)
            close(ep[i]);
        if (st[i] >= 0)
            close(st[i]);
    }
    return err;
}

int dp_ssh_outcome(dp_ssh *s, long wait_ms, char *msg, size_t size) {
    int reaped = ssh_wait(s, dp_now_ms() + wait_ms);
    const char *sep = s->last[0] ? ": " : "";
    if (!reaped) {
        snprintf(msg, size, "ssh closed the connection%s%s", sep, s->last);
        return 0;
    }
    if (WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0) {
        snprintf(msg, size, "ssh closed the connection%s%s", sep, s->last);
        return 0;
    }
    if (WIFSIGNALED(s->status))
        snprintf(msg, size, "ssh was killed by signal %d%s%s", WTERMSIG(s->status), sep,
                 s->last);
    else
        snprintf(msg, size, "ssh exited with status %d%s%s", WEXITSTATUS(s->status), sep,
                 s->last);
    return ECONNABORTED;
}

void dp_ssh_close(dp_ssh *s) {
    if (s->pid > 0 && !ssh_try_reap(s)) {
        kill(s->pid, SIGTERM);
        if (!ssh_wait(s, dp_now_ms() + SSH_TERM_WAIT) && s->pid > 0) {
            int st;
            pid_t r;
            kill(s->pid, SIGKILL);
            do {
                r = waitpid(s->pid, &st, 0);
            } while (r < 0 && errno == EINTR);
            s->status = r == s->pid ? st : 0;
            s->pid = 0;
        }
    }
    ssh_drain(s);
    if (s->errfd >= 0)
        close(s->errfd);
    s->errfd = -1;
}

/* {====================================================================
** The ssh transport
** ===================================================================== */

/* "cannot run ssh: No such file or directory" */
static void ssh_cannotrun(const char *ssh, int err, char *why, size_t size) {
    snprintf(why, size, "cannot run %.250s: %.120s", ssh, strerror(err));
}

static int sshtr_connect(dp_transport *t, const dp_endpoint *ep) {
    int err = dp_ssh_spawn(&t->ssh, ep->ssh, ep->sshargc, &t->fd);
    if (err != 0) {
        char why[sizeof t->why];
        ssh_cannotrun(ep->ssh, err, why, sizeof why);
        return dp_transport_fail(t, err, NULL, why);
    }
    return 0;
}

/* EOF (fallback 0) or a reset (fallback ECONNRESET) on our end while the
** child is not yet reaped: ECONNABORTED with how it ended when it failed,
** else the fallback. */
static int sshtr_ended(dp_transport *t, int fallback) {
    char why[sizeof t->why];
    int err = dp_ssh_outcome(&t->ssh, 1000, why, sizeof why);
    if (err == 0)
        return fallback == 0 ? 0 : dp_transport_fail(t, fallback, NULL, NULL);
    return dp_transport_fail(t, err, NULL, why);
}

static int sshtr_read(dp_transport *t, char *buf, size_t len, size_t *n) {
    int err = dp_sock_read(t, buf, len, n);
    if (t->ssh.pid > 0 && ((err == 0 && *n == 0) || err == ECONNRESET))
        return sshtr_ended(t, err);
    return err;
}

/* The stream ended before an answer: the child's last stderr line (its
** own words: "Host key verification failed."), else how it ended. */
static const char *sshtr_lost(dp_transport *t) {
    char why[sizeof t->why];
    dp_ssh_outcome(&t->ssh, 2000, why, sizeof why);
    dp_transport_fail(t, ECONNABORTED, NULL, t->ssh.last[0] ? t->ssh.last : why);
    return t->why;
}

static void sshtr_close(dp_transport *t) {
    dp_tr_unix.close(t);
    dp_ssh_close(&t->ssh);    /* after the close: it sees EOF first */
}

const dp_transport_ops dp_tr_ssh = {
    "ssh", sshtr_connect, sshtr_read, dp_sock_write, dp_sock_shutdown, sshtr_close, sshtr_lost
};

/* }==================================================================== */
