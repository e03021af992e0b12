/*
** fuzz_demux.c: libFuzzer target F1 (spec/fuzz/README.md): the incremental demuxer (src/demux.c) fed in fuzzer-chosen
** chunks, checked against a plain whole-stream reference decoder.
**
** Input: byte 0 gives k = byte0 % 16 chunk sizes, the next k bytes are the
** sizes (b + 1, used in turn; 0xff means "the rest"), the remaining bytes
** are the stream. k == 0 feeds the stream in one piece. The same layout is
** replayed through the Lua API by spec/fuzz_regress_spec.lua.
**
** Checked: every piece is non-empty, stream 1 or 2 and points into the
** chunk being fed (zero copy: nothing is buffered, so the decoder's only
** memory is its fixed struct); stdout and stderr equal the reference's;
** the sticky error (kind and text) and the EOF state equal the reference's;
** after an error nothing more is consumed. Each chunk is its own exact-size
** allocation so ASan sees any read past it.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demux.h"

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz_demux: check failed at line %d: %s\n", __LINE__, #c); \
    abort(); } } while (0)

/* What the reference decoder makes of a whole stream. */
typedef struct refresult {
    unsigned char *out, *err;
    size_t outlen, errlen;
    int status;          /* DP_DEMUX_NEED (ok so far), _EPROTO or _EDAEMON */
    int eof;             /* DP_DEMUX_CLEAN, _TRUNC_HEADER, _TRUNC_PAYLOAD */
    char msg[DP_DEMUX_MSGMAX + 64];
    size_t msglen;
} refresult;

/* Daemon text: the first DP_DEMUX_MSGMAX bytes, trailing CR/LF trimmed. */
static void ref_text(refresult *r, const unsigned char *p, size_t n) {
    if (n > DP_DEMUX_MSGMAX)
        n = DP_DEMUX_MSGMAX;
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    memcpy(r->msg, p, n);
    r->msglen = n;
}

/* The reference: the whole stream at once, frame by frame, plainly. */
static void reference(const unsigned char *s, size_t len, refresult *r) {
    size_t pos = 0;
    memset(r, 0, sizeof *r);
    r->out = malloc(len + 1);
    r->err = malloc(len + 1);
    CHECK(r->out && r->err);
    r->status = DP_DEMUX_NEED;
    r->eof = DP_DEMUX_CLEAN;
    while (pos < len) {
        uint64_t flen, have;
        unsigned type;
        if (len - pos < 8) {
            r->eof = DP_DEMUX_TRUNC_HEADER;
            return;
        }
        type = s[pos];
        flen = ((uint64_t)s[pos + 4] << 24) | ((uint64_t)s[pos + 5] << 16) |
               ((uint64_t)s[pos + 6] << 8) | s[pos + 7];
        pos += 8;
        if (type > 3) {
            r->status = DP_DEMUX_EPROTO;
            r->msglen = (size_t)snprintf(r->msg, sizeof r->msg,
                                         "unrecognized stream type %u", type);
            return;
        }
        have = len - pos < flen ? len - pos : flen;
        if (type == 3) {
            ref_text(r, s + pos, (size_t)have);
            if (have == flen)
                r->status = DP_DEMUX_EDAEMON;
            else
                r->eof = DP_DEMUX_TRUNC_PAYLOAD;
            return;
        }
        if (type == 2) {
            memcpy(r->err + r->errlen, s + pos, (size_t)have);
            r->errlen += (size_t)have;
        } else {
            memcpy(r->out + r->outlen, s + pos, (size_t)have);
            r->outlen += (size_t)have;
        }
        if (have < flen) {
            r->eof = DP_DEMUX_TRUNC_PAYLOAD;
            return;
        }
        pos += (size_t)flen;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t k, pos, len, ci = 0, outlen = 0, errlen = 0;
    const uint8_t *sizes, *stream;
    unsigned char *out, *err;
    refresult ref;
    dp_demux d;
    int last = DP_DEMUX_NEED;
    if (size == 0)
        return 0;
    k = data[0] % 16;
    if (k > size - 1)
        k = size - 1;
    sizes = data + 1;
    stream = data + 1 + k;
    len = size - 1 - k;

    reference(stream, len, &ref);
    out = malloc(len + 1);
    err = malloc(len + 1);
    CHECK(out && err);
    dp_demux_init(&d);
    CHECK(dp_demux_eof(&d) == DP_DEMUX_CLEAN);
    for (pos = 0; pos < len; ) {
        size_t n = len - pos, off = 0;
        char *chunk;
        if (k > 0 && sizes[ci % k] != 0xff && sizes[ci % k] + 1u < n)
            n = sizes[ci % k] + 1u;
        ci++;
        chunk = malloc(n);
        CHECK(chunk != NULL);
        memcpy(chunk, stream + pos, n);
        for (;;) {
            size_t used = 99, plen = 0;
            int stream_id = 0;
            const char *piece = NULL;
            int r = dp_demux_next(&d, chunk + off, n - off, &used, &stream_id,
                                  &piece, &plen);
            CHECK(used <= n - off);
            if (last < 0) {
                CHECK(r == last && used == 0);   /* sticky, consumes nothing */
            }
            off += used;
            if (r == DP_DEMUX_PIECE) {
                CHECK(stream_id == 1 || stream_id == 2);
                CHECK(plen > 0 && piece >= chunk && piece + plen <= chunk + off);
                if (stream_id == 1) {
                    CHECK(outlen + plen <= ref.outlen);
                    memcpy(out + outlen, piece, plen);
                    outlen += plen;
                } else {
                    CHECK(errlen + plen <= ref.errlen);
                    memcpy(err + errlen, piece, plen);
                    errlen += plen;
                }
                continue;
            }
            if (r == DP_DEMUX_NEED) {
                CHECK(off == n);
            } else {
                CHECK(r == DP_DEMUX_EPROTO || r == DP_DEMUX_EDAEMON);
                last = r;
            }
            break;
        }
        free(chunk);
        pos += n;
    }
    CHECK(outlen == ref.outlen && memcmp(out, ref.out, outlen) == 0);
    CHECK(errlen == ref.errlen && memcmp(err, ref.err, errlen) == 0);
    CHECK(last == ref.status);
    if (last < 0) {
        CHECK(dp_demux_error(&d) == d.msg);
        CHECK(d.msglen == ref.msglen && memcmp(d.msg, ref.msg, ref.msglen) == 0);
    } else {
        CHECK(dp_demux_eof(&d) == ref.eof);
        /* A type-3 frame cut short: the text so far is already right. */
        if (d.stream == 3)
            CHECK(d.msglen == ref.msglen && memcmp(d.msg, ref.msg, ref.msglen) == 0);
    }
    free(out);
    free(err);
    free(ref.out);
    free(ref.err);
    return 0;
}
