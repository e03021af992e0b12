/*
** pump.c: buffered non-blocking pumps and the poll loop.
**
** A pump moves bytes from one source (an fd, a hijacked connection, or a
** Lua string) to one or two sinks (fds, connections, Lua functions, or
** nothing), optionally through the stream demuxer (stream 1 to the first
** sink, stream 2 to the second) and the detach-key escape proxy. A loop
** runs any number of pumps with poll(2) until every pump that waits for
** output is finished, a stop signal arrives or a timeout passes.
**
** Memory is bounded: a pump reads its source only while its sinks have
** less than `bound` bytes pending (by default: nothing, so at most one read
** waits), so a slow reader stops the reading (backpressure) and nothing is
** dropped. Payload is written straight from the read buffer; only what a
** sink does not take at once is copied. A short read from a pipe, pty or
** plain socket means it is empty for now: back to poll() without the extra
** read that would only say EAGAIN (TLS is read to EAGAIN: it may hold
** decrypted bytes poll() cannot see).
**
** Coalescing: when a source streams in pieces of 8 KiB or more (a tty's
** output under load comes as 4-32 KiB writes of the daemon), each short
** read would cost a poll, a read and a write for little data. After such a
** read the pump waits before reading that source again, for as long as the
** measured rate needs to fill half of the smaller of its read buffer and
** the source's own buffer (a pipe's size, a socket's receive buffer), at
** most `coalesce_us` (default 2 ms). It never waits after a read that found
** the source's buffer half full or more: the writer could block meanwhile
** (a pipe fed as fast as we read it must not be slowed). Small reads
** (keystrokes, prompts) never wait, so interactive echo is unchanged.
**
** Signals reach the loop through a self-pipe: the handler only writes the
** signal number. Lua callbacks (function sinks, on_winch, on_signal) run
** under lua_pcall; an error stops the loop, which releases its state
** (O_NONBLOCK flags, signal dispositions) and then re-raises the original
** error object from loop:run itself.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "demux.h"
#include "escape.h"
#include "conn.h"

/* Uservalue slots of a pump. */
#define PU_SRC   1      /* source object: conn userdata or string */
#define PU_SINK1 2      /* first sink object (conn or function) */
#define PU_SINK2 3      /* second sink object */
#define PU_LINKS 4      /* table of pumps cancelled on detach */
#define PU_DRAIN 5      /* table {pump, ms, ...}: drained when this one ends */
#define PU_NUV   5

/* Uservalue slots of a loop. */
#define LO_PUMPS  1     /* sequence of pumps */
#define LO_WINCH  2     /* on_winch callback */
#define LO_SIGNAL 3     /* on_signal callback */
#define LO_NUV    3

enum { EP_NONE, EP_FD, EP_CONN, EP_FUNC, EP_STRING };
enum { ST_RUNNING, ST_FLUSHING, ST_DONE, ST_ERROR, ST_DETACHED, ST_CANCELLED };
enum { EOF_NONE, EOF_CLOSE, EOF_SHUTDOWN };

static const char *const state_names[] = {
    "running", "flushing", "done", "error", "detached", "cancelled", NULL
};

#define DEFAULT_BUFSIZE  (128 * 1024)
#define DEFAULT_BOUND    1       /* read only when every sink took everything */
#define WINCH_QUIET_MS   30     /* SIGWINCH burst: call once, 30 ms after the last */
#define COALESCE_US      2000   /* default longest wait before reading again */
#define COALESCE_MIN     8192   /* reads smaller than this never wait */
#define COALESCE_FLOW_US 10000  /* reads further apart are not one stream */
#define COALESCE_SHORT   100    /* waits shorter than this (us) are not worth it */

typedef struct sink {
    int kind;
    int fd;
    dp_conn *conn;
    int broken;          /* write failed for good: the rest is discarded */
} sink;

/* A run of queued bytes for one sink. The queue keeps the order of the
** pieces across both sinks, so stdout and stderr interleave as they came. */
typedef struct seg {
    int sink;
    size_t len;
} seg;

typedef struct pump {
    int open;
    int src_kind;
    int src_fd;
    dp_conn *src_conn;
    const char *str;     /* EP_STRING: anchored in uservalue PU_SRC */
    size_t strlen, stroff;
    int src_eof;         /* source reached EOF or failed */
    int src_ready;       /* may have data that poll() does not show */
    int use_demux;
    dp_demux dm;
    int use_escape;
    dp_escape esc;
    sink sinks[2];
    int nsinks;
    char *qbuf;          /* bytes not yet taken by a sink: qbuf[qoff..qlen) */
    size_t qoff, qlen, qcap;
    seg *segs;           /* their sinks, in order: segs[shead..stail) */
    size_t shead, stail, scap;
    char *rbuf;
    size_t rcap;
    char *ebuf;          /* escape output scratch: rcap + DP_ESCAPE_MAX */
    int state;
    int wait_for_output;
    int on_eof;
    size_t bound;
    int truncated;       /* DP_DEMUX_TRUNC_* at EOF */
    char errmsg[DP_DEMUX_MSGMAX + 64];   /* may hold NULs: errlen bytes */
    size_t errlen;
    char errname[32];
    unsigned long long bytes_in, bytes_out;
    int notified;        /* its drain targets were told it finished */
    long long idle_grace;   /* >= 0: cancel once idle this long (ms) */
    long long last_active;  /* dp_now_ms() of the last bytes read or written */
    long long coalesce_us;  /* longest wait between reads of a stream; 0: none */
    long long last_read_us; /* dp_now_us() of the last read with data */
    long long defer_until;  /* > 0: do not read the source before (dp_now_us) */
    size_t src_cap;         /* the source's buffer (pipe size...); 0: not known yet */
    unsigned long long reads;   /* reads that returned data */
    unsigned long long defers;  /* waits the coalescing made */
} pump;

typedef struct loop {
    int open;
    int running;
    sigset_t stop;       /* signals that end run() */
    sigset_t forward;    /* signals handed to on_signal */
} loop;

/* Only one loop runs at a time in a process: signal handlers are global. */
static int g_running = 0;
static int g_sigpipe[2] = {-1, -1};

/*
** {======================================================
** Sinks and sources
** =======================================================
*/

/* Record the failure; msg is len bytes (a daemon's text may hold NULs). */
static void pump_fail_len(pump *p, const char *name, const char *msg, size_t len) {
    if (p->state == ST_ERROR)
        return;
    p->state = ST_ERROR;
    snprintf(p->errname, sizeof p->errname, "%s", name);
    if (len > sizeof p->errmsg)
        len = sizeof p->errmsg;
    memcpy(p->errmsg, msg, len);
    p->errlen = len;
}

static void pump_fail(pump *p, const char *name, const char *msg) {
    pump_fail_len(p, name, msg, strlen(msg));
}

static int conn_alive(const dp_conn *c) {
    return c != NULL && c->fd >= 0;
}

static int sink_fd(const sink *s) {
    if (s->kind == EP_FD)
        return s->fd;
    if (s->kind == EP_CONN && conn_alive(s->conn))
        return s->conn->fd;
    return -1;
}

static size_t queue_pending(const pump *p) {
    return p->qlen - p->qoff;
}

/* Write directly; returns bytes taken (0..n), or -2 on a permanent failure
** (errno-like value in *err). Stops at EAGAIN. */
static ssize_t sink_write_raw(sink *s, const char *data, size_t n, int *err) {
    size_t done = 0;
    while (done < n) {
        if (s->kind == EP_FD) {
            ssize_t r = write(s->fd, data + done, n - done);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                *err = errno;
                return -2;
            }
            done += (size_t)r;
        } else { /* EP_CONN */
            size_t w = 0;
            int e;
            if (!conn_alive(s->conn)) {
                *err = EPIPE;
                return -2;
            }
            e = dp_conn_send(s->conn, data + done, n - done, &w);
            if (e == EAGAIN)
                break;
            if (e != 0) {
                *err = e;
                return -2;
            }
            done += w;
        }
    }
    return (ssize_t)done;
}

/* Append bytes for sink `which` to the queue (malloc'd, owned by the pump
** userdata: freed by close/__gc). Returns -1 when out of memory. */
static int queue_push(pump *p, int which, const char *data, size_t n) {
    size_t pend = queue_pending(p);
    if (p->qlen + n > p->qcap) {
        if (p->qoff > 0 && pend + n <= p->qcap) {
            memmove(p->qbuf, p->qbuf + p->qoff, pend);
        } else {
            size_t ncap = p->qcap ? p->qcap : 65536;
            char *nb;
            while (ncap < pend + n)
                ncap *= 2;
            nb = (char *)malloc(ncap);
            if (nb == NULL)
                return -1;
            if (pend)
                memcpy(nb, p->qbuf + p->qoff, pend);
            free(p->qbuf);
            p->qbuf = nb;
            p->qcap = ncap;
        }
        p->qoff = 0;
        p->qlen = pend;
    }
    memcpy(p->qbuf + p->qlen, data, n);
    p->qlen += n;
    if (p->stail > p->shead && p->segs[p->stail - 1].sink == which) {
        p->segs[p->stail - 1].len += n;
        return 0;
    }
    if (p->stail == p->scap) {
        size_t live = p->stail - p->shead;
        if (p->shead > 0) {
            memmove(p->segs, p->segs + p->shead, live * sizeof(seg));
        } else {
            size_t ncap = p->scap ? p->scap * 2 : 16;
            seg *ns = (seg *)realloc(p->segs, ncap * sizeof(seg));
            if (ns == NULL)
                return -1;
            p->segs = ns;
            p->scap = ncap;
        }
        p->shead = 0;
        p->stail = live;
    }
    p->segs[p->stail].sink = which;
    p->segs[p->stail].len = n;
    p->stail++;
    return 0;
}

/* The error of a sink that failed: EPIPE and friends on an output are not
** errors of the session (the reader went away: RELIABILITY cases 42, 43),
** the sink is marked broken and what is queued for it is discarded. */
static void sink_broken(sink *s) {
    s->broken = 1;
}

/* Write the queue out in order until a sink would block. */
static void queue_flush(pump *p) {
    while (p->shead < p->stail) {
        seg *g = &p->segs[p->shead];
        sink *s = &p->sinks[g->sink];
        int err = 0;
        ssize_t w;
        if (s->broken || s->kind == EP_NONE || s->kind == EP_FUNC) {
            p->qoff += g->len;
            p->shead++;
            continue;
        }
        w = sink_write_raw(s, p->qbuf + p->qoff, g->len, &err);
        if (w == -2) {
            sink_broken(s);
            continue;
        }
        if (w > 0)
            p->last_active = dp_now_ms();   /* moving bytes is not idle */
        p->qoff += (size_t)w;
        g->len -= (size_t)w;
        if (g->len > 0)
            break;
        p->shead++;
    }
    if (p->shead == p->stail) {
        p->shead = p->stail = 0;
        p->qoff = p->qlen = 0;
    }
}

/* The fd the queue waits on (its head's sink), or -1. */
static int queue_wait_fd(const pump *p) {
    if (p->shead == p->stail)
        return -1;
    return sink_fd(&p->sinks[p->segs[p->shead].sink]);
}

/* Error raised by a Lua callback; set by deliver(), read by run(). */
typedef struct runctx {
    lua_State *L;
    int failed;          /* a callback raised: its error is at errindex */
    int errindex;
} runctx;

/* Deliver a piece to a sink. Function sinks are called at once, under
** lua_pcall; the pump userdata is at stack index pidx. */
static void deliver(runctx *rc, pump *p, int pidx, int which,
                    const char *data, size_t n) {
    sink *s = &p->sinks[which];
    int err = 0;
    ssize_t w;
    if (n == 0 || s->kind == EP_NONE || s->broken)
        return;
    p->bytes_out += n;
    if (s->kind == EP_FUNC) {
        lua_State *L = rc->L;
        if (rc->failed)
            return;
        lua_getiuservalue(L, pidx, which == 0 ? PU_SINK1 : PU_SINK2);
        lua_pushlstring(L, data, n);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
            rc->failed = 1;
            rc->errindex = lua_gettop(L);
        }
        return;
    }
    if (queue_pending(p) == 0) {    /* nothing ahead: write straight away */
        w = sink_write_raw(s, data, n, &err);
        if (w == -2) {
            sink_broken(s);
            return;
        }
        data += w;
        n -= (size_t)w;
        if (n == 0)
            return;
    }
    if (queue_push(p, which, data, n) != 0)
        pump_fail(p, "ENOMEM", "out of memory buffering output");
}

static int sinks_have_room(const pump *p) {
    return queue_pending(p) < p->bound;
}

static int sinks_empty(const pump *p) {
    return queue_pending(p) == 0;
}

/* Feed bytes that came from the source through escape and demux. */
static void process(runctx *rc, pump *p, int pidx, const char *data, size_t n) {
    p->bytes_in += n;
    if (p->use_escape) {
        size_t m = dp_escape_filter(&p->esc, data, n, p->ebuf);
        data = p->ebuf;
        n = m;
    }
    if (!p->use_demux) {
        deliver(rc, p, pidx, 0, data, n);
    } else {
        while (n > 0 && p->state == ST_RUNNING) {
            size_t used = 0, plen = 0;
            int stream = 0;
            const char *piece = NULL;
            int r = dp_demux_next(&p->dm, data, n, &used, &stream, &piece, &plen);
            data += used;
            n -= used;
            if (r == DP_DEMUX_PIECE) {
                deliver(rc, p, pidx, (stream == 2 && p->nsinks > 1) ? 1 : 0,
                        piece, plen);
            } else if (r < 0) {
                pump_fail_len(p, r == DP_DEMUX_EDAEMON ? "daemon" : "protocol",
                              dp_demux_error(&p->dm), p->dm.msglen);
                p->src_eof = 1;
            }
            if (rc->failed)
                break;
        }
    }
    if (p->use_escape && p->esc.detached && p->state == ST_RUNNING) {
        p->src_eof = 1;
        p->state = ST_DETACHED;
    }
}

static void finish_eof(pump *p);

/* Source EOF: flush a held escape prefix, note truncation, then flush. */
static void source_eof(runctx *rc, pump *p, int pidx) {
    p->src_eof = 1;
    if (p->state != ST_RUNNING)
        return;
    if (p->use_escape) {
        char held[DP_ESCAPE_MAX];
        size_t m = dp_escape_flush(&p->esc, held);
        if (m)
            deliver(rc, p, pidx, 0, held, m);
    }
    if (p->use_demux)
        p->truncated = dp_demux_eof(&p->dm);
    p->state = ST_FLUSHING;
    finish_eof(p);
}

/* Once flushed after EOF: close or half-close the first sink. */
static void finish_eof(pump *p) {
    sink *s = &p->sinks[0];
    if (p->state != ST_FLUSHING || !sinks_empty(p))
        return;
    if (p->on_eof == EOF_SHUTDOWN) {
        if (s->kind == EP_CONN && conn_alive(s->conn))
            dp_conn_shutdown(s->conn);
        else if (s->kind == EP_FD)
            shutdown(s->fd, SHUT_WR);
    } else if (p->on_eof == EOF_CLOSE) {
        if (s->kind == EP_CONN && conn_alive(s->conn))
            dp_conn_shutdown(s->conn);
        else if (s->kind == EP_FD && s->fd > 2) {
            close(s->fd);
            s->kind = EP_NONE;
            s->fd = -1;
        }
    }
    p->state = ST_DONE;
}

/* Stopped (stream error, detach) with output still queued: those bytes
** were read before the stop and are written before the pump counts as
** finished, as after EOF: nothing is dropped (fuzz finding F5-1). */
static int pump_draining(const pump *p) {
    return p->open && (p->state == ST_ERROR || p->state == ST_DETACHED) &&
           !sinks_empty(p);
}

static int pump_active(const pump *p) {
    return p->open && (p->state == ST_RUNNING || p->state == ST_FLUSHING ||
                       pump_draining(p));
}

/* Still moving bytes from its source (what cancel and idleness stop). */
static int pump_running(const pump *p) {
    return p->open && (p->state == ST_RUNNING || p->state == ST_FLUSHING);
}

static int alloc_buffers(pump *p) {
    if (p->rbuf != NULL)
        return 0;
    p->rbuf = (char *)malloc(p->rcap);
    if (p->rbuf == NULL)
        return -1;
    if (p->use_escape) {
        p->ebuf = (char *)malloc(p->rcap + DP_ESCAPE_MAX);
        if (p->ebuf == NULL)
            return -1;
    }
    return 0;
}

/* How many bytes the source itself holds before its writer blocks: a
** pipe's size, a socket's receive buffer; else our read buffer's size. */
static size_t source_capacity(const pump *p) {
    int fd = p->src_kind == EP_FD ? p->src_fd :
             (p->src_kind == EP_CONN && conn_alive(p->src_conn) ? p->src_conn->fd : -1);
    struct stat st;
    int v = 0;
    socklen_t sl = sizeof v;
    if (fd < 0 || fstat(fd, &st) < 0)
        return p->rcap;
    if (S_ISFIFO(st.st_mode))
        v = fcntl(fd, F_GETPIPE_SZ);
    else if (S_ISSOCK(st.st_mode) && getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &sl) < 0)
        v = 0;
    return v > 0 ? (size_t)v : p->rcap;
}

/* After a read of n bytes at now (dp_now_us; drained: it emptied the
** source), decide whether to wait before reading again (see Coalescing at
** the top). */
static void pump_pace(pump *p, size_t n, int drained, long long now) {
    long long dt = now - p->last_read_us, wait;
    size_t target;
    p->last_read_us = now;
    p->reads++;
    if (!drained || p->coalesce_us == 0 || n < COALESCE_MIN || dt <= 0 ||
        dt > COALESCE_FLOW_US)
        return;
    if (p->src_cap == 0)
        p->src_cap = source_capacity(p);
    if (n >= p->src_cap / 2)
        return;      /* the source filled up quickly: its writer may block */
    target = (p->src_cap < p->rcap ? p->src_cap : p->rcap) / 2;
    /* bytes came at n/dt per us: target bytes take target * dt/n us */
    wait = (long long)((double)target * (double)dt / (double)n);
    if (wait > p->coalesce_us)
        wait = p->coalesce_us;
    if (wait >= COALESCE_SHORT) {
        p->defer_until = now + wait;
        p->defers++;
    }
}

/* Read the source while the sinks have room, until EAGAIN or EOF. */
static void pump_read(runctx *rc, pump *p, int pidx) {
    int rounds = 0;
    if (alloc_buffers(p) != 0) {
        pump_fail(p, "ENOMEM", "out of memory for the read buffer");
        return;
    }
    while (p->state == ST_RUNNING && !p->src_eof && sinks_have_room(p)
           && !rc->failed) {
        size_t n = 0;
        long long now_us;
        int drained = 0;     /* a short read emptied the source */
        /* Yield to other pumps now and then so one busy stream cannot
        ** starve the rest; src_ready makes the loop come back at once. */
        if (++rounds > 16) {
            p->src_ready = 1;
            return;
        }
        if (p->src_kind == EP_STRING) {
            size_t left = p->strlen - p->stroff;
            if (left == 0) {
                source_eof(rc, p, pidx);
                return;
            }
            n = left < p->rcap ? left : p->rcap;
            process(rc, p, pidx, p->str + p->stroff, n);
            p->stroff += n;
            continue;
        }
        if (p->src_kind == EP_FD) {
            ssize_t r = read(p->src_fd, p->rbuf, p->rcap);
            if (r < 0) {
                int e = errno;
                if (e == EINTR)
                    continue;
                if (e == EAGAIN || e == EWOULDBLOCK) {
                    p->src_ready = 0;
                    return;
                }
                if (e == EIO) {   /* a pty whose other side closed: EOF */
                    source_eof(rc, p, pidx);
                    return;
                }
                {
                    char msg[256];
                    snprintf(msg, sizeof msg, "read: %s", strerror(e));
                    pump_fail(p, dp_errno_name(e), msg);
                }
                p->src_eof = 1;
                return;
            }
            if (r == 0) {
                source_eof(rc, p, pidx);
                return;
            }
            n = (size_t)r;
            /* A pipe, socket or pty that gives less than asked is empty
            ** now: poll() tells when more comes, no EAGAIN read needed. */
            drained = n < p->rcap;
        } else { /* EP_CONN */
            int e;
            if (!conn_alive(p->src_conn)) {
                pump_fail(p, "closed", "connection closed");
                p->src_eof = 1;
                return;
            }
            e = dp_conn_recv(p->src_conn, p->rbuf, p->rcap, &n);
            if (e == EAGAIN) {
                p->src_ready = dp_conn_pending(p->src_conn) > 0;
                return;
            }
            if (e != 0) {
                pump_fail(p, dp_errno_name(e), p->src_conn->errmsg[0]
                          ? p->src_conn->errmsg : strerror(e));
                p->src_eof = 1;
                return;
            }
            if (n == 0) {
                source_eof(rc, p, pidx);
                return;
            }
            /* Likewise on a plain socket; TLS may hold decrypted bytes
            ** that poll() does not see, so there we read to EAGAIN. */
            drained = n < p->rcap && !p->src_conn->tls &&
                      dp_conn_pending(p->src_conn) == 0;
        }
        now_us = dp_now_us();
        p->last_active = now_us / 1000;
        process(rc, p, pidx, p->rbuf, n);
        pump_pace(p, n, drained, now_us);
        if (drained && p->state == ST_RUNNING && !p->src_eof) {
            p->src_ready = 0;
            return;
        }
    }
    /* Stopped with room left unknown (backpressure): the source may hold
    ** data that poll() will not announce again (TLS, pre-buffer). */
    if (p->state == ST_RUNNING && !p->src_eof)
        p->src_ready = 1;
}

/* }====================================================== */

/*
** {======================================================
** Pump objects
** =======================================================
*/

/* Append the value at idx to the list in uservalue `slot` of the object
** at index 1 (a pump's links or drains, a loop's pumps). */
static void append_uservalue(lua_State *L, int slot, int idx) {
    lua_getiuservalue(L, 1, slot);
    lua_pushvalue(L, idx);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
}

static pump *checkpump(lua_State *L, int idx) {
    return (pump *)luaL_checkudata(L, idx, DP_PUMP);
}

static pump *checkopenpump(lua_State *L, int idx) {
    pump *p = checkpump(L, idx);
    if (!p->open)
        luaL_error(L, "attempt to use a closed pump");
    return p;
}

static void pump_release(pump *p) {
    free(p->qbuf);
    free(p->segs);
    p->qbuf = NULL;
    p->segs = NULL;
    p->qoff = p->qlen = p->qcap = 0;
    p->shead = p->stail = p->scap = 0;
    free(p->rbuf);
    free(p->ebuf);
    p->rbuf = p->ebuf = NULL;
    p->open = 0;
}

/* Parse an endpoint at stack index idx into kind/fd/conn; store the object
** in uservalue slot uv of the pump at pidx when it must stay alive. */
static int parse_endpoint(lua_State *L, int pidx, int idx, int uv, int is_sink,
                          int *fd, dp_conn **conn, const char *field) {
    int t = lua_type(L, idx);
    if (t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, idx)))
        return EP_NONE;
    if (lua_isinteger(L, idx) || luaL_testudata(L, idx, LUA_FILEHANDLE)) {
        *fd = is_sink ? dp_checkfd_flush(L, idx) : dp_checkfd(L, idx);
        return EP_FD;
    }
    if (luaL_testudata(L, idx, DP_CONN)) {
        *conn = dp_conn_check(L, idx);
        lua_pushvalue(L, idx);
        lua_setiuservalue(L, pidx, uv);
        return EP_CONN;
    }
    if (!is_sink && t == LUA_TSTRING) {
        lua_pushvalue(L, idx);
        lua_setiuservalue(L, pidx, uv);
        return EP_STRING;
    }
    if (is_sink && (t == LUA_TFUNCTION || t == LUA_TTABLE)) {
        dp_checkcallable(L, idx);
        lua_pushvalue(L, idx);
        lua_setiuservalue(L, pidx, uv);
        return EP_FUNC;
    }
    return luaL_error(L, "bad field '%s' in pump options (%s)", field,
                      is_sink ? "fd, file, connection, function or false expected"
                              : "fd, file, connection or string expected");
}

static void check_fields(lua_State *L, int idx, const char *const allowed[]) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int i, ok = 0;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            for (i = 0; allowed[i]; i++)
                if (strcmp(allowed[i], k) == 0)
                    ok = 1;
            if (!ok)
                luaL_error(L, "unknown pump option '%s'", k);
        } else {
            luaL_error(L, "pump options must have string keys");
        }
        lua_pop(L, 1);
    }
}

/***
** Create a pump.
** @function pump
** @tparam table opts `from` (fd, file, connection or string), `to` and `err`
** (fd, file, connection, function or false), `demux` (boolean),
** `detach_keys` (byte string from parse_keys), `wait_for_output` (boolean),
** `on_eof` ("none", "close" or "shutdown"), `bound` and `bufsize` (bytes),
** `coalesce_us` (longest wait between reads of a stream, default 2000; 0:
** read as soon as poll() says so).
** @treturn dockerpty.Pump
** @usage local p = core.pump{from = conn, to = io.stdout, err = io.stderr, demux = true}
*/
static int pump_f_new(lua_State *L) {
    static const char *const fields[] = {
        "from", "to", "err", "demux", "detach_keys", "wait_for_output",
        "on_eof", "bound", "bufsize", "coalesce_us", NULL
    };
    static const char *const eofs[] = {"none", "close", "shutdown", NULL};
    pump *p;
    int pidx;
    luaL_checktype(L, 1, LUA_TTABLE);
    check_fields(L, 1, fields);
    p = (pump *)lua_newuserdatauv(L, sizeof(pump), PU_NUV);
    memset(p, 0, sizeof *p);
    p->src_fd = -1;
    p->sinks[0].fd = p->sinks[1].fd = -1;
    p->state = ST_RUNNING;
    p->idle_grace = -1;
    luaL_setmetatable(L, DP_PUMP);
    pidx = lua_gettop(L);
    p->open = 1;     /* from here __gc frees what gets allocated */
    lua_newtable(L);
    lua_setiuservalue(L, pidx, PU_LINKS);
    lua_newtable(L);
    lua_setiuservalue(L, pidx, PU_DRAIN);

    lua_getfield(L, 1, "from");
    p->src_kind = parse_endpoint(L, pidx, lua_gettop(L), PU_SRC, 0,
                                 &p->src_fd, &p->src_conn, "from");
    if (p->src_kind == EP_NONE)
        luaL_error(L, "bad field 'from' in pump options (a source is required)");
    if (p->src_kind == EP_STRING)
        p->str = lua_tolstring(L, -1, &p->strlen);
    lua_pop(L, 1);

    lua_getfield(L, 1, "to");
    p->sinks[0].kind = parse_endpoint(L, pidx, lua_gettop(L), PU_SINK1, 1,
                                      &p->sinks[0].fd, &p->sinks[0].conn, "to");
    lua_pop(L, 1);
    lua_getfield(L, 1, "err");
    p->sinks[1].kind = parse_endpoint(L, pidx, lua_gettop(L), PU_SINK2, 1,
                                      &p->sinks[1].fd, &p->sinks[1].conn, "err");
    lua_pop(L, 1);
    p->nsinks = 2;

    lua_getfield(L, 1, "demux");
    p->use_demux = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (p->use_demux)
        dp_demux_init(&p->dm);

    lua_getfield(L, 1, "detach_keys");
    if (!lua_isnil(L, -1)) {
        size_t klen;
        const char *keys = luaL_checklstring(L, -1, &klen);
        if (klen > DP_ESCAPE_MAX)
            luaL_error(L, "bad field 'detach_keys' in pump options (too long)");
        if (klen > 0) {
            p->use_escape = 1;
            dp_escape_init(&p->esc, (const unsigned char *)keys, klen);
        }
    }
    lua_pop(L, 1);

    lua_getfield(L, 1, "wait_for_output");
    p->wait_for_output = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
    lua_pop(L, 1);

    lua_getfield(L, 1, "on_eof");
    p->on_eof = luaL_checkoption(L, -1, "none", eofs);
    lua_pop(L, 1);

    lua_getfield(L, 1, "bound");
    p->bound = (size_t)luaL_optinteger(L, -1, DEFAULT_BOUND);
    lua_pop(L, 1);
    lua_getfield(L, 1, "bufsize");
    p->rcap = (size_t)luaL_optinteger(L, -1, DEFAULT_BUFSIZE);
    lua_pop(L, 1);
    lua_getfield(L, 1, "coalesce_us");
    p->coalesce_us = (long long)luaL_optinteger(L, -1, COALESCE_US);
    lua_pop(L, 1);
    if (p->coalesce_us < 0 || p->coalesce_us > 1000000)
        luaL_error(L, "bad field 'coalesce_us' in pump options (0 to 1000000 expected)");
    if (p->rcap < 1024)
        p->rcap = 1024;
    if (p->bound < 1)
        p->bound = 1;
    lua_settop(L, pidx);
    return 1;
}

/***
** State of a pump: "running", "flushing", "done", "error", "detached" or
** "cancelled"; after "error" also the message and its name.
** @function Pump:status
*/
static int pump_m_status(lua_State *L) {
    pump *p = checkpump(L, 1);
    lua_pushstring(L, state_names[p->state]);
    if (p->state == ST_ERROR) {
        lua_pushlstring(L, p->errmsg, p->errlen);
        lua_pushstring(L, p->errname);
        return 3;
    }
    return 1;
}

/***
** Counters: bytes read from the source, bytes delivered to sinks, bytes
** pending, reads that returned data, waits the coalescing made before a
** read ("defers"), and the truncation at EOF ("header", "payload" or nil).
** @function Pump:stats
*/
static int pump_m_stats(lua_State *L) {
    pump *p = checkpump(L, 1);
    lua_createtable(L, 0, 7);
    lua_pushinteger(L, (lua_Integer)p->bytes_in);
    lua_setfield(L, -2, "bytes_in");
    lua_pushinteger(L, (lua_Integer)p->reads);
    lua_setfield(L, -2, "reads");
    lua_pushinteger(L, (lua_Integer)p->defers);
    lua_setfield(L, -2, "defers");
    lua_pushinteger(L, (lua_Integer)p->bytes_out);
    lua_setfield(L, -2, "bytes_out");
    lua_pushinteger(L, (lua_Integer)queue_pending(p));
    lua_setfield(L, -2, "pending");
    lua_pushinteger(L, (lua_Integer)(p->qcap + p->rcap));
    lua_setfield(L, -2, "capacity");
    if (p->truncated == DP_DEMUX_TRUNC_HEADER)
        lua_pushliteral(L, "header");
    else if (p->truncated == DP_DEMUX_TRUNC_PAYLOAD)
        lua_pushliteral(L, "payload");
    else
        lua_pushnil(L);
    lua_setfield(L, -2, "truncated");
    return 1;
}

/***
** When this pump detaches (its escape proxy saw the detach keys), cancel
** `other` too. Returns self.
** @function Pump:link
*/
static int pump_m_link(lua_State *L) {
    checkopenpump(L, 1);
    checkpump(L, 2);
    append_uservalue(L, PU_LINKS, 2);
    lua_settop(L, 1);
    return 1;
}

/***
** When this pump finishes, `other` is drained: it goes on while bytes come,
** and is cancelled once it has been idle for `ms`. For an attach whose
** daemon keeps the stream open after the container exited (PROTOCOL.md
** 5.2): the wait's pump drains the output's. Returns self.
** @function Pump:drain
** @usage wait_pump:drain(out_pump, 1000)
*/
static int pump_m_drain(lua_State *L) {
    lua_Integer ms;
    checkopenpump(L, 1);
    checkpump(L, 2);
    ms = luaL_checkinteger(L, 3);
    luaL_argcheck(L, ms >= 0, 3, "must not be negative");
    lua_pushinteger(L, ms);
    append_uservalue(L, PU_DRAIN, 2);
    append_uservalue(L, PU_DRAIN, lua_gettop(L));
    lua_settop(L, 1);
    return 1;
}

/***
** Stop the pump now: it counts as finished. Returns self.
** @function Pump:cancel
*/
static int pump_m_cancel(lua_State *L) {
    pump *p = checkpump(L, 1);
    if (pump_running(p))
        p->state = ST_CANCELLED;
    lua_settop(L, 1);
    return 1;
}

/***
** Release the buffers (what is still pending is dropped). Idempotent.
** @function Pump:close
*/
static int pump_m_close(lua_State *L) {
    pump *p = checkpump(L, 1);
    if (p->open) {
        if (p->state == ST_RUNNING || p->state == ST_FLUSHING)
            p->state = ST_CANCELLED;
        pump_release(p);
    }
    return 0;
}

static int pump_m_tostring(lua_State *L) {
    pump *p = checkpump(L, 1);
    if (p->open)
        lua_pushfstring(L, "%s (%p)", DP_PUMP, (void *)p);
    else
        lua_pushfstring(L, "%s (closed)", DP_PUMP);
    return 1;
}

/* }====================================================== */

/*
** {======================================================
** The loop
** =======================================================
*/

static const struct { const char *name; int signo; } signames[] = {
    {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"TERM", SIGTERM},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"WINCH", SIGWINCH},
    {"ALRM", SIGALRM}, {"CONT", SIGCONT}, {"TSTP", SIGTSTP}, {NULL, 0}
};

static const char *signal_name(int signo) {
    int i;
    for (i = 0; signames[i].name; i++)
        if (signames[i].signo == signo)
            return signames[i].name;
    return "?";
}

static int signal_number(lua_State *L, int idx) {
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
    if (g_sigpipe[1] >= 0) {
        ssize_t r = write(g_sigpipe[1], &b, 1);
        (void)r;
    }
    errno = saved;
}

static loop *checkloop(lua_State *L, int idx) {
    loop *lp = (loop *)luaL_checkudata(L, idx, DP_LOOP);
    if (!lp->open)
        luaL_error(L, "attempt to use a closed loop");
    return lp;
}

/***
** Create a poll loop.
** @function loop
** @treturn dockerpty.Loop
** @usage local lp = core.loop(); lp:add(p1); lp:add(p2); local how = lp:run()
*/
static int loop_f_new(lua_State *L) {
    loop *lp = (loop *)lua_newuserdatauv(L, sizeof(loop), LO_NUV);
    memset(lp, 0, sizeof *lp);
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
    checkloop(L, 1);
    checkopenpump(L, 2);
    append_uservalue(L, LO_PUMPS, 2);
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
    checkpump(L, 2);
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
** Call fn() once after a burst of SIGWINCH while the loop runs (nil to
** stop). Returns self.
** @function Loop:on_winch
*/
static int loop_m_on_winch(lua_State *L) {
    loop *lp = checkloop(L, 1);
    if (!lua_isnoneornil(L, 2))
        dp_checkcallable(L, 2);
    lua_settop(L, 2);
    lua_setiuservalue(L, 1, LO_WINCH);
    (void)lp;
    lua_settop(L, 1);
    return 1;
}

/***
** Signals: `stop` lists the names ("INT", "TERM", "HUP"...) that end run()
** with "signal", name; `forward` those handed to fn(name) while the loop
** goes on. Returns self.
** @function Loop:signals
** @usage lp:signals({"INT", "TERM", "HUP"}, {"USR1"}, function(name) ... end)
*/
static int loop_m_signals(lua_State *L) {
    loop *lp = checkloop(L, 1);
    lua_Integer i, n;
    sigemptyset(&lp->stop);
    sigemptyset(&lp->forward);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        n = (lua_Integer)lua_rawlen(L, 2);
        for (i = 1; i <= n; i++) {
            lua_rawgeti(L, 2, i);
            sigaddset(&lp->stop, signal_number(L, -1));
            lua_pop(L, 1);
        }
    }
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        n = (lua_Integer)lua_rawlen(L, 3);
        for (i = 1; i <= n; i++) {
            lua_rawgeti(L, 3, i);
            sigaddset(&lp->forward, signal_number(L, -1));
            lua_pop(L, 1);
        }
        dp_checkcallable(L, 4);
        lua_pushvalue(L, 4);
        lua_setiuservalue(L, 1, LO_SIGNAL);
    }
    lua_settop(L, 1);
    return 1;
}

/* State saved for one run and restored on every way out. */
#define MAXSAVED 64
typedef struct runstate {
    int nfd;
    int fds[MAXSAVED];
    int flags[MAXSAVED];
    int nsig;
    int signos[NSIG];
    struct sigaction old[NSIG];
} runstate;

static void save_nonblock(runstate *rs, int fd) {
    int i, old;
    if (fd < 0)
        return;
    for (i = 0; i < rs->nfd; i++)
        if (rs->fds[i] == fd)
            return;
    if (rs->nfd == MAXSAVED)
        return;
    old = dp_setnonblock(fd, 1);
    if (old < 0)
        return;
    rs->fds[rs->nfd] = fd;
    rs->flags[rs->nfd] = old;
    rs->nfd++;
}

static void restore_all(runstate *rs) {
    int i;
    for (i = rs->nfd - 1; i >= 0; i--)
        if (rs->flags[i] == 0)
            dp_setnonblock(rs->fds[i], 0);
    rs->nfd = 0;
    for (i = rs->nsig - 1; i >= 0; i--)
        sigaction(rs->signos[i], &rs->old[i], NULL);
    rs->nsig = 0;
}

static int install_signal(runstate *rs, int signo, void (*handler)(int)) {
    struct sigaction sa;
    int i;
    for (i = 0; i < rs->nsig; i++)
        if (rs->signos[i] == signo)
            return 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signo, &sa, &rs->old[rs->nsig]) < 0)
        return -1;
    rs->signos[rs->nsig++] = signo;
    return 0;
}

static int ensure_sigpipe(void) {
    if (g_sigpipe[0] >= 0)
        return 0;
    if (pipe2(g_sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    return 0;
}

/* Scratch for the poll set: a GC-managed userdata (practice 12). */
typedef struct pollent {
    int pump;         /* index into the pumps array (0-based) */
    int role;         /* 0 source, 1/2 sink */
} pollent;

/* Run one loop; the pumps table is at index pt, scratch is allocated here.
** Returns the number of results pushed, or -1 if a callback raised (its
** error object on top). Must not raise: it holds process state. */
typedef struct runres {
    const char *how;
    int signo;
} runres;

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
        if (o && pump_active(o) && o->idle_grace < 0) {
            o->idle_grace = lua_tointeger(L, -1);
            if (o->last_active < now)
                o->last_active = now;
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

static void cancel_links(lua_State *L, int pidx) {
    lua_Integer i, n;
    lua_getiuservalue(L, pidx, PU_LINKS);
    n = (lua_Integer)lua_rawlen(L, -1);
    for (i = 1; i <= n; i++) {
        pump *o;
        lua_rawgeti(L, -1, i);
        o = (pump *)lua_touserdata(L, -1);
        if (o && pump_running(o))
            o->state = ST_CANCELLED;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/***
** Run the loop until every pump that waits for output has finished
** ("done"), a stop signal arrives ("signal", name), or timeout_ms passes
** ("timeout"). O_NONBLOCK is set on the pumps' fds for the run and put
** back as it was before returning; signal dispositions likewise. An error
** raised by a callback ends the loop and is re-raised unchanged.
** @function Loop:run
** @tparam[opt] integer timeout_ms
*/
static int loop_m_run(lua_State *L) {
    loop *lp = checkloop(L, 1);
    lua_Integer timeout = luaL_optinteger(L, 2, -1);
    long long deadline = timeout >= 0 ? dp_now_ms() + timeout : -1;
    runstate *rs;
    runctx rc;
    runres res = {NULL, 0};
    int npumps, pt, base, i, has_winch, has_sigcb;
    pump **pumps;
    struct pollfd *pfd;
    pollent *ent;
    int sig;
    long long winch_due = -1;   /* debounce: a burst gives one call */

    if (lp->running || g_running)
        return luaL_error(L, "loop already running");
    lua_settop(L, 2);
    lua_getiuservalue(L, 1, LO_PUMPS);
    pt = lua_gettop(L);                                   /* 3 */
    npumps = (int)lua_rawlen(L, pt);
    /* Anchor the pumps on the stack (callbacks may remove them) */
    luaL_checkstack(L, npumps + 20, "too many pumps");
    base = lua_gettop(L) + 1;
    for (i = 0; i < npumps; i++)
        lua_rawgeti(L, pt, i + 1);
    pumps = (pump **)lua_newuserdatauv(L, sizeof(pump *) * (size_t)(npumps + 1), 0);
    pfd = (struct pollfd *)lua_newuserdatauv(L, sizeof(struct pollfd) *
                                             (size_t)(npumps * 3 + 1), 0);
    ent = (pollent *)lua_newuserdatauv(L, sizeof(pollent) * (size_t)(npumps * 3 + 1), 0);
    rs = (runstate *)lua_newuserdatauv(L, sizeof(runstate), 0);
    memset(rs, 0, sizeof *rs);
    for (i = 0; i < npumps; i++)
        pumps[i] = (pump *)luaL_checkudata(L, base + i, DP_PUMP);
    lua_getiuservalue(L, 1, LO_WINCH);
    has_winch = !lua_isnil(L, -1);
    lua_pop(L, 1);
    lua_getiuservalue(L, 1, LO_SIGNAL);
    has_sigcb = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (ensure_sigpipe() < 0)
        return dp_push_errno(L, "pipe", errno);

    /* From here on nothing may raise until restore_all. */
    lp->running = g_running = 1;
    rc.L = L;
    rc.failed = 0;
    rc.errindex = 0;
    {
        unsigned char junk[64];
        while (read(g_sigpipe[0], junk, sizeof junk) > 0)
            ;
    }
    for (i = 0; i < npumps; i++) {
        pump *p = pumps[i];
        if (!p->open)
            continue;
        if (p->src_kind == EP_FD)
            save_nonblock(rs, p->src_fd);
        if (p->sinks[0].kind == EP_FD)
            save_nonblock(rs, p->sinks[0].fd);
        if (p->sinks[1].kind == EP_FD)
            save_nonblock(rs, p->sinks[1].fd);
    }
    install_signal(rs, SIGPIPE, SIG_IGN);
    if (has_winch)
        install_signal(rs, SIGWINCH, sig_handler);
    for (sig = 1; sig < NSIG; sig++)
        if (sigismember(&lp->stop, sig) == 1 ||
            (has_sigcb && sigismember(&lp->forward, sig) == 1))
            install_signal(rs, sig, sig_handler);

    for (;;) {
        int n = 0, waiting = 0, ready_now = 0, r;
        long long now_us = dp_now_us(), now = now_us / 1000, idle_due = -1, defer_due = -1;
        long long wait_us = 0;     /* ppoll's timeout; -1: none */
        struct timespec pts;
        /* Drains: started by pumps that finished, ended by idleness. */
        for (i = 0; i < npumps; i++) {
            pump *p = pumps[i];
            if (p->open && !pump_active(p) && !p->notified) {
                p->notified = 1;
                start_drains(L, base + i, now);
            }
        }
        for (i = 0; i < npumps; i++) {
            pump *p = pumps[i];
            if (pump_running(p) && p->idle_grace >= 0) {
                long long due = p->last_active + p->idle_grace;
                if (due <= now)
                    p->state = ST_CANCELLED;
                else if (idle_due < 0 || due < idle_due)
                    idle_due = due;
            }
        }
        /* Finished? */
        for (i = 0; i < npumps; i++) {
            pump *p = pumps[i];
            if (pump_active(p) && (p->wait_for_output || pump_draining(p)))
                waiting = 1;
        }
        if (!waiting) {
            res.how = "done";
            break;
        }
        /* Build the poll set. */
        pfd[n].fd = g_sigpipe[0];
        pfd[n].events = POLLIN;
        ent[n].pump = -1;
        ent[n].role = 0;
        n++;
        for (i = 0; i < npumps; i++) {
            pump *p = pumps[i];
            int wfd, can_read;
            if (!pump_active(p))
                continue;
            can_read = p->state == ST_RUNNING && !p->src_eof && sinks_have_room(p);
            if (can_read && p->defer_until > now_us) {
                /* coalescing: leave the source out of poll() a little */
                if (defer_due < 0 || p->defer_until < defer_due)
                    defer_due = p->defer_until;
            } else if (can_read) {
                if (p->defer_until > 0) {
                    p->defer_until = 0;
                    p->src_ready = 1;    /* read it now, poll() or not */
                }
                if (p->src_ready || p->src_kind == EP_STRING ||
                    (p->src_kind == EP_CONN && conn_alive(p->src_conn) &&
                     dp_conn_pending(p->src_conn) > 0)) {
                    ready_now = 1;
                } else {
                    int fd = p->src_kind == EP_FD ? p->src_fd :
                             (conn_alive(p->src_conn) ? p->src_conn->fd : -1);
                    if (fd >= 0) {
                        pfd[n].fd = fd;
                        pfd[n].events = POLLIN;
                        ent[n].pump = i;
                        ent[n].role = 0;
                        n++;
                    } else {
                        ready_now = 1;   /* read reports the closed conn */
                    }
                }
            }
            wfd = queue_wait_fd(p);
            if (wfd >= 0) {
                pfd[n].fd = wfd;
                pfd[n].events = POLLOUT;
                ent[n].pump = i;
                ent[n].role = 1;
                n++;
            } else if (!sinks_empty(p)) {
                ready_now = 1;   /* the head's sink is gone: flush drops it */
            }
        }
        if (!ready_now) {
            long long until = deadline, t = dp_now_us();
            if (winch_due >= 0 && (until < 0 || winch_due < until))
                until = winch_due;
            if (idle_due >= 0 && (until < 0 || idle_due < until))
                until = idle_due;
            wait_us = until >= 0 ? (until * 1000 > t ? until * 1000 - t : 0) : -1;
            if (defer_due >= 0) {
                long long d = defer_due > t ? defer_due - t : 0;
                if (wait_us < 0 || d < wait_us)
                    wait_us = d;
            }
        }
        pts.tv_sec = (time_t)(wait_us / 1000000);
        pts.tv_nsec = (long)(wait_us % 1000000) * 1000;
        r = ppoll(pfd, (nfds_t)n, wait_us < 0 ? NULL : &pts, NULL);
        if (r < 0 && errno != EINTR) {
            int e = errno;
            restore_all(rs);
            lp->running = g_running = 0;
            return dp_push_errno(L, "poll", e);
        }
        if (r > 0 || ready_now) {
            /* Signals first. */
            if (r > 0 && (pfd[0].revents & POLLIN)) {
                unsigned char buf[64];
                ssize_t m;
                while ((m = read(g_sigpipe[0], buf, sizeof buf)) > 0) {
                    ssize_t j;
                    for (j = 0; j < m; j++) {
                        int s = buf[j];
                        if (s == SIGWINCH && has_winch)
                            winch_due = dp_now_ms() + WINCH_QUIET_MS;
                        else if (sigismember(&lp->stop, s) == 1 && !res.how) {
                            res.how = "signal";
                            res.signo = s;
                        } else if (has_sigcb && sigismember(&lp->forward, s) == 1
                                   && !rc.failed) {
                            lua_getiuservalue(L, 1, LO_SIGNAL);
                            lua_pushstring(L, signal_name(s));
                            if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
                                rc.failed = 1;
                                rc.errindex = lua_gettop(L);
                            }
                        }
                    }
                }
            }
            if (res.how || rc.failed)
                break;
            /* Writes, then reads. */
            for (i = 1; i < n && r > 0; i++) {
                if (pfd[i].revents == 0 || ent[i].role == 0)
                    continue;
                {
                    pump *p = pumps[ent[i].pump];
                    if ((pfd[i].revents & (POLLERR | POLLNVAL)) &&
                        !(pfd[i].revents & POLLOUT) && p->shead < p->stail)
                        sink_broken(&p->sinks[p->segs[p->shead].sink]);
                    queue_flush(p);
                    finish_eof(p);
                }
            }
            for (i = 1; i < n && r > 0; i++) {
                pump *p;
                if (pfd[i].revents == 0 || ent[i].role != 0)
                    continue;
                p = pumps[ent[i].pump];
                if (pump_active(p) && p->state == ST_RUNNING) {
                    pump_read(&rc, p, base + ent[i].pump);
                    if (p->state == ST_DETACHED)
                        cancel_links(L, base + ent[i].pump);
                }
                if (rc.failed)
                    break;
            }
            if (ready_now && !rc.failed) {
                for (i = 0; i < npumps; i++) {
                    pump *p = pumps[i];
                    if (!pump_active(p) || p->state != ST_RUNNING || p->src_eof ||
                        !sinks_have_room(p))
                        continue;
                    if (p->src_ready || p->src_kind == EP_STRING ||
                        p->src_kind == EP_CONN) {
                        if (p->src_kind == EP_CONN && !p->src_ready &&
                            conn_alive(p->src_conn) &&
                            dp_conn_pending(p->src_conn) == 0)
                            continue;
                        pump_read(&rc, p, base + i);
                        if (p->state == ST_DETACHED)
                            cancel_links(L, base + i);
                    }
                    if (rc.failed)
                        break;
                }
            }
            for (i = 0; i < npumps; i++) {
                pump *p = pumps[i];
                if (pump_active(p) && !sinks_empty(p) && queue_wait_fd(p) < 0)
                    queue_flush(p);
                finish_eof(p);
            }
            if (rc.failed)
                break;
        }
        if (winch_due >= 0 && dp_now_ms() >= winch_due && !rc.failed) {
            winch_due = -1;
            lua_getiuservalue(L, 1, LO_WINCH);
            if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
                rc.failed = 1;
                rc.errindex = lua_gettop(L);
                break;
            }
        }
        if (deadline >= 0 && dp_now_ms() >= deadline) {
            res.how = "timeout";
            break;
        }
    }
    restore_all(rs);
    lp->running = g_running = 0;
    if (rc.failed) {
        lua_pushvalue(L, rc.errindex);
        return lua_error(L);     /* the original error object, unchanged */
    }
    lua_pushstring(L, res.how);
    if (res.signo) {
        lua_pushstring(L, signal_name(res.signo));
        return 2;
    }
    return 1;
}

/***
** Whether run() is active.
** @function Loop:running
*/
static int loop_m_running(lua_State *L) {
    loop *lp = (loop *)luaL_checkudata(L, 1, DP_LOOP);
    lua_pushboolean(L, lp->running);
    return 1;
}

static int loop_m_close(lua_State *L) {
    loop *lp = (loop *)luaL_checkudata(L, 1, DP_LOOP);
    if (lp->running)
        return luaL_error(L, "loop already running");
    lp->open = 0;
    return 0;
}

static int loop_m_gc(lua_State *L) {
    loop *lp = (loop *)luaL_checkudata(L, 1, DP_LOOP);
    lp->open = 0;
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

/* core.kill(pid, name): send a signal (for specs and the session). */
static int pump_f_kill(lua_State *L) {
    lua_Integer pid = luaL_checkinteger(L, 1);
    int signo = signal_number(L, 2);
    if (kill((pid_t)pid, signo) < 0)
        return dp_push_errno(L, "kill", errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* core.raise_default(name): restore the default action of a signal and
** raise it, so the process ends as the sender meant (after the terminal
** was restored). Returns only if the signal did not end the process. */
static int pump_f_raise_default(lua_State *L) {
    int signo = signal_number(L, 1);
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

/* }====================================================== */

int pump_open(lua_State *L) {
    static const luaL_Reg pump_meta[] = {
        {"__index", NULL},
        {"__gc", pump_m_close},
        {"__close", pump_m_close},
        {"__tostring", pump_m_tostring},
        {NULL, NULL}
    };
    static const luaL_Reg pump_methods[] = {
        {"status", pump_m_status},
        {"stats", pump_m_stats},
        {"link", pump_m_link},
        {"drain", pump_m_drain},
        {"cancel", pump_m_cancel},
        {"close", pump_m_close},
        {NULL, NULL}
    };
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
        {"running", loop_m_running},
        {"close", loop_m_close},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"pump", pump_f_new},
        {"loop", loop_f_new},
        {"kill", pump_f_kill},
        {"raise_default", pump_f_raise_default},
        {NULL, NULL}
    };
    dp_createmeta(L, DP_PUMP, pump_meta, pump_methods);
    dp_createmeta(L, DP_LOOP, loop_meta, loop_methods);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
