/*
** curlapi.c: libcurl loaded with dlopen on first use (see curlapi.h), and
** core.curl_version.
*/
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "dockerpty.h"
#include "util.h"
#include "curlapi.h"


dp_curlapi dp_curl;

static int curlapi_state;      /* 0 not tried, 1 loaded, -1 failed */
static char curlapi_err[256];

int dp_curl_load(char *err, size_t errlen) {
    void *lib;
    dp_curlapi api;
    if (curlapi_state == 0) {
        curlapi_state = -1;
        lib = dlopen(CURLAPI_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (lib == NULL) {
            snprintf(curlapi_err, sizeof curlapi_err, "cannot load libcurl: %s", dlerror());
        } else {
            int missing = 0;
            memset(&api, 0, sizeof api);
            /* POSIX: an object pointer from dlsym converts to a function
            ** pointer; the copy through void ** says so to the compiler. */
#define CURLAPI_SYM(field, name) \
            do { void *f = dlsym(lib, name); \
                 if (f == NULL && !missing) { missing = 1; \
                     snprintf(curlapi_err, sizeof curlapi_err, \
                              "cannot load libcurl: %s not found", name); } \
                 *(void **)&api.field = f; } while (0)
            CURLAPI_SYM(global_init, "curl_global_init");
            CURLAPI_SYM(version, "curl_version");
            CURLAPI_SYM(easy_init, "curl_easy_init");
            CURLAPI_SYM(easy_setopt, "curl_easy_setopt");
            CURLAPI_SYM(easy_perform, "curl_easy_perform");
            CURLAPI_SYM(easy_getinfo, "curl_easy_getinfo");
            CURLAPI_SYM(easy_cleanup, "curl_easy_cleanup");
            CURLAPI_SYM(easy_reset, "curl_easy_reset");
            CURLAPI_SYM(easy_strerror, "curl_easy_strerror");
            CURLAPI_SYM(easy_recv, "curl_easy_recv");
            CURLAPI_SYM(easy_send, "curl_easy_send");
            CURLAPI_SYM(slist_append, "curl_slist_append");
            CURLAPI_SYM(slist_free_all, "curl_slist_free_all");
#undef CURLAPI_SYM
            if (!missing && api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                missing = 1;
                snprintf(curlapi_err, sizeof curlapi_err,
                         "cannot load libcurl: curl_global_init failed");
            }
            if (missing) {
                dlclose(lib);
            } else {
                dp_curl = api;
                curlapi_state = 1;
            }
        }
    }
    if (curlapi_state < 0) {
        snprintf(err, errlen, "%s", curlapi_err);
        return -1;
    }
    return 0;
}

/***
The version string of libcurl (`curl_version()`); loads libcurl, which the
core otherwise loads only for a TCP or TLS endpoint.
@function curl_version
@treturn[1] string e.g. "libcurl/7.88.1 OpenSSL/3.0.17 ..."
@return[2] nil, "cannot load libcurl: <reason>", "libcurl"
@usage print(core.curl_version())
*/
static int curlapi_f_version(lua_State *L) {
    char err[256];
    if (dp_curl_load(err, sizeof err) < 0)
        return dp_push_error(L, err, "libcurl");
    lua_pushstring(L, curl_version());
    return 1;
}

int curlapi_open(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"curl_version", curlapi_f_version},
        {NULL, NULL}
    };
    luaL_setfuncs(L, funcs, 0);
    return 0;
}
