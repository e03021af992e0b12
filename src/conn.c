/*
** conn.c: dockerpty.Conn, a connection to the daemon over which the Lua
** layer writes raw HTTP and reads the response head; after an upgrade it
** carries the hijacked attach/exec stream. A unix socket is a plain socket
** (no libcurl); TCP and TLS, or transport "libcurl", go through libcurl in
** connect-only mode. Also the endpoint options shared with http.c.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "curlapi.h"

#include "dockerpty.h"
#include "util.h"
#include "httphead.h"
#include "conn.h"


#define CONN_DEFAULT_TIMEOUT 10000L
#define CONN_READALL_MAX (1024 * 1024)
#define CONN_RECV_MAX 65536

/* The CURLE_* codes of libcurl 7.88 (enum members only, no aliases). */
#define DP_CURLE_LIST(X) \
    X(OK) X(UNSUPPORTED_PROTOCOL) X(FAILED_INIT) X(URL_MALFORMAT) \
    X(NOT_BUILT_IN) X(COULDNT_RESOLVE_PROXY) X(COULDNT_RESOLVE_HOST) \
    X(COULDNT_CONNECT) X(WEIRD_SERVER_REPLY) X(REMOTE_ACCESS_DENIED) \
    X(FTP_ACCEPT_FAILED) X(FTP_WEIRD_PASS_REPLY) X(FTP_ACCEPT_TIMEOUT) \
    X(FTP_WEIRD_PASV_REPLY) X(FTP_WEIRD_227_FORMAT) X(FTP_CANT_GET_HOST) \
    X(HTTP2) X(FTP_COULDNT_SET_TYPE) X(PARTIAL_FILE) \
    X(FTP_COULDNT_RETR_FILE) X(QUOTE_ERROR) X(HTTP_RETURNED_ERROR) \
    X(WRITE_ERROR) X(UPLOAD_FAILED) X(READ_ERROR) X(OUT_OF_MEMORY) \
    X(OPERATION_TIMEDOUT) X(FTP_PORT_FAILED) X(FTP_COULDNT_USE_REST) \
    X(RANGE_ERROR) X(HTTP_POST_ERROR) X(SSL_CONNECT_ERROR) \
    X(BAD_DOWNLOAD_RESUME) X(FILE_COULDNT_READ_FILE) X(LDAP_CANNOT_BIND) \
    X(LDAP_SEARCH_FAILED) X(FUNCTION_NOT_FOUND) X(ABORTED_BY_CALLBACK) \
    X(BAD_FUNCTION_ARGUMENT) X(INTERFACE_FAILED) X(TOO_MANY_REDIRECTS) \
    X(UNKNOWN_OPTION) X(SETOPT_OPTION_SYNTAX) X(GOT_NOTHING) \
    X(SSL_ENGINE_NOTFOUND) X(SSL_ENGINE_SETFAILED) X(SEND_ERROR) \
    X(RECV_ERROR) X(SSL_CERTPROBLEM) X(SSL_CIPHER) \
    X(PEER_FAILED_VERIFICATION) X(BAD_CONTENT_ENCODING) \
    X(FILESIZE_EXCEEDED) X(USE_SSL_FAILED) X(SEND_FAIL_REWIND) \
    X(SSL_ENGINE_INITFAILED) X(LOGIN_DENIED) X(TFTP_NOTFOUND) X(TFTP_PERM) \
    X(REMOTE_DISK_FULL) X(TFTP_ILLEGAL) X(TFTP_UNKNOWNID) \
    X(REMOTE_FILE_EXISTS) X(TFTP_NOSUCHUSER) X(SSL_CACERT_BADFILE) \
    X(REMOTE_FILE_NOT_FOUND) X(SSH) X(SSL_SHUTDOWN_FAILED) X(AGAIN) \
    X(SSL_CRL_BADFILE) X(SSL_ISSUER_ERROR) X(FTP_PRET_FAILED) \
    X(RTSP_CSEQ_ERROR) X(RTSP_SESSION_ERROR) X(FTP_BAD_FILE_LIST) \
    X(CHUNK_FAILED) X(NO_CONNECTION_AVAILABLE) X(SSL_PINNEDPUBKEYNOTMATCH) \
    X(SSL_INVALIDCERTSTATUS) X(HTTP2_STREAM) X(RECURSIVE_API_CALL) \
    X(AUTH_ERROR) X(HTTP3) X(QUIC_CONNECT_ERROR) X(PROXY) \
    X(SSL_CLIENTCERT) X(UNRECOVERABLE_POLL)

const char *dp_curle_name(CURLcode code) {
    switch (code) {
#define DP_CURLE_CASE(n) case CURLE_##n: return "CURLE_" #n;
    DP_CURLE_LIST(DP_CURLE_CASE)
#undef DP_CURLE_CASE
    default:
        return "CURLE_UNKNOWN";
    }
}

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

/* Validate the endpoint table at arg into *ep. Can raise (misuse). */
void dp_endpoint_check(lua_State *L, int arg, dp_endpoint *ep) {
    static const char *const fields[] = {
        "socket", "url", "ssh", "tls", "connect_timeout", "where", "transport", NULL
    };
    static const char *const tlsfields[] = {"ca", "cert", "key", "verify", NULL};
    int t;
    luaL_checktype(L, arg, LUA_TTABLE);
    memset(ep, 0, sizeof *ep);
    ep->verify = 1;
    ep->connect_timeout = CONN_DEFAULT_TIMEOUT;
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

    t = lua_getfield(L, arg, "tls");
    if (t != LUA_TNIL) {
        int tidx = lua_gettop(L);
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
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

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

int dp_unix_connect(const dp_endpoint *ep, int *fdp) {
    struct sockaddr_un sa;
    size_t len = strlen(ep->socket);
    long long deadline;
    int fd, err = 0;
    *fdp = -1;
    if (len >= sizeof sa.sun_path)
        return ENAMETOOLONG;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, ep->socket, len);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return errno;
    deadline = dp_now_ms() + ep->connect_timeout;
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            err = 0;
            break;
        }
        err = errno;
        if (err == EINTR)
            continue;
        if (err == EISCONN) {
            err = 0;
            break;
        }
        if (err == EINPROGRESS || err == EALREADY) {
            /* wait until writable, then ask for the outcome */
            socklen_t sl = sizeof err;
            int r = dp_wait_fd(fd, POLLOUT, deadline);
            if (r == 0)
                err = ETIMEDOUT;
            else if (r < 0)
                err = -r;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
                err = errno;
            break;
        }
        if (err != EAGAIN)
            break;
        /* EAGAIN: the daemon's accept backlog is full (it is not taking
        ** connections). The socket is not connecting: ask again shortly. */
        if (dp_now_ms() >= deadline) {
            err = ETIMEDOUT;
            break;
        }
        poll(NULL, 0, 5);
    }
    if (err != 0) {
        close(fd);
        return err;
    }
    *fdp = fd;
    return 0;
}

int dp_push_unixerr(lua_State *L, const dp_endpoint *ep, int err) {
    luaL_pushfail(L);
    if (ep->sshargc) {
        lua_pushfstring(L, "cannot connect to the Docker daemon at %s: cannot run %s: %s",
                        ep->where, ep->ssh, strerror(err));
        lua_pushstring(L, dp_errno_name(err));
        lua_pushinteger(L, err);
        return 4;
    }
    if (err == ETIMEDOUT) {
        lua_pushfstring(L, "cannot connect to the Docker daemon at %s: connection timed out "
                        "after %d ms", ep->where, (int)ep->connect_timeout);
        lua_pushliteral(L, "timeout");
        return 3;
    }
    lua_pushfstring(L, "cannot connect to the Docker daemon at %s: %s", ep->where, strerror(err));
    lua_pushstring(L, dp_errno_name(err));
    lua_pushinteger(L, err);
    return 4;
}

int dp_plain_connect(const dp_endpoint *ep, int *fd, dp_ssh *child) {
    dp_ssh_init(child);
    if (ep->sshargc)
        return dp_ssh_spawn(child, ep->ssh, ep->sshargc, fd);
    return dp_unix_connect(ep, fd);
}

int dp_push_ssherr(lua_State *L, const char *where, dp_ssh *child) {
    char why[512];
    dp_ssh_outcome(child, 2000, why, sizeof why);
    luaL_pushfail(L);
    /* its own words when it wrote any: "Host key verification failed." */
    lua_pushfstring(L, "cannot connect to the Docker daemon at %s: %s", where,
                    child->last[0] ? child->last : why);
    lua_pushliteral(L, "ssh");
    return 3;
}

int dp_curl_need(lua_State *L) {
    char err[256];
    if (dp_curl_load(err, sizeof err) == 0)
        return 0;
    return dp_push_error(L, err, "libcurl");
}

/* libcurl's sockets, unix and TCP alike, close-on-exec from birth: a child
** started while a connection is open (os.execute, io.popen) must not get
** the daemon's connection. libcurl makes them non-blocking itself. */
static curl_socket_t conn_opensocket(void *clientp, curlsocktype purpose,
                                     struct curl_sockaddr *addr) {
    (void)clientp;
    (void)purpose;
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* Call fn(fd, arg) for each open fd below DP_FDS_MAX (from /proc/self/fd,
** else by probing the first 1024). */
static void conn_eachfd(void (*fn)(int, void *), void *arg) {
    DIR *d = opendir("/proc/self/fd");   /* O_CLOEXEC (glibc) */
    struct dirent *e;
    int fd;
    if (d == NULL) {
        for (fd = 0; fd < 1024; fd++)
            if (fcntl(fd, F_GETFD) >= 0)
                fn(fd, arg);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char *end;
        long n = strtol(e->d_name, &end, 10);
        if (*end != '\0' || end == e->d_name || n < 0 || n >= DP_FDS_MAX || n == dirfd(d))
            continue;
        fn((int)n, arg);
    }
    closedir(d);
}

static void conn_note1(int fd, void *arg) {
    dp_fdset *s = arg;
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC))
        s->bits[fd / 8] |= (unsigned char)(1u << (fd % 8));
}

void dp_fds_note(dp_fdset *s) {
    memset(s, 0, sizeof *s);
    conn_eachfd(conn_note1, s);
}

static void conn_seal1(int fd, void *arg) {
    const dp_fdset *before = arg;
    int fl;
    if (before->bits[fd / 8] & (1u << (fd % 8)))
        return;                     /* inheritable before: not ours */
    fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC))
        (void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

void dp_fds_seal(const dp_fdset *before) {
    conn_eachfd(conn_seal1, (void *)before);
}

/* Set the options every handle of ours gets (not the URL). */
CURLcode dp_endpoint_apply(CURL *curl, const dp_endpoint *ep) {
    CURLcode rc = CURLE_OK;
#define EP_SET(opt, val) \
    do { if (rc == CURLE_OK) rc = curl_easy_setopt(curl, opt, val); } while (0)
#if LIBCURL_VERSION_NUM >= 0x075500
    EP_SET(CURLOPT_PROTOCOLS_STR, "http,https");
    EP_SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    EP_SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    EP_SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    EP_SET(CURLOPT_OPENSOCKETFUNCTION, conn_opensocket);
    EP_SET(CURLOPT_FOLLOWLOCATION, 0L);
    EP_SET(CURLOPT_PROXY, "");
    EP_SET(CURLOPT_NOPROXY, "*");
    EP_SET(CURLOPT_NOSIGNAL, 1L);
    EP_SET(CURLOPT_CONNECTTIMEOUT_MS, ep->connect_timeout);
    /* HTTP/1.1 only: no h2 through ALPN, the hijack needs a raw stream. */
    EP_SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (ep->socket[0]) {
        EP_SET(CURLOPT_UNIX_SOCKET_PATH, ep->socket);
    } else {
        EP_SET(CURLOPT_TCP_KEEPALIVE, 1L);
        EP_SET(CURLOPT_TCP_KEEPIDLE, 30L);
        EP_SET(CURLOPT_TCP_KEEPINTVL, 30L);
    }
    if (ep->tls) {
        if (ep->ca[0])
            EP_SET(CURLOPT_CAINFO, ep->ca);
        if (ep->cert[0])
            EP_SET(CURLOPT_SSLCERT, ep->cert);
        if (ep->key[0])
            EP_SET(CURLOPT_SSLKEY, ep->key);
        EP_SET(CURLOPT_SSL_VERIFYPEER, ep->verify ? 1L : 0L);
        EP_SET(CURLOPT_SSL_VERIFYHOST, ep->verify ? 2L : 0L);
    }
#undef EP_SET
    return rc;
}

/*
** Push the failure of a connection attempt: nil, "cannot connect to the
** Docker daemon at <where>: <reason>", name [, errno]. The name is the errno
** name when libcurl saw an OS error, "timeout" on a timeout, else the CURLE_
** name; the reason is strerror or libcurl's error text.
*/
int dp_push_connerr(lua_State *L, const char *where, CURL *curl, CURLcode rc,
                    const char *errbuf) {
    long oserr = 0;
    const char *reason = (errbuf && errbuf[0]) ? errbuf : curl_easy_strerror(rc);
    if (curl != NULL)
        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &oserr);
    luaL_pushfail(L);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        lua_pushfstring(L, "cannot connect to the Docker daemon at %s: %s", where, reason);
        lua_pushliteral(L, "timeout");
        return 3;
    }
    if (oserr > 0 && (rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR ||
                      rc == CURLE_RECV_ERROR)) {
        lua_pushfstring(L, "cannot connect to the Docker daemon at %s: %s", where,
                        strerror((int)oserr));
        lua_pushstring(L, dp_errno_name((int)oserr));
        lua_pushinteger(L, oserr);
        return 4;
    }
    lua_pushfstring(L, "cannot connect to the Docker daemon at %s: %s", where, reason);
    lua_pushstring(L, dp_curle_name(rc));
    return 3;
}

/* {====================================================================
** The connection: C API of conn.h
** ===================================================================== */

/* Copy src into dst[size], truncating. */
static void conn_copy(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memmove(dst, src, n);
    dst[n] = '\0';
}

/* c->errmsg = "<where>: <a><b>" (truncated). a may point into c->errmsg. */
static void conn_setmsg(dp_conn *c, const char *a, const char *b) {
    char text[sizeof c->errmsg];
    size_t wl = strlen(c->where), tl;
    conn_copy(text, sizeof text, a);
    tl = strlen(text);
    conn_copy(text + tl, sizeof text - tl, b);
    memcpy(c->errmsg, c->where, wl);
    c->errmsg[wl] = ':';
    c->errmsg[wl + 1] = ' ';
    conn_copy(c->errmsg + wl + 2, sizeof c->errmsg - wl - 2, text);
}

/* Record the failure rc of a curl call in c->errmsg; return an errno. */
static int conn_fail(dp_conn *c, CURLcode rc) {
    long oserr = 0;
    int err = EIO;
    if ((rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) &&
        curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr > 0)
        err = (int)oserr;
    /* c->errmsg is also libcurl's error buffer, cleared before each call. */
    if (c->errmsg[0])
        conn_setmsg(c, c->errmsg, "");
    else if (err != EIO)
        conn_setmsg(c, strerror(err), "");
    else
        conn_setmsg(c, curl_easy_strerror(rc), "");
    return err;
}

/* The errno-style answer of curl_easy_recv/send: 0, EAGAIN or a failure. */
static int conn_result(dp_conn *c, CURLcode rc, size_t *n) {
    if (rc == CURLE_OK)
        return 0;
    *n = 0;
    if (rc == CURLE_AGAIN)
        return EAGAIN;
    return conn_fail(c, rc);
}

/* A failed recv/send on a plain socket: EAGAIN, or errno with its text. */
static int conn_oserr(dp_conn *c, int err) {
    if (err == EAGAIN || err == EWOULDBLOCK)
        return EAGAIN;
    conn_setmsg(c, strerror(err), "");
    return err;
}

/* EOF (fallback 0) or a reset (fallback ECONNRESET) from an ssh child:
** ECONNABORTED with why it ended in c->errmsg when it failed, else the
** fallback. */
static int conn_ssheof(dp_conn *c, int fallback) {
    char why[sizeof c->errmsg];
    int err = dp_ssh_outcome(&c->ssh, 1000, why, sizeof why);
    if (err == 0 && fallback == 0)
        return 0;
    if (err == 0)
        return conn_oserr(c, fallback);
    conn_setmsg(c, why, "");
    return err;
}

/* recv without the pre-buffer. */
static int conn_rawrecv(dp_conn *c, char *buf, size_t len, size_t *n) {
    *n = 0;
    c->errmsg[0] = '\0';
    if (c->curl == NULL) {
        for (;;) {
            ssize_t r = recv(c->fd, buf, len, 0);
            if (c->ssh.pid > 0 && (r == 0 || (r < 0 && errno == ECONNRESET)))
                return conn_ssheof(c, r == 0 ? 0 : ECONNRESET);
            if (r >= 0) {
                *n = (size_t)r;
                return 0;
            }
            if (errno != EINTR)
                return conn_oserr(c, errno);
        }
    }
    return conn_result(c, curl_easy_recv(c->curl, buf, len, n), n);
}

/* Append bytes to the pre-buffer. 0 or ENOMEM. */
static int conn_preappend(dp_conn *c, const char *buf, size_t n) {
    size_t have = c->prelen - c->preoff;
    char *p;
    if (c->pre != NULL && c->preoff > 0) {
        memmove(c->pre, c->pre + c->preoff, have);
        c->preoff = 0;
        c->prelen = have;
    }
    p = realloc(c->pre, have + n);
    if (p == NULL) {
        conn_setmsg(c, strerror(ENOMEM), "");
        return ENOMEM;
    }
    memcpy(p + have, buf, n);
    c->pre = p;
    c->prelen = have + n;
    return 0;
}

/* Drop n bytes from the front of the pre-buffer. */
static void conn_preconsume(dp_conn *c, size_t n) {
    c->preoff += n;
    if (c->preoff >= c->prelen) {
        free(c->pre);
        c->pre = NULL;
        c->prelen = c->preoff = 0;
    }
}

int dp_conn_recv(dp_conn *c, char *buf, size_t len, size_t *n) {
    *n = 0;
    if (len == 0)
        return EINVAL;      /* a 0-byte read would look like EOF */
    if (c->prelen > c->preoff) {
        size_t k = c->prelen - c->preoff;
        if (k > len)
            k = len;
        memcpy(buf, c->pre + c->preoff, k);
        conn_preconsume(c, k);
        *n = k;
        return 0;
    }
    return conn_rawrecv(c, buf, len, n);
}

int dp_conn_send(dp_conn *c, const char *buf, size_t len, size_t *n) {
    *n = 0;
    if (c->wclosed) {
        conn_setmsg(c, "send after shutdown", "");
        return EPIPE;
    }
    c->errmsg[0] = '\0';
    if (c->curl == NULL) {
        for (;;) {
            ssize_t r = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (r >= 0) {
                *n = (size_t)r;
                return 0;
            }
            if (errno != EINTR)
                return conn_oserr(c, errno);
        }
    }
    return conn_result(c, curl_easy_send(c->curl, buf, len, n), n);
}

size_t dp_conn_pending(const dp_conn *c) {
    return c->prelen - c->preoff;
}

/*
** TLS close_notify. libcurl has no API for it, so we call OpenSSL's
** SSL_shutdown on libcurl's SSL object. The symbols are looked up at run
** time: libssl is loaded by libcurl, but Lua loads us RTLD_LOCAL, so when the
** global scope does not have them we find the loaded libssl and ask it.
** The dlopen reference taken there is kept for the life of the process.
*/
typedef int (*conn_sslfn)(void *ssl);
typedef int (*conn_sslerrfn)(const void *ssl, int ret);
static conn_sslfn conn_ssl_shutdown;
static conn_sslerrfn conn_ssl_get_error;

static int conn_findssl(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "/libssl.so") != NULL) {
        snprintf((char *)data, PATH_MAX, "%s", info->dlpi_name);
        return 1;
    }
    return 0;
}

static int conn_loadssl(void) {
    void *fshut, *ferr;
    if (conn_ssl_shutdown != NULL)
        return 0;
    fshut = dlsym(RTLD_DEFAULT, "SSL_shutdown");
    ferr = dlsym(RTLD_DEFAULT, "SSL_get_error");
    if (fshut == NULL || ferr == NULL) {
        char name[PATH_MAX];
        void *lib;
        name[0] = '\0';
        dl_iterate_phdr(conn_findssl, name);
        lib = name[0] ? dlopen(name, RTLD_LAZY | RTLD_NOLOAD) : NULL;
        if (lib == NULL)
            return -1;
        fshut = dlsym(lib, "SSL_shutdown");
        ferr = dlsym(lib, "SSL_get_error");
        if (fshut == NULL || ferr == NULL)
            return -1;
    }
    /* POSIX: an object pointer from dlsym converts to a function pointer. */
    *(void **)&conn_ssl_get_error = ferr;
    *(void **)&conn_ssl_shutdown = fshut;
    return 0;
}

#define CONN_SSL_ERROR_WANT_READ 2
#define CONN_SSL_ERROR_WANT_WRITE 3

static int conn_close_notify(dp_conn *c) {
    struct curl_tlssessioninfo *ti = NULL;
    int r;
    if (curl_easy_getinfo(c->curl, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK ||
        ti == NULL || ti->backend != CURLSSLBACKEND_OPENSSL || ti->internals == NULL) {
        conn_setmsg(c, "TLS half-close needs libcurl with the OpenSSL backend", "");
        return ENOTSUP;
    }
    if (conn_loadssl() < 0) {
        conn_setmsg(c, "TLS half-close: SSL_shutdown not found", "");
        return ENOTSUP;
    }
    r = conn_ssl_shutdown(ti->internals);
    if (r >= 0)
        return 0;     /* 0: close_notify sent, the peer's not yet seen */
    r = conn_ssl_get_error(ti->internals, r);
    if (r == CONN_SSL_ERROR_WANT_WRITE || r == CONN_SSL_ERROR_WANT_READ)
        return EAGAIN;
    conn_setmsg(c, "TLS half-close: SSL_shutdown failed", "");
    return EIO;
}

int dp_conn_shutdown(dp_conn *c) {
    if (c->wclosed)
        return 0;
    if (c->tls) {
        int r = conn_close_notify(c);
        if (r != 0)
            return r;
    }
    if (shutdown(c->fd, SHUT_WR) < 0) {
        int e = errno;
        conn_setmsg(c, "shutdown: ", strerror(e));
        return e;
    }
    c->wclosed = 1;
    return 0;
}

dp_conn *dp_conn_check(lua_State *L, int idx) {
    dp_conn *c = (dp_conn *)luaL_checkudata(L, idx, DP_CONN);
    if (dp_unlikely(c->fd < 0))
        luaL_error(L, "attempt to use a closed connection");
    return c;
}

static void conn_release(dp_conn *c) {
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);     /* closes the socket */
    else if (c->fd >= 0)
        close(c->fd);
    c->curl = NULL;
    c->fd = -1;
    dp_ssh_close(&c->ssh);    /* after the close: it sees EOF first */
    free(c->pre);
    c->pre = NULL;
    c->prelen = c->preoff = 0;
}

/* }==================================================================== */

/* {====================================================================
** Lua methods
** ===================================================================== */

/* Deadline from an optional timeout in ms at idx: -1 for none (nil or a
** negative timeout, as poll() takes it). Raises on a non-integer. */
static long long conn_optdeadline(lua_State *L, int idx) {
    lua_Integer ms;
    if (lua_isnoneornil(L, idx))
        return -1;
    ms = luaL_checkinteger(L, idx);
    if (ms < 0)
        return -1;
    if (ms > (lua_Integer)1 << 40)
        ms = (lua_Integer)1 << 40;
    return dp_now_ms() + (long long)ms;
}

/* nil, c->errmsg, NAME, errno */
static int conn_pusherr(lua_State *L, dp_conn *c, int err) {
    luaL_pushfail(L);
    lua_pushstring(L, c->errmsg);
    lua_pushstring(L, dp_errno_name(err));
    lua_pushinteger(L, err);
    return 4;
}

static int conn_pushtimeout(lua_State *L) {
    return dp_push_error(L, "timeout", "timeout");
}


/***
Open a connection to the daemon: a plain unix socket, or libcurl in
connect-only mode (TCP, TLS: handshake done).
@function connect
@tparam table opts `socket` (unix socket path) or `url` ("http://h:p",
 "https://h:p"), `tls` = {ca, cert, key, verify}, `connect_timeout` (ms,
 default 10000), `where` (display name used in messages), `transport`
 ("plain", the default for a socket, or "libcurl": libcurl for a socket too)
@treturn[1] dockerpty.Conn
@return[2] nil, "cannot connect to the Docker daemon at <where>: <reason>",
 name (errno name, "timeout" or CURLE_ name) [, errno]
@return[3] nil, "cannot load libcurl: <reason>", "libcurl"
@usage local conn = assert(core.connect{socket = "/var/run/docker.sock"})
*/
static int conn_f_connect(lua_State *L) {
    dp_endpoint ep;
    dp_conn *c;
    CURLcode rc;
    curl_socket_t s = CURL_SOCKET_BAD;
    char buf[4096];
    size_t n;
    int err;
    dp_endpoint_check(L, 1, &ep);
    c = (dp_conn *)lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    dp_ssh_init(&c->ssh);
    luaL_setmetatable(L, DP_CONN);
    conn_copy(c->where, sizeof c->where, ep.where);
    if (ep.plain) {
        err = dp_plain_connect(&ep, &c->fd, &c->ssh);
        return err == 0 ? 1 : dp_push_unixerr(L, &ep, err);
    }
    if ((err = dp_curl_need(L)) != 0)
        return err;
    c->curl = curl_easy_init();
    if (c->curl == NULL)
        return dp_push_errno(L, "curl_easy_init", ENOMEM);
    rc = dp_endpoint_apply(c->curl, &ep);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c->curl, CURLOPT_URL,
                              ep.socket[0] ? "http://localhost" : ep.url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c->curl, CURLOPT_CONNECT_ONLY, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errmsg);
    c->errmsg[0] = '\0';
    if (rc == CURLE_OK) {
        dp_fdset *before = malloc(sizeof *before);   /* nothing raises until freed */
        if (before != NULL)
            dp_fds_note(before);
        rc = curl_easy_perform(c->curl);
        if (before != NULL) {
            dp_fds_seal(before);
            free(before);
        }
    }
    if (rc == CURLE_OK)
        rc = curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &s);
    if (rc == CURLE_OK && s == CURL_SOCKET_BAD)
        rc = CURLE_COULDNT_CONNECT;
    if (rc != CURLE_OK) {
        char text[sizeof c->errmsg];
        int r;
        conn_copy(text, sizeof text, c->errmsg);
        r = dp_push_connerr(L, c->where, c->curl, rc, text);
        conn_release(c);
        return r;
    }
    c->fd = (int)s;
    c->tls = ep.tls;
    dp_setnonblock(c->fd, 1);
    /* The first recv attaches libcurl's connection to the handle (needed for
    ** CURLINFO_TLS_SSL_PTR); anything it reads is kept in the pre-buffer. */
    err = conn_rawrecv(c, buf, sizeof buf, &n);
    if (err == 0 && n > 0)
        err = conn_preappend(c, buf, n);
    if (err != 0 && err != EAGAIN) {
        /* c->errmsg is "<where>: <reason>" */
        luaL_pushfail(L);
        lua_pushfstring(L, "cannot connect to the Docker daemon at %s: %s", c->where,
                        c->errmsg + strlen(c->where) + 2);
        lua_pushstring(L, dp_errno_name(err));
        lua_pushinteger(L, err);
        conn_release(c);
        return 4;
    }
    return 1;
}

/***
Send all of data, waiting with poll() while the socket is full.
@function Conn:send
@tparam string data
@tparam[opt] integer timeout_ms default (or negative): no timeout
@treturn[1] integer bytes sent (all of data)
@return[2] nil, "timeout", "timeout", sent (the bytes sent before the
 timeout; with timeout 0 a send that never waits)
@return[3] nil, message, name, sent
@usage conn:send("GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
*/
static int conn_m_send(lua_State *L) {
    dp_conn *c = dp_conn_check(L, 1);
    size_t len, off = 0;
    const char *s = luaL_checklstring(L, 2, &len);
    long long deadline = conn_optdeadline(L, 3);
    while (off < len) {
        size_t n;
        int err = dp_conn_send(c, s + off, len - off, &n);
        if (err == 0) {
            off += n;
            continue;
        }
        if (c->ssh.spawned && (err == EPIPE || err == ECONNRESET)) {
            dp_push_ssherr(L, c->where, &c->ssh);
            lua_pushinteger(L, (lua_Integer)off);
            return 4;
        }
        if (err != EAGAIN) {
            conn_pusherr(L, c, err);
            lua_pop(L, 1);
            lua_pushinteger(L, (lua_Integer)off);
            return 4;
        }
        err = dp_wait_fd(c->fd, POLLOUT, deadline);
        if (err == 0) {
            conn_pushtimeout(L);
            lua_pushinteger(L, (lua_Integer)off);
            return 4;
        }
        if (err < 0) {
            dp_push_errno(L, "poll", -err);
            lua_pop(L, 1);
            lua_pushinteger(L, (lua_Integer)off);
            return 4;
        }
    }
    lua_pushinteger(L, (lua_Integer)len);
    return 1;
}

/***
Read a complete HTTP response head. Bytes after the blank line stay in the
pre-buffer and are served first by recv.
@function Conn:read_head
@tparam[opt] integer timeout_ms default (or negative): no timeout
@tparam[opt] integer maxlen longest head accepted (default and maximum 16384)
@treturn[1] integer status
@treturn[1] string reason
@treturn[1] table headers (lower-cased names)
@return[2] nil, "timeout", "timeout"
@return[3] nil, "connection closed before the response head was complete", "closed"
@return[4] nil, "malformed response head" (or "response head longer than N
 bytes"), "protocol"
@return[5] nil, message, name, errno
@usage local status, reason, headers = conn:read_head(5000)
*/
static int conn_m_read_head(lua_State *L) {
    dp_conn *c = dp_conn_check(L, 1);
    long long deadline = conn_optdeadline(L, 2);
    lua_Integer maxlen = luaL_optinteger(L, 3, DP_HEAD_MAXLEN);
    dp_head h;
    char buf[4096];
    luaL_argcheck(L, maxlen > 0 && maxlen <= DP_HEAD_MAXLEN, 3, "out of range");
    for (;;) {
        size_t have = c->prelen - c->preoff, n;
        int err;
        if (have > 0) {
            /* Parse at most maxlen bytes; a head that needs more is too
            ** long (at DP_HEAD_MAXLEN the parser itself says -1: one byte
            ** less tells a long head from a malformed one). */
            size_t len = have < (size_t)maxlen ? have : (size_t)maxlen;
            const char *p = c->pre + c->preoff;
            long r = dp_head_parse(p, len, &h);
            if (r < 0 && (len < DP_HEAD_MAXLEN || dp_head_parse(p, len - 1, &h) < 0))
                return dp_push_error(L, "malformed response head", "protocol");
            if (r < 0 || (r == 0 && len >= (size_t)maxlen)) {
                luaL_pushfail(L);
                lua_pushfstring(L, "response head longer than %d bytes", (int)maxlen);
                lua_pushliteral(L, "protocol");
                return 3;
            }
            if (r > 0) {
                lua_pushinteger(L, h.status);
                lua_pushlstring(L, h.reason, h.reason_len);
                dp_head_push(L, &h);
                conn_preconsume(c, (size_t)r);
                return 3;
            }
        }
        err = conn_rawrecv(c, buf, sizeof buf, &n);
        if (c->ssh.spawned && ((err == 0 && n == 0) || err == ECONNABORTED ||
                               err == ECONNRESET))
            return dp_push_ssherr(L, c->where, &c->ssh);
        if (err == 0 && n == 0)
            return dp_push_error(L, "connection closed before the response head was complete",
                                 "closed");
        if (err == 0)
            err = conn_preappend(c, buf, n);
        if (err == 0)
            continue;
        if (err != EAGAIN)
            return conn_pusherr(L, c, err);
        err = dp_wait_fd(c->fd, POLLIN, deadline);
        if (err == 0)
            return conn_pushtimeout(L);
        if (err < 0)
            return dp_push_errno(L, "poll", -err);
    }
}

/***
Receive up to max bytes (pre-buffer first).
@function Conn:recv
@tparam[opt] integer max default 65536
@tparam[opt] integer timeout_ms 0: do not wait; default (or negative): no timeout
@treturn[1] string data
@return[2] nil, "timeout", "timeout"
@return[3] nil, "closed", "closed" at EOF
@return[4] nil, message, name, errno
@usage local data, err = conn:recv(4096, 1000)
*/
static int conn_m_recv(lua_State *L) {
    dp_conn *c = dp_conn_check(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, CONN_RECV_MAX);
    long long deadline;
    luaL_Buffer b;
    char *p;
    luaL_argcheck(L, max > 0, 2, "size must be positive");
    deadline = conn_optdeadline(L, 3);
    p = luaL_buffinitsize(L, &b, (size_t)max);
    for (;;) {
        size_t n;
        int err = dp_conn_recv(c, p, (size_t)max, &n);
        if (err == 0 && n == 0)
            return dp_push_error(L, "closed", "closed");
        if (err == 0) {
            luaL_pushresultsize(&b, n);
            return 1;
        }
        if (err != EAGAIN)
            return conn_pusherr(L, c, err);
        err = dp_wait_fd(c->fd, POLLIN, deadline);
        if (err == 0)
            return conn_pushtimeout(L);
        if (err < 0)
            return dp_push_errno(L, "poll", -err);
    }
}

/***
Read everything up to EOF (an error body after a raw status line, a
`Connection: close` response).
@function Conn:read_all
@tparam[opt] integer timeout_ms for the whole read; default (or negative): no timeout
@tparam[opt] integer max largest accepted size (default 1 MiB)
@treturn[1] string data
@return[2] nil, message, name, partial (name "timeout", "protocol" when
 longer than max, or an errno name)
@usage local body = conn:read_all(5000)
*/
static int conn_m_read_all(lua_State *L) {
    dp_conn *c = dp_conn_check(L, 1);
    long long deadline = conn_optdeadline(L, 2);
    lua_Integer max = luaL_optinteger(L, 3, CONN_READALL_MAX);
    size_t total = 0;
    luaL_Buffer b;
    luaL_argcheck(L, max >= 0, 3, "size must not be negative");
    luaL_buffinit(L, &b);
    for (;;) {
        size_t want = (size_t)max + 1 - total, n;
        char *p;
        int err;
        if (want > 16384)
            want = 16384;
        p = luaL_prepbuffsize(&b, want);
        err = dp_conn_recv(c, p, want, &n);
        if (err == 0 && n == 0) {
            luaL_pushresult(&b);
            return 1;
        }
        if (err == 0) {
            luaL_addsize(&b, n);
            total += n;
            if (total > (size_t)max) {
                luaL_pushresult(&b);
                luaL_pushfail(L);
                lua_pushfstring(L, "%s: response longer than %I bytes", c->where, max);
                lua_pushliteral(L, "protocol");
                lua_rotate(L, -4, -1);
                return 4;
            }
            continue;
        }
        if (err == EAGAIN) {
            err = dp_wait_fd(c->fd, POLLIN, deadline);
            if (err > 0)
                continue;
            if (err == 0) {
                luaL_pushresult(&b);
                luaL_pushfail(L);
                lua_pushliteral(L, "timeout");
                lua_pushliteral(L, "timeout");
                lua_rotate(L, -4, -1);
                return 4;
            }
            err = -err;
            conn_setmsg(c, "poll: ", strerror(err));
        }
        luaL_pushresult(&b);
        luaL_pushfail(L);
        lua_pushstring(L, c->errmsg);
        lua_pushstring(L, dp_errno_name(err));
        lua_rotate(L, -4, -1);
        return 4;
    }
}

/***
Half-close: no more writes, reading goes on (shutdown(SHUT_WR); over TLS a
close_notify first). Idempotent.
@function Conn:shutdown
@tparam[opt] integer timeout_ms for a TLS close_notify that would block
@treturn[1] boolean true
@return[2] nil, message, name, errno
@usage conn:shutdown()
*/
static int conn_m_shutdown(lua_State *L) {
    dp_conn *c = dp_conn_check(L, 1);
    long long deadline = conn_optdeadline(L, 2);
    for (;;) {
        int err = dp_conn_shutdown(c);
        if (err == 0)
            break;
        if (err != EAGAIN)
            return conn_pusherr(L, c, err);
        err = dp_wait_fd(c->fd, POLLOUT, deadline);
        if (err == 0)
            return conn_pushtimeout(L);
        if (err < 0)
            return dp_push_errno(L, "poll", -err);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/***
The socket, for poll().
@function Conn:getfd
@treturn integer fd
*/
static int conn_m_getfd(lua_State *L) {
    lua_pushinteger(L, dp_conn_check(L, 1)->fd);
    return 1;
}

/***
Bytes already buffered (read with the response head) that poll() will not
report.
@function Conn:pending
@treturn integer
*/
static int conn_m_pending(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)dp_conn_pending(dp_conn_check(L, 1)));
    return 1;
}

/***
Whether the connection uses TLS.
@function Conn:istls
@treturn boolean
*/
static int conn_m_istls(lua_State *L) {
    lua_pushboolean(L, dp_conn_check(L, 1)->tls);
    return 1;
}

/***
Close the connection; idempotent. Also __gc and __close.
@function Conn:close
@treturn boolean true
*/
static int conn_m_close(lua_State *L) {
    conn_release((dp_conn *)luaL_checkudata(L, 1, DP_CONN));
    lua_pushboolean(L, 1);
    return 1;
}

static int conn_m_tostring(lua_State *L) {
    dp_conn *c = (dp_conn *)luaL_checkudata(L, 1, DP_CONN);
    if (c->fd < 0)
        lua_pushliteral(L, "dockerpty.Conn (closed)");
    else
        lua_pushfstring(L, "dockerpty.Conn (%p)", (void *)c);
    return 1;
}

/* }==================================================================== */

int conn_open(lua_State *L) {
    static const luaL_Reg meta[] = {
        {"__index", NULL},
        {"__gc", conn_m_close},
        {"__close", conn_m_close},
        {"__tostring", conn_m_tostring},
        {NULL, NULL}
    };
    static const luaL_Reg methods[] = {
        {"send", conn_m_send},
        {"read_head", conn_m_read_head},
        {"recv", conn_m_recv},
        {"read_all", conn_m_read_all},
        {"shutdown", conn_m_shutdown},
        {"getfd", conn_m_getfd},
        {"pending", conn_m_pending},
        {"istls", conn_m_istls},
        {"close", conn_m_close},
        {NULL, NULL}
    };
    static const luaL_Reg funcs[] = {
        {"connect", conn_f_connect},
        {NULL, NULL}
    };
    dp_createmeta(L, DP_CONN, meta, methods);
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
