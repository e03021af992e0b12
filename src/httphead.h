/*
** httphead.h: parser of an HTTP/1.x response head (status line and
** header fields), as read from a hijacked connection. Accepts CRLF and
** bare LF line ends; bounded: no allocation, at most DP_HEAD_MAXHDR fields.
*/
#ifndef DP_HTTPHEAD_H
#define DP_HTTPHEAD_H

#include <stddef.h>
#include "dockerpty.h"

#pragma GCC visibility push(hidden)

#define DP_HEAD_MAXHDR 64
#define DP_HEAD_MAXLEN 16384    /* a longer head is malformed */

typedef struct dp_header {
    const char *name;  size_t name_len;
    const char *value; size_t value_len;   /* trimmed of spaces and tabs */
} dp_header;

typedef struct dp_head {
    int minor;                 /* HTTP/1.<minor> */
    int status;                /* 100..999 */
    const char *reason; size_t reason_len;
    dp_header headers[DP_HEAD_MAXHDR];
    size_t nheaders;
} dp_head;

/*
** Parse buf[0..len). Returns the length of the head including the blank
** line (> 0) when complete; 0 when more bytes are needed (and len is below
** DP_HEAD_MAXLEN); -1 when malformed or too long. Pointers in h point
** into buf.
*/
long dp_head_parse(const char *buf, size_t len, dp_head *h);

/* Push a table of the fields: lower-cased names to values, repeated names
** joined with ", ". Can raise (memory errors only). */
void dp_head_push(lua_State *L, const dp_head *h);

/* Case-insensitive lookup; NULL when absent. */
const dp_header *dp_head_find(const dp_head *h, const char *name);

#pragma GCC visibility pop

#endif
