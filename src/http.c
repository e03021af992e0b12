/*
** http.c: dockerpty.Http, ordinary REST requests to the daemon (ping,
** inspect, create, resize, wait...) over one kept-alive connection per
** object. A unix socket or an ssh child is spoken to directly (plain
** HTTP/1.1 through the transport interface, transport.h: no libcurl);
** TCP, TLS and transport "libcurl" use one libcurl easy handle. Bodies and
** heads are collected into C buffers owned by the userdata; no Lua code
** runs inside libcurl.
*/
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curlapi.h"

#include "dockerpty.h"
#include "util.h"
#include "httphead.h"
#include "httpcodec.h"
#include "conn.h"


#define HTTP_BODY_MAX DP_HTTP_BODY_MAX     /* larger bodies fail: protocol */
#define HTTP_KEEP_CAP (256 * 1024)         /* buffers above this are freed */

typedef struct http_buf {
    char *p;
    size_t len, cap;
} http_buf;

typedef struct http_handle {
    int closed;
    CURL *curl;                  /* libcurl: made on the first request */
    int sealed;                  /* libcurl: its first perform's fds made close-on-exec */
    dp_transport tr;             /* plain: the kept-alive connection (fd -1: none) */
    struct curl_slist *hdrs;     /* libcurl: request headers of the last request */
    http_buf body, head;         /* response body; libcurl: response head */
    http_buf raw;                /* plain: the request */
    http_buf in;                 /* plain: the bytes read */
    dp_hdec dec;                 /* plain: the response's decoder */
    int overflow;                /* 1: body too large, 2: head too large */
    int unreached;               /* the last request reached no daemon */
    dp_endpoint ep;
    char errbuf[CURL_ERROR_SIZE];
} http_handle;

/* Room for n more bytes (n <= limit - b->len); 0, or -1 out of memory. */
static int http_reserve(http_buf *b, size_t n, size_t limit) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *np;
        while (cap < b->len + n)
            cap *= 2;
        if (cap > limit)
            cap = limit;
        np = realloc(b->p, cap);
        if (np == NULL)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    return 0;
}

/* Append n bytes; 0, or -1 past limit or out of memory. */
static int http_append(http_buf *b, const char *p, size_t n, size_t limit) {
    if (n > limit - b->len)
        return -1;
    if (n == 0)
        return 0;       /* b->p may still be NULL */
    if (http_reserve(b, n, limit) < 0)
        return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static void http_bufreset(http_buf *b) {
    if (b->cap > HTTP_KEEP_CAP) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
    b->len = 0;
}

static void http_buffree(http_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* libcurl callbacks: plain C, no Lua. Returning less than asked aborts. */
static size_t http_onbody(char *p, size_t size, size_t nmemb, void *ud) {
    http_handle *h = (http_handle *)ud;
    size_t n = size * nmemb;
    if (http_append(&h->body, p, n, HTTP_BODY_MAX) < 0) {
        h->overflow = 1;
        return 0;
    }
    return n;
}

static size_t http_onheader(char *p, size_t size, size_t nmemb, void *ud) {
    http_handle *h = (http_handle *)ud;
    size_t n = size * nmemb;
    /* A new status line (after a 1xx) starts the head again. */
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0)
        h->head.len = 0;
    if (http_append(&h->head, p, n, DP_HEAD_MAXLEN) < 0) {
        h->overflow = 2;
        return 0;
    }
    return n;
}

static http_handle *http_check(lua_State *L, int idx) {
    http_handle *h = (http_handle *)luaL_checkudata(L, idx, DP_HTTP);
    if (dp_unlikely(h->closed))
        luaL_error(L, "attempt to use a closed http handle");
    return h;
}

static void http_dropconn(http_handle *h) {
    h->tr.ops->close(&h->tr);    /* idempotent; reaps an ssh child */
}

static void http_release(http_handle *h) {
    h->closed = 1;
    if (h->curl != NULL)
        curl_easy_cleanup(h->curl);
    h->curl = NULL;
    h->sealed = 0;
    if (h->hdrs != NULL)
        curl_slist_free_all(h->hdrs);    /* only set once libcurl is loaded */
    h->hdrs = NULL;
    http_dropconn(h);
    http_buffree(&h->body);
    http_buffree(&h->head);
    http_buffree(&h->raw);
    http_buffree(&h->in);
}

/* Append "name: value" to *list. 0 or -1 (out of memory). No Lua errors. */
static int http_addheader(struct curl_slist **list, const char *k, size_t klen,
                          const char *v, size_t vlen) {
    struct curl_slist *nl;
    char *line = malloc(klen + vlen + 3);
    if (line == NULL)
        return -1;
    memcpy(line, k, klen);
    line[klen] = ':';
    line[klen + 1] = ' ';
    memcpy(line + klen + 2, v, vlen);
    line[klen + 2 + vlen] = '\0';
    if (vlen == 0)
        line[klen + 1] = '\0';      /* "Name:" removes a libcurl default */
    nl = curl_slist_append(*list, line);
    free(line);
    if (nl == NULL)
        return -1;
    *list = nl;
    return 0;
}

/* Build h->hdrs from the (validated) table at idx. Never raises: the
** table holds only strings, so lua_next/lua_tolstring cannot fail. */
static int http_buildheaders(lua_State *L, http_handle *h, int idx, int has_ct,
                             int has_expect) {
    curl_slist_free_all(h->hdrs);
    h->hdrs = NULL;
    if (!lua_isnoneornil(L, idx)) {
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            size_t klen, vlen;
            const char *k = lua_tolstring(L, -2, &klen);
            const char *v = lua_tolstring(L, -1, &vlen);
            lua_pop(L, 1);
            if (http_addheader(&h->hdrs, k, klen, v, vlen) < 0) {
                lua_pop(L, 1);
                return -1;
            }
        }
    }
    /* No libcurl defaults: a form Content-Type on a POST makes the daemon
    ** refuse it, and "Expect: 100-continue" costs a round trip. */
    if (!has_ct && http_addheader(&h->hdrs, "Content-Type", 12, "", 0) < 0)
        return -1;
    if (!has_expect && http_addheader(&h->hdrs, "Expect", 6, "", 0) < 0)
        return -1;
    return 0;
}

/* Is rc (with libcurl's text) a failure to reach the daemon? */
static int http_isconnerr(CURLcode rc, const char *errbuf, int has_timeout) {
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CLIENTCERT:
        return 1;
    case CURLE_OPERATION_TIMEDOUT:
        /* A transfer timeout says "Operation timed out after ..." */
        return !has_timeout || strncmp(errbuf, "Operation timed out", 19) != 0;
    default:
        return 0;
    }
}

/* {====================================================================
** Plain transport: HTTP/1.1 over the unix socket (or an ssh child),
** without libcurl; the request and the framing are httpcodec.c's
** ===================================================================== */

#define HTTP_READ_STEP 65536
#define HTTP_TIMEOUT (-1000)     /* the deadline passed */

/* Outcomes of one exchange besides success (0). */
enum { HX_RETRY = 1, HX_EMPTY, HX_CUT, HX_MALFORMED, HX_HEADLONG, HX_BODYLONG, HX_TIMEOUT,
       HX_OSERR };

/* Wait for the transport's fd (after EAGAIN). 0, HTTP_TIMEOUT or -errno. */
static int http_wait(dp_transport *t, short events, long long deadline) {
    int r = dp_wait_fd(t->fd, events, deadline);
    return r == 0 ? HTTP_TIMEOUT : r < 0 ? r : 0;
}

/* Send all of b through the transport. 0, HTTP_TIMEOUT or -errno. */
static int http_sendall(dp_transport *t, const http_buf *b, long long deadline) {
    size_t off = 0;
    while (off < b->len) {
        size_t n;
        int err = t->ops->write(t, b->p + off, b->len - off, &n);
        off += n;
        if (err == EAGAIN) {
            int w = http_wait(t, POLLOUT, deadline);
            if (w != 0)
                return w;
        } else if (err != 0) {
            return -err;
        }
    }
    return 0;
}

/* Read once into b (emptied first), waiting when nothing is there. > 0
** bytes read, 0 at EOF, HTTP_TIMEOUT or -errno. */
static long http_recv(dp_transport *t, http_buf *b, long long deadline) {
    b->len = 0;
    if (http_reserve(b, HTTP_READ_STEP, HTTP_READ_STEP) < 0)
        return -ENOMEM;
    for (;;) {
        size_t n;
        int err = t->ops->read(t, b->p, HTTP_READ_STEP, &n);
        if (err == 0)
            return (long)(b->len = n);
        if (err != EAGAIN)
            return -err;
        err = http_wait(t, POLLIN, deadline);
        if (err != 0)
            return err;
    }
}

/* Write the request into h->raw from the validated headers at hidx.
** 0 or -1 (out of memory). Never raises. */
static int http_plainrequest(lua_State *L, http_handle *h, int hidx, const char *method,
                             size_t mlen, const char *path, size_t plen,
                             const char *body, size_t blen) {
    dp_hreq r;
    dp_hreq_write(L, &r, NULL, 0, hidx, method, mlen, path, plen, body, blen);
    http_bufreset(&h->raw);
    if (http_reserve(&h->raw, r.len, SIZE_MAX) < 0)
        return -1;
    dp_hreq_write(L, &r, h->raw.p, r.len, hidx, method, mlen, path, plen, body, blen);
    h->raw.len = r.len;
    return 0;
}

/* The outcome of a decoder's failure. */
static int http_hxerr(const dp_hdec *d, int reused) {
    switch (d->err) {
    case DP_HE_HEADLONG: return HX_HEADLONG;
    case DP_HE_BODYLONG: return HX_BODYLONG;
    case DP_HE_CUT: return HX_CUT;
    case DP_HE_EMPTY: return reused ? HX_RETRY : HX_EMPTY;
    default: return HX_MALFORMED;
    }
}

/* Give the n bytes read (h->in) to the decoder, the body to h->body.
** 0: more to read; 1: the response is complete; or an HX_ outcome. */
static int http_take(http_handle *h, size_t n, int *err) {
    size_t off = 0;
    for (;;) {
        size_t used, dlen;
        const char *data;
        int ev = dp_hdec_feed(&h->dec, h->in.p + off, n - off, &used, &data, &dlen);
        off += used;
        if (ev == DP_HD_DATA && http_append(&h->body, data, dlen, HTTP_BODY_MAX) < 0) {
            *err = ENOMEM;
            return HX_OSERR;
        }
        if (ev == DP_HD_MORE)
            return 0;
        if (ev == DP_HD_ERROR)
            return http_hxerr(&h->dec, 0);
        if (ev == DP_HD_DONE) {
            if (off < n || !h->dec.keep)
                http_dropconn(h);     /* bytes we cannot place: do not reuse */
            return 1;
        }
    }
}

/*
** One exchange on h->tr: send h->raw, decode the response (h->dec, the
** body into h->body). *err gets the errno of HX_OSERR. HX_RETRY: the
** kept-alive connection had been closed by the daemon before any byte of
** the answer (reused connections only).
*/
static int http_exchange(http_handle *h, int reused, int is_head, long long deadline,
                         int *err) {
    long r = http_sendall(&h->tr, &h->raw, deadline);
    if (r == HTTP_TIMEOUT)
        return HX_TIMEOUT;
    if (r < 0) {
        *err = (int)-r;
        if (reused && (r == -EPIPE || r == -ECONNRESET || r == -ECONNABORTED))
            return HX_RETRY;
        return HX_OSERR;
    }
    dp_hdec_init(&h->dec, HTTP_BODY_MAX, is_head);
    http_bufreset(&h->body);
    for (;;) {
        int rc;
        r = http_recv(&h->tr, &h->in, deadline);
        if (r == 0) {
            if (dp_hdec_eof(&h->dec) == DP_HD_ERROR)
                return http_hxerr(&h->dec, reused);
            http_dropconn(h);
            return 0;
        }
        if (r == HTTP_TIMEOUT)
            return HX_TIMEOUT;
        /* ECONNABORTED: an ssh child that ended (ssh.c) */
        if ((r == -ECONNRESET || r == -ECONNABORTED) && reused && h->dec.seen == 0)
            return HX_RETRY;
        if (r < 0) {
            *err = (int)-r;
            return HX_OSERR;
        }
        rc = http_take(h, (size_t)r, err);
        if (rc != 0)
            return rc == 1 ? 0 : rc;
    }
}

/* Is the idle kept-alive socket still usable? Readable means the daemon
** closed it (or sent bytes no request asked for): not usable. */
static int http_idle_ok(int fd) {
    return dp_wait_fd(fd, POLLIN, 0) == 0;
}

/* nil, detail, NAME for an exchange's outcome rc. The sentence around it
** (where, which request) is the caller's (errors.lua). */
static int http_pushfail(lua_State *L, http_handle *h, int rc, int err) {
    switch (rc) {
    case HX_TIMEOUT:
        return dp_push_error(L, "timeout", "timeout");
    case HX_OSERR:
        return dp_push_error(L, strerror(err), dp_errno_name(err));
    case HX_BODYLONG:
        return dp_push_bodylong(L, HTTP_BODY_MAX);
    case HX_HEADLONG:
        return dp_push_headlong(L, DP_HEAD_MAXLEN);
    case HX_MALFORMED:
        return dp_push_error(L, dp_hdec_strerror(&h->dec), "protocol");
    case HX_CUT:
        return dp_push_error(L, "connection closed before the response was complete", "closed");
    default:    /* HX_EMPTY, or HX_RETRY twice */
        return dp_push_error(L, "empty reply from server", "closed");
    }
}

/* nil, the transport's reason and NAME (a failure to reach the daemon). */
static int http_pushunreached(lua_State *L, http_handle *h, const char *why,
                              const char *name) {
    h->unreached = 1;
    luaL_pushfail(L);
    lua_pushstring(L, why);
    lua_pushstring(L, name);
    http_dropconn(h);
    return 3;
}

/* A request over the plain transport; pushes the results of request. */
static int http_plain(lua_State *L, http_handle *h, int is_head, long long deadline) {
    int attempt, rc = HX_RETRY, err = 0;
    for (attempt = 0; attempt < 2 && rc == HX_RETRY; attempt++) {
        dp_transport *t = &h->tr;
        int reused = t->fd >= 0;
        if (reused && !http_idle_ok(t->fd)) {
            http_dropconn(h);
            reused = 0;
        }
        if (t->fd < 0) {
            dp_transport_init(t, &h->ep);
            err = t->ops->connect(t, &h->ep);
            if (err != 0)
                return http_pushunreached(L, h, dp_transport_why(t, err),
                                          dp_transport_errname(t, err));
        }
        rc = http_exchange(h, reused, is_head, deadline, &err);
        if (t->ops->lost != NULL && (rc == HX_EMPTY || rc == HX_CUT || rc == HX_OSERR)) {
            /* the far side ended the stream (an ssh child): say why, in
            ** its own words when it wrote any */
            const char *why = t->ops->lost(t);
            if (why != NULL)
                return http_pushunreached(L, h, why, t->ops->name);
        }
        if (rc != 0)
            http_dropconn(h);
    }
    if (rc != 0)
        return http_pushfail(L, h, rc, err);
    lua_pushinteger(L, h->dec.hd.status);
    dp_head_push(L, &h->dec.hd);
    lua_pushlstring(L, h->body.p ? h->body.p : "", h->body.len);
    return 3;
}

/* }==================================================================== */

/***
Create a handle for REST requests; it connects on the first request. A
unix socket is spoken to directly (no libcurl) unless `transport` is
"libcurl"; TCP and TLS endpoints load libcurl on the first request.
@function http
@tparam table opts the endpoint options of `connect`
@treturn dockerpty.Http
@usage local h = core.http{socket = "/var/run/docker.sock"}
*/
static int http_f_http(lua_State *L) {
    http_handle *h;
    dp_endpoint ep;
    dp_endpoint_check(L, 1, &ep);
    h = (http_handle *)lua_newuserdatauv(L, sizeof *h, 0);
    memset(h, 0, sizeof *h);
    luaL_setmetatable(L, DP_HTTP);
    h->ep = ep;
    dp_transport_init(&h->tr, &h->ep);
    return 1;
}


/* curl_easy_perform; the handle's first one makes libcurl's multi handle,
** whose fds are then made close-on-exec (conn.h). Calls no Lua. */
static CURLcode http_perform(http_handle *h) {
    CURLcode rc;
    dp_fdset *before;
    if (h->sealed)
        return curl_easy_perform(h->curl);
    before = malloc(sizeof *before);
    if (before != NULL)
        dp_fds_note(before);
    rc = curl_easy_perform(h->curl);
    if (before != NULL) {
        dp_fds_seal(before);
        free(before);
        h->sealed = 1;
    }
    return rc;
}
/* The libcurl options of a request; CURLE_OK or the first failure. */
static CURLcode http_curlsetup(http_handle *h, const char *method, size_t mlen, const char *url,
                               const char *body, size_t blen, lua_Integer timeout) {
    CURLcode rc;
#define HTTP_SET(opt, val) \
    do { if (rc == CURLE_OK) rc = curl_easy_setopt(h->curl, opt, val); } while (0)
    rc = dp_endpoint_apply(h->curl, &h->ep);
    HTTP_SET(CURLOPT_ERRORBUFFER, h->errbuf);
    HTTP_SET(CURLOPT_URL, url);
    HTTP_SET(CURLOPT_WRITEFUNCTION, http_onbody);
    HTTP_SET(CURLOPT_WRITEDATA, (void *)h);
    HTTP_SET(CURLOPT_HEADERFUNCTION, http_onheader);
    HTTP_SET(CURLOPT_HEADERDATA, (void *)h);
    HTTP_SET(CURLOPT_HTTPHEADER, h->hdrs);
    if (timeout > 0)
        HTTP_SET(CURLOPT_TIMEOUT_MS, (long)timeout);
    if (mlen == 4 && memcmp(method, "HEAD", 4) == 0 && body == NULL) {
        HTTP_SET(CURLOPT_NOBODY, 1L);
    } else if (mlen == 3 && memcmp(method, "GET", 3) == 0 && body == NULL) {
        HTTP_SET(CURLOPT_HTTPGET, 1L);
    } else {
        if (body != NULL || (mlen == 4 && memcmp(method, "POST", 4) == 0)) {
            HTTP_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
            HTTP_SET(CURLOPT_POSTFIELDS, body ? body : "");
        }
        if (!(mlen == 4 && memcmp(method, "POST", 4) == 0))
            HTTP_SET(CURLOPT_CUSTOMREQUEST, method);
    }
#undef HTTP_SET
    return rc;
}

/* The results of a finished libcurl transfer (rc). */
static int http_curlresult(lua_State *L, http_handle *h, CURLcode rc, int has_timeout) {
    long status = 0;
    dp_head hd;
    if (rc == CURLE_WRITE_ERROR && h->overflow)
        return h->overflow == 1 ? dp_push_bodylong(L, HTTP_BODY_MAX)
                                : dp_push_headlong(L, DP_HEAD_MAXLEN);
    if (rc != CURLE_OK && http_isconnerr(rc, h->errbuf, has_timeout)) {
        h->unreached = 1;
        return dp_push_connerr(L, h->curl, rc, h->errbuf);
    }
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return dp_push_error(L, "timeout", "timeout");
    if (rc != CURLE_OK)
        return dp_push_error(L, h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc),
                             dp_curle_name(rc));
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (h->head.len == 0 || dp_head_parse(h->head.p, h->head.len, &hd) <= 0)
        return dp_push_error(L, "malformed response head", "protocol");
    lua_pushinteger(L, status);
    dp_head_push(L, &hd);
    lua_pushlstring(L, h->body.p ? h->body.p : "", h->body.len);
    return 3;
}

/* A request through libcurl; pushes the results of request. */
static int http_curl(lua_State *L, http_handle *h, const char *method, size_t mlen,
                     const char *path, const char *body, size_t blen, lua_Integer timeout) {
    int has_ct, has_expect;
    const char *url;
    CURLcode rc;
    if (h->curl == NULL) {
        int r = dp_curl_need(L);
        if (r != 0)
            return r;
        h->curl = curl_easy_init();
        if (h->curl == NULL)
            return dp_push_errno(L, "curl_easy_init", ENOMEM);
    }
    dp_http_checkheaders(L, 4, &has_ct, &has_expect);    /* checked: cannot raise */
    url = lua_pushfstring(L, "%s%s", h->ep.socket[0] ? "http://localhost" : h->ep.url, path);
    /* From here on nothing raises until the transfer is over. */
    if (http_buildheaders(L, h, 4, has_ct, has_expect) < 0)
        return dp_push_errno(L, "request headers", ENOMEM);
    curl_easy_reset(h->curl);      /* keeps live connections */
    http_bufreset(&h->body);
    http_bufreset(&h->head);
    h->overflow = 0;
    h->errbuf[0] = '\0';
    rc = http_curlsetup(h, method, mlen, url, body, blen, timeout);
    if (rc == CURLE_OK)
        rc = http_perform(h);
    return http_curlresult(L, h, rc, timeout > 0);
}

/***
Perform one request, reusing a kept-alive connection when there is one.
@function Http:request
@tparam string method "GET", "POST", "HEAD", "DELETE"...
@tparam string path path and query, e.g. "/v1.41/containers/json?all=1"
@tparam[opt] table headers {["Content-Type"] = "application/json"}
@tparam[opt] string body (a POST without one sends Content-Length: 0)
@tparam[opt] integer timeout_ms for the whole request; default: none
@treturn[1] integer status
@treturn[1] table headers (lower-cased names)
@treturn[1] string body
@return[2] nil, message, NAME: why no daemon was reached (then
 `Http:unreached()` is true: "Connection refused", "connection timed
 out" ("timeout"), an ssh child's last stderr line ("ssh"),
 libcurl's connect error), or a detail of the request's failure, without
 the daemon's address: "timeout" ("timeout"), the libcurl error text
 ("CURLE_..."), "malformed response head", "response body larger than N
 bytes" ("protocol"), "empty reply from server" ("closed"), an OS error
 text (an errno name); "cannot load libcurl: <reason>" ("libcurl")
@usage local status, headers, body = h:request("GET", "/_ping")
*/
static int http_m_request(lua_State *L) {
    http_handle *h = http_check(L, 1);
    size_t mlen, plen, blen = 0;
    const char *method = luaL_checklstring(L, 2, &mlen);
    const char *path = luaL_checklstring(L, 3, &plen);
    const char *body = NULL;
    lua_Integer timeout = 0;
    int has_ct, has_expect;
    lua_settop(L, 6);    /* the url string goes to 7 */
    luaL_argcheck(L, dp_http_istoken(method, mlen), 2, "invalid method");
    luaL_argcheck(L, plen > 0 && path[0] == '/' && dp_http_istext(path, plen, 0), 3,
                  "invalid path");
    dp_http_checkheaders(L, 4, &has_ct, &has_expect);
    if (!lua_isnoneornil(L, 5))
        body = luaL_checklstring(L, 5, &blen);
    if (!lua_isnil(L, 6)) {
        timeout = luaL_checkinteger(L, 6);
        luaL_argcheck(L, timeout > 0 && timeout <= LONG_MAX, 6, "timeout must be positive");
    }
    h->unreached = 0;
    if (!h->ep.plain)
        return http_curl(L, h, method, mlen, path, body, blen, timeout);
    if (http_plainrequest(L, h, 4, method, mlen, path, plen, body, blen) < 0)
        return dp_push_errno(L, "request", ENOMEM);
    return http_plain(L, h, mlen == 4 && memcmp(method, "HEAD", 4) == 0,
                      timeout > 0 ? dp_now_ms() + (long long)timeout : -1);
}

/***
Whether the last request failed before reaching a daemon: its connection
could not be made, or an ssh child ended before an answer.
@function Http:unreached
@treturn boolean
@usage if not status and h:unreached() then print("no daemon: " .. msg) end
*/
static int http_m_unreached(lua_State *L) {
    lua_pushboolean(L, http_check(L, 1)->unreached);
    return 1;
}

/***
Close the handle and its kept-alive connections; idempotent. Also __gc and
__close.
@function Http:close
@treturn boolean true
*/
static int http_m_close(lua_State *L) {
    http_release((http_handle *)luaL_checkudata(L, 1, DP_HTTP));
    lua_pushboolean(L, 1);
    return 1;
}

static int http_m_tostring(lua_State *L) {
    http_handle *h = (http_handle *)luaL_checkudata(L, 1, DP_HTTP);
    if (h->closed)
        lua_pushliteral(L, "dockerpty.Http (closed)");
    else
        lua_pushfstring(L, "dockerpty.Http (%p)", (void *)h);
    return 1;
}

int http_open(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__index", NULL},
        {"__gc", http_m_close},
        {"__close", http_m_close},
        {"__tostring", http_m_tostring},
        {NULL, NULL}
    };
    static const luaL_Reg methods[] = {
        {"request", http_m_request},
        {"unreached", http_m_unreached},
        {"close", http_m_close},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"http", http_f_http},
        {NULL, NULL}
    };
    dp_createmeta(L, DP_HTTP, meta, methods);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
