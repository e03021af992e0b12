/*
** escape.c: (placeholder, being written)
*/
#include "dockerpty.h"

int escape_open(lua_State *L) {
    (void)L;
    return 0;
}
