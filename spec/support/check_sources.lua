-- check_sources.lua: the C sources listed in the Makefile (arguments) and in
-- the rockspec's dockerpty.core module must be the same list, and every Lua
-- module under lua/ must be in the rockspec.
local env = {}
local f = assert(loadfile("rockspec/dockerpty-scm-1.rockspec", "t", env))
f()
local listed = {}
for _, s in ipairs(env.build.modules["dockerpty.core"].sources) do
  listed[s] = true
end
local ok = true
local seen = {}
for _, s in ipairs(arg) do
  seen[s] = true
  if not listed[s] then
    io.stderr:write("check-sources: ", s, " is in the Makefile but not the rockspec\n")
    ok = false
  end
end
for s in pairs(listed) do
  if not seen[s] then
    io.stderr:write("check-sources: ", s, " is in the rockspec but not the Makefile\n")
    ok = false
  end
end
local mods = {}
for name, path in pairs(env.build.modules) do
  if type(path) == "string" then mods[path] = name end
end
local p = io.popen("find lua -name '*.lua' | sort")
for path in p:lines() do
  if not mods[path] then
    io.stderr:write("check-sources: ", path, " is not a module in the rockspec\n")
    ok = false
  end
end
p:close()
os.exit(ok and 0 or 1)
