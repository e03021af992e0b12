/*
** fuzz_keys.c: libFuzzer target F4: the detach-key spec parser
** (dp_escape_parse in src/escape.c), "ctrl-p,ctrl-q" and the like.
**
** Input: byte 0 picks the output room (1 + b % DP_ESCAPE_MAX keys), byte 1
** the error buffer size (1 + b % 128), the rest is the spec. The Lua
** replay (spec/fuzz_regress_spec.lua) passes the spec to core.parse_keys.
**
** Checked against a reference parser written differently (split on
** commas, then a table of item names): the same bytes, or the same
** failure. A failure leaves a NUL-terminated message within the error
** buffer that starts with "invalid detach keys: " as far as it fits.
** Success writes only [0, count) of the output (the rest keeps a canary)
** and the canonical spelling of the result parses back to the same bytes.
** The spec is an exact-size allocation.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz_keys: check failed at line %d: %s\n", __LINE__, #c); \
    abort(); } } while (0)

static const char PREFIX[] = "invalid detach keys: ";

/* One item by name: -1 when not a key. */
static int ref_item(const char *s, size_t n) {
    static const char *const names[] = {
        "ctrl-@", "ctrl-a", "ctrl-b", "ctrl-c", "ctrl-d", "ctrl-e", "ctrl-f",
        "ctrl-g", "ctrl-h", "ctrl-i", "ctrl-j", "ctrl-k", "ctrl-l", "ctrl-m",
        "ctrl-n", "ctrl-o", "ctrl-p", "ctrl-q", "ctrl-r", "ctrl-s", "ctrl-t",
        "ctrl-u", "ctrl-v", "ctrl-w", "ctrl-x", "ctrl-y", "ctrl-z", "ctrl-[",
        "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"
    };
    int i;
    if (n == 1)
        return (unsigned char)s[0];
    if (n == 3 && memcmp(s, "DEL", 3) == 0)
        return 127;
    if (n != 6)
        return -1;
    for (i = 0; i < 32; i++) {
        char upper[7];
        memcpy(upper, names[i], 7);
        if (upper[5] >= 'a' && upper[5] <= 'z')
            upper[5] = (char)(upper[5] - 32);
        if (memcmp(s, names[i], 6) == 0 || memcmp(s, upper, 6) == 0)
            return i;
    }
    return -1;
}

/* The reference: count of bytes, or -1. */
static int reference(const char *spec, size_t len, unsigned char *out, size_t outmax) {
    size_t start = 0, i, count = 0;
    if (len == 0)
        return -1;
    for (i = 0; i <= len; i++) {
        if (i == len || spec[i] == ',') {
            int b = ref_item(spec + start, i - start);
            if (b < 0 || count == outmax)
                return -1;
            out[count++] = (unsigned char)b;
            start = i + 1;
        }
    }
    return (int)count;
}

/* The canonical spelling of key bytes: ctrl-x for 0..31, DEL, else the
** byte itself (never ',': a comma always splits). */
static size_t spell(const unsigned char *keys, int n, char *buf) {
    static const char ctrl[] = "@abcdefghijklmnopqrstuvwxyz[\\]^_";
    size_t o = 0;
    int i;
    for (i = 0; i < n; i++) {
        if (o > 0)
            buf[o++] = ',';
        if (keys[i] < 32) {
            memcpy(buf + o, "ctrl-", 5);
            buf[o + 5] = ctrl[keys[i]];
            o += 6;
        } else if (keys[i] == 127) {
            memcpy(buf + o, "DEL", 3);
            o += 3;
        } else {
            buf[o++] = (char)keys[i];
        }
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char out[DP_ESCAPE_MAX + 8], want[DP_ESCAPE_MAX];
    char err[129];
    size_t outmax, errlen, len, i;
    char *spec;
    int n, r;
    if (size < 2)
        return 0;
    outmax = 1 + data[0] % DP_ESCAPE_MAX;
    errlen = 1 + data[1] % 128;
    len = size - 2;
    spec = malloc(len ? len : 1);
    CHECK(spec != NULL);
    memcpy(spec, data + 2, len);
    memset(out, 0xA5, sizeof out);
    memset(err, 0x5A, sizeof err);

    n = dp_escape_parse(spec, len, out, outmax, err, errlen);
    r = reference(spec, len, want, outmax);
    CHECK(n == r);
    if (n < 0) {
        size_t el = strnlen(err, errlen);
        size_t pl = sizeof PREFIX - 1;
        CHECK(el < errlen);                       /* terminated inside */
        CHECK(memcmp(err, PREFIX, el < pl ? el : pl) == 0);
        CHECK(err[errlen] == 0x5A);               /* nothing past it */
    } else {
        char canon[DP_ESCAPE_MAX * 7];
        unsigned char again[DP_ESCAPE_MAX];
        size_t cl;
        int m;
        CHECK(n >= 1 && (size_t)n <= outmax);
        CHECK(memchr(out, ',', (size_t)n) == NULL);   /* a comma splits */
        CHECK(memcmp(out, want, (size_t)n) == 0);
        for (i = (size_t)n; i < sizeof out; i++)
            CHECK(out[i] == 0xA5);
        cl = spell(out, n, canon);
        m = dp_escape_parse(canon, cl, again, sizeof again, err, sizeof err);
        CHECK(m == n && memcmp(again, out, (size_t)n) == 0);
    }
    free(spec);
    return 0;
}
