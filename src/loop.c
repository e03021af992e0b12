/*
** loop.c: dockerpty.Loop runs any number of pumps (pump.c).
**
** One iteration: prepare (tell finished pumps' drains and on_end, cancel
** idle pumps, build the poll set and the next deadline), wait (poll), and
** dispatch (writes first, then reads). Two ways to drive it:
**   step()  one iteration that never blocks (poll with a zero timeout).
**           Between steps, pollfd() is an epoll fd that becomes readable
**           when a step has work to do, and timeout() the seconds until
**           its next deadline: the polling protocol of cqueues, and what
**           luv's uv.new_poll takes. Holds no process state at all.
**   run()   iterations until done, blocking in ppoll, for the terminal's
**           owner: it installs the stop, forwarded and SIGWINCH handlers
**           (sigstate.c) for the run only.
** Re-entry of one loop (from a callback of its own) is refused; any number
** of loops may step or run, one inside another's callback too, except that
** only one run() with signals may be active in a process.
**
** Everything a run or step changes in the process or the loop (the busy
** flag, signal dispositions) is held by a guard userdata marked
** to-be-closed: an error raised anywhere inside, a memory error while a
** callback's data is pushed included, gives it back (its __close; __gc
** too). Lua callbacks run under lua_pcall; their error is re-raised
** unchanged once the iteration is over.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "pump.h"
#include "sigstate.h"

/* Uservalue slots of a loop. */
#define LO_PUMPS  1     /* sequence of pumps */
#define LO_WINCH  2     /* on_winch callback */
#define LO_SIGNAL 3     /* on_signal callback */
#define LO_SCRATCH 4    /* the poll set's memory, kept from one step to the next */
#define LO_NUV    4

#define DP_LOOPGUARD     "dockerpty.LoopGuard"
#define WINCH_QUIET_MS   30     /* SIGWINCH burst: call once, 30 ms after the last */

/* An fd in the epoll set, or one watched for the caller (Loop:watch). */
typedef struct fdev {
    int fd;
    unsigned events;     /* EPOLLIN | EPOLLOUT */
    int mark;            /* sync pass that wanted it */
} fdev;

typedef struct fdlist {
    fdev *v;
    size_t n, cap;
} fdlist;

typedef struct loop {
    int open;
    int busy;            /* inside step() or run() */
    sigset_t stop;       /* signals that end run() */
    sigset_t forward;    /* signals handed to on_signal */
    int epfd;            /* pollfd(): -1 until asked for */
    fdlist regs;         /* what epfd holds */
    fdlist watches;      /* the caller's fds (Loop:watch) */
    int ready;           /* after the last step: a step can work at once */
    long long due_us;    /* after the last step: next deadline, -1 none */
    int finished;        /* after the last step: no pump waits for output */
    int stepped;
} loop;

typedef struct loopguard {
    loop *lp;
    dp_sigstate *sig;    /* run() only */
} loopguard;

/* Poll set entry: which pump and what for. */
typedef struct pollent {
    int pump;            /* index into pumps (0-based); -1 the signal pipe */
    int role;            /* 0 source, 1 sink */
} pollent;

/* One iteration's view of the loop; scratch lives in GC-managed userdata. */
typedef struct iter {
    lua_State *L;
    loop *lp;
    int self;            /* stack index of the loop */
    int base, npumps;    /* the pumps, anchored at base..base+npumps-1 */
    pump **pumps;
    struct pollfd *pfd;
    pollent *ent;
    int n;
    int ready_now;       /* some pump can work without poll() */
    long long due_us;    /* deadlines of pumps: coalescing and idleness */
    runctx rc;
} iter;

static loop *checkloop(lua_State *L, int idx) {
    loop *lp = (loop *)luaL_checkudata(L, idx, DP_LOOP);
    if (!lp->open)
        luaL_error(L, "attempt to use a closed loop");
    return lp;
}

static void due_min(long long *due, long long t) {
    if (t >= 0 && (*due < 0 || t < *due))
        *due = t;
}

/*
** {======================================================
** The guard
** =======================================================
*/

static int guard_close(lua_State *L) {
    loopguard *g = (loopguard *)luaL_checkudata(L, 1, DP_LOOPGUARD);
    if (g->sig)
        dp_sigstate_restore(g->sig);
    if (g->lp)
        g->lp->busy = 0;
    g->lp = NULL;
    g->sig = NULL;
    return 0;
}

/* Push a to-be-closed guard for lp (at stack index self): marks it busy.
** The guard anchors the loop (and a signal state) in its uservalues. */
static loopguard *guard_push(lua_State *L, loop *lp, int self) {
    loopguard *g;
    if (lp->busy)
        luaL_error(L, "loop already running");
    g = (loopguard *)lua_newuserdatauv(L, sizeof *g, 2);
    g->lp = NULL;
    g->sig = NULL;
    luaL_setmetatable(L, DP_LOOPGUARD);
    lua_pushvalue(L, self);
    lua_setiuservalue(L, -2, 1);
    lua_toclose(L, -1);
    g->lp = lp;
    lp->busy = 1;
    return g;
}

/* }====================================================== */

/*
** {======================================================
** One iteration
** =======================================================
*/

/* The pumps array and the poll set, in one block of the loop's (uservalue
** LO_SCRATCH), grown when needed: a step allocates nothing. Only one
** iteration of a loop runs at a time (the guard), so one block serves. */
static void iter_scratch(lua_State *L, int self, iter *it) {
    size_t n = (size_t)it->npumps, a, b, c;
    char *block;
    a = sizeof(pump *) * (n + 1);
    a = (a + 15) & ~(size_t)15;
    b = sizeof(struct pollfd) * (n * 2 + 1);
    b = (b + 15) & ~(size_t)15;
    c = sizeof(pollent) * (n * 2 + 1);
    lua_getiuservalue(L, self, LO_SCRATCH);
    if (lua_rawlen(L, -1) < a + b + c) {
        lua_pop(L, 1);
        lua_newuserdatauv(L, (a + b + c) * 2, 0);    /* room to grow */
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, self, LO_SCRATCH);
    }
    block = (char *)lua_touserdata(L, -1);
    lua_pop(L, 1);            /* anchored by the loop */
    it->pumps = (pump **)(void *)block;
    it->pfd = (struct pollfd *)(void *)(block + a);
    it->ent = (pollent *)(void *)(block + a + b);
}

/* Anchor the pumps on the stack (callbacks may remove them from the loop)
** and allocate the poll set. Raises only on memory errors. */
static void iter_open(lua_State *L, loop *lp, int self, iter *it) {
    int i;
    memset(it, 0, sizeof *it);
    it->L = L;
    it->lp = lp;
    it->self = self;
    it->rc.L = L;
    lua_getiuservalue(L, self, LO_PUMPS);
    it->npumps = (int)lua_rawlen(L, -1);
    luaL_checkstack(L, it->npumps + 20, "too many pumps");
    it->base = lua_gettop(L) + 1;
    for (i = 0; i < it->npumps; i++)
        lua_rawgeti(L, it->base - 1, i + 1);
    iter_scratch(L, self, it);
    for (i = 0; i < it->npumps; i++)
        it->pumps[i] = dp_pump_check(L, it->base + i);
}

/* Keep the first callback error; later ones are dropped. */
static void iter_failed(iter *it) {
    if (!it->rc.failed) {
        it->rc.failed = 1;
        it->rc.errindex = lua_gettop(it->L);
    } else {
        lua_pop(it->L, 1);
    }
}

/* A pump finished: start the idle countdown of the pumps it drains. */
static void start_drains(lua_State *L, int pidx, long long now) {
    lua_Integer i, n;
    lua_getiuservalue(L, pidx, PU_DRAIN);
    n = (lua_Integer)lua_rawlen(L, -1);
    for (i = 1; i + 1 <= n; i += 2) {
        pump *o;
        lua_rawgeti(L, -1, i);
        o = (pump *)lua_touserdata(L, -1);
        lua_rawgeti(L, -2, i + 1);
        if (o && dp_pump_active(o) && o->idle_grace < 0) {
            o->idle_grace = lua_tointeger(L, -1);
            if (o->last_active < now)
                o->last_active = now;
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

/* Call a finished pump's on_end(status [, message, name]). */
static void call_on_end(iter *it, int pidx) {
    lua_State *L = it->L;
    int nargs = 1;
    pump *p = it->pumps[pidx - it->base];
    if (lua_getiuservalue(L, pidx, PU_END) == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pushvalue(L, pidx);
    lua_getfield(L, -1, "status");
    lua_insert(L, -2);
    lua_call(L, 1, 3);        /* Pump:status cannot fail */
    if (p->state != ST_ERROR) {
        lua_pop(L, 2);
    } else {
        nargs = 3;
    }
    if (lua_pcall(L, nargs, 0, 0) != LUA_OK)
        iter_failed(it);
}

/* Finished pumps start their drains and are told; idle pumps are
** cancelled. Sets it->due_us to the earliest idle deadline. */
static void iter_notify(iter *it, long long now) {
    int i;
    for (i = 0; i < it->npumps; i++) {
        pump *p = it->pumps[i];
        if (p->open && !dp_pump_active(p) && !p->notified) {
            p->notified = 1;
            dp_pump_release_fds(p);
            start_drains(it->L, it->base + i, now);
            call_on_end(it, it->base + i);
        }
    }
    it->due_us = -1;
    for (i = 0; i < it->npumps; i++) {
        pump *p = it->pumps[i];
        if (dp_pump_running(p) && p->idle_grace >= 0) {
            long long due = p->last_active + p->idle_grace;
            if (due <= now)
                p->state = ST_CANCELLED;
            else
                due_min(&it->due_us, due * 1000);
        }
    }
}

/* Whether any pump still holds the loop open. */
static int iter_waiting(const iter *it) {
    int i;
    for (i = 0; i < it->npumps; i++) {
        const pump *p = it->pumps[i];
        if (dp_pump_active(p) && (p->wait_for_output || dp_pump_draining(p)))
            return 1;
    }
    return 0;
}

static void iter_add(iter *it, int fd, short events, int pidx, int role) {
    it->pfd[it->n].fd = fd;
    it->pfd[it->n].events = events;
    it->pfd[it->n].revents = 0;
    it->ent[it->n].pump = pidx;
    it->ent[it->n].role = role;
    it->n++;
}

/* The poll set for the pumps (and the signal pipe, sigfd >= 0). */
static void iter_build(iter *it, long long now_us, int sigfd) {
    int i;
    it->n = 0;
    it->ready_now = 0;
    if (sigfd >= 0)
        iter_add(it, sigfd, POLLIN, -1, 0);
    for (i = 0; i < it->npumps; i++) {
        pump *p = it->pumps[i];
        int wfd;
        if (!dp_pump_active(p))
            continue;
        if (dp_pump_can_read(p) && p->defer_until > now_us) {
            due_min(&it->due_us, p->defer_until);  /* coalescing: wait a little */
        } else if (dp_pump_can_read(p)) {
            int fd = dp_pump_src_fd(p);
            if (p->defer_until > 0) {
                p->defer_until = 0;
                p->src_ready = 1;    /* read it now, poll() or not */
            }
            if (dp_pump_src_ready(p))
                it->ready_now = 1;
            else if (dp_pump_src_fed(p))
                ;                    /* nothing to read until Pump:feed */
            else if (fd < 0)
                it->ready_now = 1;   /* the read reports the closed connection */
            else
                iter_add(it, fd, POLLIN, i, 0);
        }
        wfd = dp_pump_wait_fd(p);
        if (wfd >= 0)
            iter_add(it, wfd, POLLOUT, i, 1);
        else if (!dp_pump_sinks_empty(p))
            it->ready_now = 1;   /* the head's sink is gone: flush drops it */
    }
}

/* Read the pumps whose source is ready without poll(). */
static void iter_ready_reads(iter *it) {
    int i;
    for (i = 0; i < it->npumps && !it->rc.failed; i++) {
        pump *p = it->pumps[i];
        if (!dp_pump_active(p) || !dp_pump_can_read(p) || p->defer_until > 0)
            continue;
        if (dp_pump_src_ready(p) || (dp_pump_src_fd(p) < 0 && !dp_pump_src_fed(p)))
            dp_pump_read(&it->rc, p, it->base + i);
    }
}

/* After poll() said r: writes first, then reads, then the rest. */
static void iter_dispatch(iter *it, int r) {
    int i;
    for (i = 0; i < it->n && r > 0; i++) {
        pump *p;
        if (it->pfd[i].revents == 0 || it->ent[i].role != 1)
            continue;
        p = it->pumps[it->ent[i].pump];
        dp_pump_sink_error(p, it->pfd[i].revents);
        dp_pump_flush(p);
    }
    for (i = 0; i < it->n && r > 0 && !it->rc.failed; i++) {
        pump *p;
        if (it->pfd[i].revents == 0 || it->ent[i].role != 0 || it->ent[i].pump < 0)
            continue;
        p = it->pumps[it->ent[i].pump];
        if (dp_pump_active(p) && p->state == ST_RUNNING)
            dp_pump_read(&it->rc, p, it->base + it->ent[i].pump);
    }
    if (it->ready_now)
        iter_ready_reads(it);
    for (i = 0; i < it->npumps; i++) {
        pump *p = it->pumps[i];
        if (p->state == ST_DETACHED && !p->notified) {
            /* cancel its links (the other direction of the session) */
            lua_Integer k, n;
            lua_getiuservalue(it->L, it->base + i, PU_LINKS);
            n = (lua_Integer)lua_rawlen(it->L, -1);
            for (k = 1; k <= n; k++) {
                pump *o;
                lua_rawgeti(it->L, -1, k);
                o = (pump *)lua_touserdata(it->L, -1);
                if (o && dp_pump_running(o))
                    o->state = ST_CANCELLED;
                lua_pop(it->L, 1);
            }
            lua_pop(it->L, 1);
        }
        if (dp_pump_active(p) && dp_pump_wait_fd(p) < 0)
            dp_pump_flush(p);     /* function sinks, or the head's sink is gone */
        else
            dp_pump_finish(p);
    }
}

/* }====================================================== */

/*
** {======================================================
** The epoll set behind pollfd()
** =======================================================
*/

static fdev *fdlist_find(fdlist *l, int fd) {
    size_t i;
    for (i = 0; i < l->n; i++)
        if (l->v[i].fd == fd)
            return &l->v[i];
    return NULL;
}

/* Append; NULL when out of memory. */
static fdev *fdlist_add(fdlist *l, int fd) {
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        fdev *nv = (fdev *)realloc(l->v, ncap * sizeof *nv);
        if (nv == NULL)
            return NULL;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n].fd = fd;
    l->v[l->n].events = 0;
    l->v[l->n].mark = 0;
    return &l->v[l->n++];
}

static void fdlist_free(fdlist *l) {
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Make epfd want `events` on fd in this pass (mark 1). */
static void sync_one(loop *lp, int fd, unsigned events) {
    fdev *r = fdlist_find(&lp->regs, fd);
    struct epoll_event ev;
    int op;
    if (r && r->mark)
        events |= r->events;          /* wanted twice in one pass: both */
    if (r && r->mark && r->events == events)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.fd = fd;
    if (r == NULL && (r = fdlist_add(&lp->regs, fd)) == NULL) {
        lp->ready = 1;                /* out of memory: say "step now" */
        return;
    }
    op = r->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (r->events != events) {         /* only a change costs a syscall */
        if (epoll_ctl(lp->epfd, op, fd, &ev) < 0) {
            int e = errno;
            /* the fd was closed and its number reused, or the reverse */
            if ((e == ENOENT && op == EPOLL_CTL_MOD &&
                 epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) ||
                (e == EEXIST && epoll_ctl(lp->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)) {
                /* done */
            } else {
                lp->ready = 1;        /* a regular file (EPERM): always ready */
            }
        }
    }
    r->events = events;
    r->mark = 1;
}

/* Bring the epoll set in line with the poll set and the watches. */
static void loop_sync(loop *lp, const iter *it) {
    size_t i, j;
    if (lp->epfd < 0)
        return;
    for (i = 0; i < lp->regs.n; i++)
        lp->regs.v[i].mark = 0;
    for (i = 0; it && i < (size_t)it->n; i++) {
        if (it->ent[i].pump < 0)
            continue;
        sync_one(lp, it->pfd[i].fd, (it->pfd[i].events & POLLIN ? EPOLLIN : 0) |
                                    (it->pfd[i].events & POLLOUT ? EPOLLOUT : 0));
    }
    for (i = 0; i < lp->watches.n; i++)
        sync_one(lp, lp->watches.v[i].fd, lp->watches.v[i].events);
    for (i = j = 0; i < lp->regs.n; i++) {
        if (lp->regs.v[i].mark)
            lp->regs.v[j++] = lp->regs.v[i];
        else
            epoll_ctl(lp->epfd, EPOLL_CTL_DEL, lp->regs.v[i].fd, NULL);
    }
    lp->regs.n = j;
}

/* }====================================================== */

/*
** {======================================================
** Loop methods
** =======================================================
*/

/***
** Create a loop.
** @function loop
** @treturn dockerpty.Loop
** @usage local lp = core.loop(); lp:add(p1); lp:add(p2); local how = lp:run()
*/
static int loop_f_new(lua_State *L) {
    loop *lp = (loop *)lua_newuserdatauv(L, sizeof(loop), LO_NUV);
    memset(lp, 0, sizeof *lp);
    lp->epfd = -1;
    lp->due_us = -1;
    sigemptyset(&lp->stop);
    sigemptyset(&lp->forward);
    luaL_setmetatable(L, DP_LOOP);
    lua_newtable(L);
    lua_setiuservalue(L, -2, LO_PUMPS);
    lp->open = 1;
    return 1;
}

/***
** Add a pump to the loop. Returns self.
** @function Loop:add
*/
static int loop_m_add(lua_State *L) {
    pump *p;
    checkloop(L, 1);
    p = dp_pump_check(L, 2);
    if (!p->open)
        return luaL_error(L, "attempt to use a closed pump");
    dp_append_uservalue(L, LO_PUMPS, 2);
    ((loop *)lua_touserdata(L, 1))->stepped = 0;    /* work to do: step again */
    lua_settop(L, 1);
    return 1;
}

/***
** Remove a pump from the loop. Returns self.
** @function Loop:remove
*/
static int loop_m_remove(lua_State *L) {
    lua_Integer i, n, j = 1;
    checkloop(L, 1);
    dp_pump_check(L, 2);
    lua_getiuservalue(L, 1, LO_PUMPS);
    n = (lua_Integer)lua_rawlen(L, 3);
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, 3, i);
        if (!lua_rawequal(L, -1, 2))
            lua_rawseti(L, 3, j++);
        else
            lua_pop(L, 1);
    }
    for (; j <= n; j++) {
        lua_pushnil(L);
        lua_rawseti(L, 3, j);
    }
    lua_settop(L, 1);
    return 1;
}

/***
** Call fn() once after a burst of SIGWINCH while run() runs (nil to stop).
** Returns self.
** @function Loop:on_winch
*/
static int loop_m_on_winch(lua_State *L) {
    checkloop(L, 1);
    if (!lua_isnoneornil(L, 2))
        dp_checkcallable(L, 2);
    lua_settop(L, 2);
    lua_setiuservalue(L, 1, LO_WINCH);
    lua_settop(L, 1);
    return 1;
}

static void read_signal_list(lua_State *L, int idx, sigset_t *set) {
    lua_Integer i, n;
    luaL_checktype(L, idx, LUA_TTABLE);
    n = (lua_Integer)lua_rawlen(L, idx);
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        sigaddset(set, dp_signal_number(L, -1));
        lua_pop(L, 1);
    }
}

/***
** Signals for run(): `stop` lists the names ("INT", "TERM", "HUP"...) that
** end run() with "signal", name; `forward` those handed to fn(name) while
** the loop goes on. Installed for the run only. Returns self.
** @function Loop:signals
** @usage lp:signals({"INT", "TERM", "HUP"}, {"USR1"}, function(name) ... end)
*/
static int loop_m_signals(lua_State *L) {
    loop *lp = checkloop(L, 1);
    sigemptyset(&lp->stop);
    sigemptyset(&lp->forward);
    if (!lua_isnoneornil(L, 2))
        read_signal_list(L, 2, &lp->stop);
    if (!lua_isnoneornil(L, 3)) {
        read_signal_list(L, 3, &lp->forward);
        dp_checkcallable(L, 4);
        lua_pushvalue(L, 4);
        lua_setiuservalue(L, 1, LO_SIGNAL);
    }
    lua_settop(L, 1);
    return 1;
}

/* Raise the callback error kept by an iteration (the guard restores). */
static int iter_raise(iter *it) {
    lua_pushvalue(it->L, it->rc.errindex);
    return lua_error(it->L);
}

/* After a step: what pollfd() and timeout() report until the next one. */
static void loop_after_step(loop *lp, iter *it) {
    long long now_us = dp_now_us();
    iter_notify(it, now_us / 1000);
    lp->ready = 0;
    lp->finished = !iter_waiting(it);
    if (lp->finished) {
        it->n = 0;
    } else {
        iter_build(it, now_us, -1);
        lp->ready = it->ready_now;
    }
    lp->due_us = it->due_us;
    loop_sync(lp, it);
    lp->stepped = 1;
}

/***
** Do all the work that is ready, without blocking: one iteration with a
** zero poll timeout. Returns true once no pump waits for output (the loop
** is finished), else false. An error raised by a callback is re-raised
** unchanged after the iteration.
** @function Loop:step
** @treturn boolean finished
** @usage while not lp:step() do poll(lp:pollfd(), lp:timeout()) end
*/
static int loop_m_step(lua_State *L) {
    loop *lp = checkloop(L, 1);
    iter it;
    int r = 0;
    lua_settop(L, 1);
    guard_push(L, lp, 1);
    iter_open(L, lp, 1, &it);
    iter_notify(&it, dp_now_ms());
    if (iter_waiting(&it)) {
        iter_build(&it, dp_now_us(), -1);
        if (it.n > 0 && (r = poll(it.pfd, (nfds_t)it.n, 0)) < 0 && errno != EINTR)
            return dp_push_errno(L, "poll", errno);
        iter_dispatch(&it, r);
    }
    if (!it.rc.failed)
        loop_after_step(lp, &it);
    if (it.rc.failed) {
        lp->stepped = 0;
        return iter_raise(&it);
    }
    lua_pushboolean(L, lp->finished);
    return 1;
}

/***
** An fd that becomes readable when step() has work to do (an epoll fd over
** the pumps' fds and the watched ones; close-on-exec). Stable for the life
** of the loop.
** @function Loop:pollfd
** @treturn[1] integer fd
** @return[2] nil, message, name
*/
static int loop_m_pollfd(lua_State *L) {
    loop *lp = checkloop(L, 1);
    if (lp->epfd < 0) {
        lp->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (lp->epfd < 0)
            return dp_push_errno(L, "epoll_create1", errno);
        loop_sync(lp, NULL);     /* the watched fds now; the pumps' at the next step */
        lp->stepped = 0;
    }
    lua_pushinteger(L, lp->epfd);
    return 1;
}

/***
** Seconds until step() must be called even if pollfd() stays quiet: 0
** when it has work now (or was never stepped), nil when only an fd can
** bring work.
** @function Loop:timeout
*/
static int loop_m_timeout(lua_State *L) {
    loop *lp = checkloop(L, 1);
    long long now;
    if (!lp->stepped || lp->ready || lp->finished) {
        lua_pushnumber(L, 0);
        return 1;
    }
    if (lp->due_us < 0) {
        lua_pushnil(L);
        return 1;
    }
    now = dp_now_us();
    lua_pushnumber(L, lp->due_us > now ? (double)(lp->due_us - now) / 1e6 : 0.0);
    return 1;
}

/***
** The events pollfd() is to be waited for: always "r".
** @function Loop:events
*/
static int loop_m_events(lua_State *L) {
    checkloop(L, 1);
    lua_pushliteral(L, "r");
    return 1;
}

/***
** Add fd to what pollfd() waits on ("r", "w" or "rw"), or remove it (nil):
** the caller's own fds (a request on its way), outside any pump. Remove an
** fd before closing it. Returns self.
** @function Loop:watch
** @usage lp:watch(conn:getfd(), "w")
*/
static int loop_m_watch(lua_State *L) {
    loop *lp = checkloop(L, 1);
    lua_Integer fd = luaL_checkinteger(L, 2);
    const char *ev = luaL_optstring(L, 3, NULL);
    unsigned events = 0;
    fdev *w;
    luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, 2, "invalid fd");
    if (ev != NULL) {
        luaL_argcheck(L, strcmp(ev, "r") == 0 || strcmp(ev, "w") == 0 ||
                      strcmp(ev, "rw") == 0, 3, "\"r\", \"w\" or \"rw\" expected");
        events = (strchr(ev, 'r') ? EPOLLIN : 0) | (strchr(ev, 'w') ? EPOLLOUT : 0);
    }
    w = fdlist_find(&lp->watches, (int)fd);
    if (events == 0 && w != NULL) {
        /* out of the epoll set now, while the fd is still open: once closed,
        ** its number may come back for another fd, which must be added anew */
        fdev *r = fdlist_find(&lp->regs, (int)fd);
        if (r != NULL) {
            if (lp->epfd >= 0)
                epoll_ctl(lp->epfd, EPOLL_CTL_DEL, (int)fd, NULL);
            *r = lp->regs.v[--lp->regs.n];
        }
        *w = lp->watches.v[--lp->watches.n];
    } else if (events != 0) {
        if (w == NULL && (w = fdlist_add(&lp->watches, (int)fd)) == NULL)
            return luaL_error(L, "not enough memory");
        w->events = events;
    }
    lp->stepped = 0;              /* synced by the next step: step soon */
    lua_settop(L, 1);
    return 1;
}

/***
** The watched fds (Loop:watch) that are ready now, as a list: for a loop
** that only watches other objects' pollfds (a group of sessions).
** @function Loop:ready_fds
*/
static int loop_m_ready_fds(lua_State *L) {
    loop *lp = checkloop(L, 1);
    struct epoll_event ev[256];
    int n, i;
    lua_newtable(L);
    if (lp->epfd < 0)
        return 1;
    /* level-triggered: what is not listed now stays ready for the next call */
    n = epoll_wait(lp->epfd, ev, 256, 0);
    for (i = 0; i < n; i++) {
        lua_pushinteger(L, ev[i].data.fd);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* run(): the signal pipe said something; sets how and signo for a stop. */
static void run_signals(iter *it, dp_sigstate *ss, long long *winch_due,
                        const char **how, int *signo) {
    lua_State *L = it->L;
    int s, has_winch, has_cb;
    lua_getiuservalue(L, it->self, LO_WINCH);
    has_winch = !lua_isnil(L, -1);
    lua_getiuservalue(L, it->self, LO_SIGNAL);
    has_cb = !lua_isnil(L, -1);
    lua_pop(L, 2);
    while ((s = dp_sigstate_next(ss)) != 0) {
        if (s == SIGWINCH && has_winch) {
            *winch_due = dp_now_ms() + WINCH_QUIET_MS;
        } else if (sigismember(&it->lp->stop, s) == 1 && *how == NULL) {
            *how = "signal";
            *signo = s;
        } else if (has_cb && sigismember(&it->lp->forward, s) == 1 && !it->rc.failed) {
            lua_getiuservalue(L, it->self, LO_SIGNAL);
            lua_pushstring(L, dp_signal_name(s));
            if (lua_pcall(L, 1, 0, 0) != LUA_OK)
                iter_failed(it);
        }
    }
}

/* run(): install the handlers the loop's configuration asks for. */
static int run_install(lua_State *L, loop *lp, loopguard *g) {
    sigset_t set;
    int sig, err;
    sigemptyset(&set);
    lua_getiuservalue(L, 1, LO_WINCH);
    if (!lua_isnil(L, -1))
        sigaddset(&set, SIGWINCH);
    lua_getiuservalue(L, 1, LO_SIGNAL);
    for (sig = 1; sig < NSIG; sig++)
        if (sigismember(&lp->stop, sig) == 1 ||
            (!lua_isnil(L, -1) && sigismember(&lp->forward, sig) == 1))
            sigaddset(&set, sig);
    lua_pop(L, 2);
    if (sigisemptyset(&set))
        return 0;
    g->sig = dp_sigstate_new(L);
    lua_setiuservalue(L, 2, 2);       /* anchored by the guard (index 2) */
    err = dp_sigstate_install(g->sig, &set);
    if (err == EBUSY)
        return luaL_error(L, "loop already running (another run owns the signals)");
    return err;
}

/* run(): microseconds ppoll may sleep, -1 for no limit. */
static long long run_wait_us(const iter *it, long long deadline, long long winch_due) {
    long long until = -1, now = dp_now_us();
    if (it->ready_now)
        return 0;
    due_min(&until, deadline >= 0 ? deadline * 1000 : -1);
    due_min(&until, winch_due >= 0 ? winch_due * 1000 : -1);
    due_min(&until, it->due_us);
    if (until < 0)
        return -1;
    return until > now ? until - now : 0;
}

/* run(): one blocking iteration; sets *how when the run ends. */
static int run_iteration(iter *it, dp_sigstate *ss, long long deadline,
                         long long *winch_due, const char **how, int *signo) {
    long long wait_us;
    struct timespec ts;
    int r;
    iter_notify(it, dp_now_ms());
    if (!iter_waiting(it)) {
        *how = "done";
        return 0;
    }
    iter_build(it, dp_now_us(), dp_sigstate_fd(ss));
    wait_us = run_wait_us(it, deadline, *winch_due);
    ts.tv_sec = (time_t)(wait_us / 1000000);
    ts.tv_nsec = (long)(wait_us % 1000000) * 1000;
    r = ppoll(it->pfd, (nfds_t)it->n, wait_us < 0 ? NULL : &ts, NULL);
    if (r < 0 && errno != EINTR)
        return errno;
    if (r > 0 && it->n > 0 && it->ent[0].pump < 0 && (it->pfd[0].revents & POLLIN))
        run_signals(it, ss, winch_due, how, signo);
    if (*how || it->rc.failed)
        return 0;
    if (r > 0 || it->ready_now)
        iter_dispatch(it, r);
    if (*winch_due >= 0 && dp_now_ms() >= *winch_due && !it->rc.failed) {
        *winch_due = -1;
        lua_getiuservalue(it->L, it->self, LO_WINCH);
        if (lua_pcall(it->L, 0, 0, 0) != LUA_OK)
            iter_failed(it);
    }
    if (deadline >= 0 && dp_now_ms() >= deadline)
        *how = "timeout";
    return 0;
}

/***
** Run the loop until every pump that waits for output has finished
** ("done"), a stop signal arrives ("signal", name), or timeout_ms passes
** ("timeout"). Signal handlers (stop, forwarded, SIGWINCH with on_winch)
** are installed for the run and put back on every way out. An error raised
** by a callback ends the loop and is re-raised unchanged.
** @function Loop:run
** @tparam[opt] integer timeout_ms
*/
static int loop_m_run(lua_State *L) {
    loop *lp = checkloop(L, 1);
    lua_Integer timeout = luaL_optinteger(L, 2, -1);
    long long deadline = timeout >= 0 ? dp_now_ms() + timeout : -1;
    long long winch_due = -1;      /* debounce: a burst gives one call */
    const char *how = NULL;
    int signo = 0, err;
    loopguard *g;
    dp_sigstate *ss;
    iter it;
    lua_settop(L, 1);
    g = guard_push(L, lp, 1);
    if ((err = run_install(L, lp, g)) != 0)
        return dp_push_errno(L, "sigaction", err);
    ss = g->sig ? g->sig : dp_sigstate_new(L);
    iter_open(L, lp, 1, &it);
    while (how == NULL && !it.rc.failed) {
        if ((err = run_iteration(&it, ss, deadline, &winch_due, &how, &signo)) != 0)
            return dp_push_errno(L, "poll", err);
    }
    lp->stepped = 0;
    if (it.rc.failed)
        return iter_raise(&it);
    lua_pushstring(L, how);
    if (signo) {
        lua_pushstring(L, dp_signal_name(signo));
        return 2;
    }
    return 1;
}

/***
** Whether step() or run() is active.
** @function Loop:running
*/
static int loop_m_running(lua_State *L) {
    loop *lp = (loop *)luaL_checkudata(L, 1, DP_LOOP);
    lua_pushboolean(L, lp->busy);
    return 1;
}

static void loop_release(loop *lp) {
    if (lp->epfd >= 0)
        close(lp->epfd);
    lp->epfd = -1;
    fdlist_free(&lp->regs);
    fdlist_free(&lp->watches);
    lp->open = 0;
}

/***
** Close the loop and its pollfd (idempotent; not while it runs).
** @function Loop:close
*/
static int loop_m_close(lua_State *L) {
    loop *lp = (loop *)luaL_checkudata(L, 1, DP_LOOP);
    if (lp->busy)
        return luaL_error(L, "loop already running");
    loop_release(lp);
    return 0;
}

static int loop_m_gc(lua_State *L) {
    loop_release((loop *)luaL_checkudata(L, 1, DP_LOOP));
    return 0;
}

static int loop_m_tostring(lua_State *L) {
    loop *lp = (loop *)luaL_checkudata(L, 1, DP_LOOP);
    if (lp->open)
        lua_pushfstring(L, "%s (%p)", DP_LOOP, (void *)lp);
    else
        lua_pushfstring(L, "%s (closed)", DP_LOOP);
    return 1;
}

/* }====================================================== */

int loop_open(lua_State *L) {
    static const luaL_Reg loop_meta[] = {
        {"__index", NULL},
        {"__gc", loop_m_gc},
        {"__close", loop_m_gc},
        {"__tostring", loop_m_tostring},
        {NULL, NULL}
    };
    static const luaL_Reg loop_methods[] = {
        {"add", loop_m_add},
        {"remove", loop_m_remove},
        {"on_winch", loop_m_on_winch},
        {"signals", loop_m_signals},
        {"run", loop_m_run},
        {"step", loop_m_step},
        {"pollfd", loop_m_pollfd},
        {"events", loop_m_events},
        {"timeout", loop_m_timeout},
        {"watch", loop_m_watch},
        {"ready_fds", loop_m_ready_fds},
        {"running", loop_m_running},
        {"close", loop_m_close},
        {NULL, NULL}
    };
    static const luaL_Reg guard_meta[] = {
        {"__gc", guard_close},
        {"__close", guard_close},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"loop", loop_f_new},
        {NULL, NULL}
    };
    dp_createmeta(L, DP_LOOP, loop_meta, loop_methods);
    luaL_newmetatable(L, DP_LOOPGUARD);
    luaL_setfuncs(L, guard_meta, 0);
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
