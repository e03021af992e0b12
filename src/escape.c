/*
** escape.c: detach keys (docs/protocol.md, "Detach keys"). The key-spec
** parser of the docker CLI format ("ctrl-p,ctrl-q") and the escape proxy
** that watches stdin for the sequence, holding a partial match across
** reads and replaying it on a mismatch; Lua class dockerpty.Escape. The
** bytes before a match go out, the keys never do, and what it holds back
** is always a prefix of the sequence.
*/
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "util.h"

/* One item of a spec: its byte, or -1. */
static int escape_item(const char *s, size_t n) {
    static const char ctrlpunct[] = "@[\\]^_";
    static const unsigned char ctrlpunctval[] = {0, 27, 28, 29, 30, 31};
    if (n == 1)
        return (unsigned char)s[0];
    if (n == 3 && memcmp(s, "DEL", 3) == 0)
        return 127;
    if (n == 6 && memcmp(s, "ctrl-", 5) == 0) {
        unsigned char c = (unsigned char)s[5];
        const char *p;
        if (c >= 'a' && c <= 'z')
            return c - 'a' + 1;
        if (c >= 'A' && c <= 'Z')
            return c - 'A' + 1;
        p = c != '\0' ? strchr(ctrlpunct, c) : NULL;
        if (p != NULL)
            return ctrlpunctval[p - ctrlpunct];
    }
    return -1;
}

int dp_escape_parse(const char *spec, size_t len, unsigned char *out,
                    size_t outmax, char *err, size_t errlen) {
    size_t start = 0, count = 0;
    if (len == 0) {
        snprintf(err, errlen, "invalid detach keys: (empty)");
        return -1;
    }
    for (;;) {
        const char *comma = memchr(spec + start, ',', len - start);
        size_t end = comma ? (size_t)(comma - spec) : len;
        size_t n = end - start;
        int b = escape_item(spec + start, n);
        if (b < 0) {
            if (n == 0)
                snprintf(err, errlen, "invalid detach keys: (empty item)");
            else
                snprintf(err, errlen, "invalid detach keys: %.*s",
                         (int)(n > 64 ? 64 : n), spec + start);
            return -1;
        }
        if (count >= outmax) {
            snprintf(err, errlen, "invalid detach keys: more than %zu keys",
                     outmax);
            return -1;
        }
        out[count++] = (unsigned char)b;
        if (comma == NULL)
            break;
        start = end + 1;
    }
    return (int)count;
}

void dp_escape_init(dp_escape *e, const unsigned char *keys, size_t n) {
    if (n > DP_ESCAPE_MAX)
        n = DP_ESCAPE_MAX;
    if (n > 0)
        memcpy(e->keys, keys, n);
    e->nkeys = n;
    e->matched = 0;
    e->detached = 0;
}

/*
** As the docker CLI's proxy does: a byte that breaks a partial match
** releases the held bytes (which are keys[0..matched)) and is then looked at
** again from the start of the sequence, so it may begin a new match.
*/
size_t dp_escape_filter(dp_escape *e, const char *in, size_t len, char *out) {
    size_t i, o = 0;
    if (e->detached)
        return 0;
    if (e->nkeys == 0) {
        if (len > 0)
            memcpy(out, in, len);
        return len;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c != e->keys[e->matched] && e->matched > 0) {
            memcpy(out + o, e->keys, e->matched);
            o += e->matched;
            e->matched = 0;
        }
        if (c == e->keys[e->matched]) {
            if (++e->matched == e->nkeys) {
                e->matched = 0;
                e->detached = 1;
                return o;   /* the sequence and what follows are dropped */
            }
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

size_t dp_escape_flush(dp_escape *e, char *out) {
    size_t n = e->matched;
    memcpy(out, e->keys, n);
    e->matched = 0;
    return n;
}

/* {====================================================================
** Lua functions and class dockerpty.Escape
** ===================================================================== */

/***
** Parse a docker detach-key spec: comma-separated items, each one
** character, `ctrl-a` … `ctrl-z`, `ctrl-@`, `ctrl-[`, `ctrl-\`, `ctrl-]`,
** `ctrl-^`, `ctrl-_` or `DEL`.
** @function parse_keys
** @tparam string spec e.g. "ctrl-p,ctrl-q"
** @treturn[1] string the key bytes ("\16\17")
** @return[2] nil
** @treturn[2] string "invalid detach keys: <item>"
** @treturn[2] string "invalid"
** @usage local keys = assert(core.parse_keys("ctrl-p,ctrl-q"))
*/
static int escape_f_parse_keys(lua_State *L) {
    size_t len;
    const char *spec = luaL_checklstring(L, 1, &len);
    unsigned char keys[DP_ESCAPE_MAX];
    char err[128];
    int n = dp_escape_parse(spec, len, keys, sizeof keys, err, sizeof err);
    if (n < 0)
        return dp_push_error(L, err, "invalid");
    lua_pushlstring(L, (const char *)keys, (size_t)n);
    return 1;
}

static dp_escape *escape_check(lua_State *L) {
    return (dp_escape *)luaL_checkudata(L, 1, DP_ESCAPE);
}

/***
** A new escape proxy watching for `keys` (bytes, as from parse_keys).
** Raises if keys is longer than 32 bytes; "" watches for nothing.
** @function escape
** @tparam string keys the detach sequence
** @treturn dockerpty.Escape the proxy
** @usage local esc = core.escape(core.parse_keys("ctrl-p,ctrl-q"))
*/
static int escape_f_new(lua_State *L) {
    size_t n;
    const char *keys = luaL_checklstring(L, 1, &n);
    dp_escape *e;
    luaL_argcheck(L, n <= DP_ESCAPE_MAX, 1, "more than 32 keys");
    e = (dp_escape *)lua_newuserdatauv(L, sizeof *e, 0);
    dp_escape_init(e, (const unsigned char *)keys, n);
    luaL_setmetatable(L, DP_ESCAPE);
    return 1;
}

/***
** Filter input bytes. A partial match is held across calls and replayed
** when it breaks; on a full match only the bytes before the sequence are
** returned and the rest is dropped. Once detached, returns "" and true.
** @function Escape:filter
** @tparam string data bytes read from stdin
** @treturn string the bytes to forward
** @treturn boolean true once the whole sequence was seen
** @usage local fwd, detached = esc:filter(chunk)
*/
static int escape_m_filter(lua_State *L) {
    dp_escape *e = escape_check(L);
    size_t len, n;
    const char *in = luaL_checklstring(L, 2, &len);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, len + DP_ESCAPE_MAX);
    n = dp_escape_filter(e, in, len, out);
    luaL_pushresultsize(&b, n);
    lua_pushboolean(L, e->detached);
    return 2;
}

/***
** Take the held partial match (at input EOF) and forget it.
** @function Escape:flush
** @treturn string the held bytes, "" when none
** @usage out:write(esc:flush())
*/
static int escape_m_flush(lua_State *L) {
    dp_escape *e = escape_check(L);
    char out[DP_ESCAPE_MAX];
    size_t n = dp_escape_flush(e, out);
    lua_pushlstring(L, out, n);
    return 1;
}

/***
** Whether the whole sequence was seen.
** @function Escape:detached
** @treturn boolean
** @usage if esc:detached() then ... end
*/
static int escape_m_detached(lua_State *L) {
    lua_pushboolean(L, escape_check(L)->detached);
    return 1;
}

static int escape_m_tostring(lua_State *L) {
    lua_pushfstring(L, "%s (%p)", DP_ESCAPE, (void *)escape_check(L));
    return 1;
}

int escape_open(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__tostring", escape_m_tostring},
        {NULL, NULL}
    };
    static const luaL_Reg methods[] = {
        {"filter", escape_m_filter},
        {"flush", escape_m_flush},
        {"detached", escape_m_detached},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"parse_keys", escape_f_parse_keys},
        {"escape", escape_f_new},
        {NULL, NULL}
    };
    dp_createmeta(L, DP_ESCAPE, meta, methods);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
