/*
** transport.c: the endpoint options every transport connects to (checked
** here, once, for core.connect and core.http), and what the transports of
** transport.h share: picking one for an endpoint, and their error fields.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "dockerpty.h"
#include "util.h"
#include "transport.h"

#define TR_DEFAULT_TIMEOUT 10000L   /* ms, the docker CLI's connect timeout */

/* {====================================================================
** Endpoint options
** ===================================================================== */

/* Raise "bad argument #arg to 'f' (<fmt>)". Never returns. */
static int ep_argerror(lua_State *L, int arg, const char *fmt, const char *s) {
    return luaL_argerror(L, arg, lua_pushfstring(L, fmt, s));
}

/* Copy the string field at the top of the stack (if not nil) into dst;
** pops it. Raises on a wrong type, an embedded NUL or a too long value. */
static void ep_copystr(lua_State *L, int arg, const char *field, char *dst,
                       size_t size) {
    size_t len;
    const char *s;
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        ep_argerror(L, arg, "field '%s' must be a string", field);
    s = lua_tolstring(L, -1, &len);
    if (len == 0 || strlen(s) != len)
        ep_argerror(L, arg, "field '%s' must be a non-empty string without NUL", field);
    if (len >= size)
        ep_argerror(L, arg, "field '%s' is too long", field);
    memcpy(dst, s, len + 1);
    lua_pop(L, 1);
}

/* Raise unless every key of the table at idx is one of names[]. */
static void ep_checkfields(lua_State *L, int arg, int idx, const char *prefix,
                           const char *const names[]) {
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int i, known = 0;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -1);
            for (i = 0; names[i] != NULL; i++)
                if (strcmp(k, names[i]) == 0)
                    known = 1;
            if (!known)
                luaL_argerror(L, arg, lua_pushfstring(L, "unknown option '%s%s'",
                                                      prefix, k));
        } else {
            luaL_argerror(L, arg, lua_pushfstring(L, "unknown option %s(%s)",
                                                  prefix, luaL_typename(L, -1)));
        }
    }
}

/* The `ssh` field (at the top of the stack, popped): a non-empty argv of
** strings into ep->ssh. Raises on misuse. */
static void ep_checkssh(lua_State *L, int arg, dp_endpoint *ep) {
    size_t off = 0;
    lua_Integer i, n;
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1))
        luaL_argerror(L, arg, "field 'ssh' must be a table of strings");
    n = (lua_Integer)lua_rawlen(L, -1);
    if (n < 1 || n > DP_SSH_MAXARGC)
        luaL_argerror(L, arg, "field 'ssh' must hold 1 to 64 strings");
    for (i = 1; i <= n; i++) {
        size_t len;
        const char *a;
        if (lua_rawgeti(L, -1, i) != LUA_TSTRING)
            luaL_argerror(L, arg, "field 'ssh' must be a table of strings");
        a = lua_tolstring(L, -1, &len);
        if (strlen(a) != len || (i == 1 && len == 0))
            luaL_argerror(L, arg, "field 'ssh' holds a string with NUL or an empty program");
        if (len + 1 > sizeof ep->ssh - off)
            luaL_argerror(L, arg, "field 'ssh' is too long");
        memcpy(ep->ssh + off, a, len + 1);
        off += len + 1;
        lua_pop(L, 1);
    }
    ep->sshargc = (int)n;
    lua_pop(L, 1);
}

/* Check ep->url (when set) and set ep->tls and the default ep->where.
** Raises on misuse. */
static void ep_checkurl(lua_State *L, int arg, dp_endpoint *ep) {
    if (ep->url[0]) {
        size_t len = strlen(ep->url);
        const char *host, *slash;
        if (strncmp(ep->url, "https://", 8) == 0)
            ep->tls = 1;
        else if (strncmp(ep->url, "http://", 7) != 0)
            ep_argerror(L, arg, "field 'url' must start with http:// or https:// (got '%s')",
                        ep->url);
        host = ep->url + (ep->tls ? 8 : 7);
        if (*host == '\0' || *host == '/')
            ep_argerror(L, arg, "field 'url' has no host (got '%s')", ep->url);
        while (len > 0 && ep->url[len - 1] == '/')
            ep->url[--len] = '\0';
        slash = strchr(host, '/');
        snprintf(ep->where, sizeof ep->where, "tcp://%.*s",
                 (int)(slash ? (size_t)(slash - host) : strlen(host)), host);
    } else if (ep->sshargc) {
        snprintf(ep->where, sizeof ep->where, "ssh");
    } else {
        snprintf(ep->where, sizeof ep->where, "unix://%s", ep->socket);
    }
}

/* The `tls` table (at the top of the stack, popped). Raises on misuse. */
static void ep_checktls(lua_State *L, int arg, dp_endpoint *ep) {
    static const char *const tlsfields[] = {"ca", "cert", "key", "verify", NULL};
    int tidx = lua_gettop(L), t = lua_type(L, -1);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TTABLE)
        luaL_argerror(L, arg, "field 'tls' must be a table");
    if (!ep->tls)
        luaL_argerror(L, arg, "field 'tls' needs an https url");
    ep_checkfields(L, arg, tidx, "tls.", tlsfields);
    lua_getfield(L, tidx, "ca");
    ep_copystr(L, arg, "tls.ca", ep->ca, sizeof ep->ca);
    lua_getfield(L, tidx, "cert");
    ep_copystr(L, arg, "tls.cert", ep->cert, sizeof ep->cert);
    lua_getfield(L, tidx, "key");
    ep_copystr(L, arg, "tls.key", ep->key, sizeof ep->key);
    if (ep->key[0] && !ep->cert[0])
        luaL_argerror(L, arg, "field 'tls.key' needs 'tls.cert'");
    t = lua_getfield(L, tidx, "verify");
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        luaL_argerror(L, arg, "field 'tls.verify' must be a boolean");
    if (t == LUA_TBOOLEAN)
        ep->verify = lua_toboolean(L, -1);
    lua_pop(L, 2);
}

/* `connect_timeout` and `transport` (sets ep->plain). Raises on misuse. */
static void ep_checkrest(lua_State *L, int arg, dp_endpoint *ep) {
    int t;
    lua_getfield(L, arg, "connect_timeout");
    if (!lua_isnil(L, -1)) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0 ||
            lua_tointeger(L, -1) > LONG_MAX)
            luaL_argerror(L, arg, "field 'connect_timeout' must be a positive integer");
        ep->connect_timeout = (long)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);

    lua_getfield(L, arg, "where");
    ep_copystr(L, arg, "where", ep->where, sizeof ep->where);

    ep->plain = ep->socket[0] != '\0' || ep->sshargc;
    t = lua_getfield(L, arg, "transport");
    if (t != LUA_TNIL) {
        const char *tr = lua_tostring(L, -1);
        if (t != LUA_TSTRING || (strcmp(tr, "plain") != 0 && strcmp(tr, "libcurl") != 0))
            luaL_argerror(L, arg, "field 'transport' must be \"plain\" or \"libcurl\"");
        if (tr[0] == 'p' && !ep->plain)
            luaL_argerror(L, arg, "field 'transport' \"plain\" needs a unix socket");
        if (tr[0] == 'l' && ep->sshargc)
            luaL_argerror(L, arg, "field 'transport' \"libcurl\" cannot carry 'ssh'");
        ep->plain = tr[0] == 'p';
    }
    lua_pop(L, 1);
}

/* Validate the endpoint table at arg into *ep. Can raise (misuse). */
void dp_endpoint_check(lua_State *L, int arg, dp_endpoint *ep) {
    static const char *const fields[] = {
        "socket", "url", "ssh", "tls", "connect_timeout", "where", "transport", NULL
    };
    luaL_checktype(L, arg, LUA_TTABLE);
    memset(ep, 0, sizeof *ep);
    ep->verify = 1;
    ep->connect_timeout = TR_DEFAULT_TIMEOUT;
    ep_checkfields(L, arg, arg, "", fields);

    lua_getfield(L, arg, "socket");
    ep_copystr(L, arg, "socket", ep->socket, sizeof ep->socket);
    lua_getfield(L, arg, "url");
    ep_copystr(L, arg, "url", ep->url, sizeof ep->url);
    lua_getfield(L, arg, "ssh");
    ep_checkssh(L, arg, ep);
    if ((ep->socket[0] != 0) + (ep->url[0] != 0) + (ep->sshargc != 0) > 1)
        luaL_argerror(L, arg, "fields 'socket', 'url' and 'ssh' are exclusive");
    if (!ep->socket[0] && !ep->url[0] && !ep->sshargc)
        luaL_argerror(L, arg, "field 'socket', 'url' or 'ssh' required");
    ep_checkurl(L, arg, ep);
    lua_getfield(L, arg, "tls");
    ep_checktls(L, arg, ep);
    ep_checkrest(L, arg, ep);
}

/* }==================================================================== */

/* {====================================================================
** Shared by the transports
** ===================================================================== */

void dp_transport_init(dp_transport *t, const dp_endpoint *ep) {
    memset(t, 0, sizeof *t);
    t->fd = -1;
    dp_ssh_init(&t->ssh);
    if (ep->sshargc)
        t->ops = &dp_tr_ssh;
    else if (ep->plain)
        t->ops = &dp_tr_unix;
    else
        t->ops = &dp_tr_curl;
}

int dp_transport_fail(dp_transport *t, int err, const char *name, const char *why) {
    t->errname = name;
    if (why != t->why)
        snprintf(t->why, sizeof t->why, "%s", why ? why : "");
    return err;
}

const char *dp_transport_errname(const dp_transport *t, int err) {
    return t->errname ? t->errname : dp_errno_name(err);
}

const char *dp_transport_why(const dp_transport *t, int err) {
    return t->why[0] ? t->why : strerror(err);
}

/* }==================================================================== */
