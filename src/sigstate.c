/*
** sigstate.c: signal dispositions owned by one blocking run (see
** sigstate.h), and core.raise_default.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "sigstate.h"

#define DP_SIGSTATE "dockerpty.SigState"

/* The write end of the active state's pipe: what a handler can reach. */
static volatile int g_sigfd = -1;

static const struct { const char *name; int signo; } signames[] = {
    {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"TERM", SIGTERM},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"WINCH", SIGWINCH},
    {"ALRM", SIGALRM}, {"CONT", SIGCONT}, {"TSTP", SIGTSTP}, {NULL, 0}
};

const char *dp_signal_name(int signo) {
    int i;
    for (i = 0; signames[i].name; i++)
        if (signames[i].signo == signo)
            return signames[i].name;
    return "?";
}

int dp_signal_number(lua_State *L, int idx) {
    const char *s = luaL_checkstring(L, idx);
    int i;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (i = 0; signames[i].name; i++)
        if (strcmp(signames[i].name, s) == 0)
            return signames[i].signo;
    return luaL_error(L, "unknown signal '%s'", lua_tostring(L, idx));
}

static void sig_handler(int signo) {
    int saved = errno;
    unsigned char b = (unsigned char)signo;
    int fd = g_sigfd;
    if (fd >= 0) {
        ssize_t r = write(fd, &b, 1);
        (void)r;
    }
    errno = saved;
}

void dp_sigstate_restore(dp_sigstate *s) {
    int i;
    if (!s->active)
        return;
    for (i = s->nsig - 1; i >= 0; i--)
        sigaction(s->signos[i], &s->old[i], NULL);
    s->nsig = 0;
    g_sigfd = -1;
    close(s->pipe[0]);
    close(s->pipe[1]);
    s->pipe[0] = s->pipe[1] = -1;
    s->active = 0;
}

int dp_sigstate_install(dp_sigstate *s, const sigset_t *set) {
    int sig;
    if (g_sigfd >= 0)
        return EBUSY;
    if (pipe2(s->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return errno;
    s->active = 1;
    g_sigfd = s->pipe[1];
    for (sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigismember(set, sig) != 1)
            continue;
        if (s->nsig == DP_SIGMAX) {
            dp_sigstate_restore(s);
            return E2BIG;
        }
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = sig_handler;
        sigemptyset(&sa.sa_mask);
        if (sigaction(sig, &sa, &s->old[s->nsig]) < 0) {
            int e = errno;
            dp_sigstate_restore(s);
            return e;
        }
        s->signos[s->nsig++] = sig;
    }
    return 0;
}

int dp_sigstate_fd(const dp_sigstate *s) {
    return s->active ? s->pipe[0] : -1;
}

int dp_sigstate_next(dp_sigstate *s) {
    unsigned char b;
    if (!s->active || read(s->pipe[0], &b, 1) != 1)
        return 0;
    return b;
}

static int sigstate_gc(lua_State *L) {
    dp_sigstate_restore((dp_sigstate *)luaL_checkudata(L, 1, DP_SIGSTATE));
    return 0;
}

dp_sigstate *dp_sigstate_new(lua_State *L) {
    dp_sigstate *s = (dp_sigstate *)lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    s->pipe[0] = s->pipe[1] = -1;
    luaL_setmetatable(L, DP_SIGSTATE);
    return s;
}

/* core.raise_default(name): restore the default action of a signal and
** raise it, so the process ends as the sender meant (after the terminal
** was restored). For the command only: a library never signals its host.
** Returns only if the signal did not end the process. */
static int sig_f_raise_default(lua_State *L) {
    int signo = dp_signal_number(L, 1);
    struct sigaction sa;
    sigset_t set;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(signo, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, signo);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(signo);
    lua_pushboolean(L, 1);
    return 1;
}

int sigstate_open(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__gc", sigstate_gc},
        {"__close", sigstate_gc},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"raise_default", sig_f_raise_default},
        {NULL, NULL}
    };
    luaL_newmetatable(L, DP_SIGSTATE);
    luaL_setfuncs(L, meta, 0);
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
