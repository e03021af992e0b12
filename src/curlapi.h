/*
** curlapi.h: libcurl, loaded at run time. The core does not link libcurl:
** a unix-socket endpoint is served by plain sockets (conn.c, http.c), so
** only a TCP or TLS endpoint, or `transport = "libcurl"`, loads it and its
** thirty-odd shared libraries. Include this header instead of
** <curl/curl.h>: the curl_* names below become calls through the table
** dp_curl, filled by dp_curl_load. libcurl's compile-time type checks of
** curl_easy_setopt/getinfo (macros) cannot wrap a pointer, so they are off.
*/
#ifndef DP_CURLAPI_H
#define DP_CURLAPI_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

/* The soname of libcurl 7.16 and later (libcurl4-openssl-dev's runtime). */
#define CURLAPI_SONAME "libcurl.so.4"

#pragma GCC visibility push(hidden)

typedef struct dp_curlapi {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_version) *version;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_reset) *easy_reset;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_easy_recv) *easy_recv;
    __typeof__(curl_easy_send) *easy_send;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
} dp_curlapi;

extern dp_curlapi dp_curl;

/*
** Load libcurl (once per process; it is never unloaded) and run
** curl_global_init. 0 on success; -1 with the reason in err[errlen].
** Not thread safe: call it from the thread that loaded the core.
*/
int dp_curl_load(char *err, size_t errlen);

#pragma GCC visibility pop

#define curl_global_init     (dp_curl.global_init)
#define curl_version         (dp_curl.version)
#define curl_easy_init       (dp_curl.easy_init)
#undef curl_easy_setopt
#define curl_easy_setopt     (dp_curl.easy_setopt)
#define curl_easy_perform    (dp_curl.easy_perform)
#undef curl_easy_getinfo
#define curl_easy_getinfo    (dp_curl.easy_getinfo)
#define curl_easy_cleanup    (dp_curl.easy_cleanup)
#define curl_easy_reset      (dp_curl.easy_reset)
#define curl_easy_strerror   (dp_curl.easy_strerror)
#define curl_easy_recv       (dp_curl.easy_recv)
#define curl_easy_send       (dp_curl.easy_send)
#define curl_slist_append    (dp_curl.slist_append)
#define curl_slist_free_all  (dp_curl.slist_free_all)

#endif
