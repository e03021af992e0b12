/*
** demux.c: incremental, zero-copy decoder of Docker's multiplexed stream
** (docs/protocol.md, "Stream framing") and its Lua class dockerpty.Demux.
** Pieces point into the caller's buffer; only the 8-byte header and at most
** DP_DEMUX_MSGMAX bytes of a type-3 (systemerr) message are ever held, so a
** frame claiming 0xFFFFFFFF bytes costs no memory. Headers and payloads may
** be split anywhere across feeds.
*/
#include <stdio.h>
#include <string.h>

#include "demux.h"
#include "util.h"

/*
** Type-3 text. msg[0..msglen) is the text collected so far with its
** trailing CR/LF run trimmed, so dp_demux_error() is right at any time,
** even at EOF inside the frame. The trimmed run is not lost: it is kept
** after the text's NUL, at msg[msglen + 1 ...], and ends at the next NUL
** (a CR/LF byte is never NUL). When a later byte is not CR/LF, the run is
** moved back into the text. Text plus run never exceed DP_DEMUX_MSGMAX.
*/
static size_t demux_msgrun(const dp_demux *d) {
    size_t p = 0;
    while (d->msg[d->msglen + 1 + p] != '\0')
        p++;
    return p;
}

static void demux_msgappend(dp_demux *d, const char *s, size_t n) {
    size_t t = d->msglen;
    size_t p = demux_msgrun(d);
    size_t i;
    for (i = 0; i < n && t + p < DP_DEMUX_MSGMAX; i++) {
        char c = s[i];
        if (c == '\r' || c == '\n') {
            d->msg[t + 1 + p] = c;
            p++;
        } else {
            if (p > 0) {
                memmove(d->msg + t, d->msg + t + 1, p);
                t += p;
                p = 0;
            }
            d->msg[t++] = c;
        }
    }
    d->msg[t] = '\0';
    d->msg[t + 1 + p] = '\0';
    d->msglen = t;
}

static void demux_msgclear(dp_demux *d) {
    d->msglen = 0;
    d->msg[0] = '\0';
    d->msg[1] = '\0';
}

void dp_demux_init(dp_demux *d) {
    memset(d->hdr, 0, sizeof d->hdr);
    d->hlen = 0;
    d->remain = 0;
    d->stream = -1;
    d->err = 0;
    demux_msgclear(d);
}

/* A type-3 frame ended: the error becomes sticky, the text stays. */
static int demux_daemon(dp_demux *d, size_t i, size_t *used) {
    d->stream = -1;
    d->remain = 0;
    d->err = DP_DEMUX_EDAEMON;
    *used = i;
    return d->err;
}

int dp_demux_next(dp_demux *d, const char *buf, size_t len, size_t *used,
                  int *stream, const char **piece, size_t *n) {
    size_t i = 0;
    *used = 0;
    if (d->err != 0)
        return d->err;
    while (i < len) {
        if (d->stream < 0) {
            /* Between frames: gather the 8 header bytes, split anywhere. */
            size_t take = 8 - d->hlen;
            const unsigned char *h = d->hdr;
            unsigned type;
            if (take > len - i)
                take = len - i;
            memcpy(d->hdr + d->hlen, buf + i, take);
            d->hlen += (unsigned)take;
            i += take;
            if (d->hlen < 8)
                break;
            d->hlen = 0;
            type = h[0];   /* h[1..3] is padding, ignored */
            d->remain = ((uint64_t)h[4] << 24) | ((uint64_t)h[5] << 16) |
                        ((uint64_t)h[6] << 8) | (uint64_t)h[7];
            if (type > 3) {
                /* types 4..255: stop at the header, name the byte. */
                snprintf(d->msg, sizeof d->msg,
                         "unrecognized stream type %u", type);
                d->msglen = strlen(d->msg);
                d->remain = 0;
                d->err = DP_DEMUX_EPROTO;
                *used = i;
                return d->err;
            }
            d->stream = (int)type;
            if (type == 3) {
                demux_msgclear(d);
                if (d->remain == 0)
                    return demux_daemon(d, i, used);
            } else if (d->remain == 0) {
                d->stream = -1;   /* a zero-length frame is a no-op */
            }
        } else {
            size_t avail = len - i;
            if ((uint64_t)avail > d->remain)
                avail = (size_t)d->remain;
            d->remain -= avail;
            if (d->stream == 3) {
                /* keep the first DP_DEMUX_MSGMAX bytes, skip the rest */
                demux_msgappend(d, buf + i, avail);
                i += avail;
                if (d->remain == 0)
                    return demux_daemon(d, i, used);
            } else {
                *stream = d->stream == 2 ? 2 : 1;   /* type 0 (stdin) goes to stdout */
                *piece = buf + i;
                *n = avail;
                i += avail;
                if (d->remain == 0)
                    d->stream = -1;
                *used = i;
                return DP_DEMUX_PIECE;
            }
        }
    }
    *used = i;
    return DP_DEMUX_NEED;
}

int dp_demux_eof(const dp_demux *d) {
    if (d->hlen > 0)
        return DP_DEMUX_TRUNC_HEADER;
    if (d->stream >= 0)
        return DP_DEMUX_TRUNC_PAYLOAD;
    return DP_DEMUX_CLEAN;
}

const char *dp_demux_error(const dp_demux *d) {
    return d->msg;
}

/* {====================================================================
** Lua class dockerpty.Demux
** ===================================================================== */

static dp_demux *demux_check(lua_State *L) {
    return (dp_demux *)luaL_checkudata(L, 1, DP_DEMUX);
}

static const char *demux_errname(int err) {
    return err == DP_DEMUX_EDAEMON ? "daemon" : "protocol";
}

/***
** A new decoder of the multiplexed stream (non-TTY attach and exec).
** @function demux
** @treturn dockerpty.Demux the decoder, between frames
** @usage local d = core.demux()
*/
static int demux_f_new(lua_State *L) {
    dp_demux *d = (dp_demux *)lua_newuserdatauv(L, sizeof *d, 0);
    dp_demux_init(d);
    luaL_setmetatable(L, DP_DEMUX);
    return 1;
}

/***
** Decode the next bytes of the stream. Pieces are reported as the decoder
** yields them, one per frame part found in `data` (never merged), each a
** copy of the payload bytes. Raises only on a bad argument or no memory.
** @function Demux:feed
** @tparam string data bytes read from the connection, split anywhere
** @treturn[1] table pieces, an array of `{stream, bytes}` (stream 1 or 2)
** @return[2] nil
** @treturn[2] string the daemon's text (type 3) or "unrecognized stream type N"
** @treturn[2] string "daemon" or "protocol"; sticky: later calls repeat it
** @treturn[2] table the pieces before the error (partial data, as above)
** @usage local pieces, err, name, partial = d:feed(chunk)
*/
static int demux_m_feed(lua_State *L) {
    dp_demux *d = demux_check(L);
    size_t len, off = 0;
    const char *s = luaL_checklstring(L, 2, &len);
    lua_Integer k = 0;
    int r;
    lua_newtable(L);
    for (;;) {
        size_t used, n;
        int stream;
        const char *piece;
        r = dp_demux_next(d, s + off, len - off, &used, &stream, &piece, &n);
        off += used;
        if (r != DP_DEMUX_PIECE)
            break;
        lua_createtable(L, 2, 0);
        lua_pushinteger(L, stream);
        lua_rawseti(L, -2, 1);
        lua_pushlstring(L, piece, n);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, ++k);
    }
    if (r == DP_DEMUX_NEED)
        return 1;
    luaL_pushfail(L);
    lua_pushlstring(L, d->msg, d->msglen);
    lua_pushstring(L, demux_errname(r));
    lua_rotate(L, -4, -1);      /* nil, message, name, pieces */
    return 4;
}

/***
** Check the end of the stream.
** @function Demux:eof
** @treturn[1] boolean true when the stream ended between frames
** @return[2] nil inside a header or a payload
** @treturn[2] string "truncated header" or "truncated payload"
** @treturn[2] string "truncated"
** @usage assert(d:eof())
*/
static int demux_m_eof(lua_State *L) {
    dp_demux *d = demux_check(L);
    switch (dp_demux_eof(d)) {
    case DP_DEMUX_TRUNC_HEADER:
        return dp_push_error(L, "truncated header", "truncated");
    case DP_DEMUX_TRUNC_PAYLOAD:
        return dp_push_error(L, "truncated payload", "truncated");
    default:
        lua_pushboolean(L, 1);
        return 1;
    }
}

/***
** The decoder's error, or the daemon text collected from a type-3 frame
** that is still open (cut short at EOF).
** @function Demux:error
** @treturn[1] string the text
** @treturn[1] string "daemon" or "protocol"
** @treturn[2] nil no error and no daemon text
** @usage local msg, name = d:error()
*/
static int demux_m_error(lua_State *L) {
    dp_demux *d = demux_check(L);
    if (d->err != 0) {
        lua_pushlstring(L, d->msg, d->msglen);
        lua_pushstring(L, demux_errname(d->err));
        return 2;
    }
    if (d->stream == 3) {
        lua_pushlstring(L, d->msg, d->msglen);
        lua_pushliteral(L, "daemon");
        return 2;
    }
    luaL_pushfail(L);
    return 1;
}

/***
** Forget everything: back between frames, no error.
** @function Demux:reset
** @treturn dockerpty.Demux the decoder
** @usage d:reset()
*/
static int demux_m_reset(lua_State *L) {
    dp_demux_init(demux_check(L));
    lua_settop(L, 1);
    return 1;
}

static int demux_m_tostring(lua_State *L) {
    lua_pushfstring(L, "%s (%p)", DP_DEMUX, (void *)demux_check(L));
    return 1;
}

int demux_open(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__tostring", demux_m_tostring},
        {NULL, NULL}
    };
    static const luaL_Reg methods[] = {
        {"feed", demux_m_feed},
        {"eof", demux_m_eof},
        {"error", demux_m_error},
        {"reset", demux_m_reset},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"demux", demux_f_new},
        {NULL, NULL}
    };
    dp_createmeta(L, DP_DEMUX, meta, methods);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
