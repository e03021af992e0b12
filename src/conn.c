/*
** conn.c: (placeholder, being written)
*/
#include "dockerpty.h"

int conn_open(lua_State *L) {
    (void)L;
    return 0;
}
