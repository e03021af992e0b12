-- luacheck configuration (lua-check from Debian)
std = "lua54"
max_line_length = 110
exclude_files = { "build/", "luarocks/", "docs/" }

files["spec/"] = { std = "+busted", max_line_length = 130 }  -- spec names run long
files["rockspec/"] = { std = "+rockspec" }
files[".busted"] = { std = "lua54" }
files[".luacheckrc"] = { std = "+luacheckrc" }
