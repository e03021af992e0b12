/*
** vtmodes.h: the terminal modes a remote program left on. A tracker that
** scans output bytes as they pass (a search for ESC in the chunk, no copy)
** and keeps the DEC private modes set with CSI ? Pn h and reset with
** CSI ? Pn l, the keypad mode (ESC = / ESC >) and whether SGR attributes
** are on; then writes the sequences that turn off exactly what is still
** on. Bounded state: a sequence split across any number of chunks is
** seen, and a parameter list of any length costs nothing more.
*/
#ifndef DP_VTMODES_H
#define DP_VTMODES_H

#include <stddef.h>

#pragma GCC visibility push(hidden)

/* Longest output of dp_vt_undo: a buffer this size always suffices. */
#define DP_VT_UNDO_MAX 128

/* Modes (dp_vt.modes bits), in the order dp_vt_undo turns them off. */
enum {
    DP_VT_MOUSE_ANY     = 1u << 0,    /* ?1003 any-event tracking */
    DP_VT_MOUSE_BTN     = 1u << 1,    /* ?1002 button-event tracking */
    DP_VT_MOUSE_VT200   = 1u << 2,    /* ?1000 normal tracking */
    DP_VT_MOUSE_X10     = 1u << 3,    /* ?9 X10 compatibility */
    DP_VT_MOUSE_SGR     = 1u << 4,    /* ?1006 SGR encoding */
    DP_VT_MOUSE_URXVT   = 1u << 5,    /* ?1015 urxvt encoding */
    DP_VT_MOUSE_UTF8    = 1u << 6,    /* ?1005 UTF-8 encoding */
    DP_VT_FOCUS         = 1u << 7,    /* ?1004 focus events */
    DP_VT_PASTE         = 1u << 8,    /* ?2004 bracketed paste */
    DP_VT_KEYPAD        = 1u << 9,    /* ESC = (or ?66): application keypad */
    DP_VT_CURSOR_KEYS   = 1u << 10,   /* ?1 application cursor keys */
    DP_VT_CURSOR_HIDDEN = 1u << 11,   /* ?25 reset: cursor hidden */
    DP_VT_SGR           = 1u << 12,   /* SGR attributes on (not a DEC mode) */
    DP_VT_ALT           = 1u << 13,   /* ?1049, ?1047 or ?47: alternate screen */
    DP_VT_NMODES        = 14
};

typedef struct dp_vt {
    unsigned modes;          /* DP_VT_* now on, except DP_VT_SGR */
    unsigned sgr;            /* SGR attribute groups now on (0: default) */
    unsigned short alt;      /* the mode number that entered the alternate screen */
    /* the sequence being read */
    unsigned char state;     /* ground, escape, escape intermediate, CSI */
    unsigned char flags;     /* CSI: private marker, other marker, intermediate, invalid */
    unsigned pending;        /* CSI ?: the tracked modes named so far */
    unsigned short alt_pending; /* CSI ?: the last alternate-screen mode named */
    unsigned sgr_try;        /* CSI: the SGR state should the final byte be 'm' */
    unsigned param;          /* the number being read, capped */
    unsigned main;           /* the parameter before its first ':' */
    unsigned sub1;           /* its first ':' subparameter */
    unsigned char nsub;      /* ':' seen in this parameter (capped) */
    unsigned char ext;       /* SGR 38/48/58 ';' form: 1 wants the kind, else values to skip + 1 */
} dp_vt;

/* Start with every mode off (a terminal as after a reset). */
void dp_vt_init(dp_vt *v);

/* Scan the next n bytes of output. Never fails, never allocates. */
void dp_vt_scan(dp_vt *v, const char *buf, size_t n);

/* True when a mode, or an SGR attribute, is on. */
int dp_vt_dirty(const dp_vt *v);

/* The modes on, as DP_VT_* bits (DP_VT_SGR included). */
unsigned dp_vt_modes(const dp_vt *v);

/*
** Write into out the sequences that turn off exactly the modes still on:
** mouse tracking and its encodings, focus events, bracketed paste, keypad,
** cursor keys, cursor shown, SGR reset, and the alternate screen last.
** Writes whole sequences only, as many as fit in cap (DP_VT_UNDO_MAX
** always suffices); returns the bytes written, 0 when nothing is on.
** The tracker is not changed: dp_vt_init it after writing the bytes.
*/
size_t dp_vt_undo(const dp_vt *v, char *out, size_t cap);

/* The name of DP_VT_* bit i (0 <= i < DP_VT_NMODES): "mouse_any", ... */
const char *dp_vt_name(int i);

#pragma GCC visibility pop

#endif
