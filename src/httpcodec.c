/*
** httpcodec.c: the HTTP/1.1 codec (httpcodec.h): a request encoder and an
** incremental response decoder, neither of which does I/O or allocates,
** and their Lua entries core.http_request and core.http_decoder (class
** dockerpty.HttpDecoder) for the session engine's requests.
*/
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "dockerpty.h"
#include "util.h"
#include "httpcodec.h"

#define DP_HTTPDEC "dockerpty.HttpDecoder"

/* {====================================================================
** Encoder
** ===================================================================== */

int dp_http_istoken(const char *s, size_t len) {
    size_t i;
    if (len == 0)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
              (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL)))
            return 0;
    }
    return 1;
}

int dp_http_istext(const char *s, size_t len, int allow_space) {
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f || (!allow_space && (ch == ' ' || ch == '\t')))
            return 0;
    }
    return 1;
}

/* Append n bytes: as many as fit, all of them counted. */
static void hreq_put(dp_hreq *r, const char *s, size_t n) {
    if (r->len < r->cap) {
        size_t k = r->cap - r->len < n ? r->cap - r->len : n;
        memcpy(r->p + r->len, s, k);
    }
    r->len += n;
}

#define hreq_lit(r, s) hreq_put((r), (s), sizeof(s) - 1)

void dp_hreq_start(dp_hreq *r, char *buf, size_t cap, const char *method, size_t mlen,
                   const char *path, size_t plen) {
    r->p = buf;
    r->cap = buf != NULL ? cap : 0;
    r->len = 0;
    r->has_host = 0;
    hreq_put(r, method, mlen);
    hreq_lit(r, " ");
    hreq_put(r, path, plen);
    hreq_lit(r, " HTTP/1.1\r\n");
}

int dp_hreq_header(dp_hreq *r, const char *k, size_t klen, const char *v, size_t vlen) {
    if (!dp_http_istoken(k, klen))
        return -1;
    if (!dp_http_istext(v, vlen, 1))
        return -2;
    if (vlen == 0 || (klen == 14 && strncasecmp(k, "content-length", 14) == 0))
        return 0;
    if (klen == 4 && strncasecmp(k, "host", 4) == 0)
        r->has_host = 1;
    hreq_put(r, k, klen);
    hreq_lit(r, ": ");
    hreq_put(r, v, vlen);
    hreq_lit(r, "\r\n");
    return 0;
}

void dp_hreq_end(dp_hreq *r, const char *method, size_t mlen, const char *body,
                 size_t blen) {
    if (!r->has_host)
        hreq_lit(r, "Host: " DP_HTTP_HOST "\r\n");
    if (body != NULL || (mlen == 4 && memcmp(method, "POST", 4) == 0) ||
        (mlen == 3 && memcmp(method, "PUT", 3) == 0)) {
        char num[48];
        int k = snprintf(num, sizeof num, "Content-Length: %zu\r\n", blen);
        hreq_put(r, num, (size_t)k);
    }
    hreq_lit(r, "\r\n");
    if (body != NULL)
        hreq_put(r, body, blen);
}

void dp_http_checkheaders(lua_State *L, int idx, int *has_ct, int *has_expect) {
    *has_ct = *has_expect = 0;
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        size_t klen, vlen;
        const char *k, *v;
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, idx, "header names and values must be strings");
        k = lua_tolstring(L, -2, &klen);
        v = lua_tolstring(L, -1, &vlen);
        if (!dp_http_istoken(k, klen))
            luaL_argerror(L, idx, lua_pushfstring(L, "invalid header name '%s'", k));
        if (!dp_http_istext(v, vlen, 1))
            luaL_argerror(L, idx, lua_pushfstring(L, "invalid value for header '%s'", k));
        if (klen == 12 && strncasecmp(k, "content-type", 12) == 0)
            *has_ct = 1;
        if (klen == 6 && strncasecmp(k, "expect", 6) == 0)
            *has_expect = 1;
        lua_pop(L, 1);
    }
}

void dp_hreq_write(lua_State *L, dp_hreq *r, char *buf, size_t cap, int hidx,
                   const char *method, size_t mlen, const char *path, size_t plen,
                   const char *body, size_t blen) {
    dp_hreq_start(r, buf, cap, method, mlen, path, plen);
    if (!lua_isnoneornil(L, hidx)) {
        lua_pushnil(L);
        while (lua_next(L, hidx) != 0) {
            size_t klen, vlen;
            const char *k = lua_tolstring(L, -2, &klen);
            const char *v = lua_tolstring(L, -1, &vlen);
            dp_hreq_header(r, k, klen, v, vlen);
            lua_pop(L, 1);
        }
    }
    dp_hreq_end(r, method, mlen, body, blen);
}

/* }====================================================================
** Decoder
** ===================================================================== */

/* States: the head; a body by length or up to EOF; the chunked coding
** (size line, its extension, its LF; data; the CRLF after it; trailer
** fields and the blank line that ends them); done; failed. */
enum { HD_HEAD, HD_LENGTH, HD_EOFBODY, HD_CSIZE, HD_CEXT, HD_CSIZE_LF, HD_CDATA,
       HD_CDATA_CR, HD_CDATA_LF, HD_TRAILER, HD_TLINE, HD_TLINE_LF, HD_TEND_LF, HD_DONE,
       HD_ERROR };

void dp_hdec_init(dp_hdec *d, size_t max, int no_body) {
    d->st = HD_HEAD;
    d->err = 0;
    d->why = "";
    d->no_body = no_body;
    d->keep = 0;
    d->have_head = 0;
    d->max = max ? max : DP_HTTP_BODY_MAX;
    d->body = d->seen = d->line = d->trailer = d->hlen = 0;
    d->left = 0;
    memset(&d->hd, 0, sizeof d->hd);
}

static int hdec_fail(dp_hdec *d, int err, const char *why) {
    d->st = HD_ERROR;
    d->err = err;
    d->why = why;
    return DP_HD_ERROR;
}

/* Is token one of the comma-separated items of f's value (any case)?
** last: only as the last item. */
static int hdec_hastoken(const dp_header *f, const char *token, int last) {
    size_t tl = strlen(token), i = 0;
    int found = 0;
    if (f == NULL)
        return 0;
    while (i <= f->value_len) {
        size_t a = i, e = i;
        while (e < f->value_len && f->value[e] != ',')
            e++;
        i = e + 1;
        while (a < e && (f->value[a] == ' ' || f->value[a] == '\t'))
            a++;
        while (e > a && (f->value[e - 1] == ' ' || f->value[e - 1] == '\t'))
            e--;
        if (e == a)
            continue;    /* empty items do not count */
        found = e - a == tl && strncasecmp(f->value + a, token, tl) == 0;
        if (found && !last)
            return 1;
    }
    return found;
}

/* The decimal value of a Content-Length; -1 when it is not one. */
static long long hdec_length(const dp_header *f) {
    long long v = 0;
    size_t i;
    if (f->value_len == 0 || f->value_len > 18)
        return -1;
    for (i = 0; i < f->value_len; i++) {
        if (f->value[i] < '0' || f->value[i] > '9')
            return -1;
        v = v * 10 + (f->value[i] - '0');
    }
    return v;
}

int dp_hdec_frame(dp_hdec *d, int status, int minor, const dp_header *te,
                  const dp_header *cl, const dp_header *conn) {
    d->keep = minor >= 1 && !hdec_hastoken(conn, "close", 0);
    if (d->no_body || status < 200 || status == 204 || status == 304) {
        d->st = HD_DONE;
        return DP_HD_DONE;
    }
    if (te != NULL && hdec_hastoken(te, "chunked", 1)) {
        d->st = HD_CSIZE;
        d->line = 0;
        d->left = 0;
        return DP_HD_MORE;
    }
    if (te == NULL && cl != NULL) {
        long long v = hdec_length(cl);
        if (v < 0)
            return hdec_fail(d, DP_HE_MALFORMED, "malformed Content-Length");
        if ((unsigned long long)v > d->max)
            return hdec_fail(d, DP_HE_BODYLONG, "response body too large");
        d->left = (unsigned long long)v;
        d->st = v > 0 ? HD_LENGTH : HD_DONE;
        return v > 0 ? DP_HD_MORE : DP_HD_DONE;
    }
    /* no length (or a coding other than chunked): up to the end */
    d->keep = 0;
    d->st = HD_EOFBODY;
    return DP_HD_MORE;
}

/* The framing of the head just parsed; DP_HD_HEAD or DP_HD_ERROR. */
static int hdec_framehead(dp_hdec *d) {
    const dp_head *h = &d->hd;
    const dp_header *cl = dp_head_find(h, "content-length");
    size_t i;
    /* Content-Length given twice must say the same */
    for (i = 0; cl != NULL && i < h->nheaders; i++) {
        const dp_header *f = &h->headers[i];
        if (f->name_len == 14 && strncasecmp(f->name, "content-length", 14) == 0 &&
            (f->value_len != cl->value_len || memcmp(f->value, cl->value, cl->value_len) != 0))
            return hdec_fail(d, DP_HE_MALFORMED, "malformed Content-Length");
    }
    d->have_head = 1;
    if (dp_hdec_frame(d, h->status, h->minor, dp_head_find(h, "transfer-encoding"), cl,
                      dp_head_find(h, "connection")) == DP_HD_ERROR)
        return DP_HD_ERROR;
    return DP_HD_HEAD;
}

/* The head: bytes are copied into d->head until it parses; 1xx answers
** but 101 (100 Continue) are skipped. */
static int hdec_head(dp_hdec *d, const char *p, size_t n, size_t *used) {
    size_t off = 0;
    for (;;) {
        size_t k = n - off, have;
        long r;
        if (k > DP_HEAD_MAXLEN - d->hlen)
            k = DP_HEAD_MAXLEN - d->hlen;
        if (k > 0)
            memcpy(d->head + d->hlen, p + off, k);
        have = d->hlen + k;
        r = dp_head_parse(d->head, have, &d->hd);
        /* at DP_HEAD_MAXLEN the parser says -1: one byte less tells a long
        ** head from a malformed one */
        if (r < 0 && have >= DP_HEAD_MAXLEN && dp_head_parse(d->head, have - 1, &d->hd) == 0)
            return hdec_fail(d, DP_HE_HEADLONG, "response head too long");
        if (r < 0)
            return hdec_fail(d, DP_HE_MALFORMED, "malformed response head");
        if (r == 0) {
            d->hlen = have;
            *used = n;
            return DP_HD_MORE;
        }
        off += (size_t)r - d->hlen;
        d->hlen = (size_t)r;
        if (d->hd.status >= 200 || d->hd.status == 101) {
            *used = off;
            return hdec_framehead(d);
        }
        d->hlen = 0;
    }
}

/* Body bytes: a Content-Length's, up to EOF, or a chunk's data. */
static int hdec_body(dp_hdec *d, const char *p, size_t n, size_t *used, const char **data,
                     size_t *dlen) {
    size_t k = n;
    if (d->st != HD_EOFBODY && k > d->left)
        k = (size_t)d->left;
    if (k == 0)
        return d->st == HD_DONE ? DP_HD_DONE : DP_HD_MORE;
    if (d->st == HD_EOFBODY && k > d->max - d->body)
        return hdec_fail(d, DP_HE_BODYLONG, "response body too large");
    if (d->st != HD_EOFBODY) {
        d->left -= k;
        if (d->left == 0)
            d->st = d->st == HD_LENGTH ? HD_DONE : HD_CDATA_CR;
    }
    d->body += k;
    *data = p;
    *dlen = k;
    *used = k;
    return DP_HD_DATA;
}

/* One byte of a chunk-size line. 0, or DP_HD_ERROR. */
static int hdec_size(dp_hdec *d, unsigned char ch) {
    int v = ch >= '0' && ch <= '9' ? ch - '0'
          : (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (ch | 0x20) - 'a' + 10 : -1;
    if (v >= 0 && d->st == HD_CSIZE) {
        d->left = d->left * 16 + (unsigned)v;     /* left <= max: no overflow */
        if (d->left > d->max - d->body)
            return hdec_fail(d, DP_HE_BODYLONG, "response body too large");
        return 0;
    }
    if (d->line == 1)
        return hdec_fail(d, DP_HE_MALFORMED, "malformed chunk size");
    if (ch == '\n') {
        d->line = 0;
        d->trailer = 0;
        d->st = d->left == 0 ? HD_TRAILER : HD_CDATA;
        return 0;
    }
    if (d->st == HD_CSIZE_LF)
        return hdec_fail(d, DP_HE_MALFORMED, "malformed chunk size");
    if (ch == '\r')
        d->st = HD_CSIZE_LF;
    else if (d->st == HD_CSIZE && ch != ';' && ch != ' ' && ch != '\t')
        return hdec_fail(d, DP_HE_MALFORMED, "malformed chunk size");
    else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
        return hdec_fail(d, DP_HE_MALFORMED, "malformed chunk extension");
    else
        d->st = HD_CEXT;
    return 0;
}

/* One byte of the trailer section (fields, then a blank line). */
static int hdec_trailer(dp_hdec *d, unsigned char ch) {
    if (++d->trailer > DP_HEAD_MAXLEN)
        return hdec_fail(d, DP_HE_MALFORMED, "trailer section too long");
    if (d->st == HD_TLINE_LF || d->st == HD_TEND_LF) {
        if (ch != '\n')
            return hdec_fail(d, DP_HE_MALFORMED, "malformed trailer section");
        d->st = d->st == HD_TEND_LF ? HD_DONE : HD_TRAILER;
    } else if (ch == '\n') {
        d->st = d->st == HD_TRAILER ? HD_DONE : HD_TRAILER;
    } else if (ch == '\r') {
        d->st = d->st == HD_TRAILER ? HD_TEND_LF : HD_TLINE_LF;
    } else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
        return hdec_fail(d, DP_HE_MALFORMED, "malformed trailer section");
    } else {
        d->st = HD_TLINE;
    }
    return 0;
}

/* One byte of the framing of the chunked coding. 0, or DP_HD_ERROR. */
static int hdec_byte(dp_hdec *d, unsigned char ch) {
    switch (d->st) {
    case HD_CSIZE: case HD_CEXT: case HD_CSIZE_LF:
        if (++d->line > DP_HTTP_LINEMAX)
            return hdec_fail(d, DP_HE_MALFORMED, "chunk-size line too long");
        return hdec_size(d, ch);
    case HD_CDATA_CR:
        if (ch == '\r') {
            d->st = HD_CDATA_LF;
            return 0;
        }
        /* a bare LF ends the data as well */
        /* fall through */
    case HD_CDATA_LF:
        if (ch != '\n')
            return hdec_fail(d, DP_HE_MALFORMED, "malformed chunked coding");
        d->st = HD_CSIZE;
        d->line = 0;
        d->left = 0;
        return 0;
    default:
        return hdec_trailer(d, ch);
    }
}

static int hdec_feed(dp_hdec *d, const char *p, size_t n, size_t *used, const char **data,
                     size_t *dlen) {
    size_t i = 0, u = 0;
    int r;
    switch (d->st) {
    case HD_ERROR:
        return DP_HD_ERROR;
    case HD_DONE:
        return DP_HD_DONE;
    case HD_HEAD:
        return hdec_head(d, p, n, used);
    case HD_LENGTH: case HD_EOFBODY: case HD_CDATA:
        return hdec_body(d, p, n, used, data, dlen);
    default:
        while (i < n && d->st != HD_CDATA && d->st != HD_DONE) {
            if (hdec_byte(d, (unsigned char)p[i++]) != 0) {
                *used = i;
                return DP_HD_ERROR;
            }
        }
        *used = i;
        if (d->st == HD_DONE)
            return DP_HD_DONE;
        if (d->st != HD_CDATA)
            return DP_HD_MORE;
        r = hdec_body(d, p + i, n - i, &u, data, dlen);
        *used += u;
        return r;
    }
}

int dp_hdec_feed(dp_hdec *d, const char *p, size_t n, size_t *used, const char **data,
                 size_t *dlen) {
    int r;
    *used = 0;
    *data = NULL;
    *dlen = 0;
    r = hdec_feed(d, p, n, used, data, dlen);
    d->seen += *used;
    return r;
}

int dp_hdec_eof(dp_hdec *d) {
    if (d->st == HD_ERROR || d->st == HD_DONE)
        return d->st == HD_DONE ? DP_HD_DONE : DP_HD_ERROR;
    if (d->st == HD_EOFBODY) {
        d->st = HD_DONE;
        return DP_HD_DONE;
    }
    if (d->seen == 0)
        return hdec_fail(d, DP_HE_EMPTY, "empty reply from server");
    return hdec_fail(d, DP_HE_CUT, "connection closed before the response was complete");
}

/* }====================================================================
** Lua: core.http_request, core.http_decoder
** ===================================================================== */

/***
The text of an HTTP/1.1 request, as the core's plain transport sends it:
Host `api.moby.localhost` unless given, Content-Length for a body (and for
a POST or PUT without one), fields with an empty value left out.
@function http_request
@tparam string method a token ("GET", "POST"...)
@tparam string path path and query, starting with "/"
@tparam[opt] table headers names to values
@tparam[opt] string body
@treturn string
@usage local text = core.http_request("GET", "/_ping", { ["User-Agent"] = "me" })
*/
static int hcodec_f_request(lua_State *L) {
    size_t mlen, plen, blen = 0;
    const char *method = luaL_checklstring(L, 1, &mlen);
    const char *path = luaL_checklstring(L, 2, &plen);
    const char *body = luaL_optlstring(L, 4, NULL, &blen);
    int has_ct, has_expect;
    dp_hreq r;
    luaL_Buffer b;
    char *p;
    luaL_argcheck(L, dp_http_istoken(method, mlen), 1, "invalid method");
    luaL_argcheck(L, plen > 0 && path[0] == '/' && dp_http_istext(path, plen, 0), 2,
                  "invalid path");
    dp_http_checkheaders(L, 3, &has_ct, &has_expect);
    lua_settop(L, 4);
    dp_hreq_write(L, &r, NULL, 0, 3, method, mlen, path, plen, body, blen);
    p = luaL_buffinitsize(L, &b, r.len);
    dp_hreq_write(L, &r, p, r.len, 3, method, mlen, path, plen, body, blen);
    luaL_pushresultsize(&b, r.len);
    return 1;
}

static dp_hdec *hcodec_check(lua_State *L) {
    return (dp_hdec *)luaL_checkudata(L, 1, DP_HTTPDEC);
}

/* Start d at the body of the head given as status and headers table. */
static int hcodec_seed(lua_State *L, dp_hdec *d, int idx) {
    static const char *const names[] = {"transfer-encoding", "content-length", "connection"};
    dp_header f[3];
    int status, i;
    lua_getfield(L, idx, "status");
    luaL_argcheck(L, lua_isinteger(L, -1), 1, "field 'status' must be an integer");
    status = (int)lua_tointeger(L, -1);
    lua_getfield(L, idx, "headers");
    luaL_argcheck(L, lua_istable(L, -1), 1, "field 'headers' must be a table");
    for (i = 0; i < 3; i++) {
        memset(&f[i], 0, sizeof f[i]);
        if (lua_getfield(L, -1 - i, names[i]) == LUA_TSTRING)
            f[i].value = lua_tolstring(L, -1, &f[i].value_len);
        else if (!lua_isnil(L, -1))
            luaL_argerror(L, 1, lua_pushfstring(L, "header '%s' must be a string", names[i]));
    }
    return dp_hdec_frame(d, status, 1, f[0].value ? &f[0] : NULL, f[1].value ? &f[1] : NULL,
                         f[2].value ? &f[2] : NULL);
}

/***
A decoder of one HTTP/1.1 response, fed the bytes read from its
connection in pieces of any size: the head, then the body by its
Content-Length, its chunked coding (extensions and trailer fields
accepted, dropped) or the connection's end. Allocates nothing but itself.
@function http_decoder
@tparam[opt] table opts `head` (true: the answer to a HEAD request, no
body), `max` (largest body, default 64 MiB), `status` and `headers` (the
head was read elsewhere, e.g. by `Conn:read_head`: start at its body)
@treturn dockerpty.HttpDecoder
@usage local d = core.http_decoder()
*/
static int hcodec_f_decoder(lua_State *L) {
    lua_Integer max = DP_HTTP_BODY_MAX;
    int no_body = 0, seeded = 0;
    dp_hdec *d;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_getfield(L, 1, "head");
        no_body = lua_toboolean(L, -1);
        if (lua_getfield(L, 1, "max") != LUA_TNIL) {
            max = luaL_checkinteger(L, -1);
            luaL_argcheck(L, max > 0 && (unsigned long long)max <= (size_t)-1 / 2, 1,
                          "field 'max' out of range");
        }
        seeded = lua_getfield(L, 1, "status") != LUA_TNIL;
    }
    lua_settop(L, 1);
    /* A decoder that starts at the body never fills head[]: it is left out
    ** of the allocation (the 16 KiB would be most of every Wait's memory). */
    d = (dp_hdec *)lua_newuserdatauv(L, seeded ? offsetof(dp_hdec, head) : sizeof *d, 0);
    dp_hdec_init(d, (size_t)max, no_body);
    luaL_setmetatable(L, DP_HTTPDEC);
    if (seeded) {
        hcodec_seed(L, d, 1);
        lua_settop(L, 2);
    }
    return 1;
}

/* nil, d's error text, its NAME ("closed" or "protocol"). */
static int hcodec_pushfail(lua_State *L, const dp_hdec *d) {
    luaL_pushfail(L);
    lua_pushstring(L, dp_hdec_strerror(d));
    if (d->err == DP_HE_CUT || d->err == DP_HE_EMPTY)
        lua_pushliteral(L, "closed");
    else
        lua_pushliteral(L, "protocol");
    return 3;
}

/***
Take bytes read from the connection.
@function HttpDecoder:feed
@tparam string data
@treturn[1] boolean done: the response is complete
@treturn[1] string the body bytes found in data (may be empty)
@treturn[1] string when done, the bytes of data after the response
@return[2] nil, message, "protocol", the body bytes found before the fault
@usage local done, body, rest = d:feed(conn:recv())
*/
static int hcodec_m_feed(lua_State *L) {
    dp_hdec *d = hcodec_check(L);
    size_t n, off = 0;
    const char *s = luaL_checklstring(L, 2, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        size_t used, dlen;
        const char *data;
        int ev = dp_hdec_feed(d, s + off, n - off, &used, &data, &dlen);
        off += used;
        if (ev == DP_HD_DATA)
            luaL_addlstring(&b, data, dlen);
        else if (ev == DP_HD_MORE || ev == DP_HD_DONE)
            break;
        else if (ev == DP_HD_ERROR) {
            luaL_pushresult(&b);
            hcodec_pushfail(L, d);
            lua_rotate(L, -4, -1);
            return 4;
        }
    }
    luaL_pushresult(&b);
    lua_pushboolean(L, d->st == HD_DONE);
    lua_insert(L, -2);
    if (d->st != HD_DONE)
        return 2;
    lua_pushlstring(L, s + off, n - off);
    return 3;
}

/***
The connection ended.
@function HttpDecoder:eof
@treturn[1] boolean true: the response is complete (a body up to the end)
@return[2] nil, message, "closed" (or the decoder's earlier "protocol")
@usage assert(d:eof())
*/
static int hcodec_m_eof(lua_State *L) {
    dp_hdec *d = hcodec_check(L);
    if (dp_hdec_eof(d) == DP_HD_ERROR)
        return hcodec_pushfail(L, d);
    lua_pushboolean(L, 1);
    return 1;
}

/***
The head, once the decoder has read it.
@function HttpDecoder:head
@treturn[1] integer status
@treturn[1] table headers (lower-cased names)
@treturn[1] string reason
@treturn[2] nil while the head is incomplete (or was read elsewhere)
@usage local status, headers = d:head()
*/
static int hcodec_m_head(lua_State *L) {
    dp_hdec *d = hcodec_check(L);
    if (!d->have_head) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, d->hd.status);
    dp_head_push(L, &d->hd);
    lua_pushlstring(L, d->hd.reason, d->hd.reason_len);
    return 3;
}

/***
Whether the response is complete and its connection may carry another
request (HTTP/1.1, no `Connection: close`, a framed body).
@function HttpDecoder:keepalive
@treturn boolean
*/
static int hcodec_m_keepalive(lua_State *L) {
    dp_hdec *d = hcodec_check(L);
    lua_pushboolean(L, d->st == HD_DONE && d->keep);
    return 1;
}

/***
Whether the response is complete.
@function HttpDecoder:done
@treturn boolean
*/
static int hcodec_m_done(lua_State *L) {
    lua_pushboolean(L, hcodec_check(L)->st == HD_DONE);
    return 1;
}

static int hcodec_m_tostring(lua_State *L) {
    lua_pushfstring(L, DP_HTTPDEC " (%p)", (void *)hcodec_check(L));
    return 1;
}

int httpcodec_open(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__index", NULL},
        {"__tostring", hcodec_m_tostring},
        {NULL, NULL}
    };
    static const luaL_Reg methods[] = {
        {"feed", hcodec_m_feed},
        {"eof", hcodec_m_eof},
        {"head", hcodec_m_head},
        {"keepalive", hcodec_m_keepalive},
        {"done", hcodec_m_done},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"http_request", hcodec_f_request},
        {"http_decoder", hcodec_f_decoder},
        {NULL, NULL}
    };
    dp_createmeta(L, DP_HTTPDEC, meta, methods);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
