/*
** tr_curl.c: the libcurl transport: libcurl in connect-only mode (TCP,
** TLS with the handshake done, or a unix socket with transport "libcurl"),
** then curl_easy_recv/send. Also what http.c's libcurl requests share with
** it: the options every handle gets, the CURLE_* names, and the
** close-on-exec sealing of libcurl's own fds.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curlapi.h"

#include "dockerpty.h"
#include "util.h"
#include "conn.h"

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

int dp_curl_need(lua_State *L) {
    char err[256];
    if (dp_curl_load(err, sizeof err) == 0)
        return 0;
    return dp_push_error(L, err, "libcurl");
}

/* libcurl's sockets, unix and TCP alike, close-on-exec from birth: a child
** started while a connection is open (os.execute, io.popen) must not get
** the daemon's connection. libcurl makes them non-blocking itself. */
static curl_socket_t trc_opensocket(void *clientp, curlsocktype purpose,
                                     struct curl_sockaddr *addr) {
    (void)clientp;
    (void)purpose;
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* Call fn(fd, arg) for each open fd below DP_FDS_MAX (from /proc/self/fd,
** else by probing the first 1024). */
static void trc_eachfd(void (*fn)(int, void *), void *arg) {
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

static void trc_note1(int fd, void *arg) {
    dp_fdset *s = arg;
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC))
        s->bits[fd / 8] |= (unsigned char)(1u << (fd % 8));
}

void dp_fds_note(dp_fdset *s) {
    memset(s, 0, sizeof *s);
    trc_eachfd(trc_note1, s);
}

static void trc_seal1(int fd, void *arg) {
    const dp_fdset *before = arg;
    int fl;
    if (before->bits[fd / 8] & (1u << (fd % 8)))
        return;                     /* inheritable before: not ours */
    fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC))
        (void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

void dp_fds_seal(const dp_fdset *before) {
    trc_eachfd(trc_seal1, (void *)before);
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
    EP_SET(CURLOPT_OPENSOCKETFUNCTION, trc_opensocket);
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
** A failed connection attempt (curl_easy_perform in connect-only mode, or a
** request that never reached the daemon): its NAME in *name ("timeout";
** NULL for the errno's name when libcurl saw an OS error; else the CURLE_
** name) and its reason in why[size] (libcurl's error text, or strerror).
** Returns the errno value: the OS error, ETIMEDOUT, or EIO.
*/
int dp_curl_connfail(CURL *curl, CURLcode rc, const char *errbuf, const char **name,
                     char *why, size_t size) {
    long oserr = 0;
    const char *reason = (errbuf && errbuf[0]) ? errbuf : curl_easy_strerror(rc);
    if (curl != NULL)
        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &oserr);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        *name = "timeout";
        snprintf(why, size, "%s", reason);
        return ETIMEDOUT;
    }
    if (oserr > 0 && (rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR ||
                      rc == CURLE_RECV_ERROR)) {
        *name = NULL;
        snprintf(why, size, "%s", strerror((int)oserr));
        return (int)oserr;
    }
    *name = dp_curle_name(rc);
    snprintf(why, size, "%s", reason);
    return EIO;
}

/* {====================================================================
** The transport
** ===================================================================== */

/* A failed curl_easy_recv/send: the OS error for a send or receive error
** (else EIO), with libcurl's text (t->why is its error buffer) or strerror. */
static int trc_rwfail(dp_transport *t, CURLcode rc) {
    long oserr = 0;
    int err = EIO;
    if (rc == CURLE_AGAIN)
        return EAGAIN;
    if ((rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) &&
        curl_easy_getinfo(t->curl, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr > 0)
        err = (int)oserr;
    t->errname = NULL;
    if (t->why[0] == '\0')
        snprintf(t->why, sizeof t->why, "%s",
                 err != EIO ? strerror(err) : curl_easy_strerror(rc));
    return err;
}

/* The answer of curl_easy_recv/send: 0, EAGAIN or a failure. */
static int trc_result(dp_transport *t, CURLcode rc, size_t *n) {
    if (rc == CURLE_OK)
        return 0;
    *n = 0;
    return trc_rwfail(t, rc);
}

static int trc_read(dp_transport *t, char *buf, size_t len, size_t *n) {
    *n = 0;
    t->why[0] = '\0';      /* libcurl's error buffer */
    return trc_result(t, curl_easy_recv(t->curl, buf, len, n), n);
}

static int trc_write(dp_transport *t, const char *buf, size_t len, size_t *n) {
    *n = 0;
    t->why[0] = '\0';
    return trc_result(t, curl_easy_send(t->curl, buf, len, n), n);
}

static void trc_close(dp_transport *t) {
    if (t->curl != NULL)
        curl_easy_cleanup(t->curl);     /* closes the socket */
    t->curl = NULL;
    t->fd = -1;
    free(t->early);
    t->early = NULL;
    t->earlylen = 0;
}

/* curl_easy_perform around which the fds libcurl opens inheritable are
** made close-on-exec (conn.h). Calls no Lua. */
static CURLcode trc_perform_sealed(CURL *curl) {
    dp_fdset *before = malloc(sizeof *before);
    CURLcode rc;
    if (before != NULL)
        dp_fds_note(before);
    rc = curl_easy_perform(curl);
    if (before != NULL) {
        dp_fds_seal(before);
        free(before);
    }
    return rc;
}

/* After the handshake: the first recv attaches libcurl's connection to the
** handle (CURLINFO_TLS_SSL_PTR needs it); what it reads goes to t->early. */
static int trc_attach(dp_transport *t) {
    char buf[4096];
    size_t n = 0;
    int err = trc_read(t, buf, sizeof buf, &n);
    if (err == 0 && n > 0) {
        t->early = malloc(n);
        if (t->early == NULL)
            return dp_transport_fail(t, ENOMEM, NULL, NULL);
        memcpy(t->early, buf, n);
        t->earlylen = n;
    }
    return err == EAGAIN ? 0 : err;
}

static int trc_connect(dp_transport *t, const dp_endpoint *ep) {
    char why[sizeof t->why];
    const char *name;
    curl_socket_t s = CURL_SOCKET_BAD;
    CURLcode rc;
    int err;
    if (dp_curl_load(why, sizeof why) != 0)
        return dp_transport_fail(t, ELIBACC, "libcurl", why);
    t->curl = curl_easy_init();
    if (t->curl == NULL)
        return dp_transport_fail(t, ENOMEM, NULL, NULL);
    rc = dp_endpoint_apply(t->curl, ep);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->curl, CURLOPT_URL, ep->socket[0] ? "http://localhost" : ep->url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->curl, CURLOPT_CONNECT_ONLY, 1L);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->curl, CURLOPT_ERRORBUFFER, t->why);   /* >= CURL_ERROR_SIZE */
    t->why[0] = '\0';
    if (rc == CURLE_OK)
        rc = trc_perform_sealed(t->curl);
    if (rc == CURLE_OK)
        rc = curl_easy_getinfo(t->curl, CURLINFO_ACTIVESOCKET, &s);
    if (rc == CURLE_OK && s == CURL_SOCKET_BAD)
        rc = CURLE_COULDNT_CONNECT;
    if (rc == CURLE_OK) {
        t->fd = (int)s;
        t->tls = ep->tls;
        dp_setnonblock(t->fd, 1);
        err = trc_attach(t);
    } else {
        err = dp_curl_connfail(t->curl, rc, t->why, &name, why, sizeof why);
        dp_transport_fail(t, err, name, why);
    }
    if (err != 0)
        trc_close(t);
    return err;
}

/* }==================================================================== */

/* {====================================================================
** TLS close_notify
** ===================================================================== */

/*
** libcurl has no call for close_notify, so the half-close calls OpenSSL's
** SSL_shutdown on libcurl's SSL object (CURLINFO_TLS_SSL_PTR, OpenSSL
** backend only). libcurl loaded libssl (curlapi.c loads libcurl
** RTLD_LOCAL, so libssl's symbols are not in the global scope); we take a
** reference to that copy by its soname with RTLD_NOLOAD, never loading one
** of our own: the soname of the OpenSSL major version libcurl reports
** ("OpenSSL/3.0.17" in curl_version(): "libssl.so.3"; "OpenSSL/1.1.1w":
** "libssl.so.1.1"). The reference is kept for the life of the process.
*/
typedef int (*trc_sslfn)(void *ssl);
typedef int (*trc_sslerrfn)(const void *ssl, int ret);
static trc_sslfn trc_ssl_shutdown;
static trc_sslerrfn trc_ssl_get_error;

static int trc_loadssl(void) {
    const char *v;
    void *lib, *fshut, *ferr;
    if (trc_ssl_shutdown != NULL)
        return 0;
    v = strstr(curl_version(), "OpenSSL/");
    if (v == NULL)
        return -1;
    v += 8;
    if (strncmp(v, "1.1.", 4) == 0)
        lib = dlopen("libssl.so.1.1", RTLD_LAZY | RTLD_NOLOAD);
    else if (strncmp(v, "3.", 2) == 0)
        lib = dlopen("libssl.so.3", RTLD_LAZY | RTLD_NOLOAD);
    else
        lib = NULL;
    if (lib == NULL)
        return -1;
    fshut = dlsym(lib, "SSL_shutdown");
    ferr = dlsym(lib, "SSL_get_error");
    if (fshut == NULL || ferr == NULL)
        return -1;
    /* POSIX: an object pointer from dlsym converts to a function pointer. */
    *(void **)&trc_ssl_get_error = ferr;
    *(void **)&trc_ssl_shutdown = fshut;
    return 0;
}

#define TRC_SSL_ERROR_WANT_READ 2
#define TRC_SSL_ERROR_WANT_WRITE 3

static int trc_close_notify(dp_transport *t) {
    struct curl_tlssessioninfo *ti = NULL;
    int r;
    if (curl_easy_getinfo(t->curl, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK ||
        ti == NULL || ti->backend != CURLSSLBACKEND_OPENSSL || ti->internals == NULL)
        return dp_transport_fail(t, ENOTSUP, NULL,
                                 "TLS half-close needs libcurl with the OpenSSL backend");
    if (trc_loadssl() < 0)
        return dp_transport_fail(t, ENOTSUP, NULL, "TLS half-close: SSL_shutdown not found");
    r = trc_ssl_shutdown(ti->internals);
    if (r >= 0)
        return 0;     /* 0: close_notify sent, the peer's not yet seen */
    r = trc_ssl_get_error(ti->internals, r);
    if (r == TRC_SSL_ERROR_WANT_WRITE || r == TRC_SSL_ERROR_WANT_READ)
        return EAGAIN;
    return dp_transport_fail(t, EIO, NULL, "TLS half-close: SSL_shutdown failed");
}

static int trc_shutdown(dp_transport *t) {
    if (t->tls) {
        int r = trc_close_notify(t);
        if (r != 0)
            return r;
    }
    return dp_sock_shutdown(t);
}

/* }==================================================================== */

const dp_transport_ops dp_tr_curl = {
    "libcurl", trc_connect, trc_read, trc_write, trc_shutdown, trc_close, NULL
};
