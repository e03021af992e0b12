/*
** conn.c: dockerpty.Conn, a connection to the daemon over which the Lua
** layer writes raw HTTP and reads the response head; after an upgrade it
** carries the hijacked attach/exec stream. The bytes move through one of
** the transports of transport.h (unix socket, libcurl, ssh child); this
** file is the class over them: the pre-buffer of bytes read past a head,
** the half-close state, waits with deadlines, and the errors as Lua sees
** them (nil, reason, NAME; lua/dockerpty/errors.lua writes the sentences).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dockerpty.h"
#include "util.h"
#include "httphead.h"
#include "conn.h"

#define CONN_READALL_MAX (1024 * 1024)
#define CONN_RECV_MAX 65536

/* {====================================================================
** http.c's connection errors (conn.h): nil, reason, NAME, as Conn's; the
** sentence for the user is errors.connect_message's (Lua).
** ===================================================================== */

int dp_push_connerr(lua_State *L, CURL *curl, CURLcode rc, const char *errbuf) {
    char why[CURL_ERROR_SIZE + 64];
    const char *name;
    int err = dp_curl_connfail(curl, rc, errbuf, &name, why, sizeof why);
    return dp_push_error(L, why, name != NULL ? name : dp_errno_name(err));
}

/* }==================================================================== */

/* {====================================================================
** The connection: C API of conn.h
** ===================================================================== */

/* c->errmsg = "<where>: <text>" (each truncated to fit). */
static void conn_setmsg(dp_conn *c, const char *text) {
    snprintf(c->errmsg, sizeof c->errmsg, "%.255s: %.254s", c->where, text);
}

/* A failure err of the transport (not EAGAIN): its reason into c->errmsg. */
static int conn_fail(dp_conn *c, int err) {
    if (err != 0 && err != EAGAIN)
        conn_setmsg(c, dp_transport_why(&c->tr, err));
    return err;
}

/* recv without the pre-buffer. */
static int conn_rawrecv(dp_conn *c, char *buf, size_t len, size_t *n) {
    *n = 0;
    c->errmsg[0] = '\0';
    return conn_fail(c, c->tr.ops->read(&c->tr, buf, len, n));
}

/* Append bytes to the pre-buffer. 0 or ENOMEM. */
static int conn_preappend(dp_conn *c, const char *buf, size_t n) {
    size_t have = c->prelen - c->preoff;
    char *p;
    if (c->pre != NULL && c->preoff > 0) {
        memmove(c->pre, c->pre + c->preoff, have);
        c->preoff = 0;
        c->prelen = have;
    }
    p = realloc(c->pre, have + n);
    if (p == NULL) {
        conn_setmsg(c, strerror(ENOMEM));
        return ENOMEM;
    }
    memcpy(p + have, buf, n);
    c->pre = p;
    c->prelen = have + n;
    return 0;
}

/* Drop n bytes from the front of the pre-buffer. */
static void conn_preconsume(dp_conn *c, size_t n) {
    c->preoff += n;
    if (c->preoff >= c->prelen) {
        free(c->pre);
        c->pre = NULL;
        c->prelen = c->preoff = 0;
    }
}

int dp_conn_recv(dp_conn *c, char *buf, size_t len, size_t *n) {
    *n = 0;
    if (len == 0)
        return EINVAL;      /* a 0-byte read would look like EOF */
    if (c->prelen > c->preoff) {
        size_t k = c->prelen - c->preoff;
        if (k > len)
            k = len;
        memcpy(buf, c->pre + c->preoff, k);
        conn_preconsume(c, k);
        *n = k;
        return 0;
    }
    return conn_rawrecv(c, buf, len, n);
}

int dp_conn_send(dp_conn *c, const char *buf, size_t len, size_t *n) {
    *n = 0;
    if (c->wclosed) {
        conn_setmsg(c, "send after shutdown");
        return EPIPE;
    }
    c->errmsg[0] = '\0';
    return conn_fail(c, c->tr.ops->write(&c->tr, buf, len, n));
}

size_t dp_conn_pending(const dp_conn *c) {
    return c->prelen - c->preoff;
}

int dp_conn_shutdown(dp_conn *c) {
    int err;
    if (c->wclosed)
        return 0;
    err = conn_fail(c, c->tr.ops->shutdown(&c->tr));
    if (err == 0)
        c->wclosed = 1;
    return err;
}

dp_conn *dp_conn_check(lua_State *L, int idx) {
    dp_conn *c = (dp_conn *)luaL_checkudata(L, idx, DP_CONN);
    if (dp_unlikely(c->fd < 0))
        luaL_error(L, "attempt to use a closed connection");
    return c;
}

static void conn_release(dp_conn *c) {
    if (c->tr.ops != NULL)
        c->tr.ops->close(&c->tr);
    c->fd = -1;
    free(c->pre);
    c->pre = NULL;
    c->prelen = c->preoff = 0;
}

/* }==================================================================== */

/* {====================================================================
** Lua methods
** ===================================================================== */

/* Deadline from an optional timeout in ms at idx: -1 for none (nil or a
** negative timeout, as poll() takes it). Raises on a non-integer. */
static long long conn_optdeadline(lua_State *L, int idx) {
    lua_Integer ms;
    if (lua_isnoneornil(L, idx))
        return -1;
    ms = luaL_checkinteger(L, idx);
    if (ms < 0)
        return -1;
    if (ms > (lua_Integer)1 << 40)
        ms = (lua_Integer)1 << 40;
    return dp_now_ms() + (long long)ms;
}

/* nil, c->errmsg, NAME */
static int conn_pusherr(lua_State *L, dp_conn *c, int err) {
    luaL_pushfail(L);
    lua_pushstring(L, c->errmsg);
    lua_pushstring(L, dp_transport_errname(&c->tr, err));
    return 3;
}

/* nil, "poll: <strerror>", NAME */
static int conn_pushpoll(lua_State *L, int err) {
    return dp_push_errno(L, "poll", err);
}

static int conn_pushtimeout(lua_State *L) {
    return dp_push_error(L, "timeout", "timeout");
}

/* After a non-blocking call answered err: 0 when it may be tried again
** (EAGAIN, and the fd became ready for events), else nil, message, NAME
** pushed (the failure, "timeout", or poll's) and 3. */
static int conn_waitfor(lua_State *L, dp_conn *c, int err, short events, long long deadline) {
    if (err != EAGAIN)
        return conn_pusherr(L, c, err);
    err = dp_wait_fd(c->fd, events, deadline);
    if (err == 0)
        return conn_pushtimeout(L);
    if (err < 0)
        return conn_pushpoll(L, -err);
    return 0;
}

/* The stream ended before an answer (EOF, or err a reset or an abort): when
** the transport explains it, push nil, its reason, its name (3); else 0. */
static int conn_pushlost(lua_State *L, dp_conn *c, int err, size_t n) {
    const char *why;
    if (c->tr.ops->lost == NULL)
        return 0;
    if (!(err == 0 && n == 0) && err != ECONNABORTED && err != ECONNRESET && err != EPIPE)
        return 0;
    why = c->tr.ops->lost(&c->tr);
    if (why == NULL)
        return 0;
    luaL_pushfail(L);
    lua_pushstring(L, why);
    lua_pushstring(L, c->tr.ops->name);
    return 3;
}

/***
Open a connection to the daemon over the endpoint's transport: a plain unix
socket, an ssh child, or libcurl in connect-only mode (TCP, TLS: handshake
done).
@function connect
@tparam table opts `socket` (unix socket path), `url` ("http://h:p",
 "https://h:p") or `ssh` (argv), `tls` = {ca, cert, key, verify},
 `connect_timeout` (ms, default 10000), `where` (display name used in
 messages), `transport` ("plain", the default for a socket, or "libcurl":
 libcurl for a socket too)
@treturn[1] dockerpty.Conn
@return[2] nil, reason, name: the reason without the endpoint ("Connection
 refused", "connection timed out", "cannot run ssh: No such file or
 directory", libcurl's text); name an errno name, "timeout", a CURLE_ name,
 or "libcurl" (reason "cannot load libcurl: ..."). errors.connect_message
 makes the sentence.
@usage local conn = assert(core.connect{socket = "/var/run/docker.sock"})
*/
static int conn_f_connect(lua_State *L) {
    dp_endpoint ep;
    dp_conn *c;
    int err;
    dp_endpoint_check(L, 1, &ep);
    c = (dp_conn *)lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    dp_transport_init(&c->tr, &ep);
    c->fd = -1;
    luaL_setmetatable(L, DP_CONN);
    snprintf(c->where, sizeof c->where, "%s", ep.where);
    err = c->tr.ops->connect(&c->tr, &ep);
    if (err != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, dp_transport_why(&c->tr, err));
        lua_pushstring(L, dp_transport_errname(&c->tr, err));
        conn_release(c);
        return 3;
    }
    c->fd = c->tr.fd;
    c->tls = c->tr.tls;
    /* bytes the transport read while connecting are served first */
    c->pre = c->tr.early;
    c->prelen = c->tr.earlylen;
    c->tr.early = NULL;
    c->tr.earlylen = 0;
    return 1;
}

/***
Send all of data, waiting with poll() while the socket is full.
@function Conn:send
@tparam string data
@tparam[opt] integer timeout_ms default (or negative): no timeout
@treturn[1] integer bytes sent (all of data)
@return[2] nil, "timeout", "timeout", sent (the bytes sent before the
 timeout; with timeout 0 a send that never waits)
@return[3] nil, message, name, sent (ssh: nil, why the child ended, "ssh", sent)
@usage conn:send("GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
*/
static int conn_m_send(lua_State *L) {
    dp_conn *c = dp_conn_check(L, 1);
    size_t len, off = 0;
    const char *s = luaL_checklstring(L, 2, &len);
    long long deadline = conn_optdeadline(L, 3);
    while (off < len) {
        size_t n;
        int err = dp_conn_send(c, s + off, len - off, &n);
        if (err == 0) {
            off += n;
            continue;
        }
        if (err == EAGAIN || conn_pushlost(L, c, err, 1) == 0) {
            if (conn_waitfor(L, c, err, POLLOUT, deadline) == 0)
                continue;
        }
        /* nil, message, name, and the bytes sent before the failure */
        lua_pushinteger(L, (lua_Integer)off);
        return 4;
    }
    lua_pushinteger(L, (lua_Integer)len);
    return 1;
}

/***
Read a complete HTTP response head. Bytes after the blank line stay in the
pre-buffer and are served first by recv.
@function Conn:read_head
@tparam[opt] integer timeout_ms default (or negative): no timeout
@tparam[opt] integer maxlen longest head accepted (default and maximum 16384)
@treturn[1] integer status
@treturn[1] string reason
@treturn[1] table headers (lower-cased names)
@return[2] nil, "timeout", "timeout"
@return[3] nil, "connection closed before the response head was complete", "closed"
@return[4] nil, "malformed response head" (or "response head longer than N
 bytes"), "protocol"
@return[5] nil, message, name (ssh: nil, why the child ended, "ssh")
@usage local status, reason, headers = conn:read_head(5000)
*/
static int conn_m_read_head(lua_State *L) {
    dp_conn *c = dp_conn_check(L, 1);
    long long deadline = conn_optdeadline(L, 2);
    lua_Integer maxlen = luaL_optinteger(L, 3, DP_HEAD_MAXLEN);
    dp_head h;
    char buf[4096];
    luaL_argcheck(L, maxlen > 0 && maxlen <= DP_HEAD_MAXLEN, 3, "out of range");
    for (;;) {
        size_t have = c->prelen - c->preoff, n;
        int err;
        if (have > 0) {
            /* Parse at most maxlen bytes; a head that needs more is too
            ** long (at DP_HEAD_MAXLEN the parser itself says -1: one byte
            ** less tells a long head from a malformed one). */
            size_t len = have < (size_t)maxlen ? have : (size_t)maxlen;
            const char *p = c->pre + c->preoff;
            long r = dp_head_parse(p, len, &h);
            if (r < 0 && (len < DP_HEAD_MAXLEN || dp_head_parse(p, len - 1, &h) < 0))
                return dp_push_error(L, "malformed response head", "protocol");
            if (r < 0 || (r == 0 && len >= (size_t)maxlen))
                return dp_push_headlong(L, maxlen);
            if (r > 0) {
                lua_pushinteger(L, h.status);
                lua_pushlstring(L, h.reason, h.reason_len);
                dp_head_push(L, &h);
                conn_preconsume(c, (size_t)r);
                return 3;
            }
        }
        err = conn_rawrecv(c, buf, sizeof buf, &n);
        if (conn_pushlost(L, c, err, n) > 0)
            return 3;
        if (err == 0 && n == 0)
            return dp_push_error(L, "connection closed before the response head was complete",
                                 "closed");
        if (err == 0)
            err = conn_preappend(c, buf, n);
        if (err != 0 && (err = conn_waitfor(L, c, err, POLLIN, deadline)) != 0)
            return err;
    }
}

/***
Receive up to max bytes (pre-buffer first).
@function Conn:recv
@tparam[opt] integer max default 65536
@tparam[opt] integer timeout_ms 0: do not wait; default (or negative): no timeout
@treturn[1] string data
@return[2] nil, "timeout", "timeout"
@return[3] nil, "closed", "closed" at EOF
@return[4] nil, message, name
@usage local data, err = conn:recv(4096, 1000)
*/
static int conn_m_recv(lua_State *L) {
    dp_conn *c = dp_conn_check(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, CONN_RECV_MAX);
    long long deadline;
    luaL_Buffer b;
    char *p;
    luaL_argcheck(L, max > 0, 2, "size must be positive");
    deadline = conn_optdeadline(L, 3);
    p = luaL_buffinitsize(L, &b, (size_t)max);
    for (;;) {
        size_t n;
        int err = dp_conn_recv(c, p, (size_t)max, &n);
        if (err == 0 && n == 0)
            return dp_push_error(L, "closed", "closed");
        if (err == 0) {
            luaL_pushresultsize(&b, n);
            return 1;
        }
        if ((err = conn_waitfor(L, c, err, POLLIN, deadline)) != 0)
            return err;
    }
}

/***
Read everything up to EOF (an error body after a raw status line, a
`Connection: close` response).
@function Conn:read_all
@tparam[opt] integer timeout_ms for the whole read; default (or negative): no timeout
@tparam[opt] integer max largest accepted size (default 1 MiB)
@treturn[1] string data
@return[2] nil, message, name, partial (name "timeout", "protocol" when
 longer than max, or an errno name)
@usage local body = conn:read_all(5000)
*/
static int conn_m_read_all(lua_State *L) {
    dp_conn *c = dp_conn_check(L, 1);
    long long deadline = conn_optdeadline(L, 2);
    lua_Integer max = luaL_optinteger(L, 3, CONN_READALL_MAX);
    size_t total = 0;
    luaL_Buffer b;
    luaL_argcheck(L, max >= 0, 3, "size must not be negative");
    luaL_buffinit(L, &b);
    for (;;) {
        size_t want = (size_t)max + 1 - total, n;
        char *p;
        int err;
        if (want > 16384)
            want = 16384;
        p = luaL_prepbuffsize(&b, want);
        err = dp_conn_recv(c, p, want, &n);
        if (err == 0 && n == 0) {
            luaL_pushresult(&b);
            return 1;
        }
        if (err == 0) {
            luaL_addsize(&b, n);
            total += n;
            if (total > (size_t)max) {
                luaL_pushresult(&b);
                luaL_pushfail(L);
                lua_pushfstring(L, "%s: response longer than %I bytes", c->where, max);
                lua_pushliteral(L, "protocol");
                lua_rotate(L, -4, -1);
                return 4;
            }
            continue;
        }
        if (err == EAGAIN) {
            err = dp_wait_fd(c->fd, POLLIN, deadline);
            if (err > 0)
                continue;
            if (err == 0) {
                luaL_pushresult(&b);
                luaL_pushfail(L);
                lua_pushliteral(L, "timeout");
                lua_pushliteral(L, "timeout");
                lua_rotate(L, -4, -1);
                return 4;
            }
            err = -err;
            snprintf(c->tr.why, sizeof c->tr.why, "poll: %s", strerror(err));
            c->tr.errname = NULL;
            conn_setmsg(c, c->tr.why);
        }
        luaL_pushresult(&b);
        luaL_pushfail(L);
        lua_pushstring(L, c->errmsg);
        lua_pushstring(L, dp_transport_errname(&c->tr, err));
        lua_rotate(L, -4, -1);
        return 4;
    }
}

/***
Half-close: no more writes, reading goes on (shutdown(SHUT_WR); over TLS a
close_notify first). Idempotent.
@function Conn:shutdown
@tparam[opt] integer timeout_ms for a TLS close_notify that would block
@treturn[1] boolean true
@return[2] nil, message, name
@usage conn:shutdown()
*/
static int conn_m_shutdown(lua_State *L) {
    dp_conn *c = dp_conn_check(L, 1);
    long long deadline = conn_optdeadline(L, 2);
    for (;;) {
        int err = dp_conn_shutdown(c);
        if (err == 0)
            break;
        if ((err = conn_waitfor(L, c, err, POLLOUT, deadline)) != 0)
            return err;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/***
The socket, for poll().
@function Conn:getfd
@treturn integer fd
*/
static int conn_m_getfd(lua_State *L) {
    lua_pushinteger(L, dp_conn_check(L, 1)->fd);
    return 1;
}

/***
Bytes already buffered (read with the response head) that poll() will not
report.
@function Conn:pending
@treturn integer
*/
static int conn_m_pending(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)dp_conn_pending(dp_conn_check(L, 1)));
    return 1;
}

/***
Whether the connection uses TLS.
@function Conn:istls
@treturn boolean
*/
static int conn_m_istls(lua_State *L) {
    lua_pushboolean(L, dp_conn_check(L, 1)->tls);
    return 1;
}

/***
Close the connection; idempotent. Also __gc and __close.
@function Conn:close
@treturn boolean true
*/
static int conn_m_close(lua_State *L) {
    conn_release((dp_conn *)luaL_checkudata(L, 1, DP_CONN));
    lua_pushboolean(L, 1);
    return 1;
}

static int conn_m_tostring(lua_State *L) {
    dp_conn *c = (dp_conn *)luaL_checkudata(L, 1, DP_CONN);
    if (c->fd < 0)
        lua_pushliteral(L, "dockerpty.Conn (closed)");
    else
        lua_pushfstring(L, "dockerpty.Conn (%p)", (void *)c);
    return 1;
}

/* }==================================================================== */

int conn_open(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__index", NULL},
        {"__gc", conn_m_close},
        {"__close", conn_m_close},
        {"__tostring", conn_m_tostring},
        {NULL, NULL}
    };
    static const luaL_Reg methods[] = {
        {"send", conn_m_send},
        {"read_head", conn_m_read_head},
        {"recv", conn_m_recv},
        {"read_all", conn_m_read_all},
        {"shutdown", conn_m_shutdown},
        {"getfd", conn_m_getfd},
        {"pending", conn_m_pending},
        {"istls", conn_m_istls},
        {"close", conn_m_close},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"connect", conn_f_connect},
        {NULL, NULL}
    };
    dp_createmeta(L, DP_CONN, meta, methods);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
