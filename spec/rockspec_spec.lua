-- The rockspec builds and installs offline with `luarocks make`, and the
-- installed module works from its tree (issue 2).
local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, out, code
end

local function pkgvar(var)
  local _, out = sh("pkg-config --variable=" .. var .. " libcurl")
  return (out:gsub("%s+$", ""))
end

describe("rockspec/dockerpty-scm-1.rockspec", function()
  -- #nosanitize: luarocks builds its own plain module; under SANITIZE=1 the
  -- lua5.4 shim first in PATH would mislead its search for the Lua headers
  it("installs with luarocks make, offline, and the module loads from the tree #nosanitize", function()
    local work = os.tmpname()
    os.remove(work)
    finally(function() os.execute("rm -rf " .. work) end)
    -- build from a copy of the sources, so the tree under test stays clean
    assert.is_true(os.execute("mkdir -p " .. work .. "/src && cp -r lua rockspec bin " .. work
      .. " && cp src/*.c src/*.h " .. work .. "/src"))
    local ok, out = sh(("cd %s && luarocks --lua-version 5.4 make --deps-mode=none --tree %s/tree "
      .. "rockspec/dockerpty-scm-1.rockspec LIBCURL_INCDIR=%s"):format(
      work, work, pkgvar("includedir")))
    assert.is_true(ok, out)
    -- libcurl is loaded at run time, for TCP and TLS only: not linked
    ok, out = sh(("ldd %s/tree/lib/lua/5.4/dockerpty/core.so"):format(work))
    assert.is_true(ok, out)
    assert.matches("libc%.so", out)
    assert.is_nil(out:find("libcurl", 1, true), out)
    ok, out = sh(("cd / && eval \"$(luarocks --lua-version 5.4 --tree %s/tree path)\" && "
      .. "env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 lua5.4 -e 'local d = require \"dockerpty\"; "
      .. "print(d._VERSION, package.searchpath(\"dockerpty.core\", package.cpath), "
      .. "package.searchpath(\"dockerpty.client\", package.path))'"):format(work))
    assert.is_true(ok, out)
    assert.matches("^%d+%.%d+%.%d+\t" .. work:gsub("%p", "%%%0") .. "/tree/lib/lua/5%.4/dockerpty/core%.so\t"
      .. work:gsub("%p", "%%%0") .. "/tree/share/lua/5%.4/dockerpty/client%.lua\n$", out)
    -- the command, installed in the tree's bin
    ok, out = sh(("cd / && eval \"$(luarocks --lua-version 5.4 --tree %s/tree path)\" && "
      .. "%s/tree/bin/dockerpty --version"):format(work, work))
    assert.is_true(ok, out)
    assert.matches("^dockerpty version %d+%.%d+%.%d+\n$", out)
  end)
end)
