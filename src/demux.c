/*
** demux.c: (placeholder, being written)
*/
#include "dockerpty.h"

int demux_open(lua_State *L) {
    (void)L;
    return 0;
}
