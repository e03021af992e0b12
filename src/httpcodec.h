/*
** httpcodec.h: the one HTTP/1.1 codec of the core, free of I/O. The
** encoder writes a request (request line, validated header fields, the
** Host and Content-Length the core decides, the body) into a caller's
** buffer; the decoder takes the bytes of a response as they arrive, in
** pieces of any size, and gives back its head (httphead.h) and its body
** framed by Content-Length, the chunked coding or the connection's end.
** Every transport that frames a body itself (the plain unix socket and
** ssh path of http.c, the session engine's requests through the Lua
** class dockerpty.HttpDecoder) uses it; libcurl frames its own.
*/
#ifndef DP_HTTPCODEC_H
#define DP_HTTPCODEC_H

#include <stddef.h>
#include "httphead.h"

#pragma GCC visibility push(hidden)

#define DP_HTTP_BODY_MAX (64 * 1024 * 1024)  /* default limit of a body */
#define DP_HTTP_HOST "api.moby.localhost"    /* Host unless one is given */
#define DP_HTTP_LINEMAX 4096    /* longest chunk-size line, trailer field */

/* {====================================================================
** Encoder
** ===================================================================== */

/* A token (method, header name): RFC 9110 tchar, non-empty. */
int dp_http_istoken(const char *s, size_t len);

/* No control byte but tab; with !allow_space no space or tab either. */
int dp_http_istext(const char *s, size_t len, int allow_space);

/* A request being written into p[0..cap). len counts every byte, also
** those past cap (as snprintf does): write once with cap 0 to learn the
** size, then again into a buffer of that size. */
typedef struct dp_hreq {
    char *p;
    size_t len, cap;
    int has_host;
} dp_hreq;

/* The request line. method must be a token, path start with '/' and hold
** no space or control byte (the caller checks: dp_http_istoken/istext). */
void dp_hreq_start(dp_hreq *r, char *buf, size_t cap, const char *method, size_t mlen,
                   const char *path, size_t plen);

/* One header field. 0; -1 the name is not a token, -2 the value holds a
** control byte. A field with an empty value is left out, and so is a
** Content-Length (the encoder writes its own). */
int dp_hreq_header(dp_hreq *r, const char *k, size_t klen, const char *v, size_t vlen);

/* Host (DP_HTTP_HOST unless given), Content-Length when there is a body
** or the method is POST or PUT, the blank line, the body (may be NULL). */
void dp_hreq_end(dp_hreq *r, const char *method, size_t mlen, const char *body,
                 size_t blen);

/* }====================================================================
** Decoder
** ===================================================================== */

/* What dp_hdec_feed found. */
enum {
    DP_HD_MORE,     /* every byte taken: feed more */
    DP_HD_HEAD,     /* the head is complete: d->hd */
    DP_HD_DATA,     /* a piece of the body: *data, *dlen (inside the input) */
    DP_HD_DONE,     /* the response is complete; the bytes from *used on
                    ** are not part of it */
    DP_HD_ERROR     /* d->err; sticky */
};

/* d->err */
enum {
    DP_HE_MALFORMED = 1,   /* head, Content-Length or chunked coding */
    DP_HE_HEADLONG,        /* head longer than DP_HEAD_MAXLEN */
    DP_HE_BODYLONG,        /* body larger than the limit */
    DP_HE_CUT,             /* EOF inside the response */
    DP_HE_EMPTY            /* EOF before any byte */
};

typedef struct dp_hdec {
    int st;                    /* decoder state (httpcodec.c) */
    int err;
    const char *why;           /* text of err */
    int no_body;               /* the answer to a HEAD request */
    int keep;                  /* the connection may carry another request */
    int have_head;             /* hd holds the head this decoder parsed */
    size_t max;                /* body limit */
    size_t body;               /* body bytes given out so far */
    size_t seen;               /* bytes taken so far */
    unsigned long long left;   /* bytes of the body or chunk still to come */
    size_t line;               /* bytes of the current chunk or trailer line */
    size_t trailer;            /* bytes of the trailer section */
    size_t hlen;               /* bytes in head[] */
    dp_head hd;                /* valid after DP_HD_HEAD; points into head[] */
    char head[DP_HEAD_MAXLEN];
} dp_hdec;

/* A decoder for one response; max: body limit (0: DP_HTTP_BODY_MAX). */
void dp_hdec_init(dp_hdec *d, size_t max, int no_body);

/*
** Take bytes from p[0..n): *used gets the number taken (also on
** DP_HD_HEAD, DP_HD_DATA). Call again with the rest after anything but
** DP_HD_MORE, DP_HD_DONE and DP_HD_ERROR; n may be 0.
*/
int dp_hdec_feed(dp_hdec *d, const char *p, size_t n, size_t *used, const char **data,
                 size_t *dlen);

/* The connection ended: DP_HD_DONE (a body up to EOF) or DP_HD_ERROR. */
int dp_hdec_eof(dp_hdec *d);

/* Start at the body of a response whose head was read elsewhere: its
** status, HTTP/1.<minor>, and its Transfer-Encoding, Content-Length and
** Connection values (NULL when absent). DP_HD_MORE, DP_HD_DONE (no body)
** or DP_HD_ERROR. */
int dp_hdec_frame(dp_hdec *d, int status, int minor, const dp_header *te,
                  const dp_header *cl, const dp_header *conn);

/* Lua: validate the header table at idx (nil allowed: no headers) as
** bad arguments; *has_ct, *has_expect: a Content-Type, an Expect field. */
void dp_http_checkheaders(lua_State *L, int idx, int *has_ct, int *has_expect);

/* Write the request with the header table at hidx, checked by
** dp_http_checkheaders, into r (dp_hreq_start to dp_hreq_end). Never
** raises: the table holds only strings. */
void dp_hreq_write(lua_State *L, dp_hreq *r, char *buf, size_t cap, int hidx,
                   const char *method, size_t mlen, const char *path, size_t plen,
                   const char *body, size_t blen);

/* The text of d->err ("malformed chunk size"...); d->why. */
#define dp_hdec_strerror(d) ((d)->why)

#pragma GCC visibility pop

#endif
