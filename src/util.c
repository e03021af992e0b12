/*
** util.c: class registration, error triples, fd extraction and O_NONBLOCK
** helpers shared by every file of dockerpty.core; and the small module
** functions over fds and time: fileno, nonblock, read, write, poll_fd,
** now, now_us, sleep.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lualib.h>

#include "util.h"

void dp_createmeta(lua_State *L, const char *name, const luaL_Reg *meta,
                   const luaL_Reg *methods) {
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

const char *dp_errno_name(int err) {
    const char *name = strerrorname_np(err);
    return name ? name : "EUNKNOWN";
}

int dp_push_errno(lua_State *L, const char *what, int err) {
    luaL_pushfail(L);
    if (what && *what)
        lua_pushfstring(L, "%s: %s", what, strerror(err));
    else
        lua_pushstring(L, strerror(err));
    lua_pushstring(L, dp_errno_name(err));
    return 3;
}

int dp_push_error(lua_State *L, const char *msg, const char *name) {
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    lua_pushstring(L, name);
    return 3;
}

int dp_push_headlong(lua_State *L, long max) {
    luaL_pushfail(L);
    lua_pushfstring(L, "response head longer than %d bytes", (int)max);
    lua_pushliteral(L, "protocol");
    return 3;
}

int dp_push_bodylong(lua_State *L, long max) {
    luaL_pushfail(L);
    lua_pushfstring(L, "response body larger than %d bytes", (int)max);
    lua_pushliteral(L, "protocol");
    return 3;
}

static FILE *tofile(lua_State *L, int idx) {
    luaL_Stream *p = (luaL_Stream *)luaL_testudata(L, idx, LUA_FILEHANDLE);
    if (p == NULL)
        return NULL;
    if (p->closef == NULL)
        luaL_argerror(L, idx, "attempt to use a closed file");
    return p->f;
}

int dp_checkfd(lua_State *L, int idx) {
    FILE *f;
    if (lua_isinteger(L, idx)) {
        lua_Integer fd = lua_tointeger(L, idx);
        luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, idx, "invalid fd");
        return (int)fd;
    }
    f = tofile(L, idx);
    if (f == NULL)
        luaL_typeerror(L, idx, "file or fd");
    return fileno(f);
}

int dp_checkfd_flush(lua_State *L, int idx) {
    FILE *f = lua_isinteger(L, idx) ? NULL : tofile(L, idx);
    if (f != NULL)
        fflush(f);
    return dp_checkfd(L, idx);
}

int dp_getnonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    return (fl & O_NONBLOCK) ? 1 : 0;
}

int dp_setnonblock(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    int nfl;
    if (fl < 0)
        return -1;
    nfl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0)
        return -1;
    return (fl & O_NONBLOCK) ? 1 : 0;
}

void dp_checkcallable(lua_State *L, int idx) {
    if (lua_isfunction(L, idx))
        return;
    if (lua_getmetatable(L, idx)) {
        int callable = lua_getfield(L, -1, "__call") != LUA_TNIL;
        lua_pop(L, 2);
        if (callable)
            return;
    }
    luaL_typeerror(L, idx, "callable");
}

int dp_wait_fd(int fd, short events, long long deadline) {
    for (;;) {
        struct pollfd p;
        int ms = -1, r;
        if (deadline >= 0) {
            long long left = deadline - dp_now_ms();
            ms = left <= 0 ? 0 : (left > INT_MAX ? INT_MAX : (int)left);
        }
        p.fd = fd;
        p.events = events;
        p.revents = 0;
        r = poll(&p, 1, ms);
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

long long dp_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long dp_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/***
** core.fileno(f): the fd of a Lua file handle or an integer fd.
*/
static int util_f_fileno(lua_State *L) {
    lua_pushinteger(L, dp_checkfd(L, 1));
    return 1;
}

/***
** core.nonblock(f [, on]): query or set O_NONBLOCK; returns the previous
** flag as a boolean, or nil, msg, name.
*/
static int util_f_nonblock(lua_State *L) {
    int fd = dp_checkfd(L, 1);
    int r;
    if (lua_isnoneornil(L, 2))
        r = dp_getnonblock(fd);
    else
        r = dp_setnonblock(fd, lua_toboolean(L, 2));
    if (r < 0)
        return dp_push_errno(L, "fcntl", errno);
    lua_pushboolean(L, r);
    return 1;
}

/***
** core.read(f [, n]): one read(2) of up to n bytes (65536) from a Lua file
** handle or an fd, bypassing the file's buffer; for fds that may be
** non-blocking (dockerpty.io Stream:read).
** Returns the data, or nil, "closed", "closed" at EOF, nil, "timeout",
** "timeout" when a non-blocking fd has nothing, or nil, message, name.
*/
static int util_f_read(lua_State *L) {
    int fd = dp_checkfd(L, 1);
    lua_Integer n = luaL_optinteger(L, 2, 65536);
    luaL_Buffer b;
    ssize_t r;
    char *p;
    luaL_argcheck(L, n > 0, 2, "size must be positive");
    p = luaL_buffinitsize(L, &b, (size_t)n);
    r = read(fd, p, (size_t)n);
    if (r < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK)
            return dp_push_error(L, "timeout", "timeout");
        return dp_push_errno(L, "read", e);
    }
    if (r == 0)
        return dp_push_error(L, "closed", "closed");
    luaL_pushresultsize(&b, (size_t)r);
    return 1;
}

/***
** core.write(f, s): one write(2) of s to a Lua file handle (flushed first)
** or an fd; returns the count written, which may be short, or nil,
** message, name (name "EAGAIN" when a non-blocking fd is full). Used by
** dockerpty.io Stream:write and Operation:undo_modes.
*/
static int util_f_write(lua_State *L) {
    int fd = dp_checkfd_flush(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    ssize_t r = write(fd, s, len);
    if (r < 0)
        return dp_push_errno(L, "write", errno);
    lua_pushinteger(L, r);
    return 1;
}

/***
** core.poll_fd(fd, events, timeout): wait until fd is ready for events
** ("r", "w" or "rw") or timeout seconds pass (nil: no limit). Returns true
** when ready, false on timeout, or nil, message, name.
*/
static int util_f_poll_fd(lua_State *L) {
    lua_Integer fd = luaL_checkinteger(L, 1);
    const char *ev = luaL_checkstring(L, 2);
    short events = (short)((strchr(ev, 'r') ? POLLIN : 0) | (strchr(ev, 'w') ? POLLOUT : 0));
    long long deadline = -1;
    int r;
    luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, 1, "invalid fd");
    luaL_argcheck(L, events != 0, 2, "\"r\", \"w\" or \"rw\" expected");
    if (!lua_isnoneornil(L, 3)) {
        lua_Number t = luaL_checknumber(L, 3);
        deadline = dp_now_ms() + (t > 0 ? (long long)(t * 1000 + 0.999) : 0);
    }
    r = dp_wait_fd((int)fd, events, deadline);
    if (r < 0)
        return dp_push_errno(L, "poll", -r);
    lua_pushboolean(L, r > 0);
    return 1;
}

/* core.now(): monotonic milliseconds. */
static int util_f_now(lua_State *L) {
    lua_pushinteger(L, dp_now_ms());
    return 1;
}

/* core.now_us(): monotonic microseconds. */
static int util_f_now_us(lua_State *L) {
    lua_pushinteger(L, dp_now_us());
    return 1;
}

/* core.sleep(ms) */
static int util_f_sleep(lua_State *L) {
    lua_Integer ms = luaL_checkinteger(L, 1);
    struct timespec ts;
    if (ms <= 0)
        return 0;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return 0;
}

int util_open(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"fileno", util_f_fileno},
        {"nonblock", util_f_nonblock},
        {"now", util_f_now},
        {"now_us", util_f_now_us},
        {"poll_fd", util_f_poll_fd},
        {"sleep", util_f_sleep},
        {"read", util_f_read},
        {"write", util_f_write},
        {NULL, NULL}
    };
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
