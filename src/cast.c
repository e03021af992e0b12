/*
** cast.c: the text of asciicast v2 events (lua/dockerpty/record.lua).
** dp_cast_text turns any bytes into the body of a JSON string of valid
** UTF-8, holding back a character split at the end of a chunk; Lua gets
** whole event lines from core._cast_event. No I/O, no allocation of ours.
*/
#include <stdio.h>
#include <string.h>

#include "cast.h"
#include "dockerpty.h"

static const char hexdigit[] = "0123456789abcdef";

/* The length of the valid UTF-8 sequence at p[0..n) (RFC 3629: no overlong
** forms, no surrogates, nothing past U+10FFFF); 0 when p[0] does not start
** one; -1 when the n bytes are the valid beginning of one that is cut. */
static int cast_seqlen(const unsigned char *p, size_t n) {
    unsigned char b = p[0], lo = 0x80, hi = 0xBF;
    int len, i;
    if (b >= 0xC2 && b <= 0xDF)
        len = 2;
    else if (b >= 0xE0 && b <= 0xEF)
        len = 3;
    else if (b >= 0xF0 && b <= 0xF4)
        len = 4;
    else
        return 0;
    if (b == 0xE0)
        lo = 0xA0;
    else if (b == 0xED)
        hi = 0x9F;
    else if (b == 0xF0)
        lo = 0x90;
    else if (b == 0xF4)
        hi = 0x8F;
    for (i = 1; i < len; i++) {
        if ((size_t)i >= n)
            return -1;
        if (p[i] < lo || p[i] > hi)
            return 0;
        lo = 0x80;
        hi = 0xBF;
    }
    return len;
}

/* What each byte is: 0 printable ASCII, copied; 1 escaped (controls, 0x7F,
** '"', '\\'); 2 the first byte of a multi-byte character, or invalid. */
static const unsigned char cast_class[256] = {
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
};

/* The escape of a byte of class 1 into o; its length. */
static size_t cast_escape(unsigned char c, char *o) {
    const char *s = NULL;
    switch (c) {
    case '\b': s = "\\b"; break;
    case '\t': s = "\\t"; break;
    case '\n': s = "\\n"; break;
    case '\f': s = "\\f"; break;
    case '\r': s = "\\r"; break;
    case '"': s = "\\\""; break;
    case '\\': s = "\\\\"; break;
    default: break;
    }
    if (s != NULL) {
        memcpy(o, s, 2);
        return 2;
    }
    memcpy(o, "\\u00", 4);
    o[4] = hexdigit[c >> 4];
    o[5] = hexdigit[c & 15];
    return 6;
}

size_t dp_cast_text(const unsigned char *p, size_t n, int final, char *out, size_t cap,
                    size_t *used) {
    size_t i = 0, o = 0;
    while (i < n && cap - o >= DP_CAST_ITEM) {
        unsigned char k = cast_class[p[i]];
        if (k == 0) {
            size_t j = i + 1, lim = i + (cap - o);
            if (lim > n)
                lim = n;
            while (j < lim && cast_class[p[j]] == 0)
                j++;
            memcpy(out + o, p + i, j - i);
            o += j - i;
            i = j;
        } else if (k == 1) {
            o += cast_escape(p[i], out + o);
            i++;
        } else {
            int len = cast_seqlen(p + i, n - i);
            if (len < 0 && !final)
                break;  /* the rest is the start of a character: keep it */
            if (len > 0) {
                memcpy(out + o, p + i, (size_t)len);
                o += (size_t)len;
                i += (size_t)len;
            } else {
                memcpy(out + o, "\xEF\xBF\xBD", 3);  /* U+FFFD */
                o += 3;
                i++;
            }
        }
    }
    *used = i;
    return o;
}

/***
** One asciicast v2 event line, and the bytes it held back.
** @function _cast_event
** @tparam number seconds since the start of the recording
** @tparam string code "o", "i" or "r"
** @tparam string data the event's bytes (any: see dp_cast_text)
** @tparam[opt] boolean final encode an incomplete character at the end too
** @treturn[1] string|nil the line `[seconds, "code", "text"]` without its
** newline; nil when every byte was held back
** @treturn[1] string|nil the bytes of an incomplete character ending data,
** to pass before the next chunk
** @usage local line, held = core._cast_event(1.5, "o", chunk)
** Raises only on a bad argument or a memory error.
*/
static int cast_f_event(lua_State *L) {
    double t = luaL_checknumber(L, 1);
    size_t codelen, n, i = 0;
    const char *code = luaL_checklstring(L, 2, &codelen);
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 3, &n);
    int final = lua_toboolean(L, 4);
    char head[64];
    luaL_Buffer b;
    int hn;
    luaL_argcheck(L, codelen > 0 && codelen <= 8, 2, "event code expected");
    hn = snprintf(head, sizeof head, "[%.6f, \"%s\", \"", t < 0 ? 0.0 : t, code);
    if (hn < 0 || (size_t)hn >= sizeof head)
        return luaL_argerror(L, 1, "time out of range");
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, head, (size_t)hn);
    while (i < n) {
        size_t room = n - i + 64, used;  /* text is mostly as long as its bytes */
        char *o = luaL_prepbuffsize(&b, room);
        luaL_addsize(&b, dp_cast_text(data + i, n - i, final, o, room, &used));
        if (used == 0)
            break;
        i += used;
    }
    if (i == 0 && n > 0) {
        lua_pushnil(L);  /* every byte held back */
    } else {
        luaL_addlstring(&b, "\"]", 2);
        luaL_pushresult(&b);
    }
    if (i < n)
        lua_pushlstring(L, (const char *)data + i, n - i);
    else
        lua_pushnil(L);
    return 2;
}

int cast_open(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"_cast_event", cast_f_event},
        {NULL, NULL}
    };
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
