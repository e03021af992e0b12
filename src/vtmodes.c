/*
** vtmodes.c: the terminal modes a remote program left on, tracked as its
** output passes, and the sequences that turn them off again; Lua class
** dockerpty.VtModes. No I/O: bytes in, a mode set out.
**
** The parser follows the usual VT500-style state machine, reduced to what
** it needs: text is skipped with a search for ESC (vt_find_esc); ESC c
** (full reset) turns everything off; ESC = and ESC > set the keypad mode;
** a CSI whole in the chunk is read in place (vt_csi_fast), any other one
** byte at a time by the machine; either way its parameters go into a
** bounded state (the tracked modes it names as bits, the SGR state it
** would give), committed by the final byte. CAN and SUB cancel a
** sequence, ESC starts a new one, other C0 controls inside one are
** executed by a terminal and skipped here.
** dp_vt_scan reads most of a chunk faster than that, with the same
** result (see "A chunk in two parts" below): vtmodes_spec compares it
** with the byte machine fed one byte at a time, and the fuzz target F6
** with other chunkings and a reference of its own.
** Mouse modes are tracked one bit each, so a mode some terminal turned
** off on its own may still be turned off once more: never one too few.
*/
#define _GNU_SOURCE      /* memrchr */
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "vtmodes.h"
#include "util.h"

enum { ST_GROUND, ST_ESC, ST_ESC_INT, ST_CSI };

/* CSI flags */
enum {
    F_PRIV = 1,      /* '?' first */
    F_MARK = 2,      /* '<', '=' or '>' first */
    F_INTER = 4,     /* an intermediate byte seen */
    F_BAD = 8,       /* malformed: ignored by the terminal */
    F_STARTED = 16   /* a parameter or intermediate byte seen */
};

#define PARAM_CAP 100000u   /* larger numbers name no mode and no SGR code */

/* SGR attribute groups: each is on, or back at its default. */
enum {
    G_INTENS, G_ITALIC, G_UNDER, G_BLINK, G_INVERSE, G_HIDDEN, G_STRIKE,
    G_FONT, G_PROP, G_FG, G_BG, G_FRAME, G_OVER, G_ULCOLOR, G_IDEO, G_SUPER
};

/* SGR code -> group + 1 it sets, or -(group + 1) it clears; 0: no effect.
** Codes from 108 up name nothing. */
#define SET(g) (signed char)((g) + 1)
#define CLR(g) (signed char)(-(g) - 1)
static const signed char SGR_CODES[108] = {
    [1] = SET(G_INTENS), [2] = SET(G_INTENS), [22] = CLR(G_INTENS),
    [3] = SET(G_ITALIC), [20] = SET(G_ITALIC), [23] = CLR(G_ITALIC),
    [4] = SET(G_UNDER), [21] = SET(G_UNDER), [24] = CLR(G_UNDER),
    [5] = SET(G_BLINK), [6] = SET(G_BLINK), [25] = CLR(G_BLINK),
    [7] = SET(G_INVERSE), [27] = CLR(G_INVERSE),
    [8] = SET(G_HIDDEN), [28] = CLR(G_HIDDEN),
    [9] = SET(G_STRIKE), [29] = CLR(G_STRIKE),
    [11 ... 19] = SET(G_FONT), [10] = CLR(G_FONT),
    [26] = SET(G_PROP), [50] = CLR(G_PROP),
    [30 ... 38] = SET(G_FG), [90 ... 97] = SET(G_FG), [39] = CLR(G_FG),
    [40 ... 48] = SET(G_BG), [100 ... 107] = SET(G_BG), [49] = CLR(G_BG),
    [51] = SET(G_FRAME), [52] = SET(G_FRAME), [54] = CLR(G_FRAME),
    [53] = SET(G_OVER), [55] = CLR(G_OVER),
    [58] = SET(G_ULCOLOR), [59] = CLR(G_ULCOLOR),
    [60 ... 64] = SET(G_IDEO), [65] = CLR(G_IDEO),
    [73] = SET(G_SUPER), [74] = SET(G_SUPER), [75] = CLR(G_SUPER),
};
#undef SET
#undef CLR

static const char *const NAMES[DP_VT_NMODES] = {
    "mouse_any", "mouse_btn", "mouse_vt200", "mouse_x10", "mouse_sgr",
    "mouse_urxvt", "mouse_utf8", "focus", "paste", "keypad", "cursor_keys",
    "cursor_hidden", "sgr", "alt_screen"
};

/* What turns each mode off, in the order of the bits. */
static const char *const UNDO[DP_VT_NMODES] = {
    "\033[?1003l", "\033[?1002l", "\033[?1000l", "\033[?9l", "\033[?1006l",
    "\033[?1015l", "\033[?1005l", "\033[?1004l", "\033[?2004l", "\033>",
    "\033[?1l", "\033[?25h", "\033[m", NULL  /* alternate screen: by v->alt */
};

void dp_vt_init(dp_vt *v) {
    memset(v, 0, sizeof *v);
    v->state = ST_GROUND;
}

int dp_vt_dirty(const dp_vt *v) {
    return v->modes != 0 || v->sgr != 0;
}

unsigned dp_vt_modes(const dp_vt *v) {
    return v->modes | (v->sgr ? DP_VT_SGR : 0);
}

const char *dp_vt_name(int i) {
    return i >= 0 && i < DP_VT_NMODES ? NAMES[i] : NULL;
}

/* {====================================================================
** CSI parameters
** ===================================================================== */

/* The tracked mode a DEC private mode number names (0: none). */
static unsigned vt_dec_mode(unsigned p) {
    switch (p) {
    case 1: return DP_VT_CURSOR_KEYS;
    case 9: return DP_VT_MOUSE_X10;
    case 25: return DP_VT_CURSOR_HIDDEN;
    case 47: case 1047: case 1049: return DP_VT_ALT;
    case 66: return DP_VT_KEYPAD;
    case 1000: return DP_VT_MOUSE_VT200;
    case 1002: return DP_VT_MOUSE_BTN;
    case 1003: return DP_VT_MOUSE_ANY;
    case 1004: return DP_VT_FOCUS;
    case 1005: return DP_VT_MOUSE_UTF8;
    case 1006: return DP_VT_MOUSE_SGR;
    case 1015: return DP_VT_MOUSE_URXVT;
    case 2004: return DP_VT_PASTE;
    default: return 0;
    }
}

/* The tentative SGR state of a CSI: the attribute groups on should its
** final byte be 'm', and where a 38/48/58 ';' form stands (ext: 1 wants
** the colour kind, else values to skip + 1). Kept by value, so that the
** fast path holds it in registers. */
typedef struct { unsigned sgr; unsigned ext; } sgr_state;

/* One SGR parameter, applied to t. `colon`: it has ':' subparameters, the
** first being sub1. The ';' forms of 38, 48 and 58 (5;n and 2;r;g;b) are
** followed by values that are not SGR codes. */
static inline sgr_state vt_sgr_param(sgr_state t, unsigned p, int colon, unsigned sub1) {
    int g;
    if (t.ext != 0) {
        if (t.ext >= 2)          /* a colour value: skip it */
            t.ext = t.ext == 2 ? 0 : t.ext - 1;
        else                     /* the colour kind */
            t.ext = p == 5 ? 2 : p == 2 ? 4 : 0;
        return t;
    }
    if (p == 0) {
        t.sgr = 0;
        return t;
    }
    if (p == 4 && colon && sub1 == 0) {   /* 4:0, no underline */
        t.sgr &= ~(1u << G_UNDER);
        return t;
    }
    g = p < sizeof SGR_CODES ? SGR_CODES[p] : 0;
    if (g > 0)
        t.sgr |= 1u << (g - 1);
    else if (g < 0)
        t.sgr &= ~(1u << (-g - 1));
    if (p >= 38 && (p == 38 || p == 48 || p == 58) && !colon)
        t.ext = 1;
    return t;
}

/* A parameter of CSI ? ... ends: the mode it names joins *pending, and
** an alternate-screen mode is noted in *alt. */
static void vt_dec_param(unsigned p, unsigned *pending, unsigned short *alt) {
    unsigned m = vt_dec_mode(p);
    *pending |= m;
    if (m == DP_VT_ALT)
        *alt = (unsigned short)p;
}

/* The parameter just read ends (at ';' or the final byte). */
static void vt_csi_param_end(dp_vt *v) {
    unsigned p = v->nsub ? v->main : v->param;
    unsigned sub1 = v->nsub == 1 ? v->param : v->sub1;
    if (v->flags & F_PRIV) {
        vt_dec_param(p, &v->pending, &v->alt_pending);
    } else if (!(v->flags & F_MARK)) {
        sgr_state t = vt_sgr_param((sgr_state){ v->sgr_try, v->ext }, p, v->nsub != 0, sub1);
        v->sgr_try = t.sgr;
        v->ext = (unsigned char)t.ext;
    }
    v->param = v->main = v->sub1 = 0;
    v->nsub = 0;
}

static void vt_csi_colon(dp_vt *v) {
    if (v->nsub == 0)
        v->main = v->param;
    else if (v->nsub == 1)
        v->sub1 = v->param;
    if (v->nsub < 2)
        v->nsub++;
    v->param = 0;
}

/* CSI ? ... h (c 'h') or l: the modes named (pending) set or reset; alt
** is the last alternate-screen mode named. */
static void vt_dec_commit(dp_vt *v, unsigned pending, unsigned short alt, unsigned char c) {
    unsigned named = pending & ~DP_VT_CURSOR_HIDDEN;
    if (c == 'h')
        v->modes |= named;
    else
        v->modes &= ~named;
    if (pending & DP_VT_CURSOR_HIDDEN) {   /* ?25h shows the cursor */
        if (c == 'h')
            v->modes &= ~DP_VT_CURSOR_HIDDEN;
        else
            v->modes |= DP_VT_CURSOR_HIDDEN;
    }
    if ((pending & DP_VT_ALT) && c == 'h')
        v->alt = alt;
}

static void vt_csi_final(dp_vt *v, unsigned char c) {
    v->state = ST_GROUND;
    if (v->flags & (F_BAD | F_INTER))
        return;
    vt_csi_param_end(v);
    if ((v->flags & (F_PRIV | F_MARK)) == F_PRIV && (c == 'h' || c == 'l')) {
        vt_dec_commit(v, v->pending, v->alt_pending, c);
    } else if (!(v->flags & (F_PRIV | F_MARK)) && c == 'm') {
        v->sgr = v->sgr_try;
    }
}

static void vt_csi_byte(dp_vt *v, unsigned char c) {
    if (c >= '0' && c <= ';') {               /* digits, ':' and ';' */
        if (v->flags & F_INTER)
            v->flags |= F_BAD;                /* a parameter after an intermediate */
        else if (c == ';')
            vt_csi_param_end(v);
        else if (c == ':')
            vt_csi_colon(v);
        else if (v->param < PARAM_CAP)
            v->param = v->param * 10 + (unsigned)(c - '0');
        v->flags |= F_STARTED;
    } else if (c >= '<' && c <= '?') {        /* private markers: first only */
        if (v->flags & F_STARTED)
            v->flags |= F_BAD;
        else
            v->flags |= c == '?' ? F_PRIV : F_MARK;
        v->flags |= F_STARTED;
    } else if (c >= 0x20 && c <= 0x2f) {
        v->flags |= F_INTER | F_STARTED;
    } else if (c >= 0x40 && c <= 0x7e) {
        vt_csi_final(v, c);
    } else if (c == 0x1b) {
        v->state = ST_ESC;
    } else if (c == 0x18 || c == 0x1a || c >= 0x80) {
        v->state = ST_GROUND;                 /* cancelled */
    }
    /* other C0 controls and DEL: executed or ignored, the sequence goes on */
}

/* }==================================================================== */

static void vt_csi_start(dp_vt *v) {
    v->state = ST_CSI;
    v->flags = 0;
    v->pending = 0;
    v->alt_pending = 0;
    v->sgr_try = v->sgr;
    v->param = v->main = v->sub1 = 0;
    v->nsub = 0;
    v->ext = 0;
}

static void vt_esc_byte(dp_vt *v, unsigned char c) {
    switch (c) {
    case '[':
        vt_csi_start(v);
        return;
    case 0x1b:
        return;                 /* a new escape */
    case '=':
        v->modes |= DP_VT_KEYPAD;
        break;
    case '>':
        v->modes &= ~DP_VT_KEYPAD;
        break;
    case 'c':                   /* RIS: a full reset */
        v->modes = 0;
        v->sgr = 0;
        v->alt = 0;
        break;
    default:
        if (c >= 0x20 && c <= 0x2f) {
            v->state = ST_ESC_INT;
            return;
        }
        if (c < 0x20 && c != 0x18 && c != 0x1a)
            return;             /* a C0 control, executed */
        break;
    }
    v->state = ST_GROUND;
}

static void vt_esc_int_byte(dp_vt *v, unsigned char c) {
    if (c == 0x1b)
        v->state = ST_ESC;
    else if ((c >= 0x20 && c <= 0x2f) || (c < 0x20 && c != 0x18 && c != 0x1a))
        return;
    else
        v->state = ST_GROUND;
}

/* {====================================================================
** The fast path: a CSI whole in the chunk, of the common form (an
** optional '?', digits and ';', a final byte), read in place. It gives
** what the byte machine gives (the fuzz target F6 and vtmodes_spec
** compare the two); any other form is left to the byte machine.
** ===================================================================== */

/* The final bytes of a CSI (0x40 to 0x7e). */
static const unsigned char CSI_FINAL[256] = { [0x40 ... 0x7e] = 1 };

/* p is just after ESC [. Returns the byte after the sequence, or NULL
** when the byte machine must read it (not whole here, or another form):
** one pass, the parameters applied as they end, as the machine does. */
static const unsigned char *vt_csi_fast(dp_vt *v, const unsigned char *p,
                                        const unsigned char *end) {
    unsigned num = 0, pending = 0;
    unsigned short alt = 0;
    sgr_state t = { v->sgr, 0 };
    int priv = p < end && *p == '?';
    for (p += priv; p < end; p++) {
        unsigned c = *p;
        if (c - '0' <= 9u) {
            num = num < PARAM_CAP ? num * 10 + (c - '0') : num;
            continue;
        }
        if (c != ';' && !CSI_FINAL[c])
            return NULL;
        if (priv)
            vt_dec_param(num, &pending, &alt);
        else
            t = vt_sgr_param(t, num, 0, 0);
        num = 0;
        if (c == ';')
            continue;
        if (priv && (c == 'h' || c == 'l'))
            vt_dec_commit(v, pending, alt, (unsigned char)c);
        else if (!priv && c == 'm')
            v->sgr = t.sgr;
        return p + 1;
    }
    return NULL;
}

/* }==================================================================== */

/* The next ESC in [p, end), or NULL. In terminal text it is most often
** a few bytes on: one 16-byte compare finds it there without the cost of
** a call, and memchr searches farther. */
static inline const unsigned char *vt_find_esc(const unsigned char *p,
                                               const unsigned char *end) {
#ifdef __SSE2__
    if (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x1b)));
        if (m != 0)
            return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    return memchr(p, 0x1b, (size_t)(end - p));
}

/* The byte machine: one step of a sequence begun (v->state is not
** ground) at p; returns the byte after what it read. */
static const unsigned char *vt_step(dp_vt *v, const unsigned char *p,
                                    const unsigned char *end) {
    unsigned char c;
    if (v->state == ST_CSI && !(v->flags & F_INTER)) {
        unsigned param = v->param;   /* a run of digits, in one go */
        const unsigned char *q = p;
        while (q < end && *q >= '0' && *q <= '9') {
            if (param < PARAM_CAP)
                param = param * 10 + (unsigned)(*q - '0');
            q++;
        }
        if (q != p) {
            v->param = param;
            v->flags |= F_STARTED;
            return q;
        }
    }
    c = *p++;
    if (v->state == ST_CSI)
        vt_csi_byte(v, c);
    else if (v->state == ST_ESC)
        vt_esc_byte(v, c);
    else
        vt_esc_int_byte(v, c);
    return p;
}

/* Every byte of [p, end) in order: text skipped to the next ESC, a CSI
** whole here read by the fast path, anything else by the byte machine. */
static void vt_scan_inorder(dp_vt *v, const unsigned char *p,
                            const unsigned char *end) {
    while (p < end) {
        if (v->state == ST_GROUND) {
            const unsigned char *after;
            p = vt_find_esc(p, end);
            if (p == NULL)
                return;
            p++;
            if (p < end && *p == '[' && (after = vt_csi_fast(v, p + 1, end)) != NULL) {
                p = after;
                continue;
            }
            v->state = ST_ESC;
            continue;
        }
        p = vt_step(v, p, end);
    }
}

/* {====================================================================
** A chunk in two parts. Modes and the SGR state never depend on each
** other, so each may be followed in its own way, and every sequence
** before the chunk's last ESC ends at the next ESC at the latest (an ESC
** cancels a sequence not ended). Before that last ESC:
** - the modes: only an ESC not followed by '[' and a parameter byte
**   other than '?' or a final byte can change one (vt_may_set_mode); a
**   16-byte compare skips the others, and the few DEC private mode
**   sequences a program repeats (?25l, ?25h...) are recognised from a
**   memo of their effect (vt_memo);
** - the SGR state: each sequence maps it to (state & keep) | set, so the
**   sequences are read backward from the last one until one sets the
**   state whole (most often the last SGR of the chunk: a reset, or the
**   RIS); the ones before it no longer matter. At worst (attributes only
**   ever turned on and off one by one) every ESC of the chunk is read
**   once more this way.
** From the last ESC on, the bytes are read in order, as ever.
** ===================================================================== */

#define SGR_ALL 0xffffu   /* every SGR attribute group */

/* An ESC at p that is not followed by '[' and then a parameter byte
** other than '?' or a final byte: one that may change a mode (a DEC
** private mode needs its '?' first; '<', '=' and '>' mark a CSI that
** names none). p < end; p[1] and p[2] are read only when before end. */
static int vt_may_set_mode(const unsigned char *p, const unsigned char *end) {
    unsigned c;
    if (p + 2 >= end || p[1] != '[')
        return 1;
    c = p[2];
    return c == '?' || c - 0x30u > 0x4eu;
}

/* The sequence of the ESC at p, read alone: to its end, or to the next
** ESC (which cancels it) or last. Returns where reading stopped. */
static const unsigned char *vt_scan_one(dp_vt *v, const unsigned char *p,
                                        const unsigned char *last) {
    const unsigned char *after;
    p++;
    if (p < last && *p == '[' && (after = vt_csi_fast(v, p + 1, last)) != NULL)
        return after;
    v->state = ST_ESC;
    while (p < last && *p != 0x1b && v->state != ST_GROUND)
        p = vt_step(v, p, last);
    v->state = ST_GROUND;          /* as an ESC at p, or at last, leaves it */
    return p;
}

/* The DEC private mode sequences (ESC [ ? digits and ';', then h or l)
** of at most 8 bytes last read in this chunk, each kept with its effect
** on the modes, (modes & keep) | set, and on the alternate screen's
** number: the few a program repeats are then recognised by one compare. */
#define MEMO_N 4
typedef struct {
    uint64_t key[MEMO_N], mask[MEMO_N];   /* the bytes; empty: key 1, mask 0 */
    unsigned keep[MEMO_N], set[MEMO_N];
    unsigned short alt[MEMO_N];           /* 0: alt left as it was */
    unsigned char len[MEMO_N], next;
} vt_memo;

/* The length of the plain DEC private mode sequence at p (an ESC), when
** it is one of at most 8 bytes, else 0. */
static size_t vt_plain_dec(const unsigned char *p, const unsigned char *end) {
    size_t i;
    if (end - p < 8 || p[1] != '[' || p[2] != '?')
        return 0;
    for (i = 3; i < 8; i++) {
        unsigned c = p[i];
        if (c == 'h' || c == 'l')
            return i > 3 ? i + 1 : 0;
        if (c - '0' > 9u && c != ';')
            return 0;
    }
    return 0;
}

/* The mode sequence at q (an ESC that may set a mode), applied to v:
** from the memo, or read and then kept there. Returns where it ended. */
static const unsigned char *vt_mode_seq(dp_vt *v, vt_memo *m, const unsigned char *q,
                                        const unsigned char *last,
                                        const unsigned char *end) {
    uint64_t k = 0;
    size_t len;
    dp_vt t;
    int i;
    if (end - q >= 8) {
        memcpy(&k, q, 8);
        for (i = 0; i < MEMO_N; i++) {
            if ((k & m->mask[i]) == m->key[i]) {
                v->modes = (v->modes & m->keep[i]) | m->set[i];
                if (m->alt[i] != 0)
                    v->alt = m->alt[i];
                return q + m->len[i];
            }
        }
    }
    len = vt_plain_dec(q, last);
    if (len == 0)
        return vt_scan_one(v, q, last);
    i = m->next;
    m->next = (unsigned char)((i + 1) % MEMO_N);
    dp_vt_init(&t);
    vt_scan_one(&t, q, last);
    m->set[i] = t.modes;
    m->alt[i] = t.alt;
    dp_vt_init(&t);
    t.modes = (1u << DP_VT_NMODES) - 1;
    vt_scan_one(&t, q, last);
    m->keep[i] = t.modes & ~m->set[i];
    m->len[i] = (unsigned char)len;
    {
        unsigned char mb[8] = {0};
        memset(mb, 0xff, len);
        memcpy(&m->mask[i], mb, 8);
    }
    m->key[i] = k & m->mask[i];
    v->modes = (v->modes & m->keep[i]) | m->set[i];
    if (m->alt[i] != 0)
        v->alt = m->alt[i];
    return q + len;
}

/* The modes the sequences of [p, last) set, in order; last is an ESC and
** bytes up to end may be read. */
static void vt_modes_before(dp_vt *v, const unsigned char *p,
                            const unsigned char *last,
                            const unsigned char *end) {
    vt_memo memo;
    int i;
    memset(&memo, 0, sizeof memo);
    for (i = 0; i < MEMO_N; i++)
        memo.key[i] = 1;           /* matches nothing */
#ifdef __SSE2__
    {
        const __m128i esc = _mm_set1_epi8(0x1b), lb = _mm_set1_epi8('[');
        const __m128i lo = _mm_set1_epi8(0x2f), hi = _mm_set1_epi8(0x7f);
        const __m128i qm = _mm_set1_epi8('?');
        /* bytes to p + 17 are read: p + 17 <= last < end */
        while (last - p >= 17) {
            __m128i b0 = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
            __m128i b2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 2));
            /* signed compares: bytes from 0x80 are negative, out of range */
            __m128i in = _mm_and_si128(_mm_cmpgt_epi8(b2, lo), _mm_cmplt_epi8(b2, hi));
            __m128i plain = _mm_and_si128(_mm_cmpeq_epi8(b1, lb),
                                          _mm_andnot_si128(_mm_cmpeq_epi8(b2, qm), in));
            __m128i hit = _mm_andnot_si128(plain, _mm_cmpeq_epi8(b0, esc));
            unsigned m = (unsigned)_mm_movemask_epi8(hit);
            if (m == 0)
                p += 16;
            else
                p = vt_mode_seq(v, &memo, p + __builtin_ctz(m), last, end);
        }
    }
#endif
    while (p < last && (p = vt_find_esc(p, last)) != NULL) {
        if (vt_may_set_mode(p, end))
            p = vt_mode_seq(v, &memo, p, last, end);
        else
            p++;
    }
}

/* What the sequence [p, nx) does to the SGR state, as keep and set: its
** result from no attribute on, and from every one on. */
static void vt_sgr_effect(const unsigned char *p, const unsigned char *nx,
                          unsigned *keep, unsigned *set) {
    dp_vt t;
    unsigned all;
    dp_vt_init(&t);
    vt_scan_inorder(&t, p, nx);
    *set = t.sgr;
    dp_vt_init(&t);
    t.sgr = SGR_ALL;
    vt_scan_inorder(&t, p, nx);
    all = t.sgr;
    *keep = all & ~*set;
}

/* The SGR state after [p, last), from the state before it; last is an ESC. */
static unsigned vt_sgr_before(unsigned sgr, const unsigned char *p,
                              const unsigned char *last) {
    unsigned keep = SGR_ALL, set = 0;   /* what [nx, last) does */
    const unsigned char *nx = last;
    while (keep != 0 && nx > p) {
        unsigned k, s;
        const unsigned char *e = memrchr(p, 0x1b, (size_t)(nx - p));
        if (e == NULL)
            break;
        vt_sgr_effect(e, nx, &k, &s);
        set |= s & keep;
        keep &= k;
        nx = e;
    }
    return (sgr & keep) | set;
}

/* }==================================================================== */

void dp_vt_scan(dp_vt *v, const char *buf, size_t n) {
    const unsigned char *p = (const unsigned char *)buf;
    const unsigned char *end = p + n, *last;
    unsigned sgr;
    while (p < end && v->state != ST_GROUND)   /* a sequence from before */
        p = vt_step(v, p, end);
    if (p == end || (last = memrchr(p, 0x1b, (size_t)(end - p))) == NULL)
        return;
    sgr = v->sgr;
    vt_modes_before(v, p, last, end);
    v->sgr = vt_sgr_before(sgr, p, last);
    vt_scan_inorder(v, last, end);
}

size_t dp_vt_undo(const dp_vt *v, char *out, size_t cap) {
    unsigned on = dp_vt_modes(v);
    size_t o = 0;
    int i;
    for (i = 0; i < DP_VT_NMODES; i++) {
        const char *s = UNDO[i];
        size_t len;
        if (!(on & (1u << i)))
            continue;
        if (s == NULL)          /* the alternate screen, as it was entered */
            s = v->alt == 47 ? "\033[?47l" : v->alt == 1047 ? "\033[?1047l" : "\033[?1049l";
        len = strlen(s);
        if (len > cap - o)
            break;
        memcpy(out + o, s, len);
        o += len;
    }
    return o;
}

/* {====================================================================
** Lua class dockerpty.VtModes
** ===================================================================== */

static dp_vt *vt_check(lua_State *L) {
    return (dp_vt *)luaL_checkudata(L, 1, DP_VTMODES);
}

/***
** A new mode tracker, every mode off.
** @function vtmodes
** @treturn dockerpty.VtModes the tracker
** @usage local vt = core.vtmodes()
*/
static int vt_f_new(lua_State *L) {
    dp_vt *v = (dp_vt *)lua_newuserdatauv(L, sizeof *v, 0);
    dp_vt_init(v);
    luaL_setmetatable(L, DP_VTMODES);
    return 1;
}

/***
** Scan output bytes, in order; a sequence may be split across calls.
** @function VtModes:feed
** @tparam string data bytes written to the terminal
** @treturn dockerpty.VtModes the tracker
** @usage vt:feed("\27[?1049h")
*/
static int vt_m_feed(lua_State *L) {
    dp_vt *v = vt_check(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    dp_vt_scan(v, s, n);
    lua_settop(L, 1);
    return 1;
}

/***
** The sequences that turn off exactly the modes still on ("" when none).
** @function VtModes:undo
** @treturn string
** @usage io.stdout:write(vt:undo())
*/
static int vt_m_undo(lua_State *L) {
    char out[DP_VT_UNDO_MAX];
    size_t n = dp_vt_undo(vt_check(L), out, sizeof out);
    lua_pushlstring(L, out, n);
    return 1;
}

/***
** The names of the modes on, in the order undo() turns them off:
** mouse_any, mouse_btn, mouse_vt200, mouse_x10, mouse_sgr, mouse_urxvt,
** mouse_utf8, focus, paste, keypad, cursor_keys, cursor_hidden, sgr,
** alt_screen.
** @function VtModes:modes
** @treturn table a list of names, empty when nothing is on
** @usage for _, name in ipairs(vt:modes()) do print(name) end
*/
static int vt_m_modes(lua_State *L) {
    unsigned on = dp_vt_modes(vt_check(L));
    int i, k = 0;
    lua_createtable(L, DP_VT_NMODES, 0);
    for (i = 0; i < DP_VT_NMODES; i++) {
        if (on & (1u << i)) {
            lua_pushstring(L, NAMES[i]);
            lua_rawseti(L, -2, ++k);
        }
    }
    return 1;
}

/***
** Whether any mode (or an SGR attribute) is on.
** @function VtModes:dirty
** @treturn boolean
** @usage if vt:dirty() then io.stdout:write(vt:undo()) end
*/
static int vt_m_dirty(lua_State *L) {
    lua_pushboolean(L, dp_vt_dirty(vt_check(L)));
    return 1;
}

/***
** Forget everything: every mode off (after undo() was written).
** @function VtModes:reset
** @treturn dockerpty.VtModes the tracker
** @usage vt:reset()
*/
static int vt_m_reset(lua_State *L) {
    dp_vt_init(vt_check(L));
    lua_settop(L, 1);
    return 1;
}

static int vt_m_tostring(lua_State *L) {
    lua_pushfstring(L, "%s (%p)", DP_VTMODES, (void *)vt_check(L));
    return 1;
}

int vtmodes_open(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__tostring", vt_m_tostring},
        {NULL, NULL}
    };
    static const luaL_Reg methods[] = {
        {"feed", vt_m_feed},
        {"undo", vt_m_undo},
        {"modes", vt_m_modes},
        {"dirty", vt_m_dirty},
        {"reset", vt_m_reset},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"vtmodes", vt_f_new},
        {NULL, NULL}
    };
    dp_createmeta(L, DP_VTMODES, meta, methods);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}

/* }==================================================================== */
