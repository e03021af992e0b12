/*
** pump.h: the pump, a state machine that moves bytes from one source to
** one or two sinks (pump.c), and what the loop (loop.c) needs of it: which
** fd it waits on for what, its deadlines, and what to do when it is ready.
** See docs/design.md, "Pumps and the loop".
*/
#ifndef DP_PUMP_H
#define DP_PUMP_H

#include <stddef.h>
#include "dockerpty.h"
#include "demux.h"
#include "escape.h"
#include "conn.h"
#include "fdio.h"
#include "vtmodes.h"

#pragma GCC visibility push(hidden)

/* Uservalue slots of a pump. */
#define PU_SRC   1      /* source object: conn userdata or string */
#define PU_SINK1 2      /* first sink object (conn or function) */
#define PU_SINK2 3      /* second sink object */
#define PU_LINKS 4      /* table of pumps cancelled on detach */
#define PU_DRAIN 5      /* table {pump, ms, ...}: drained when this one ends */
#define PU_END   6      /* on_end callback, or nil */
#define PU_TAP   7      /* tap callback, or nil */
#define PU_NUV   7

enum { EP_NONE, EP_FD, EP_CONN, EP_FUNC, EP_STRING, EP_QUEUE };
enum { ST_RUNNING, ST_FLUSHING, ST_DONE, ST_ERROR, ST_DETACHED, ST_CANCELLED };
enum { EOF_NONE, EOF_CLOSE, EOF_SHUTDOWN };

typedef struct sink {
    int kind;
    dp_fdio io;          /* EP_FD */
    dp_conn *conn;       /* EP_CONN */
    int broken;          /* its write failed: the rest is discarded */
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
    dp_fdio src_io;      /* EP_FD */
    dp_conn *src_conn;
    const char *str;     /* EP_STRING: anchored in uservalue PU_SRC */
    size_t strlen, stroff;
    char *ibuf;          /* EP_QUEUE: bytes fed by Pump:feed, ibuf[ioff..ilen) */
    size_t ioff, ilen, icap;
    int ieof;            /* EP_QUEUE: feed(nil) said the input ends */
    int src_eof;         /* source reached EOF or failed */
    int src_ready;       /* may have data that poll() does not show */
    int use_demux;
    dp_demux dm;
    int use_escape;
    dp_escape esc;
    int has_tap;         /* PU_TAP is set: told of each piece delivered */
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
    int notified;        /* its drain targets and on_end were told it finished */
    int failed_sink;     /* 1 or 2: the sink whose write error ended the pump */
    long long idle_grace;   /* >= 0: cancel once idle this long (ms) */
    long long last_active;  /* dp_now_ms() of the last bytes read or written */
    long long coalesce_us;  /* longest wait between reads of a stream; 0: none */
    long long last_read_us; /* dp_now_us() of the last read with data */
    long long defer_until;  /* > 0: do not read the source before (dp_now_us) */
    size_t src_cap;         /* the source's buffer (pipe size...); 0: not known yet */
    unsigned long long reads;   /* reads that returned data */
    unsigned long long defers;  /* waits the coalescing made */
    int track_modes;        /* scan what the first sink took for terminal modes */
    dp_vt vt;               /* the modes those bytes left on */
} pump;

/* Error raised by a Lua callback during a step; set by the pump, read by
** the loop, which re-raises it once its own state is safe. */
typedef struct runctx {
    lua_State *L;
    int failed;          /* a callback raised: its error is at errindex */
    int errindex;
} runctx;

pump *dp_pump_check(lua_State *L, int idx);

/* States: active (moving or flushing bytes), running (still reading its
** source: what cancel and idleness stop). */
int dp_pump_active(const pump *p);
int dp_pump_running(const pump *p);
int dp_pump_draining(const pump *p);
int dp_pump_can_read(const pump *p);
int dp_pump_sinks_empty(const pump *p);
/* The fd its source is read from (-1 when it has none: a string, a closed
** connection); whether a read may be tried without poll(). */
int dp_pump_src_fd(const pump *p);
int dp_pump_src_fed(const pump *p);
int dp_pump_src_ready(const pump *p);
/* The fd the head of its queue waits on (POLLOUT), or -1. */
int dp_pump_wait_fd(const pump *p);

/* Read the source while the sinks have room; the pump's userdata is at
** stack index pidx (function sinks are called under lua_pcall). */
void dp_pump_read(runctx *rc, pump *p, int pidx);
/* Write the queue out, and finish after EOF once it is empty; finish only. */
void dp_pump_flush(pump *p);
void dp_pump_finish(pump *p);
/* Close the descriptions a finished pump opened for itself (fdio.h). */
void dp_pump_release_fds(pump *p);
/* poll() reported an error on the fd the queue waits on. */
void dp_pump_sink_error(pump *p, int revents);

/* Append the value at idx to the list in uservalue `slot` of the object
** at index 1 (a pump's links or drains, a loop's pumps). */
void dp_append_uservalue(lua_State *L, int slot, int idx);

#pragma GCC visibility pop

#endif
