/*
** pump.c: (placeholder, being written)
*/
#include "dockerpty.h"

int pump_open(lua_State *L) {
    (void)L;
    return 0;
}
