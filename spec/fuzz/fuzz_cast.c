/*
** fuzz_cast.c: libFuzzer target: the asciicast event text (dp_cast_text in
** src/cast.c).
**
** Input: byte 0 picks the output room (DP_CAST_ITEM + b), byte 1 bit 0 the
** final flag, the rest is the text. The text is encoded in pieces as the
** Lua layer does (room permitting, the held tail put before nothing more).
**
** Checked against a reference written differently (code points decoded
** arithmetically, then re-encoded): the same JSON body, byte for byte.
** The encoder never writes past its room, always makes progress with
** DP_CAST_ITEM bytes of room, and holds back only a tail of at most 3
** bytes, never with final. The text is an exact-size allocation.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cast.h"

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz_cast: check failed at line %d: %s\n", __LINE__, #c); \
    abort(); } } while (0)

/* The code point at p (n bytes left) and its length, or length 0 when p
** does not start a valid sequence, -1 when it starts one that n cuts. */
static long ref_decode(const unsigned char *p, size_t n, int *len) {
    static const long min[] = {0, 0, 0x80, 0x800, 0x10000};
    int need, i;
    long cp;
    if (p[0] < 0x80) { *len = 1; return p[0]; }
    if ((p[0] & 0xE0) == 0xC0) { need = 2; cp = p[0] & 0x1F; }
    else if ((p[0] & 0xF0) == 0xE0) { need = 3; cp = p[0] & 0x0F; }
    else if ((p[0] & 0xF8) == 0xF0) { need = 4; cp = p[0] & 0x07; }
    else { *len = 0; return -1; }
    for (i = 1; i < need; i++) {
        if ((size_t)i >= n) {
            /* cut: valid so far only if what is there could still be a
            ** valid character (check the prefix's smallest completion) */
            long lo = cp;
            int k;
            for (k = i; k < need; k++)
                lo = lo << 6;
            {
                long hi = lo | ((1L << (6 * (need - i))) - 1);
                int ok = hi >= min[need] && lo <= 0x10FFFF && !(lo >= 0xD800 && hi <= 0xDFFF);
                if (need == 3 && i == 2 && cp >= 0x360 && cp <= 0x37F)
                    ok = 0;  /* 0xED 0xA0..0xBF: every completion is a surrogate */
                *len = ok ? -1 : 0;
            }
            return -1;
        }
        if ((p[i] & 0xC0) != 0x80) { *len = 0; return -1; }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) { *len = 0; return -1; }
    *len = need;
    return cp;
}

/* The reference body for p[0..n); *held: the bytes left at the end. */
static size_t ref_text(const unsigned char *p, size_t n, int final, char *out, size_t *held) {
    size_t i = 0, o = 0;
    *held = 0;
    while (i < n) {
        int len;
        long cp = ref_decode(p + i, n - i, &len);
        if (len < 0 && !final) { *held = n - i; break; }
        if (len <= 0) { memcpy(out + o, "\xEF\xBF\xBD", 3); o += 3; i++; continue; }
        if (cp == '"' || cp == '\\') { out[o++] = '\\'; out[o++] = (char)cp; }
        else if (cp == '\n') { memcpy(out + o, "\\n", 2); o += 2; }
        else if (cp == '\r') { memcpy(out + o, "\\r", 2); o += 2; }
        else if (cp == '\t') { memcpy(out + o, "\\t", 2); o += 2; }
        else if (cp == '\b') { memcpy(out + o, "\\b", 2); o += 2; }
        else if (cp == '\f') { memcpy(out + o, "\\f", 2); o += 2; }
        else if (cp < 0x20 || cp == 0x7F) { o += (size_t)sprintf(out + o, "\\u%04lx", cp); }
        else { memcpy(out + o, p + i, (size_t)len); o += (size_t)len; }
        i += (size_t)len;
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t room, n, held, want_n, got_n = 0, i = 0;
    int final;
    unsigned char *text;
    char *want, *got, *piece;
    if (size < 2)
        return 0;
    room = DP_CAST_ITEM + data[0];
    final = data[1] & 1;
    n = size - 2;
    text = malloc(n ? n : 1);
    want = malloc(n * 6 + 1);
    got = malloc(n * 6 + 1);
    piece = malloc(room + 1);
    CHECK(text && want && got && piece);
    memcpy(text, data + 2, n);
    want_n = ref_text(text, n, final, want, &held);
    while (i < n) {
        size_t used, w;
        piece[room] = 0x5A;  /* canary */
        w = dp_cast_text(text + i, n - i, final, piece, room, &used);
        CHECK(piece[room] == 0x5A && w <= room && used <= n - i);
        memcpy(got + got_n, piece, w);
        got_n += w;
        if (used == 0)
            break;
        i += used;
    }
    CHECK(!final || i == n);
    CHECK(n - i <= 3 && n - i == held);
    CHECK(got_n == want_n && memcmp(got, want, got_n) == 0);
    free(text);
    free(want);
    free(got);
    free(piece);
    return 0;
}
