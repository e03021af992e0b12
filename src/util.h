/*
** util.h: helpers shared by the C files of dockerpty.core: class
** registration, the error triples, fd extraction, non-blocking flags.
*/
#ifndef DP_UTIL_H
#define DP_UTIL_H

#include <stddef.h>
#include "dockerpty.h"

#pragma GCC visibility push(hidden)

/*
** Create the metatable `name` (luaL_newmetatable) holding the metamethods
** in `meta` and a separate method table from `methods` as __index.
** Leaves nothing on the stack.
*/
void dp_createmeta(lua_State *L, const char *name, const luaL_Reg *meta,
                   const luaL_Reg *methods);

/*
** Error triples, the core's failure shape (docs/design.md): push nil,
** "what: strerror(err)", NAME; return 3. NAME is the symbolic errno name
** ("ENOENT"). Pass the errno saved right after the failing call.
*/
int dp_push_errno(lua_State *L, const char *what, int err);
/* Push nil, msg, name; return 3. */
int dp_push_error(lua_State *L, const char *msg, const char *name);
/* nil, "response head longer than <max> bytes", "protocol"; and the
** same for a body: "response body larger than <max> bytes". Return 3. */
int dp_push_headlong(lua_State *L, long max);
int dp_push_bodylong(lua_State *L, long max);
/* Symbolic name of an errno value ("ENOENT"), never NULL. */
const char *dp_errno_name(int err);

/*
** The fd of argument `idx`: an integer fd or a Lua file handle
** (io.stdin, io.open(...)). Raises on anything else or a closed file.
*/
int dp_checkfd(lua_State *L, int idx);
/* Like dp_checkfd; flushes a Lua file's buffer first (before writing). */
int dp_checkfd_flush(lua_State *L, int idx);

/* O_NONBLOCK: query (returns 0/1, -1 on error), set (returns previous 0/1, -1). */
int dp_getnonblock(int fd);
int dp_setnonblock(int fd, int on);

/* Raise if the value at idx is not a function or a callable table. */
void dp_checkcallable(lua_State *L, int idx);

/* poll() one fd for events until the deadline (dp_now_ms; -1: none),
** retried on EINTR with the time left. 1 ready, 0 timeout, or -errno. */
int dp_wait_fd(int fd, short events, long long deadline);

/* Monotonic clock in milliseconds, and in microseconds. */
long long dp_now_ms(void);
long long dp_now_us(void);

#pragma GCC visibility pop

#endif
