/*
** http.c: (placeholder, being written)
*/
#include "dockerpty.h"

int http_open(lua_State *L) {
    (void)L;
    return 0;
}
