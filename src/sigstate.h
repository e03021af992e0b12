/*
** sigstate.h: the signal dispositions a blocking loop run installs for the
** terminal's owner (stop signals, SIGWINCH, forwarded signals), kept in a
** userdata whose __close and __gc put them back: an error raised anywhere
** inside the run, a memory error included, leaves no handler installed.
** Handlers only write the signal number to a self-pipe the run polls.
** One owner at a time in a process (a handler is process-wide).
*/
#ifndef DP_SIGSTATE_H
#define DP_SIGSTATE_H

#include <signal.h>
#include "dockerpty.h"

#pragma GCC visibility push(hidden)

#define DP_SIGMAX 16           /* signals one run may own */

typedef struct dp_sigstate {
    int active;                /* handlers installed and the pipe open */
    int pipe[2];
    int nsig;
    int signos[DP_SIGMAX];
    struct sigaction old[DP_SIGMAX];
} dp_sigstate;

/* Push an inactive state (a userdata with __gc and __close). */
dp_sigstate *dp_sigstate_new(lua_State *L);
/* Install the handler for every signal in `set`: 0, EBUSY when another
** state is active in the process, or an errno value (nothing installed). */
int dp_sigstate_install(dp_sigstate *s, const sigset_t *set);
/* The read end of the self-pipe, or -1. */
int dp_sigstate_fd(const dp_sigstate *s);
/* The next signal that arrived, or 0 when none is waiting. */
int dp_sigstate_next(dp_sigstate *s);
/* Put the dispositions back and close the pipe (idempotent). */
void dp_sigstate_restore(dp_sigstate *s);

const char *dp_signal_name(int signo);
/* "INT" or "SIGINT" at idx to its number; raises on an unknown name. */
int dp_signal_number(lua_State *L, int idx);

int sigstate_open(lua_State *L);

#pragma GCC visibility pop

#endif
