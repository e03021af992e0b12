/*
** httphead.c: parser of an HTTP/1.x response head (status line and header
** fields), as read from a hijacked connection, and its Lua test entry
** core._parse_head. No allocation: the parsed head points into the input.
*/
#include <string.h>
#include <strings.h>

#include "dockerpty.h"
#include "util.h"
#include "httphead.h"

/* A token character of RFC 9110 (header field names). */
static int head_istchar(unsigned char ch) {
    if (ch >= '0' && ch <= '9')
        return 1;
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
        return 1;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Text allowed in a reason phrase or a field value: visible bytes, space,
** tab and obs-text (>= 0x80); no other control byte. */
static int head_istext(unsigned char ch) {
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

/* Trim spaces and tabs on both ends of [*s, *s + *len). */
static void head_trim(const char **s, size_t *len) {
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

/* The status line "HTTP/1.x NNN[ reason]" (without its line end). */
static int head_status(const char *p, size_t len, dp_head *h) {
    size_t i;
    if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0)
        return -1;
    if (p[7] < '0' || p[7] > '9' || p[8] != ' ')
        return -1;
    h->minor = p[7] - '0';
    for (i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return -1;
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (h->status < 100)
        return -1;
    if (len == 12) {
        h->reason = p + 12;
        h->reason_len = 0;
        return 0;
    }
    if (p[12] != ' ')
        return -1;
    for (i = 13; i < len; i++)
        if (!head_istext((unsigned char)p[i]))
            return -1;
    h->reason = p + 13;
    h->reason_len = len - 13;
    head_trim(&h->reason, &h->reason_len);
    return 0;
}

/* One field line "name: value" (without its line end). */
static int head_field(const char *p, size_t len, dp_head *h) {
    const char *colon = memchr(p, ':', len);
    dp_header *f;
    size_t i;
    if (colon == NULL || colon == p)
        return -1;
    for (i = 0; p + i < colon; i++)
        if (!head_istchar((unsigned char)p[i]))
            return -1;     /* also rejects obs-fold and "name :" */
    for (i = (size_t)(colon - p) + 1; i < len; i++)
        if (!head_istext((unsigned char)p[i]))
            return -1;
    if (h->nheaders >= DP_HEAD_MAXHDR)
        return -1;
    f = &h->headers[h->nheaders++];
    f->name = p;
    f->name_len = (size_t)(colon - p);
    f->value = colon + 1;
    f->value_len = len - f->name_len - 1;
    head_trim(&f->value, &f->value_len);
    return 0;
}

long dp_head_parse(const char *buf, size_t len, dp_head *h) {
    size_t pos = 0;
    size_t n = len < 7 ? len : 7;
    int first = 1;
    memset(h, 0, sizeof *h);
    /* Garbage is rejected at once instead of waiting for a line end. */
    if (memcmp(buf, "HTTP/1.", n) != 0)
        return -1;
    for (;;) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t linelen;
        if (nl == NULL)
            return len >= DP_HEAD_MAXLEN ? -1 : 0;
        linelen = (size_t)(nl - line);
        pos += linelen + 1;
        if (pos > DP_HEAD_MAXLEN)
            return -1;
        if (linelen > 0 && line[linelen - 1] == '\r')
            linelen--;
        if (first) {
            if (head_status(line, linelen, h) < 0)
                return -1;
            first = 0;
        } else if (linelen == 0) {
            return (long)pos;
        } else if (head_field(line, linelen, h) < 0) {
            return -1;
        }
    }
}

const dp_header *dp_head_find(const dp_head *h, const char *name) {
    size_t len = strlen(name);
    size_t i;
    for (i = 0; i < h->nheaders; i++) {
        const dp_header *f = &h->headers[i];
        if (f->name_len == len && strncasecmp(f->name, name, len) == 0)
            return f;
    }
    return NULL;
}

void dp_head_push(lua_State *L, const dp_head *h) {
    size_t i, j;
    lua_createtable(L, 0, (int)h->nheaders);
    for (i = 0; i < h->nheaders; i++) {
        const dp_header *f = &h->headers[i];
        luaL_Buffer b;
        char *p = luaL_buffinitsize(L, &b, f->name_len);
        for (j = 0; j < f->name_len; j++) {
            unsigned char ch = (unsigned char)f->name[j];
            p[j] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
        luaL_pushresultsize(&b, f->name_len);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, -3) == LUA_TSTRING) {
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, f->value, f->value_len);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushlstring(L, f->value, f->value_len);
        }
        lua_rawset(L, -3);
    }
}
