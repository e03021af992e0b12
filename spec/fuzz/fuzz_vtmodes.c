/*
** fuzz_vtmodes.c: libFuzzer target F6: the terminal mode tracker
** (dp_vt_scan / dp_vt_undo in src/vtmodes.c) fed program output in
** fuzzer-chosen chunks.
**
** Input: byte 0 gives k = byte0 % 16 chunk sizes (b + 1, used in turn;
** 0xff means "the rest"), which follow; the remaining bytes are the
** output. The same layout is replayed through the Lua API by
** spec/fuzz_regress_spec.lua.
**
** Checked: the modes, the SGR state and the undo bytes do not depend on
** the chunking (compared with a single call), and equal those of a
** reference written differently (each CSI collected whole, then split at
** ';' and ':' and its numbers read as strings); the undo fits in
** DP_VT_UNDO_MAX, is empty exactly when nothing is on, and turns every
** mode off when fed back; a smaller output buffer gets whole sequences
** only, a prefix of the full undo. Each chunk is an exact-size allocation.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtmodes.h"

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz_vtmodes: check failed at line %d: %s\n", __LINE__, #c); \
    abort(); } } while (0)

struct ref {
    unsigned modes, sgr;
    int alt;
    unsigned *mains, *subs, *nsubs;   /* one per parameter: input length + 1 */
};

/* A number: its digits, as a value, or 1000000 when it names nothing. */
static unsigned ref_num(const unsigned char *s, size_t n) {
    unsigned v = 0;
    size_t i = 0;
    while (i < n && s[i] == '0')
        i++;
    if (n - i > 6)
        return 1000000;
    for (; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    return v;
}

static unsigned ref_dec(unsigned p) {
    static const struct { unsigned num, bit; } map[] = {
        {1, DP_VT_CURSOR_KEYS}, {9, DP_VT_MOUSE_X10}, {25, DP_VT_CURSOR_HIDDEN},
        {47, DP_VT_ALT}, {1047, DP_VT_ALT}, {1049, DP_VT_ALT}, {66, DP_VT_KEYPAD},
        {1000, DP_VT_MOUSE_VT200}, {1002, DP_VT_MOUSE_BTN}, {1003, DP_VT_MOUSE_ANY},
        {1004, DP_VT_FOCUS}, {1005, DP_VT_MOUSE_UTF8}, {1006, DP_VT_MOUSE_SGR},
        {1015, DP_VT_MOUSE_URXVT}, {2004, DP_VT_PASTE}
    };
    size_t i;
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].num == p)
            return map[i].bit;
    return 0;
}

/* The attribute group an SGR code sets (+1 .. +16) or clears (-1 ..). */
static int ref_group(unsigned p) {
    if (p == 1 || p == 2) return 1;
    if (p == 22) return -1;
    if (p == 3 || p == 20) return 2;
    if (p == 23) return -2;
    if (p == 4 || p == 21) return 3;
    if (p == 24) return -3;
    if (p == 5 || p == 6) return 4;
    if (p == 25) return -4;
    if (p >= 7 && p <= 9) return (int)p - 2;
    if (p >= 27 && p <= 29) return -((int)p - 22);
    if (p >= 11 && p <= 19) return 8;
    if (p == 10) return -8;
    if (p == 26) return 9;
    if (p == 50) return -9;
    if ((p >= 30 && p <= 38) || (p >= 90 && p <= 97)) return 10;
    if (p == 39) return -10;
    if ((p >= 40 && p <= 48) || (p >= 100 && p <= 107)) return 11;
    if (p == 49) return -11;
    if (p == 51 || p == 52) return 12;
    if (p == 54) return -12;
    if (p == 53) return 13;
    if (p == 55) return -13;
    if (p == 58) return 14;
    if (p == 59) return -14;
    if (p >= 60 && p <= 64) return 15;
    if (p == 65) return -15;
    if (p == 73 || p == 74) return 16;
    if (p == 75) return -16;
    return 0;
}

/* One whole CSI: s[0..n) are its parameter and intermediate bytes. */
static void ref_csi(struct ref *r, const unsigned char *s, size_t n, unsigned char fin) {
    unsigned *mains = r->mains, *subs = r->subs, *nsubs = r->nsubs, sgr;
    size_t np = 0, i, start;
    int priv = n > 0 && s[0] == '?';
    size_t from = (n > 0 && s[0] >= '<' && s[0] <= '?') ? 1 : 0;
    if (from && !priv)
        return;
    for (i = from; i < n; i++)
        if (s[i] < '0' || s[i] > ';')
            return;             /* an intermediate, or a marker not first */
    if (!((priv && (fin == 'h' || fin == 'l')) || (!priv && !from && fin == 'm')))
        return;
    start = from;
    for (i = from; i <= n; i++) {
        if (i < n && s[i] != ';')
            continue;
        {
            size_t a = start, b = a, c, k = 0;
            while (b < i && s[b] != ':') b++;
            mains[np] = ref_num(s + a, b - a);
            subs[np] = 0;
            for (c = b; c < i; c++)
                if (s[c] == ':') k++;
            if (k > 0) {
                size_t d = b + 1, e = d;
                while (e < i && s[e] != ':') e++;
                subs[np] = ref_num(s + d, e - d);
            }
            nsubs[np] = (unsigned)k;
            np++;
        }
        start = i + 1;
    }
    if (priv) {
        for (i = 0; i < np; i++) {
            unsigned bit = ref_dec(mains[i]);
            int on = (fin == 'h') != (bit == DP_VT_CURSOR_HIDDEN);
            if (bit == 0)
                continue;
            r->modes = on ? (r->modes | bit) : (r->modes & ~bit);
            if (bit == DP_VT_ALT && fin == 'h')
                r->alt = (int)mains[i];
        }
        return;
    }
    sgr = r->sgr;
    for (i = 0; i < np; i++) {
        unsigned p = mains[i];
        int g = ref_group(p);
        if (p == 0) {
            sgr = 0;
        } else if (p == 4 && nsubs[i] > 0 && subs[i] == 0) {
            sgr &= ~(1u << 2);
        } else if (g > 0) {
            sgr |= 1u << (g - 1);
        } else if (g < 0) {
            sgr &= ~(1u << (-g - 1));
        }
        if ((p == 38 || p == 48 || p == 58) && nsubs[i] == 0 && i + 1 < np)
            i += mains[i + 1] == 5 ? 2 : mains[i + 1] == 2 ? 4 : 1;
    }
    r->sgr = sgr;
}

static int executed_c0(unsigned char c) {
    return c < 0x20 && c != 0x18 && c != 0x1a && c != 0x1b;
}

static void ref_run(struct ref *r, const unsigned char *b, size_t n, unsigned char *scratch) {
    size_t i = 0;
    while (i < n) {
        unsigned char c;
        if (b[i++] != 0x1b)
            continue;
again:
        while (i < n && executed_c0(b[i]))
            i++;
        if (i == n)
            break;
        c = b[i++];
        if (c == 0x1b)
            goto again;
        if (c == '[') {
            size_t len = 0;
            while (i < n) {
                c = b[i++];
                if (c == 0x1b)
                    goto again;
                if (c == 0x18 || c == 0x1a || c >= 0x80)
                    break;
                if (c < 0x20 || c == 0x7f)
                    continue;
                if (c >= 0x40) {
                    ref_csi(r, scratch, len, c);
                    break;
                }
                scratch[len++] = c;
            }
        } else if (c == '=') {
            r->modes |= DP_VT_KEYPAD;
        } else if (c == '>') {
            r->modes &= ~DP_VT_KEYPAD;
        } else if (c == 'c') {
            r->modes = r->sgr = 0;
        } else if (c >= 0x20 && c <= 0x2f) {
            while (i < n) {
                while (i < n && executed_c0(b[i]))
                    i++;
                if (i == n)
                    break;
                c = b[i];
                if (c == 0x1b) {
                    i++;
                    goto again;
                }
                i++;
                if (c < 0x20 || c > 0x2f)
                    break;
            }
        }
    }
}

static void scan_chunks(dp_vt *v, const uint8_t *sizes, size_t k,
                        const uint8_t *in, size_t len) {
    size_t pos = 0, ci = 0;
    dp_vt_init(v);
    while (pos < len) {
        size_t n = len - pos;
        char *chunk;
        if (k > 0 && sizes[ci % k] != 0xff && sizes[ci % k] + 1u < n)
            n = sizes[ci % k] + 1u;
        ci++;
        chunk = malloc(n);
        CHECK(chunk != NULL);
        memcpy(chunk, in + pos, n);
        dp_vt_scan(v, chunk, n);
        free(chunk);
        pos += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dp_vt a, b;
    struct ref r = {0, 0, 0, NULL, NULL, NULL};
    char u1[DP_VT_UNDO_MAX], u2[DP_VT_UNDO_MAX], small[DP_VT_UNDO_MAX];
    size_t k, len, n1, n2, cap, ns;
    unsigned char *scratch;
    if (size == 0)
        return 0;
    k = data[0] % 16;
    if (k > size - 1)
        k = size - 1;
    len = size - 1 - k;
    scan_chunks(&a, data + 1, k, data + 1 + k, len);
    scan_chunks(&b, NULL, 0, data + 1 + k, len);
    CHECK(dp_vt_modes(&a) == dp_vt_modes(&b) && a.sgr == b.sgr && a.alt == b.alt);
    n1 = dp_vt_undo(&a, u1, sizeof u1);
    n2 = dp_vt_undo(&b, u2, sizeof u2);
    CHECK(n1 == n2 && memcmp(u1, u2, n1) == 0);
    CHECK((n1 > 0) == (dp_vt_dirty(&a) != 0));

    scratch = malloc(len + 1);
    r.mains = malloc((len + 1) * sizeof *r.mains);
    r.subs = malloc((len + 1) * sizeof *r.subs);
    r.nsubs = malloc((len + 1) * sizeof *r.nsubs);
    CHECK(scratch && r.mains && r.subs && r.nsubs);
    ref_run(&r, data + 1 + k, len, scratch);
    free(scratch);
    free(r.mains);
    free(r.subs);
    free(r.nsubs);
    CHECK(r.modes == a.modes && r.sgr == a.sgr);
    if (r.modes & DP_VT_ALT)
        CHECK(r.alt == a.alt);

    /* a smaller buffer: whole sequences, a prefix of the full undo */
    cap = k > 0 ? data[1] % (DP_VT_UNDO_MAX + 1) : n1 / 2;
    ns = dp_vt_undo(&a, small, cap);
    CHECK(ns <= cap && ns <= n1 && memcmp(small, u1, ns) == 0);
    CHECK(ns == n1 || ns == 0 || small[ns - 1] != '\033');
    if (ns < n1)
        CHECK(u1[ns] == '\033');

    /* the undo turns everything off */
    dp_vt_scan(&a, u1, n1);
    CHECK(!dp_vt_dirty(&a));
    return 0;
}
