/*
** fuzz_escape.c: libFuzzer target F3: the stdin escape watcher
** (dp_escape_filter / dp_escape_flush in src/escape.c) fed in
** fuzzer-chosen chunks.
**
** Input: byte 0 gives n = byte0 % 33 key bytes (0: watch for nothing),
** which follow; then a byte k = b % 16 and k chunk sizes (b + 1, used in
** turn; 0xff means "the rest"); the remaining bytes are the typed input.
** The same layout is replayed through the Lua API by
** spec/fuzz_regress_spec.lua.
**
** Checked: the output of every call fits in
** its len + DP_ESCAPE_MAX buffer (an exact-size allocation, so ASan sees
** any overflow) and at most DP_ESCAPE_MAX - 1 bytes are ever held. Without
** a detach, what was forwarded plus what flush() returns equals the input.
** With a detach, the forwarded bytes are exactly the input before the key
** sequence, and the input continues with the sequence; nothing is returned
** afterwards. The result does not depend on the chunking (compared with a
** single call), and when the first key byte does not occur again in the
** sequence, the detach happens at the first occurrence of the sequence.
*/
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz_escape: check failed at line %d: %s\n", __LINE__, #c); \
    abort(); } } while (0)

/* Filter in[0..len) in the given chunks; return the bytes forwarded (into
** fwd, which holds len + DP_ESCAPE_MAX), set *detached, and on a detach the
** input offset just past the sequence in *end. */
static size_t run(const unsigned char *keys, size_t nkeys, const uint8_t *sizes,
                  size_t k, const char *in, size_t len, char *fwd,
                  int *detached, size_t *end) {
    dp_escape e;
    size_t pos = 0, ci = 0, total = 0;
    dp_escape_init(&e, keys, nkeys);
    *detached = 0;
    *end = 0;
    while (pos < len) {
        size_t n = len - pos, m;
        char *chunk, *out;
        if (k > 0 && sizes[ci % k] != 0xff && sizes[ci % k] + 1u < n)
            n = sizes[ci % k] + 1u;
        ci++;
        chunk = malloc(n);
        out = malloc(n + DP_ESCAPE_MAX);
        CHECK(chunk && out);
        memcpy(chunk, in + pos, n);
        m = dp_escape_filter(&e, chunk, n, out);
        CHECK(m <= n + DP_ESCAPE_MAX);
        if (*detached)
            CHECK(m == 0);
        memcpy(fwd + total, out, m);
        total += m;
        CHECK(total <= len);
        CHECK(e.matched < (nkeys ? nkeys : 1));
        if (e.detached && !*detached) {
            *detached = 1;
            /* The sequence ends in this chunk: forwarded + keys + the rest
            ** of the input line up (checked by the caller). */
            *end = total + nkeys;
            CHECK(*end > pos && *end <= pos + n);
        }
        free(chunk);
        free(out);
        pos += n;
    }
    if (!*detached) {
        char held[DP_ESCAPE_MAX];
        size_t h = dp_escape_flush(&e, held);
        CHECK(h < (nkeys ? nkeys : 1) && e.matched == 0);
        memcpy(fwd + total, held, h);
        total += h;
        CHECK(dp_escape_flush(&e, held) == 0);
    } else {
        char held[DP_ESCAPE_MAX];
        CHECK(dp_escape_filter(&e, "x", 1, held) == 0);
    }
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char keys[DP_ESCAPE_MAX];
    size_t nkeys, k, len, t1, t2, end1, end2;
    const uint8_t *sizes;
    const char *in;
    char *f1, *f2;
    int det1, det2;
    if (size == 0)
        return 0;
    nkeys = data[0] % 33;
    if (nkeys > size - 1)
        nkeys = size - 1;
    memcpy(keys, data + 1, nkeys);
    data += 1 + nkeys;
    size -= 1 + nkeys;
    k = size > 0 ? data[0] % 16 : 0;
    if (size > 0) {
        data++;
        size--;
    }
    if (k > size)
        k = size;
    sizes = data;
    in = (const char *)data + k;
    len = size - k;

    f1 = malloc(len + DP_ESCAPE_MAX);
    f2 = malloc(len + DP_ESCAPE_MAX);
    CHECK(f1 && f2);
    t1 = run(keys, nkeys, sizes, k, in, len, f1, &det1, &end1);
    t2 = run(keys, nkeys, NULL, 0, in, len, f2, &det2, &end2);
    /* Chunking does not matter. */
    CHECK(det1 == det2 && t1 == t2 && memcmp(f1, f2, t1) == 0 && end1 == end2);
    if (!det1) {
        CHECK(t1 == len && memcmp(f1, in, len) == 0);
    } else {
        CHECK(nkeys > 0 && end1 == t1 + nkeys && end1 <= len);
        CHECK(memcmp(f1, in, t1) == 0);
        CHECK(memcmp(in + t1, keys, nkeys) == 0);
        if (memchr(keys + 1, keys[0], nkeys - 1) == NULL) {
            const char *first = memmem(in, len, keys, nkeys);
            CHECK(first == in + t1);
        }
    }
    if (nkeys == 0)
        CHECK(!det1);
    free(f1);
    free(f2);
    return 0;
}
