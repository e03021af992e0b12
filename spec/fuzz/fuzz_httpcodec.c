/*
** fuzz_httpcodec.c: libFuzzer target F7: the response decoder of the
** HTTP/1.1 codec (src/httpcodec.c) that frames the bodies of the plain
** transport and of the session engine's requests.
**
** Input: byte 0: flags (bit 0: the answer to a HEAD request; bit 1: a
** small body limit of 64 bytes; bit 2: EOF after the input); byte 1: k,
** then k chunk sizes (as fuzz_demux.c: b + 1 bytes each, in turn; 255:
** the rest); then the bytes read from the connection.
**
** Checked against the same input fed whole: the outcome (done, failed and
** the error, or needing more) and the head's status and field count do
** not depend on how the input is split, nor, unless it failed, do the body
** and the bytes taken; every body
** piece lies inside the chunk fed; the body never passes the limit; a
** Content-Length body is exactly that long; once done or failed the
** decoder stays so and takes nothing more; the bytes taken never pass the
** input. Each chunk is an exact-size allocation.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpcodec.h"

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz_httpcodec: check failed at line %d: %s\n", __LINE__, #c); \
    abort(); } } while (0)

typedef struct outcome {
    int ev;                 /* last event: DP_HD_MORE, DONE or ERROR */
    int err;
    int status;
    size_t nheaders, taken;
    char *body;
    size_t blen;
} outcome;

/* Feed chunk p[0..n) (an exact allocation); 1 once done or failed. */
static int feed(dp_hdec *d, const char *p, size_t n, outcome *o) {
    size_t off = 0;
    for (;;) {
        size_t used, dlen;
        const char *data;
        int ev = dp_hdec_feed(d, p + off, n - off, &used, &data, &dlen);
        CHECK(used <= n - off);
        off += used;
        if (ev == DP_HD_DATA) {
            CHECK(dlen > 0 && data >= p && data + dlen <= p + n);
            CHECK(o->blen + dlen <= d->max);
            memcpy(o->body + o->blen, data, dlen);
            o->blen += dlen;
            continue;
        }
        if (ev == DP_HD_HEAD) {
            CHECK(d->have_head && (d->hd.status >= 200 || d->hd.status == 101));
            o->status = d->hd.status;
            o->nheaders = d->hd.nheaders;
            continue;
        }
        o->taken += off;
        o->ev = ev;
        if (ev == DP_HD_MORE) {
            CHECK(off == n);
            return 0;
        }
        o->err = d->err;
        /* sticky: nothing more is taken */
        CHECK(dp_hdec_feed(d, p, n, &used, &data, &dlen) == ev && used == 0);
        return 1;
    }
}

static void run(const uint8_t *in, size_t len, const uint8_t *sizes, size_t k, int flags,
                outcome *o) {
    dp_hdec *d = malloc(sizeof *d);
    size_t pos = 0, i = 0;
    CHECK(d != NULL);
    memset(o, 0, sizeof *o);
    o->body = malloc(len + 1);
    CHECK(o->body != NULL);
    dp_hdec_init(d, flags & 2 ? 64 : 0, flags & 1);
    o->ev = DP_HD_MORE;
    while (pos < len) {
        size_t n = len - pos;
        char *chunk;
        int stop;
        if (k > 0 && sizes[i % k] != 255 && (size_t)sizes[i % k] + 1 < n)
            n = (size_t)sizes[i % k] + 1;
        i++;
        chunk = malloc(n);
        CHECK(chunk != NULL);
        memcpy(chunk, in + pos, n);
        stop = feed(d, chunk, n, o);
        free(chunk);
        pos += n;
        if (stop)
            break;
    }
    if ((flags & 4) && o->ev == DP_HD_MORE) {
        o->ev = dp_hdec_eof(d);
        CHECK(o->ev == DP_HD_DONE || o->ev == DP_HD_ERROR);
        o->err = d->err;
        if (o->ev == DP_HD_ERROR && o->taken == 0)
            CHECK(d->err == DP_HE_EMPTY);
    }
    if (o->ev == DP_HD_DONE && o->status != 0) {
        const dp_header *cl = dp_head_find(&d->hd, "content-length");
        if (cl != NULL && dp_head_find(&d->hd, "transfer-encoding") == NULL && !(flags & 1) &&
            o->status != 204 && o->status != 304 && o->status != 101)
            CHECK(o->blen == strtoull(cl->value, NULL, 10));
    }
    CHECK(o->taken <= len);
    free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    outcome a, b;
    int flags;
    size_t k;
    if (size < 2)
        return 0;
    flags = data[0];
    k = data[1] % 16;
    if (size < 2 + k)
        return 0;
    run(data + 2 + k, size - 2 - k, data + 2, k, flags, &a);
    run(data + 2 + k, size - 2 - k, NULL, 0, flags, &b);
    CHECK(a.ev == b.ev && a.err == b.err && a.status == b.status);
    CHECK(a.nheaders == b.nheaders);
    if (a.ev != DP_HD_ERROR) {
        CHECK(a.taken == b.taken && a.blen == b.blen);
        CHECK(memcmp(a.body, b.body, a.blen) == 0);
    }
    free(a.body);
    free(b.body);
    return 0;
}
