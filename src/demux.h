/*
** demux.h: incremental decoder of Docker's multiplexed stream (8-byte
** header: type, 3 padding bytes, big-endian uint32 length; then payload).
** Zero-copy: pieces point into the caller's input buffer; a frame is never
** buffered whole, so a frame that claims 4 GiB costs no memory.
*/
#ifndef DP_DEMUX_H
#define DP_DEMUX_H

#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

#define DP_DEMUX_MSGMAX 1024   /* bytes of a type-3 message kept */

typedef struct dp_demux {
    unsigned char hdr[8];
    unsigned hlen;             /* header bytes held so far (0..7) */
    uint64_t remain;           /* payload bytes left in the current frame */
    int stream;                /* type of the current frame, -1 between frames */
    int err;                   /* sticky: 0, DP_DEMUX_EPROTO or DP_DEMUX_EDAEMON */
    char msg[DP_DEMUX_MSGMAX + 64]; /* type-3 text, or the protocol error */
    size_t msglen;
} dp_demux;

enum {
    DP_DEMUX_NEED = 0,     /* all input consumed, no piece */
    DP_DEMUX_PIECE = 1,    /* *stream, *piece, *n describe a payload piece */
    DP_DEMUX_EPROTO = -1,  /* unknown stream type: message names the byte */
    DP_DEMUX_EDAEMON = -2  /* type 3: message is the daemon's text */
};

/* EOF states for dp_demux_eof */
enum { DP_DEMUX_CLEAN = 0, DP_DEMUX_TRUNC_HEADER = 1, DP_DEMUX_TRUNC_PAYLOAD = 2 };

void dp_demux_init(dp_demux *d);

/*
** Consume bytes from buf[0..len). *used is set to the bytes consumed (the
** caller advances by it and calls again). Returns DP_DEMUX_PIECE with
** *stream (1 stdout, 2 stderr; type 0 is reported as 1), *piece (pointer
** into buf) and *n > 0; DP_DEMUX_NEED when *used == len and no piece is
** ready; a negative error, sticky, with the text in dp_demux_error().
** Zero-length frames produce no piece.
*/
int dp_demux_next(dp_demux *d, const char *buf, size_t len, size_t *used,
                  int *stream, const char **piece, size_t *n);

/* At EOF: DP_DEMUX_CLEAN, _TRUNC_HEADER (1..7 header bytes held) or
** _TRUNC_PAYLOAD (inside a payload). */
int dp_demux_eof(const dp_demux *d);

/* Text of the sticky error ("" when none). */
const char *dp_demux_error(const dp_demux *d);

#pragma GCC visibility pop

#endif
