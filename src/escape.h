/*
** escape.h: detach keys. The docker key-spec parser ("ctrl-p,ctrl-q") and
** the escape proxy that watches an input stream for the sequence, holding
** a partial match across reads and replaying it on a mismatch.
*/
#ifndef DP_ESCAPE_H
#define DP_ESCAPE_H

#include <stddef.h>

#pragma GCC visibility push(hidden)

#define DP_ESCAPE_MAX 32   /* longest key sequence accepted */

typedef struct dp_escape {
    unsigned char keys[DP_ESCAPE_MAX];
    size_t nkeys;      /* 0: no watching */
    size_t matched;    /* bytes of keys currently held */
    int detached;      /* set once the whole sequence was seen */
} dp_escape;

/*
** Parse a docker detach-key spec into bytes. Returns the number of bytes
** (>= 1) or -1; on -1, err receives "invalid detach keys: <item>" (or a
** message naming what was wrong), NUL terminated within errlen.
*/
int dp_escape_parse(const char *spec, size_t len, unsigned char *out,
                    size_t outmax, char *err, size_t errlen);

void dp_escape_init(dp_escape *e, const unsigned char *keys, size_t n);

/*
** Filter in[0..len) into out, which must hold len + DP_ESCAPE_MAX bytes.
** Returns the number of bytes to forward. Bytes that may start the key
** sequence are held in e; on a mismatch they are replayed into out before
** the byte that broke the match. On a full match e->detached is set, the
** bytes before the sequence are returned and the rest of the input is
** dropped. Once detached, returns 0.
*/
size_t dp_escape_filter(dp_escape *e, const char *in, size_t len, char *out);

/* Copy the held partial match into out (at most DP_ESCAPE_MAX bytes) and
** forget it; returns its length. Used at input EOF. */
size_t dp_escape_flush(dp_escape *e, char *out);

#pragma GCC visibility pop

#endif
