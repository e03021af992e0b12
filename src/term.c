/*
** term.c: terminal primitives of dockerpty.core: isatty, window size,
** termios raw mode as a to-be-closed dockerpty.TermState that restores the
** saved termios and O_NONBLOCK flag. The raw flags and the rules are in
** docs/protocol.md, "Terminal": restored byte for byte, on every path; an
** fd that is not a terminal fails cleanly (ENOTTY), changing nothing.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "util.h"

/* A saved terminal state. fd is -1 until raw mode is on (closed-first
** lifecycle: created closed, so a failed open leaves nothing to restore)
** and again once the state is restored. */
typedef struct TermState {
    int fd;
    int nonblock;            /* saved O_NONBLOCK flag, 0 or 1 */
    struct termios saved;    /* the whole struct, padding zeroed */
} TermState;

/* tcsetattr, retried on EINTR (TCSADRAIN waits and can be interrupted). */
static int term_setattr(int fd, const struct termios *t) {
    int r;
    do {
        r = tcsetattr(fd, TCSADRAIN, t);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* tcgetattr into a zeroed struct, so the padding bytes compare equal. */
static int term_getattr(int fd, struct termios *t) {
    memset(t, 0, sizeof *t);
    return tcgetattr(fd, t);
}

/* The cfmakeraw flag set, written out: exactly these bits change. */
static void term_makeraw(struct termios *t) {
    t->c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR |
                              IGNCR | ICRNL | IXON);
    t->c_oflag &= ~(tcflag_t)OPOST;
    t->c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    t->c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    t->c_cflag |= CS8;
    t->c_cc[VMIN] = 1;
    t->c_cc[VTIME] = 0;
}

/*
** Restore the saved state once: termios first, then O_NONBLOCK. The state
** is marked restored before the syscalls (as liolib's aux_close clears its
** close function first), so a failure is reported once and never retried.
** Returns 0, or -1 with *what and *err set to the first failure.
*/
static int term_restore(TermState *s, const char **what, int *err) {
    int fd = s->fd;
    int rc = 0;
    if (fd < 0)
        return 0;
    s->fd = -1;
    if (term_setattr(fd, &s->saved) < 0) {
        *what = "tcsetattr";
        *err = errno;
        rc = -1;
    }
    if (dp_setnonblock(fd, s->nonblock) < 0 && rc == 0) {
        *what = "fcntl";
        *err = errno;
        rc = -1;
    }
    return rc;
}

static TermState *term_check(lua_State *L) {
    return (TermState *)luaL_checkudata(L, 1, DP_TERMSTATE);
}

/***
** Is `f` a terminal?
** @function isatty
** @tparam file|int f a Lua file handle or an fd
** @treturn boolean
** @usage if core.isatty(io.stdin) then ... end
*/
static int term_f_isatty(lua_State *L) {
    int fd = dp_checkfd(L, 1);
    lua_pushboolean(L, isatty(fd));
    return 1;
}

/***
** The window size of the terminal `f` (TIOCGWINSZ).
** @function getwinsize
** @tparam file|int f a Lua file handle or an fd
** @treturn[1] int rows
** @treturn[1] int cols
** @return[2] fail, "ioctl: message", errno name
** @usage local rows, cols = core.getwinsize(io.stdout)
*/
static int term_f_getwinsize(lua_State *L) {
    int fd = dp_checkfd(L, 1);
    struct winsize ws;
    memset(&ws, 0, sizeof ws);
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
        return dp_push_errno(L, "ioctl", errno);
    lua_pushinteger(L, ws.ws_row);
    lua_pushinteger(L, ws.ws_col);
    return 2;
}

/***
** Put the terminal `f` into raw mode (the cfmakeraw flag set, applied with
** TCSADRAIN). Saves the whole termios and the fd's O_NONBLOCK flag first,
** and does not change O_NONBLOCK itself.
** @function raw
** @tparam file|int f a Lua file handle or an fd
** @treturn[1] dockerpty.TermState the saved state, to-be-closed
** @return[2] fail, "tcgetattr: message" or "tcsetattr: message", errno
** name
** @usage local state <close> = assert(core.raw(io.stdin))
*/
static int term_f_raw(lua_State *L) {
    int fd = dp_checkfd(L, 1);
    struct termios t;
    int nb;
    /* Closed first: a memory error here leaves the terminal untouched. */
    TermState *s = (TermState *)lua_newuserdatauv(L, sizeof *s, 0);
    s->fd = -1;
    s->nonblock = 0;
    memset(&s->saved, 0, sizeof s->saved);
    luaL_setmetatable(L, DP_TERMSTATE);
    if (term_getattr(fd, &s->saved) < 0)
        return dp_push_errno(L, "tcgetattr", errno);
    nb = dp_getnonblock(fd);
    if (nb < 0)
        return dp_push_errno(L, "fcntl", errno);
    t = s->saved;
    term_makeraw(&t);
    if (term_setattr(fd, &t) < 0)
        return dp_push_errno(L, "tcsetattr", errno);
    s->nonblock = nb;
    s->fd = fd;
    return 1;
}

/***
** Restore the saved termios (TCSADRAIN) and O_NONBLOCK flag. Idempotent:
** only the first call touches the terminal.
** @function TermState:restore
** @treturn[1] true
** @return[2] fail, "tcsetattr: message" or "fcntl: message", errno name
** (first call only; later calls return true)
** @usage state:restore()
*/
static int term_m_restore(lua_State *L) {
    TermState *s = term_check(L);
    const char *what = NULL;
    int err = 0;
    if (term_restore(s, &what, &err) < 0)
        return dp_push_errno(L, what, err);
    lua_pushboolean(L, 1);
    return 1;
}

/* __gc and __close: restore, ignoring errors (nothing to report them to). */
static int term_m_gc(lua_State *L) {
    TermState *s = term_check(L);
    const char *what = NULL;
    int err = 0;
    (void)term_restore(s, &what, &err);
    return 0;
}

/***
** The fd whose state is saved; raises once the state is restored.
** @function TermState:fd
** @treturn int
** @usage local fd = state:fd()
*/
static int term_m_fd(lua_State *L) {
    TermState *s = term_check(L);
    if (s->fd < 0)
        return luaL_error(L, "attempt to use a restored " DP_TERMSTATE);
    lua_pushinteger(L, s->fd);
    return 1;
}

/***
** Is raw mode still on (true until restored)?
** @function TermState:israw
** @treturn boolean
** @usage assert(state:israw())
*/
static int term_m_israw(lua_State *L) {
    TermState *s = term_check(L);
    lua_pushboolean(L, s->fd >= 0);
    return 1;
}

static int term_m_tostring(lua_State *L) {
    TermState *s = term_check(L);
    if (s->fd < 0)
        lua_pushliteral(L, DP_TERMSTATE " (restored)");
    else
        lua_pushfstring(L, DP_TERMSTATE " (%p)", (void *)s);
    return 1;
}

/* core.termios: the flag bits that raw mode and the specs use. */
static void term_pushconstants(lua_State *L) {
    static const struct {
        const char *name;
        lua_Integer value;
    } bits[] = {
        /* c_iflag */
        {"IGNBRK", IGNBRK}, {"BRKINT", BRKINT}, {"IGNPAR", IGNPAR},
        {"PARMRK", PARMRK}, {"INPCK", INPCK}, {"ISTRIP", ISTRIP},
        {"INLCR", INLCR}, {"IGNCR", IGNCR}, {"ICRNL", ICRNL},
        {"IXON", IXON}, {"IXANY", IXANY}, {"IXOFF", IXOFF},
        {"IMAXBEL", IMAXBEL}, {"IUTF8", IUTF8},
        /* c_oflag */
        {"OPOST", OPOST}, {"ONLCR", ONLCR},
        /* c_cflag */
        {"CSIZE", CSIZE}, {"CS5", CS5}, {"CS6", CS6}, {"CS7", CS7},
        {"CS8", CS8}, {"CSTOPB", CSTOPB}, {"CREAD", CREAD},
        {"PARENB", PARENB}, {"PARODD", PARODD}, {"HUPCL", HUPCL},
        {"CLOCAL", CLOCAL},
        /* c_lflag */
        {"ISIG", ISIG}, {"ICANON", ICANON}, {"ECHO", ECHO},
        {"ECHOE", ECHOE}, {"ECHOK", ECHOK}, {"ECHONL", ECHONL},
        {"NOFLSH", NOFLSH}, {"TOSTOP", TOSTOP}, {"ECHOCTL", ECHOCTL},
        {"ECHOKE", ECHOKE}, {"IEXTEN", IEXTEN},
    };
    size_t i;
    lua_createtable(L, 0, (int)(sizeof bits / sizeof bits[0]));
    for (i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        lua_pushinteger(L, bits[i].value);
        lua_setfield(L, -2, bits[i].name);
    }
}

int term_open(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__index", NULL},  /* placeholder, set by dp_createmeta */
        {"__gc", term_m_gc},
        {"__close", term_m_gc},
        {"__tostring", term_m_tostring},
        {NULL, NULL}
    };
    static const luaL_Reg methods[] = {
        {"restore", term_m_restore},
        {"fd", term_m_fd},
        {"israw", term_m_israw},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"isatty", term_f_isatty},
        {"getwinsize", term_f_getwinsize},
        {"raw", term_f_raw},
        {NULL, NULL}
    };
    dp_createmeta(L, DP_TERMSTATE, meta, methods);
    luaL_setfuncs(L, funcs, 0);
    term_pushconstants(L);
    lua_setfield(L, -2, "termios");
    return 0;
}
