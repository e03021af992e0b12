/*
** httphead.c: (placeholder, being written)
*/
#include "dockerpty.h"

int httphead_open(lua_State *L) {
    (void)L;
    return 0;
}
