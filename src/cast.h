/*
** cast.h: the text of asciicast v2 events. Bytes in, the body of a JSON
** string out: valid UTF-8 only (each byte outside a valid sequence becomes
** U+FFFD), control characters, '"' and '\' escaped, and an incomplete
** character at the end of the input left for the next chunk. No I/O.
*/
#ifndef DP_CAST_H
#define DP_CAST_H

#include <stddef.h>

#pragma GCC visibility push(hidden)

/* The most output bytes one input byte can need ("\u001f"). */
#define DP_CAST_ITEM 6

/*
** Encode p[0..n) into out[0..cap) as far as it fits; returns the bytes
** written and sets *used to the bytes of p encoded. It stops early when
** out is nearly full (cap >= DP_CAST_ITEM always allows progress) or
** when the rest of p is the valid beginning of a multi-byte character and
** final is 0: then a call with the rest uses 0 bytes. With final set,
** such a beginning becomes U+FFFD too, one per byte.
*/
size_t dp_cast_text(const unsigned char *p, size_t n, int final, char *out, size_t cap,
                    size_t *used);

#pragma GCC visibility pop

#endif
