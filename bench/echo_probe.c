/*
** echo_probe.c: keystroke echo latency of an interactive client.
**
**   echo_probe [-n COUNT] [-g GAP_MS] [-w WAIT_S] -- CMD...
**
** Runs CMD on a fresh pseudo-terminal (its controlling terminal, 24x80),
** waits until CMD has put the terminal in raw mode (ECHO off) and one
** warm-up byte has come back, then COUNT times writes one byte to the
** terminal and times how long it takes to come back (the remote tty
** echoes it), GAP_MS apart. Then it sends CR and ^D (a `cat` ends) and
** waits for CMD. Prints one line:
**
**   n=200 p50_us=812 p90_us=990 p99_us=1403 max_us=2210 mean_us=840 exit=0
**
** or "error=<why>" and exits 1. A byte that does not come back within
** WAIT_S seconds is an error.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int fail(const char *why, pid_t pid) {
    printf("error=%s\n", why);
    fflush(stdout);
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return 1;
}

/* Read from the master until byte c shows up or the deadline passes.
** Returns 0 when seen, -1 on timeout or EOF. */
static int wait_byte(int master, unsigned char c, long long deadline) {
    for (;;) {
        struct pollfd pfd = {master, POLLIN, 0};
        long long left = deadline - now_us();
        unsigned char buf[4096];
        ssize_t n, i;
        int r;
        if (left <= 0)
            return -1;
        r = poll(&pfd, 1, (int)((left + 999) / 1000));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        n = read(master, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        for (i = 0; i < n; i++)
            if (buf[i] == c)
                return 0;
    }
}

/* Discard what the master has for ms milliseconds. */
static void drain(int master, int ms) {
    long long end = now_us() + ms * 1000LL;
    for (;;) {
        struct pollfd pfd = {master, POLLIN, 0};
        long long left = end - now_us();
        unsigned char buf[4096];
        if (left <= 0 || poll(&pfd, 1, (int)((left + 999) / 1000)) <= 0)
            return;
        if (read(master, buf, sizeof buf) <= 0)
            return;
    }
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int count = 200, gap_ms = 5, wait_s = 20, opt, master, status = 0, i;
    struct winsize ws = {24, 80, 0, 0};
    struct termios tio;
    long long *lat, deadline, sum = 0;
    pid_t pid;

    while ((opt = getopt(argc, argv, "n:g:w:")) != -1) {
        if (opt == 'n')
            count = atoi(optarg);
        else if (opt == 'g')
            gap_ms = atoi(optarg);
        else if (opt == 'w')
            wait_s = atoi(optarg);
        else
            return 2;
    }
    if (optind >= argc || count < 1) {
        fprintf(stderr, "usage: echo_probe [-n COUNT] [-g GAP_MS] [-w WAIT_S] -- CMD...\n");
        return 2;
    }
    lat = calloc((size_t)count, sizeof *lat);
    if (lat == NULL)
        return fail("calloc", 0);
    signal(SIGPIPE, SIG_IGN);
    pid = forkpty(&master, NULL, NULL, &ws);
    if (pid < 0)
        return fail("forkpty", 0);
    if (pid == 0) {
        execvp(argv[optind], argv + optind);
        _exit(127);
    }

    /* Raw mode: the client turned local echo off. */
    deadline = now_us() + wait_s * 1000000LL;
    for (;;) {
        if (tcgetattr(master, &tio) == 0 && !(tio.c_lflag & ECHO))
            break;
        if (now_us() > deadline || waitpid(pid, &status, WNOHANG) == pid)
            return fail("the client never set raw mode", pid);
        usleep(2000);
    }
    /* Warm-up: the first byte back means the session is up. */
    if (write(master, "w", 1) != 1)
        return fail("write", pid);
    if (wait_byte(master, 'w', now_us() + wait_s * 1000000LL) != 0)
        return fail("no echo of the warm-up byte", pid);
    drain(master, 50);

    for (i = 0; i < count; i++) {
        unsigned char c = (unsigned char)('a' + i % 26);
        long long t0 = now_us();
        if (write(master, &c, 1) != 1)
            return fail("write", pid);
        if (wait_byte(master, c, t0 + wait_s * 1000000LL) != 0)
            return fail("a keystroke did not come back", pid);
        lat[i] = now_us() - t0;
        sum += lat[i];
        if (gap_ms > 0)
            drain(master, gap_ms);
    }

    /* End the remote cat: a newline, then EOF on an empty line. */
    if (write(master, "\r", 1) != 1 || (drain(master, 50), write(master, "\x04", 1)) != 1)
        return fail("write", pid);
    deadline = now_us() + wait_s * 1000000LL;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (now_us() > deadline)
            return fail("the client did not end after EOF", pid);
        drain(master, 10);
    }

    qsort(lat, (size_t)count, sizeof *lat, cmp_ll);
    printf("n=%d p50_us=%lld p90_us=%lld p99_us=%lld max_us=%lld mean_us=%lld exit=%d\n",
           count, lat[(count - 1) * 50 / 100], lat[(count - 1) * 90 / 100],
           lat[(count - 1) * 99 / 100], lat[count - 1], sum / count,
           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    free(lat);
    close(master);
    return 0;
}
