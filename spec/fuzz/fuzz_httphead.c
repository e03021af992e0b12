/*
** fuzz_httphead.c: libFuzzer target F2: the HTTP/1.x response-head parser
** (src/httphead.c) that reads the upgrade response and error heads.
**
** Input: the bytes read from the connection so far (status line, header
** fields, then any leftover bytes of the stream).
**
** Checked: the result is -1, 0 (only below DP_HEAD_MAXLEN) or a head
** length n <= min(len, DP_HEAD_MAXLEN) ending in "\n\n" or "\n\r\n"; a
** complete head has a status of 100..999, a minor version digit, at most
** DP_HEAD_MAXHDR fields whose names are tokens and whose values are
** trimmed, with no CR or LF, all pointing into buf[0..n); the head does not
** depend on the leftover bytes (parsing buf[0..n) gives the same head) and
** every proper prefix of it parses to 0; dp_head_find finds each field by
** its name in any case. The input is an exact-size allocation.
*/
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httphead.h"

#define CHECK(c) do { if (!(c)) { \
    fprintf(stderr, "fuzz_httphead: check failed at line %d: %s\n", __LINE__, #c); \
    abort(); } } while (0)

static int inside(const char *p, size_t n, const char *buf, size_t len) {
    return p >= buf && p + n <= buf + len;
}

static int is_token(const char *s, size_t n) {
    size_t i;
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && strchr("!#$%&'*+-.^_`|~", c) == NULL)
            return 0;
        if (c == 0)
            return 0;
    }
    return 1;
}

static int clean_value(const char *s, size_t n) {
    size_t i;
    if (n > 0 && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1);
    dp_head h, h2;
    long n;
    size_t i;
    CHECK(buf != NULL);
    if (size)
        memcpy(buf, data, size);
    n = dp_head_parse(buf, size, &h);
    CHECK(n >= -1);
    if (n == 0)
        CHECK(size < DP_HEAD_MAXLEN);
    if (n > 0) {
        size_t hl = (size_t)n;
        CHECK(hl <= size && hl <= DP_HEAD_MAXLEN && hl >= 14);
        CHECK(memcmp(buf, "HTTP/1.", 7) == 0);
        CHECK(buf[hl - 1] == '\n');
        CHECK(buf[hl - 2] == '\n' || (buf[hl - 2] == '\r' && buf[hl - 3] == '\n'));
        CHECK(h.status >= 100 && h.status <= 999);
        CHECK(h.minor >= 0 && h.minor <= 9 && h.minor == buf[7] - '0');
        CHECK(inside(h.reason, h.reason_len, buf, hl));
        CHECK(clean_value(h.reason, h.reason_len));
        CHECK(h.nheaders <= DP_HEAD_MAXHDR);
        for (i = 0; i < h.nheaders; i++) {
            const dp_header *f = &h.headers[i];
            const dp_header *g;
            char name[64];
            size_t j;
            CHECK(inside(f->name, f->name_len, buf, hl));
            CHECK(inside(f->value, f->value_len, buf, hl));
            CHECK(is_token(f->name, f->name_len));
            CHECK(f->name[f->name_len] == ':');
            CHECK(clean_value(f->value, f->value_len));
            if (f->name_len < sizeof name) {
                /* Found in another case, as the first field of that name. */
                for (j = 0; j < f->name_len; j++)
                    name[j] = (char)(j % 2 ? toupper((unsigned char)f->name[j])
                                           : tolower((unsigned char)f->name[j]));
                name[f->name_len] = '\0';
                g = dp_head_find(&h, name);
                CHECK(g != NULL && g <= f && g->name_len == f->name_len &&
                      strncasecmp(g->name, f->name, f->name_len) == 0);
            }
        }
        /* The leftover bytes do not change the head. */
        CHECK(dp_head_parse(buf, hl, &h2) == n);
        CHECK(h2.status == h.status && h2.nheaders == h.nheaders &&
              h2.reason == h.reason && h2.reason_len == h.reason_len);
        for (i = 0; i < h.nheaders; i++)
            CHECK(memcmp(&h.headers[i], &h2.headers[i], sizeof h.headers[i]) == 0);
        /* Every proper prefix needs more bytes: a few of them, for speed. */
        CHECK(dp_head_parse(buf, hl - 1, &h2) == 0);
        CHECK(dp_head_parse(buf, hl / 2, &h2) == 0);
        CHECK(dp_head_parse(buf, 0, &h2) == 0);
    } else if (n < 0 && size > 0) {
        /* Malformed stays malformed when more bytes arrive. */
        char *more = malloc(size + 4);
        CHECK(more != NULL);
        memcpy(more, buf, size);
        memcpy(more + size, "\r\n\r\n", 4);
        CHECK(dp_head_parse(more, size + 4, &h2) == -1);
        free(more);
    }
    free(buf);
    return 0;
}
