/*
** http.c: dockerpty.Http, ordinary REST requests to the daemon (ping,
** inspect, create, resize, wait...) through one libcurl easy handle per
** object, so keep-alive connections are reused between requests. Bodies and
** heads are collected by libcurl callbacks into C buffers owned by the
** userdata; no Lua code runs inside libcurl.
*/
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include <curl/curl.h>

#include "dockerpty.h"
#include "util.h"
#include "httphead.h"
#include "conn.h"


#define HTTP_BODY_MAX (64 * 1024 * 1024)   /* larger bodies fail: protocol */
#define HTTP_KEEP_CAP (256 * 1024)         /* buffers above this are freed */

typedef struct http_buf {
    char *p;
    size_t len, cap;
} http_buf;

typedef struct http_handle {
    CURL *curl;                  /* NULL once closed */
    struct curl_slist *hdrs;     /* request headers of the last request */
    http_buf body, head;         /* response body; header lines */
    int overflow;                /* 1: body too large, 2: head too large */
    dp_endpoint ep;
    char errbuf[CURL_ERROR_SIZE];
} http_handle;

/* Append n bytes; 0, or -1 past limit or out of memory. */
static int http_append(http_buf *b, const char *p, size_t n, size_t limit) {
    if (n > limit - b->len)
        return -1;
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
    if (dp_unlikely(h->curl == NULL))
        luaL_error(L, "attempt to use a closed http handle");
    return h;
}

static void http_release(http_handle *h) {
    if (h->curl != NULL)
        curl_easy_cleanup(h->curl);
    h->curl = NULL;
    curl_slist_free_all(h->hdrs);
    h->hdrs = NULL;
    http_buffree(&h->body);
    http_buffree(&h->head);
}

/* A token (method, header name): RFC 9110 tchar, non-empty. */
static int http_istoken(const char *s, size_t len) {
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

/* No control bytes (CR, LF, NUL...) except tab. */
static int http_istext(const char *s, size_t len, int allow_space) {
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f || (!allow_space && (ch == ' ' || ch == '\t')))
            return 0;
    }
    return 1;
}

/* Validate the headers table at idx (nil allowed); sets *has_ct and
** *has_expect. Raises on misuse. */
static void http_checkheaders(lua_State *L, int idx, int *has_ct, int *has_expect) {
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
        if (!http_istoken(k, klen))
            luaL_argerror(L, idx, lua_pushfstring(L, "invalid header name '%s'", k));
        if (!http_istext(v, vlen, 1))
            luaL_argerror(L, idx, lua_pushfstring(L, "invalid value for header '%s'", k));
        if (klen == 12 && strncasecmp(k, "content-type", 12) == 0)
            *has_ct = 1;
        if (klen == 6 && strncasecmp(k, "expect", 6) == 0)
            *has_expect = 1;
        lua_pop(L, 1);
    }
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

/***
Create a handle for REST requests; it connects on the first request.
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
    h->curl = curl_easy_init();
    if (h->curl == NULL)
        return luaL_error(L, "curl_easy_init failed");
    return 1;
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
@return[2] nil, "cannot connect to the Docker daemon at <where>: <reason>",
 name [, errno]
@return[3] nil, "timeout after N ms: ...", "timeout"
@return[4] nil, "<where>: <libcurl error text>", "CURLE_..." (or "protocol")
@usage local status, headers, body = h:request("GET", "/_ping")
*/
static int http_m_request(lua_State *L) {
    http_handle *h = http_check(L, 1);
    size_t mlen, plen, blen = 0;
    const char *method = luaL_checklstring(L, 2, &mlen);
    const char *path = luaL_checklstring(L, 3, &plen);
    const char *body = NULL, *url;
    lua_Integer timeout = 0;
    int has_ct, has_expect, has_timeout;
    CURLcode rc = CURLE_OK;
    long status = 0;
    dp_head hd;
    lua_settop(L, 6);    /* the url string goes to 7 */
    luaL_argcheck(L, http_istoken(method, mlen), 2, "invalid method");
    luaL_argcheck(L, plen > 0 && path[0] == '/' && http_istext(path, plen, 0), 3,
                  "invalid path");
    http_checkheaders(L, 4, &has_ct, &has_expect);
    if (!lua_isnoneornil(L, 5))
        body = luaL_checklstring(L, 5, &blen);
    has_timeout = !lua_isnil(L, 6);
    if (has_timeout) {
        timeout = luaL_checkinteger(L, 6);
        luaL_argcheck(L, timeout > 0 && timeout <= LONG_MAX, 6, "timeout must be positive");
    }
    url = lua_pushfstring(L, "%s%s", h->ep.socket[0] ? "http://localhost" : h->ep.url, path);

    /* From here on nothing raises until the transfer is over. */
    if (http_buildheaders(L, h, 4, has_ct, has_expect) < 0)
        return dp_push_errno(L, "request headers", ENOMEM);
    curl_easy_reset(h->curl);      /* keeps live connections */
    http_bufreset(&h->body);
    http_bufreset(&h->head);
    h->overflow = 0;
    h->errbuf[0] = '\0';
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
    if (has_timeout)
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
    if (rc == CURLE_OK)
        rc = curl_easy_perform(h->curl);

    if (rc == CURLE_WRITE_ERROR && h->overflow) {
        luaL_pushfail(L);
        if (h->overflow == 1)
            lua_pushfstring(L, "%s: response body larger than %d bytes", h->ep.where,
                            HTTP_BODY_MAX);
        else
            lua_pushfstring(L, "%s: response head longer than %d bytes", h->ep.where,
                            DP_HEAD_MAXLEN);
        lua_pushliteral(L, "protocol");
        return 3;
    }
    if (rc != CURLE_OK && http_isconnerr(rc, h->errbuf, has_timeout))
        return dp_push_connerr(L, h->ep.where, h->curl, rc, h->errbuf);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        luaL_pushfail(L);
        lua_pushfstring(L, "timeout after %I ms: %s %s on %s", timeout, method, path,
                        h->ep.where);
        lua_pushliteral(L, "timeout");
        return 3;
    }
    if (rc != CURLE_OK) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", h->ep.where,
                        h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
        lua_pushstring(L, dp_curle_name(rc));
        return 3;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (h->head.len == 0 || dp_head_parse(h->head.p, h->head.len, &hd) <= 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: malformed response head", h->ep.where);
        lua_pushliteral(L, "protocol");
        return 3;
    }
    lua_pushinteger(L, status);
    dp_head_push(L, &hd);
    lua_pushlstring(L, h->body.p ? h->body.p : "", h->body.len);
    return 3;
}

/***
URL-encode a string for a query value (curl_easy_escape).
@function Http:escape
@tparam string s
@treturn string
@usage local q = "?filters=" .. h:escape('{"name":["x"]}')
*/
static int http_m_escape(lua_State *L) {
    http_handle *h = http_check(L, 1);
    size_t len, elen;
    const char *s = luaL_checklstring(L, 2, &len);
    luaL_Buffer b;
    char *dst, *e;
    luaL_argcheck(L, len <= INT_MAX / 3, 2, "string too long");
    /* Reserve first, so nothing raises while libcurl's string is held. */
    dst = luaL_buffinitsize(L, &b, len * 3 + 1);
    e = curl_easy_escape(h->curl, s, (int)len);
    if (e == NULL)
        return dp_push_errno(L, "curl_easy_escape", ENOMEM);
    elen = strlen(e);
    memcpy(dst, e, elen);
    curl_free(e);
    luaL_pushresultsize(&b, elen);
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
    if (h->curl == NULL)
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
        {"escape", http_m_escape},
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
