/* host: runs a Lua script (argv[1]) with the rest of argv as `arg`, built once against Lua 5.4
 * and once against LuaJIT 2.1 (bench/lua_vm.sh), so one driver measures both VMs on the
 * same module. Uses only the C API the two share. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: host SCRIPT [ARGS]\n");
        return 2;
    }
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    for (int i = 0; i < argc - 1; i++) {
        lua_pushstring(L, argv[i + 1]);
        lua_rawseti(L, -2, i);
    }
    lua_setglobal(L, "arg");
    if (luaL_loadfile(L, argv[1]) || lua_pcall(L, 0, 0, 0)) {
        fprintf(stderr, "host: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    lua_close(L);
    return 0;
}
