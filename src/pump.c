/*
** pump.c: a pump moves bytes from one source (an fd, a hijacked
** connection, or a Lua string) to one or two sinks (fds, connections, Lua
** functions, or nothing), optionally through the stream demuxer (stream 1
** to the first sink, stream 2 to the second) and the detach-key escape
** proxy. It is a state machine: the loop (loop.c) asks it which fd it
** waits on and calls it when that fd is ready; it never blocks and never
** waits itself. Caller's fds are used through fdio.h: no shared file
** description has its flags changed.
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
** The pipe writes of one call to read (up to 16 reads, each written out
** frame by frame) share one SIGPIPE guard (fdio.h) when no Lua function is
** called meanwhile: three system calls fewer per write.
**
** A write error on an fd sink (the reader went away: EPIPE; a full disk:
** ENOSPC; EIO) ends the pump with that error: output must not be read and
** thrown away. On a connection sink (stdin to the daemon) the daemon has
** stopped reading: the rest is discarded and the pump ends normally.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "pump.h"

static const char *const state_names[] = {
    "running", "flushing", "done", "error", "detached", "cancelled", NULL
};

#define DEFAULT_BUFSIZE  (128 * 1024)
#define DEFAULT_BOUND    1       /* read only when every sink took everything */
#define COALESCE_US      2000   /* default longest wait before reading again */
#define COALESCE_MIN     8192   /* reads smaller than this never wait */
#define COALESCE_FLOW_US 10000  /* reads further apart are not one stream */
#define COALESCE_SHORT   100    /* waits shorter than this (us) are not worth it */

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
        return s->io.fd;
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
            ssize_t r = dp_fdio_write(&s->io, data + done, n - done);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                *err = errno;
                return -2;
            }
            done += (size_t)r;
            if (s->io.mode == DP_FD_SHARED)
                break;      /* one write per POLLOUT: the next could block */
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

/* The first sink took n bytes: with `track_modes`, note the terminal
** modes they turn on and off (only bytes the terminal really got count). */
static void track(pump *p, const sink *s, const char *data, size_t n) {
    if (p->track_modes && s == &p->sinks[0])
        dp_vt_scan(&p->vt, data, n);
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

/* A sink's write failed for good. A connection (stdin to the daemon):
** the daemon stopped reading, which ends nothing; what is queued for it is
** discarded. An fd (stdout, stderr): the reader went away or the disk is
** full; the pump fails with that error and reads no more. */
static void sink_failed(pump *p, sink *s, int err) {
    s->broken = 1;
    if (s->kind != EP_FD)
        return;
    if (p->state != ST_ERROR)
        p->failed_sink = s == &p->sinks[0] ? 1 : 2;
    /* the reason alone: the caller names the sink (stats().failed_sink) */
    pump_fail(p, dp_errno_name(err), strerror(err));
    p->src_eof = 1;
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
            sink_failed(p, s, err);
            continue;
        }
        if (w > 0) {
            p->last_active = dp_now_ms();   /* moving bytes is not idle */
            track(p, s, p->qbuf + p->qoff, (size_t)w);
        }
        p->qoff += (size_t)w;
        g->len -= (size_t)w;
        if (g->len > 0)
            break;
        p->shead++;
        if (s->kind == EP_FD && s->io.mode == DP_FD_SHARED)
            break;          /* one write per POLLOUT on a shared fd */
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

/* Deliver a piece to a sink. Function sinks are called at once, under
** lua_pcall; the pump userdata is at stack index pidx. */
static void deliver(runctx *rc, pump *p, int pidx, int which,
                    const char *data, size_t n) {
    sink *s = &p->sinks[which];
    int err = 0;
    ssize_t w;
    if (n == 0)
        return;
    if (p->has_tap && !rc->failed) {
        lua_State *L = rc->L;
        lua_getiuservalue(L, pidx, PU_TAP);
        lua_pushlstring(L, data, n);
        lua_pushstring(L, which == 0 ? "stdout" : "stderr");
        if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
            rc->failed = 1;
            rc->errindex = lua_gettop(L);
            return;
        }
    }
    if (s->kind == EP_NONE || s->broken)
        return;
    p->bytes_out += n;
    if (s->kind == EP_FUNC) {
        lua_State *L = rc->L;
        if (rc->failed)
            return;
        track(p, s, data, n);
        lua_getiuservalue(L, pidx, which == 0 ? PU_SINK1 : PU_SINK2);
        lua_pushlstring(L, data, n);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
            rc->failed = 1;
            rc->errindex = lua_gettop(L);
        }
        return;
    }
    /* nothing ahead: write straight away (a shared fd only after poll) */
    if (queue_pending(p) == 0 && !(s->kind == EP_FD && s->io.mode == DP_FD_SHARED)) {
        w = sink_write_raw(s, data, n, &err);
        if (w == -2) {
            sink_failed(p, s, err);
            return;
        }
        track(p, s, data, (size_t)w);
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

int dp_pump_sinks_empty(const pump *p) {
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
    if (p->state != ST_FLUSHING || !dp_pump_sinks_empty(p))
        return;
    if (p->on_eof == EOF_SHUTDOWN) {
        if (s->kind == EP_CONN && conn_alive(s->conn))
            dp_conn_shutdown(s->conn);
        else if (s->kind == EP_FD && s->io.mode == DP_FD_SOCKET)
            shutdown(s->io.fd, SHUT_WR);
    } else if (p->on_eof == EOF_CLOSE) {
        if (s->kind == EP_CONN && conn_alive(s->conn))
            dp_conn_shutdown(s->conn);
        else if (s->kind == EP_FD && s->io.user_fd > 2) {
            int ufd = s->io.user_fd;
            dp_fdio_close(&s->io);
            close(ufd);
            s->kind = EP_NONE;
        }
    }
    p->state = ST_DONE;
}

/* Stopped (stream error, detach) with output still queued: those bytes
** were read before the stop and are written before the pump counts as
** finished, as after EOF: nothing is dropped (fuzz finding F5-1). */
int dp_pump_draining(const pump *p) {
    return p->open && (p->state == ST_ERROR || p->state == ST_DETACHED) &&
           !dp_pump_sinks_empty(p);
}

int dp_pump_active(const pump *p) {
    return p->open && (p->state == ST_RUNNING || p->state == ST_FLUSHING ||
                       dp_pump_draining(p));
}

/* Still moving bytes from its source (what cancel and idleness stop). */
int dp_pump_running(const pump *p) {
    return p->open && (p->state == ST_RUNNING || p->state == ST_FLUSHING);
}

/* Read buffers are mapped, not taken from malloc's heap: a 128 KiB buffer
** per pump, made and dropped for every session, would otherwise leave the
** heap fragmented around the small objects made meanwhile (RSS creeping
** up over thousands of sessions). */
static void *buf_alloc(size_t n) {
    void *b = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return b == MAP_FAILED ? NULL : b;
}

static void free_buffers(pump *p) {
    if (p->rbuf)
        munmap(p->rbuf, p->rcap);
    if (p->ebuf)
        munmap(p->ebuf, p->rcap + DP_ESCAPE_MAX);
    p->rbuf = p->ebuf = NULL;
}

static int alloc_buffers(pump *p) {
    if (p->rbuf != NULL)
        return 0;
    p->rbuf = (char *)buf_alloc(p->rcap);
    if (p->rbuf == NULL)
        return -1;
    if (p->use_escape) {
        p->ebuf = (char *)buf_alloc(p->rcap + DP_ESCAPE_MAX);
        if (p->ebuf == NULL)
            return -1;
    }
    return 0;
}

/* How many bytes the source itself holds before its writer blocks: a
** pipe's size, a socket's receive buffer; else our read buffer's size. */
static size_t source_capacity(const pump *p) {
    int fd = p->src_kind == EP_FD ? p->src_io.fd :
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

/* The writes of one read's pieces can share a SIGPIPE guard (fdio.h):
** no Lua function is called meanwhile, and a sink is a pipe. */
static int pump_batchable(const pump *p) {
    return !p->has_tap && p->sinks[0].kind != EP_FUNC && p->sinks[1].kind != EP_FUNC &&
           ((p->sinks[0].kind == EP_FD && p->sinks[0].io.fifo) ||
            (p->sinks[1].kind == EP_FD && p->sinks[1].io.fifo));
}

/* A source fd that may block: read only after poll() said so. */
static int src_shared(const pump *p) {
    return p->src_kind == EP_FD && !dp_fdio_nonblocking(&p->src_io);
}

/* What one read of the source did (pump_read's steps). */
enum { RD_NEXT,     /* bytes handled: read on */
       RD_DATA,     /* n bytes in rbuf, to process */
       RD_STOP };   /* nothing more now: EAGAIN, EOF, a failure */

/* A queue or string source: its next piece straight to process. */
static int read_memory(runctx *rc, pump *p, int pidx) {
    size_t left, n;
    if (p->src_kind == EP_QUEUE) {
        left = p->ilen - p->ioff;
        if (left == 0) {
            if (p->ieof)
                source_eof(rc, p, pidx);
            else
                p->src_ready = 0;
            return RD_STOP;
        }
        n = left < p->rcap ? left : p->rcap;
        p->ioff += n;           /* before process: a sink may feed more */
        process(rc, p, pidx, p->ibuf + p->ioff - n, n);
        return RD_NEXT;
    }
    left = p->strlen - p->stroff;
    if (left == 0) {
        source_eof(rc, p, pidx);
        return RD_STOP;
    }
    n = left < p->rcap ? left : p->rcap;
    process(rc, p, pidx, p->str + p->stroff, n);
    p->stroff += n;
    return RD_NEXT;
}

/* An fd source: one read into rbuf. */
static int read_fd(runctx *rc, pump *p, int pidx, size_t *n, int *drained) {
    ssize_t r = dp_fdio_read(&p->src_io, p->rbuf, p->rcap);
    if (r < 0) {
        int e = errno;
        char msg[256];
        if (e == EINTR)
            return RD_NEXT;
        if (e == EAGAIN || e == EWOULDBLOCK) {
            p->src_ready = 0;
            return RD_STOP;
        }
        if (e == EIO) {   /* a pty whose other side closed: EOF */
            source_eof(rc, p, pidx);
            return RD_STOP;
        }
        snprintf(msg, sizeof msg, "read: %s", strerror(e));
        pump_fail(p, dp_errno_name(e), msg);
        p->src_eof = 1;
        return RD_STOP;
    }
    if (r == 0) {
        source_eof(rc, p, pidx);
        return RD_STOP;
    }
    *n = (size_t)r;
    /* A pipe, socket or pty that gives less than asked is empty now:
    ** poll() tells when more comes, no EAGAIN read needed. A shared fd is
    ** read once per poll(): a second read could block. */
    *drained = *n < p->rcap || !dp_fdio_nonblocking(&p->src_io);
    return RD_DATA;
}

/* A connection source: one recv into rbuf. */
static int read_conn(runctx *rc, pump *p, int pidx, size_t *n, int *drained) {
    int e;
    if (!conn_alive(p->src_conn)) {
        pump_fail(p, "closed", "connection closed");
        p->src_eof = 1;
        return RD_STOP;
    }
    e = dp_conn_recv(p->src_conn, p->rbuf, p->rcap, n);
    if (e == EAGAIN) {
        p->src_ready = dp_conn_pending(p->src_conn) > 0;
        return RD_STOP;
    }
    if (e != 0) {
        pump_fail(p, dp_errno_name(e), p->src_conn->errmsg[0]
                  ? p->src_conn->errmsg : strerror(e));
        p->src_eof = 1;
        return RD_STOP;
    }
    if (*n == 0) {
        source_eof(rc, p, pidx);
        return RD_STOP;
    }
    /* Likewise on a plain socket; TLS may hold decrypted bytes that poll()
    ** does not see, so there we read to EAGAIN. */
    *drained = *n < p->rcap && !p->src_conn->tls && dp_conn_pending(p->src_conn) == 0;
    return RD_DATA;
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
        int got;
        /* Yield to other pumps now and then so one busy stream cannot
        ** starve the rest; src_ready makes the loop come back at once. */
        if (++rounds > 16) {
            p->src_ready = !src_shared(p);
            return;
        }
        if (p->src_kind == EP_QUEUE || p->src_kind == EP_STRING)
            got = read_memory(rc, p, pidx);
        else if (p->src_kind == EP_FD)
            got = read_fd(rc, p, pidx, &n, &drained);
        else
            got = read_conn(rc, p, pidx, &n, &drained);
        if (got == RD_STOP)
            return;
        if (got == RD_NEXT)
            continue;
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
        p->src_ready = !src_shared(p);
}

void dp_pump_read(runctx *rc, pump *p, int pidx) {
    if (pump_batchable(p)) {
        dp_fdio_batch_begin();
        pump_read(rc, p, pidx);
        dp_fdio_batch_end();
        return;
    }
    pump_read(rc, p, pidx);
}

/* Whether the pump would read its source now (room in its sinks). */
int dp_pump_can_read(const pump *p) {
    return p->state == ST_RUNNING && !p->src_eof && sinks_have_room(p);
}

/* A source that gets bytes only from Pump:feed: nothing to poll for. */
int dp_pump_src_fed(const pump *p) {
    return p->src_kind == EP_QUEUE;
}

int dp_pump_src_fd(const pump *p) {
    if (p->src_kind == EP_FD)
        return p->src_io.fd;
    if (p->src_kind == EP_CONN && conn_alive(p->src_conn))
        return p->src_conn->fd;
    return -1;
}

/* A read can be tried without poll(): a string, bytes a connection holds
** already, a source read up to a full buffer, or a closed connection
** (the read reports it). */
int dp_pump_src_ready(const pump *p) {
    if (p->src_ready || p->src_kind == EP_STRING)
        return 1;
    if (p->src_kind == EP_QUEUE)
        return p->ioff < p->ilen || p->ieof;
    if (p->src_kind == EP_CONN)
        return !conn_alive(p->src_conn) || dp_conn_pending(p->src_conn) > 0;
    return 0;
}

int dp_pump_wait_fd(const pump *p) {
    return queue_wait_fd(p);
}

void dp_pump_finish(pump *p) {
    finish_eof(p);
}

void dp_pump_flush(pump *p) {
    if (!dp_pump_sinks_empty(p))
        queue_flush(p);
    finish_eof(p);
}

void dp_pump_sink_error(pump *p, int revents) {
    if ((revents & (POLLERR | POLLNVAL)) && !(revents & POLLOUT) && p->shead < p->stail) {
        sink *s = &p->sinks[p->segs[p->shead].sink];
        sink_failed(p, s, (revents & POLLNVAL) ? EBADF : EPIPE);
    }
}

/* }====================================================== */

/*
** {======================================================
** Pump objects
** =======================================================
*/

/* Append the value at idx to the list in uservalue `slot` of the object
** at index 1 (a pump's links or drains, a loop's pumps). */
void dp_append_uservalue(lua_State *L, int slot, int idx) {
    lua_getiuservalue(L, 1, slot);
    lua_pushvalue(L, idx);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
}

pump *dp_pump_check(lua_State *L, int idx) {
    return (pump *)luaL_checkudata(L, idx, DP_PUMP);
}

static pump *checkopenpump(lua_State *L, int idx) {
    pump *p = dp_pump_check(L, idx);
    if (!p->open)
        luaL_error(L, "attempt to use a closed pump");
    return p;
}

/* A finished pump's own descriptions (fdio.h) go at once: a reader of its
** stdout pipe must see EOF when the pump is done, not when it is collected. */
void dp_pump_release_fds(pump *p) {
    if (dp_pump_sinks_empty(p)) {     /* its buffers too: nothing is left to move */
        free_buffers(p);
    }
    if (p->src_kind == EP_FD)
        dp_fdio_close(&p->src_io);
    if (p->sinks[0].kind == EP_FD)
        dp_fdio_close(&p->sinks[0].io);
    if (p->sinks[1].kind == EP_FD)
        dp_fdio_close(&p->sinks[1].io);
}

static void pump_release(pump *p) {
    free(p->ibuf);
    p->ibuf = NULL;
    p->ioff = p->ilen = p->icap = 0;
    free(p->qbuf);
    free(p->segs);
    p->qbuf = NULL;
    p->segs = NULL;
    p->qoff = p->qlen = p->qcap = 0;
    p->shead = p->stail = p->scap = 0;
    free_buffers(p);
    dp_pump_release_fds(p);
    p->open = 0;
}

/* Parse an endpoint at stack index idx into kind/fd/conn; store the object
** in uservalue slot uv of the pump at pidx when it must stay alive. */
static int parse_endpoint(lua_State *L, int pidx, int idx, int uv, int is_sink,
                          dp_fdio *io, dp_conn **conn, const char *field) {
    int t = lua_type(L, idx);
    if (t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, idx)))
        return EP_NONE;
    if (lua_isinteger(L, idx) || luaL_testudata(L, idx, LUA_FILEHANDLE)) {
        int fd = is_sink ? dp_checkfd_flush(L, idx) : dp_checkfd(L, idx);
        dp_fdio_open(io, fd, is_sink);
        return EP_FD;
    }
    if (luaL_testudata(L, idx, DP_CONN)) {
        *conn = dp_conn_check(L, idx);
        lua_pushvalue(L, idx);
        lua_setiuservalue(L, pidx, uv);
        return EP_CONN;
    }
    if (!is_sink && t == LUA_TBOOLEAN) {
        return EP_QUEUE;     /* true: fed by Pump:feed */
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

/* The pump userdata on the stack, empty and running; its index. */
static int pump_newud(lua_State *L, pump **pp) {
    pump *p = (pump *)lua_newuserdatauv(L, sizeof(pump), PU_NUV);
    int pidx;
    memset(p, 0, sizeof *p);
    p->src_io.fd = p->src_io.user_fd = -1;
    p->sinks[0].io.fd = p->sinks[0].io.user_fd = -1;
    p->sinks[1].io.fd = p->sinks[1].io.user_fd = -1;
    p->state = ST_RUNNING;
    p->idle_grace = -1;
    luaL_setmetatable(L, DP_PUMP);
    pidx = lua_gettop(L);
    p->open = 1;     /* from here __gc frees what gets allocated */
    lua_newtable(L);
    lua_setiuservalue(L, pidx, PU_LINKS);
    lua_newtable(L);
    lua_setiuservalue(L, pidx, PU_DRAIN);
    *pp = p;
    return pidx;
}

/* Options `from`, `to` and `err` of table 1. */
static void pump_opt_ends(lua_State *L, pump *p, int pidx) {
    lua_getfield(L, 1, "from");
    p->src_kind = parse_endpoint(L, pidx, lua_gettop(L), PU_SRC, 0,
                                 &p->src_io, &p->src_conn, "from");
    if (p->src_kind == EP_NONE)
        luaL_error(L, "bad field 'from' in pump options (a source is required)");
    if (p->src_kind == EP_STRING)
        p->str = lua_tolstring(L, -1, &p->strlen);
    lua_pop(L, 1);
    lua_getfield(L, 1, "to");
    p->sinks[0].kind = parse_endpoint(L, pidx, lua_gettop(L), PU_SINK1, 1,
                                      &p->sinks[0].io, &p->sinks[0].conn, "to");
    lua_pop(L, 1);
    lua_getfield(L, 1, "err");
    p->sinks[1].kind = parse_endpoint(L, pidx, lua_gettop(L), PU_SINK2, 1,
                                      &p->sinks[1].io, &p->sinks[1].conn, "err");
    lua_pop(L, 1);
    p->nsinks = 2;
}

/* Options `demux`, `detach_keys`, `track_modes`: what the bytes go through. */
static void pump_opt_codecs(lua_State *L, pump *p) {
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
    lua_getfield(L, 1, "track_modes");
    p->track_modes = lua_toboolean(L, -1);
    lua_pop(L, 1);
    dp_vt_init(&p->vt);
}

/* Option `field`, a callable or nil, kept in user value uv; 1 if given. */
static int pump_opt_callback(lua_State *L, int pidx, const char *field, int uv) {
    lua_getfield(L, 1, field);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    dp_checkcallable(L, -1);
    lua_setiuservalue(L, pidx, uv);
    return 1;
}

/* Options `wait_for_output`, `on_eof`, `bound`, `bufsize`, `coalesce_us`. */
static void pump_opt_numbers(lua_State *L, pump *p) {
    static const char *const eofs[] = {"none", "close", "shutdown", NULL};
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
}

/***
** Create a pump.
** @function pump
** @tparam table opts `from` (fd, file, connection, string, or true: a queue
** fed by Pump:feed), `to` and `err`
** (fd, file, connection, function or false), `demux` (boolean),
** `detach_keys` (byte string from parse_keys), `wait_for_output` (boolean),
** `on_eof` ("none", "close" or "shutdown"), `bound` and `bufsize` (bytes),
** `coalesce_us` (longest wait between reads of a stream, default 2000; 0:
** read as soon as poll() says so), `on_end` (called once, from the loop, when
** the pump has finished: with what Pump:status returns, nil, message and
** name when it failed), `tap` (called, from the loop, with each
** piece as it goes to a sink, and "stdout" for `to` or "stderr" for `err`;
** also for a sink that is false), `track_modes` (boolean: note the
** terminal modes the bytes the first sink took turn on and off; see
** Pump:undo_modes).
** @treturn dockerpty.Pump
** @usage local p = core.pump{from = conn, to = io.stdout, err = io.stderr, demux = true}
*/
static int pump_f_new(lua_State *L) {
    static const char *const fields[] = {
        "from", "to", "err", "demux", "detach_keys", "wait_for_output",
        "on_eof", "bound", "bufsize", "coalesce_us", "on_end", "tap", "track_modes", NULL
    };
    pump *p;
    int pidx;
    luaL_checktype(L, 1, LUA_TTABLE);
    check_fields(L, 1, fields);
    pidx = pump_newud(L, &p);
    pump_opt_ends(L, p, pidx);
    pump_opt_codecs(L, p);
    pump_opt_callback(L, pidx, "on_end", PU_END);
    p->has_tap = pump_opt_callback(L, pidx, "tap", PU_TAP);
    pump_opt_numbers(L, p);
    lua_settop(L, pidx);
    return 1;
}

/***
** State of a pump: "running", "flushing", "done", "detached" or
** "cancelled"; a pump that failed answers as the core's failures do.
** @function Pump:status
** @treturn[1] string the state
** @return[2] nil, message, NAME: the failure that ended the pump
** @usage local st, msg, name = p:status()
*/
static int pump_m_status(lua_State *L) {
    pump *p = dp_pump_check(L, 1);
    if (p->state == ST_ERROR) {
        luaL_pushfail(L);
        lua_pushlstring(L, p->errmsg, p->errlen);
        lua_pushstring(L, p->errname);
        return 3;
    }
    lua_pushstring(L, state_names[p->state]);
    return 1;
}

/***
** Counters: bytes read from the source, bytes delivered to sinks, bytes
** pending, reads that returned data, waits the coalescing made before a
** read ("defers"), the truncation at EOF ("header", "payload" or nil), and
** `failed_sink` (1 or 2) when a sink's write error ended the pump.
** @function Pump:stats
*/
static int pump_m_stats(lua_State *L) {
    pump *p = dp_pump_check(L, 1);
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
    if (p->failed_sink) {
        lua_pushinteger(L, p->failed_sink);
        lua_setfield(L, -2, "failed_sink");
    }
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
    dp_pump_check(L, 2);
    dp_append_uservalue(L, PU_LINKS, 2);
    lua_settop(L, 1);
    return 1;
}

/***
** When this pump finishes, `other` is drained: it goes on while bytes come,
** and is cancelled once it has been idle for `ms`. For an attach whose
** daemon keeps the stream open after the container exited (Podman, Docker
** Desktop): the wait's pump drains the output's. Returns self.
** @function Pump:drain
** @usage wait_pump:drain(out_pump, 1000)
*/
static int pump_m_drain(lua_State *L) {
    lua_Integer ms;
    checkopenpump(L, 1);
    dp_pump_check(L, 2);
    ms = luaL_checkinteger(L, 3);
    luaL_argcheck(L, ms >= 0, 3, "must not be negative");
    lua_pushinteger(L, ms);
    dp_append_uservalue(L, PU_DRAIN, 2);
    dp_append_uservalue(L, PU_DRAIN, lua_gettop(L));
    lua_settop(L, 1);
    return 1;
}

/***
** Feed a pump whose source is `true` (a queue): its bytes go out as the
** loop moves them; nil marks the end of the input. Returns the bytes
** still queued (fed, not yet moved).
** @function Pump:feed
** @usage p:feed("answer\n"); p:feed(nil)
*/
static int pump_m_feed(lua_State *L) {
    pump *p = dp_pump_check(L, 1);
    size_t n = 0;
    const char *data = luaL_optlstring(L, 2, NULL, &n);
    if (!p->open || p->src_kind != EP_QUEUE)
        return luaL_error(L, "attempt to feed a pump whose source is not a queue");
    if (data == NULL) {
        p->ieof = 1;
    } else if (n > 0) {
        if (p->ieof)
            return luaL_error(L, "attempt to feed a pump after its end");
        if (p->ioff > 0 && p->ioff == p->ilen)
            p->ioff = p->ilen = 0;
        if (p->ilen + n > p->icap) {
            size_t left = p->ilen - p->ioff, cap = p->icap ? p->icap : 4096;
            char *nb;
            while (cap < left + n)
                cap *= 2;
            nb = (char *)malloc(cap);
            if (nb == NULL)
                return luaL_error(L, "not enough memory");
            if (left)
                memcpy(nb, p->ibuf + p->ioff, left);
            free(p->ibuf);
            p->ibuf = nb;
            p->icap = cap;
            p->ioff = 0;
            p->ilen = left;
        }
        memcpy(p->ibuf + p->ilen, data, n);
        p->ilen += n;
    }
    lua_pushinteger(L, (lua_Integer)(p->ilen - p->ioff));
    return 1;
}

/***
** Drain the pump from now on: it goes on while bytes come and is cancelled
** once it has been idle for `ms` (as Pump:drain does when another pump
** finishes). Returns self.
** @function Pump:idle
** @usage out_pump:idle(1000)
*/
static int pump_m_idle(lua_State *L) {
    pump *p = dp_pump_check(L, 1);
    lua_Integer ms = luaL_checkinteger(L, 2);
    luaL_argcheck(L, ms >= 0, 2, "must not be negative");
    if (dp_pump_active(p) && p->idle_grace < 0) {
        long long now = dp_now_ms();
        p->idle_grace = ms;
        if (p->last_active < now)
            p->last_active = now;
    }
    lua_settop(L, 1);
    return 1;
}

/***
** Stop the pump now: it counts as finished. Returns self.
** @function Pump:cancel
*/
static int pump_m_cancel(lua_State *L) {
    pump *p = dp_pump_check(L, 1);
    if (dp_pump_running(p))
        p->state = ST_CANCELLED;
    lua_settop(L, 1);
    return 1;
}

/***
** The sequences that turn off the terminal modes still on after the bytes
** the first sink took (with `track_modes`): mouse reporting, focus events,
** bracketed paste, keypad and cursor keys modes, a hidden cursor, SGR
** attributes, and the alternate screen last; "" when nothing is on or the
** pump does not track. The tracker starts again with every mode off: the
** caller writes the bytes to the terminal. Works on a closed pump too.
** @function Pump:undo_modes
** @usage local undo = out:undo_modes(); if undo ~= "" then io.stdout:write(undo) end
*/
static int pump_m_undo_modes(lua_State *L) {
    pump *p = dp_pump_check(L, 1);
    char buf[DP_VT_UNDO_MAX];
    size_t n = dp_vt_undo(&p->vt, buf, sizeof buf);
    dp_vt_init(&p->vt);
    lua_pushlstring(L, buf, n);
    return 1;
}

/***
** Release the buffers (what is still pending is dropped). Idempotent.
** @function Pump:close
*/
static int pump_m_close(lua_State *L) {
    pump *p = dp_pump_check(L, 1);
    if (p->open) {
        if (p->state == ST_RUNNING || p->state == ST_FLUSHING)
            p->state = ST_CANCELLED;
        pump_release(p);
    }
    return 0;
}

static int pump_m_tostring(lua_State *L) {
    pump *p = dp_pump_check(L, 1);
    if (p->open)
        lua_pushfstring(L, "%s (%p)", DP_PUMP, (void *)p);
    else
        lua_pushfstring(L, "%s (closed)", DP_PUMP);
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
        {"idle", pump_m_idle},
        {"feed", pump_m_feed},
        {"undo_modes", pump_m_undo_modes},
        {"close", pump_m_close},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"pump", pump_f_new},
        {NULL, NULL}
    };
    dp_createmeta(L, DP_PUMP, pump_meta, pump_methods);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
