/*
** http.c: dockerpty.Http, ordinary REST requests to the daemon (ping,
** inspect, create, resize, wait...) over one kept-alive connection per
** object. A unix socket is spoken to directly (plain HTTP/1.1 over a
** socket, no libcurl); TCP, TLS and transport "libcurl" use one libcurl easy
** handle. Bodies and heads are collected into C buffers owned by the
** userdata; no Lua code runs inside libcurl.
*/
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "curlapi.h"

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
    int closed;
    CURL *curl;                  /* libcurl: made on the first request */
    int fd;                      /* plain: the kept-alive socket or -1 */
    dp_ssh ssh;                  /* plain over ssh: the child behind fd */
    struct curl_slist *hdrs;     /* libcurl: request headers of the last request */
    http_buf body, head;         /* response body; response head (plain:
                                 ** and the bytes read after it) */
    http_buf raw;                /* plain: the request, then chunked input */
    int overflow;                /* 1: body too large, 2: head too large */
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
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    dp_ssh_close(&h->ssh);
}

static void http_release(http_handle *h) {
    h->closed = 1;
    if (h->curl != NULL)
        curl_easy_cleanup(h->curl);
    h->curl = NULL;
    if (h->hdrs != NULL)
        curl_slist_free_all(h->hdrs);    /* only set once libcurl is loaded */
    h->hdrs = NULL;
    http_dropconn(h);
    http_buffree(&h->body);
    http_buffree(&h->head);
    http_buffree(&h->raw);
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

/* {====================================================================
** Plain transport: HTTP/1.1 over the unix socket, without libcurl
** ===================================================================== */

#define HTTP_READ_STEP 65536
#define HTTP_TIMEOUT (-1000)     /* http_fill: the deadline passed */

/* Chunked transfer coding (RFC 9112 7.1): states of the decoder. */
enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

typedef struct http_chunk {
    int st;
    size_t left;       /* bytes of the current chunk still to come */
} http_chunk;

/*
** Decode the complete parts of raw[0..len) into out. Returns the bytes
** consumed (a line split across reads waits for the rest), -1 when the
** coding is malformed, -2 when the body passes HTTP_BODY_MAX.
*/
static long http_unchunk(http_chunk *c, const char *raw, size_t len, http_buf *out) {
    size_t pos = 0;
    while (pos < len && c->st != CH_DONE) {
        const char *line, *nl;
        size_t ll;
        if (c->st == CH_DATA) {
            size_t k = len - pos < c->left ? len - pos : c->left;
            if (http_append(out, raw + pos, k, HTTP_BODY_MAX) < 0)
                return -2;
            pos += k;
            c->left -= k;
            if (c->left == 0)
                c->st = CH_DATA_END;
            continue;
        }
        line = raw + pos;
        nl = memchr(line, '\n', len - pos);
        if (nl == NULL)
            return len - pos > 4096 ? -1 : (long)pos;    /* a line that long is garbage */
        ll = (size_t)(nl - line);
        pos += ll + 1;
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (c->st == CH_SIZE) {
            size_t i = 0, size = 0;
            for (; i < ll; i++) {
                int ch = line[i], d;
                if (ch >= '0' && ch <= '9')
                    d = ch - '0';
                else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
                    d = (ch | 0x20) - 'a' + 10;
                else
                    break;
                if (size > HTTP_BODY_MAX)
                    return -2;
                size = size * 16 + (size_t)d;
            }
            if (i == 0 || (i < ll && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
                return -1;
            if (size > HTTP_BODY_MAX - out->len)
                return -2;
            c->left = size;
            c->st = size == 0 ? CH_TRAILER : CH_DATA;
        } else if (c->st == CH_DATA_END) {
            if (ll != 0)
                return -1;
            c->st = CH_SIZE;
        } else if (ll == 0) {      /* CH_TRAILER: fields until a blank line */
            c->st = CH_DONE;
        }
    }
    return (long)pos;
}

/* dp_wait_fd with the timeout as HTTP_TIMEOUT. */
static int http_wait(int fd, short events, long long deadline) {
    int r = dp_wait_fd(fd, events, deadline);
    return r == 0 ? HTTP_TIMEOUT : r;
}

/* Send all of b. 0, HTTP_TIMEOUT or -errno. */
static int http_sendall(int fd, const http_buf *b, long long deadline) {
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = send(fd, b->p + off, b->len - off, MSG_NOSIGNAL);
        if (n >= 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        n = http_wait(fd, POLLOUT, deadline);
        if (n < 0)
            return (int)n;
    }
    return 0;
}

/* Read once (waiting first when nothing is there) and append to b, at most
** limit bytes in all. > 0 bytes read, 0 at EOF, HTTP_TIMEOUT, -EMSGSIZE past
** the limit, or -errno. */
static long http_fill(int fd, http_buf *b, size_t limit, long long deadline) {
    for (;;) {
        size_t want = HTTP_READ_STEP;
        ssize_t n;
        if (b->len >= limit)
            return -EMSGSIZE;
        if (want > limit - b->len)
            want = limit - b->len;
        if (http_reserve(b, want, limit) < 0)
            return -ENOMEM;
        n = recv(fd, b->p + b->len, want, 0);
        if (n >= 0) {
            b->len += (size_t)n;
            return (long)n;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        n = http_wait(fd, POLLIN, deadline);
        if (n < 0)
            return (long)n;
    }
}

/* Build the request text into h->raw from the validated headers at hidx.
** 0 or -1 (out of memory). Never raises. */
static int http_plainrequest(lua_State *L, http_handle *h, int hidx, const char *method,
                             size_t mlen, const char *path, size_t plen,
                             const char *body, size_t blen) {
    http_buf *b = &h->raw;
    int has_host = 0, fail = 0;
    char num[32];
    http_bufreset(b);
    fail |= http_append(b, method, mlen, SIZE_MAX);
    fail |= http_append(b, " ", 1, SIZE_MAX);
    fail |= http_append(b, path, plen, SIZE_MAX);
    fail |= http_append(b, " HTTP/1.1\r\n", 11, SIZE_MAX);
    if (!lua_isnoneornil(L, hidx)) {
        lua_pushnil(L);
        while (lua_next(L, hidx) != 0) {
            size_t klen, vlen;
            const char *k = lua_tolstring(L, -2, &klen);
            const char *v = lua_tolstring(L, -1, &vlen);
            lua_pop(L, 1);
            /* An empty value leaves the header out, as with libcurl; the
            ** length is ours to say. */
            if (vlen == 0 || (klen == 14 && strncasecmp(k, "content-length", 14) == 0))
                continue;
            if (klen == 4 && strncasecmp(k, "host", 4) == 0)
                has_host = 1;
            fail |= http_append(b, k, klen, SIZE_MAX);
            fail |= http_append(b, ": ", 2, SIZE_MAX);
            fail |= http_append(b, v, vlen, SIZE_MAX);
            fail |= http_append(b, "\r\n", 2, SIZE_MAX);
        }
    }
    if (!has_host)
        fail |= http_append(b, "Host: docker\r\n", 14, SIZE_MAX);
    if (body != NULL || (mlen == 4 && memcmp(method, "POST", 4) == 0) ||
        (mlen == 3 && memcmp(method, "PUT", 3) == 0)) {
        int k = snprintf(num, sizeof num, "Content-Length: %zu\r\n", blen);
        fail |= http_append(b, num, (size_t)k, SIZE_MAX);
    }
    fail |= http_append(b, "\r\n", 2, SIZE_MAX);
    if (body != NULL)
        fail |= http_append(b, body, blen, SIZE_MAX);
    return fail;
}

/* Does the comma-separated header value hold token (any case)? */
static int http_hastoken(const dp_header *f, const char *token) {
    size_t tl = strlen(token), i = 0;
    if (f == NULL)
        return 0;
    while (i < f->value_len) {
        size_t j = i;
        while (j < f->value_len && f->value[j] != ',')
            j++;
        {
            size_t a = i, e = j;
            while (a < e && (f->value[a] == ' ' || f->value[a] == '\t'))
                a++;
            while (e > a && (f->value[e - 1] == ' ' || f->value[e - 1] == '\t'))
                e--;
            if (e - a == tl && strncasecmp(f->value + a, token, tl) == 0)
                return 1;
        }
        i = j + 1;
    }
    return 0;
}

/* Outcomes of one exchange besides success (0). */
enum { HX_RETRY = 1, HX_EMPTY, HX_CUT, HX_MALFORMED, HX_HEADLONG, HX_BODYLONG, HX_TIMEOUT,
       HX_OSERR };

/*
** One exchange on h->fd: send h->raw, read the response into h->head (the
** head, parsed into *hd) and h->body. *err gets the errno of HX_OSERR.
** HX_RETRY: the kept-alive connection had been closed by the daemon before
** any byte of the answer (reused connections only).
*/
static int http_exchange(http_handle *h, int reused, int is_head, long long deadline,
                         dp_head *hd, int *err) {
    long r, hlen;
    const dp_header *f;
    size_t extra;
    int keep = 1, chunked;
    unsigned long long clen = 0;
    int has_clen;
    r = http_sendall(h->fd, &h->raw, deadline);
    if (r == HTTP_TIMEOUT)
        return HX_TIMEOUT;
    if (r < 0) {
        if (reused && (r == -EPIPE || r == -ECONNRESET))
            return HX_RETRY;
        *err = (int)-r;
        return HX_OSERR;
    }
    http_bufreset(&h->head);
    http_bufreset(&h->body);
    /* The head; 1xx answers (100 Continue) are skipped. */
    for (;;) {
        hlen = h->head.len ? dp_head_parse(h->head.p, h->head.len, hd) : 0;
        if (hlen < 0)
            return h->head.len >= DP_HEAD_MAXLEN ? HX_HEADLONG : HX_MALFORMED;
        if (hlen > 0 && hd->status >= 100 && hd->status < 200 && hd->status != 101) {
            memmove(h->head.p, h->head.p + hlen, h->head.len - (size_t)hlen);
            h->head.len -= (size_t)hlen;
            continue;
        }
        if (hlen > 0)
            break;
        r = http_fill(h->fd, &h->head, DP_HEAD_MAXLEN + HTTP_READ_STEP, deadline);
        if (r == 0 && h->head.len == 0)
            return reused ? HX_RETRY : HX_EMPTY;
        if (r == 0)
            return HX_CUT;
        if (r == HTTP_TIMEOUT)
            return HX_TIMEOUT;
        if (r == -ECONNRESET && reused && h->head.len == 0)
            return HX_RETRY;
        if (r < 0) {
            *err = (int)-r;
            return HX_OSERR;
        }
    }
    /* The body: none, Content-Length, chunked, or up to EOF. */
    extra = h->head.len - (size_t)hlen;
    if (hd->minor == 0 || http_hastoken(dp_head_find(hd, "connection"), "close"))
        keep = 0;
    chunked = http_hastoken(dp_head_find(hd, "transfer-encoding"), "chunked");
    f = dp_head_find(hd, "content-length");
    has_clen = f != NULL && !chunked;
    if (has_clen) {
        size_t i;
        if (f->value_len == 0 || f->value_len > 18)
            return HX_MALFORMED;
        for (i = 0; i < f->value_len; i++) {
            if (f->value[i] < '0' || f->value[i] > '9')
                return HX_MALFORMED;
            clen = clen * 10 + (unsigned long long)(f->value[i] - '0');
        }
    }
    if (is_head || hd->status == 204 || hd->status == 304 || hd->status < 200) {
        if (extra > 0)
            keep = 0;      /* bytes we cannot place: do not reuse */
    } else if (chunked) {
        http_chunk ch = {CH_SIZE, 0};
        http_bufreset(&h->raw);
        if (http_append(&h->raw, h->head.p + hlen, extra, SIZE_MAX) < 0) {
            *err = ENOMEM;
            return HX_OSERR;
        }
        for (;;) {
            long used = http_unchunk(&ch, h->raw.p, h->raw.len, &h->body);
            if (used == -1)
                return HX_MALFORMED;
            if (used == -2)
                return HX_BODYLONG;
            memmove(h->raw.p, h->raw.p + used, h->raw.len - (size_t)used);
            h->raw.len -= (size_t)used;
            if (ch.st == CH_DONE)
                break;
            r = http_fill(h->fd, &h->raw, h->raw.len + HTTP_READ_STEP, deadline);
            if (r == 0)
                return HX_CUT;
            if (r == HTTP_TIMEOUT)
                return HX_TIMEOUT;
            if (r < 0) {
                *err = (int)-r;
                return HX_OSERR;
            }
        }
        if (h->raw.len > 0)
            keep = 0;
    } else if (has_clen) {
        if (clen > HTTP_BODY_MAX)
            return HX_BODYLONG;
        if (http_append(&h->body, h->head.p + hlen, extra < clen ? extra : (size_t)clen,
                        HTTP_BODY_MAX) < 0) {
            *err = ENOMEM;
            return HX_OSERR;
        }
        if (extra > clen)
            keep = 0;
        while (h->body.len < clen) {
            r = http_fill(h->fd, &h->body, (size_t)clen, deadline);
            if (r == 0)
                return HX_CUT;
            if (r == HTTP_TIMEOUT)
                return HX_TIMEOUT;
            if (r < 0) {
                *err = (int)-r;
                return HX_OSERR;
            }
        }
    } else {
        keep = 0;
        if (http_append(&h->body, h->head.p + hlen, extra, HTTP_BODY_MAX) < 0)
            return HX_BODYLONG;
        for (;;) {
            r = http_fill(h->fd, &h->body, HTTP_BODY_MAX, deadline);
            if (r == 0)
                break;
            if (r == -EMSGSIZE)
                return HX_BODYLONG;
            if (r == HTTP_TIMEOUT)
                return HX_TIMEOUT;
            if (r < 0) {
                *err = (int)-r;
                return HX_OSERR;
            }
        }
    }
    if (!keep)
        http_dropconn(h);
    h->head.len = (size_t)hlen;
    return 0;
}

/* Is the idle kept-alive socket still usable? Readable means the daemon
** closed it (or sent bytes no request asked for): not usable. */
static int http_idle_ok(int fd) {
    return dp_wait_fd(fd, POLLIN, 0) == 0;
}

/* A request over the plain transport; pushes the results of request. */
static int http_plain(lua_State *L, http_handle *h, const char *method, size_t mlen,
                      const char *path, int has_timeout, lua_Integer timeout) {
    long long deadline = has_timeout ? dp_now_ms() + (long long)timeout : -1;
    int is_head = mlen == 4 && memcmp(method, "HEAD", 4) == 0;
    int attempt, rc = HX_RETRY, err = 0;
    dp_head hd;
    for (attempt = 0; attempt < 2 && rc == HX_RETRY; attempt++) {
        int reused = h->fd >= 0;
        if (reused && !http_idle_ok(h->fd)) {
            http_dropconn(h);
            reused = 0;
        }
        if (h->fd < 0) {
            err = dp_plain_connect(&h->ep, &h->fd, &h->ssh);
            if (err != 0)
                return dp_push_unixerr(L, &h->ep, err);
        }
        rc = http_exchange(h, reused, is_head, deadline, &hd, &err);
        if (h->ssh.spawned && (rc == HX_EMPTY || rc == HX_CUT || rc == HX_OSERR)) {
            /* the child ended: say why (its last stderr line) */
            int r = dp_push_ssherr(L, h->ep.where, &h->ssh);
            http_dropconn(h);
            return r;
        }
        if (rc != 0)
            http_dropconn(h);
    }
    switch (rc) {
    case 0:
        lua_pushinteger(L, hd.status);
        dp_head_push(L, &hd);
        lua_pushlstring(L, h->body.p ? h->body.p : "", h->body.len);
        return 3;
    case HX_TIMEOUT:
        luaL_pushfail(L);
        lua_pushfstring(L, "timeout after %I ms: %s %s on %s", timeout, method, path,
                        h->ep.where);
        lua_pushliteral(L, "timeout");
        return 3;
    case HX_OSERR:
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", h->ep.where, strerror(err));
        lua_pushstring(L, dp_errno_name(err));
        lua_pushinteger(L, err);
        return 4;
    case HX_BODYLONG:
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: response body larger than %d bytes", h->ep.where,
                        HTTP_BODY_MAX);
        lua_pushliteral(L, "protocol");
        return 3;
    case HX_HEADLONG:
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: response head longer than %d bytes", h->ep.where,
                        DP_HEAD_MAXLEN);
        lua_pushliteral(L, "protocol");
        return 3;
    case HX_MALFORMED:
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: malformed response", h->ep.where);
        lua_pushliteral(L, "protocol");
        return 3;
    case HX_CUT:
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: connection closed before the response was complete",
                        h->ep.where);
        lua_pushliteral(L, "closed");
        return 3;
    default:    /* HX_EMPTY, or HX_RETRY twice */
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: empty reply from server", h->ep.where);
        lua_pushliteral(L, "closed");
        return 3;
    }
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
    h->fd = -1;
    dp_ssh_init(&h->ssh);
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
 with libcurl; nil, "<where>: <reason>", "protocol", "closed" or an errno
 name (with the errno) on a plain socket
@return[5] nil, "cannot load libcurl: <reason>", "libcurl"
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
    if (h->ep.plain) {
        if (http_plainrequest(L, h, 4, method, mlen, path, plen, body, blen) < 0)
            return dp_push_errno(L, "request", ENOMEM);
        return http_plain(L, h, method, mlen, path, has_timeout, timeout);
    }
    if (h->curl == NULL) {
        int r = dp_curl_need(L);
        if (r != 0)
            return r;
        h->curl = curl_easy_init();
        if (h->curl == NULL)
            return dp_push_errno(L, "curl_easy_init", ENOMEM);
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
URL-encode a string for a query value: every byte but the unreserved
ones of RFC 3986 (letters, digits, "-._~") becomes %XX, as
curl_easy_escape does.
@function Http:escape
@tparam string s
@treturn string
@usage local q = "?filters=" .. h:escape('{"name":["x"]}')
*/
static int http_m_escape(lua_State *L) {
    static const char hex[] = "0123456789ABCDEF";
    size_t len, i, o = 0;
    const char *s;
    luaL_Buffer b;
    char *dst;
    http_check(L, 1);
    s = luaL_checklstring(L, 2, &len);
    luaL_argcheck(L, len <= ((size_t)-1) / 3 - 1, 2, "string too long");
    dst = luaL_buffinitsize(L, &b, len * 3 + 1);
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            dst[o++] = (char)ch;
        } else {
            dst[o++] = '%';
            dst[o++] = hex[ch >> 4];
            dst[o++] = hex[ch & 15];
        }
    }
    luaL_pushresultsize(&b, o);
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
