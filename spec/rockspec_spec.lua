-- The rock (issues 2 and 15): `luarocks make` builds and installs it with
-- no variables on Debian (curl.h in the multiarch include directory), the
-- installed module and command work from their tree, `luarocks test` runs
-- busted, the release rockspec lists what the scm one lists, and `make
-- dist` packs a source rock that installs offline.
--
-- The commands are those a user types. Only the environment differs: a
-- LuaRocks config of our own (LUAROCKS_CONFIG) puts the rocks tree in a
-- temporary directory, so nothing lands in /usr/local or ~/.luarocks, and
-- says deps_mode = "none": lua-cjson and busted come from Debian packages,
-- which LuaRocks does not see, and no rocks server is reachable here.
local dockerpty = require("dockerpty")

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, out, code
end

local function q(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function pat(s)
  return (s:gsub("%p", "%%%0"))
end

-- A temporary directory with a LuaRocks config whose only tree is in it;
-- returns the directory and the environment prefix for commands.
local function sandbox()
  local work = os.tmpname()
  os.remove(work)
  assert.is_true(os.execute("mkdir -p " .. q(work .. "/home")))
  local f = assert(io.open(work .. "/config.lua", "w"))
  f:write(("rocks_trees = { [[%s/tree]] }\ndeps_mode = \"none\"\n"):format(work))
  f:close()
  -- no LIBCURL_* (nor any LuaRocks variable) from the caller's environment
  local env = ("env -u LIBCURL_DIR -u LIBCURL_INCDIR -u LIBCURL_LIBDIR -u LUA_PATH -u LUA_CPATH "
    .. "-u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LD_PRELOAD LUAROCKS_CONFIG=%s HOME=%s "):format(
    q(work .. "/config.lua"), q(work .. "/home"))
  return work, env
end

-- The installed tree's paths, then a command run with them, from /.
local function in_tree(env, cmd)
  return sh(("cd / && eval \"$(%s luarocks --lua-version 5.4 path)\" && env -u LD_PRELOAD %s"):format(env, cmd))
end

local function load_rockspec(path)
  local env = {}
  assert(loadfile(path, "t", env))()
  return env
end

describe("rockspec/dockerpty-scm-1.rockspec", function()
  -- #nosanitize: luarocks builds its own plain module; under SANITIZE=1 the
  -- lua5.4 shim first in PATH would mislead its search for the Lua headers
  it("installs with `luarocks --lua-version 5.4 make rockspec/dockerpty-scm-1.rockspec`, no variables #nosanitize",
    function()
    local work, env = sandbox()
    finally(function() os.execute("rm -rf " .. q(work)) end)
    -- build from a copy of the working tree, so that it stays clean
    assert.is_true(os.execute(("mkdir -p %s/src && git ls-files -co --exclude-standard | "
      .. "tar cf - -T - | tar xf - -C %s/src"):format(q(work), q(work))))
    local ok, out = sh(("cd %s/src && %s luarocks --lua-version 5.4 make rockspec/dockerpty-scm-1.rockspec"):format(
      q(work), env))
    assert.is_true(ok, out)
    assert.matches("dockerpty scm%-1 is now installed in " .. pat(work) .. "/tree", out)
    assert.is_nil(out:find("LIBCURL", 1, true), out)
    -- libcurl is loaded at run time, for TCP and TLS only: not linked
    ok, out = sh(("ldd %s/tree/lib/lua/5.4/dockerpty/core.so"):format(q(work)))
    assert.is_true(ok, out)
    assert.matches("libc%.so", out)
    assert.is_nil(out:find("libcurl", 1, true), out)
    ok, out = in_tree(env, "lua5.4 -e 'local d = require \"dockerpty\"; "
      .. "print(d._VERSION, package.searchpath(\"dockerpty.core\", package.cpath), "
      .. "package.searchpath(\"dockerpty.cli\", package.path))'")
    assert.is_true(ok, out)
    assert.equal(("%s\t%s/tree/lib/lua/5.4/dockerpty/core.so\t%s/tree/share/lua/5.4/dockerpty/cli.lua\n"):format(
      dockerpty._VERSION, work, work), out)
    -- the command, installed in the tree's bin
    ok, out = in_tree(env, q(work .. "/tree/bin/dockerpty") .. " --version")
    assert.is_true(ok, out)
    assert.equal("dockerpty version " .. dockerpty._VERSION .. "\n", out)
    -- `luarocks test` runs busted (one spec file, to keep it short)
    ok, out = sh(("cd %s/src && %s luarocks --lua-version 5.4 test rockspec/dockerpty-scm-1.rockspec "
      .. "-- BUSTED_ARGS=spec/util_spec.lua"):format(q(work), env))
    assert.is_true(ok, out)
    assert.matches("\n[1-9]%d* passed, 0 failed, 0 skipped\n", out)
    assert.matches("%d+ successes / 0 failures", out)
  end)
end)

describe("the release rockspec", function()
  local scm = load_rockspec("rockspec/dockerpty-scm-1.rockspec")
  local path = ("rockspec/dockerpty-%s-1.rockspec"):format(dockerpty._VERSION)

  it("exists for the current version, with a source.tag", function()
    local rel = load_rockspec(path)
    assert.equal(dockerpty._VERSION .. "-1", rel.version)
    assert.equal("v" .. dockerpty._VERSION, rel.source.tag)
    assert.equal(scm.source.url, rel.source.url)
    assert.is_nil(scm.source.tag)
  end)

  it("says so where its source.url is a placeholder, and README says how a release is cut", function()
    local rel = load_rockspec(path)
    if rel.source.url:find("example.invalid", 1, true) then
      for _, file in ipairs({ path, "rockspec/dockerpty-scm-1.rockspec", "README.md" }) do
        local f = assert(io.open(file, "rb"))
        local text = f:read("a")
        f:close()
        assert.truthy(text:find("placeholder", 1, true), file)
        assert.truthy(text:find("no public repository yet", 1, true), file)
      end
    end
    -- the tag the rockspec names is not claimed to exist unless it does
    local p = assert(io.popen("git tag -l " .. rel.source.tag))
    local tags = p:read("a")
    p:close()
    if tags == "" then
      local f = assert(io.open(path, "rb"))
      assert.truthy(f:read("a"):find("no tag " .. rel.source.tag .. " exists", 1, true))
      f:close()
    end
  end)

  it("lists the same modules, sources and dependencies as the scm rockspec", function()
    local rel = load_rockspec(path)
    local names = {}
    for name in pairs(scm.build.modules) do names[#names + 1] = name end
    assert.is_true(#names > 10)
    assert.truthy(scm.build.modules["dockerpty.cli"])
    assert.same(scm.build, rel.build)
    assert.same(scm.dependencies, rel.dependencies)
    assert.same(scm.external_dependencies, rel.external_dependencies)
    assert.same(scm.test, rel.test)
    assert.same(scm.description, rel.description)
  end)
end)

describe("make dist", function()
  it("packs a source rock that installs offline into a fresh tree #nosanitize", function()
    local work, env = sandbox()
    finally(function() os.execute("rm -rf " .. q(work)) end)
    local dist = work .. "/dist"
    -- the committed tree is packed (git HEAD)
    local ok, out = sh(("env -u LD_PRELOAD make --no-print-directory dist DIST_DIR=%s"):format(q(dist)))
    assert.is_true(ok, out)
    local rock = ("%s/dockerpty-%s-1.src.rock"):format(dist, dockerpty._VERSION)
    assert.truthy(io.open(rock), out)
    -- the rock holds the release rockspec itself, and the tree it names
    ok, out = sh(("unzip -p %s dockerpty-%s-1.rockspec"):format(q(rock), dockerpty._VERSION))
    assert.is_true(ok, out)
    local f = assert(io.open(("rockspec/dockerpty-%s-1.rockspec"):format(dockerpty._VERSION), "rb"))
    assert.equal(f:read("a"), out)
    f:close()
    out = select(2, sh(("unzip -l %s"):format(q(rock))))
    assert.matches(" dockerpty/lua/dockerpty/cli%.lua\n", out)
    assert.matches(" dockerpty/src/core%.c\n", out)
    -- offline: no network is reachable here, so a fetch would fail
    ok, out = sh(("cd %s && %s luarocks --lua-version 5.4 install %s --deps-mode=none"):format(
      q(work), env, q(rock)))
    assert.is_true(ok, out)
    assert.matches("dockerpty " .. pat(dockerpty._VERSION) .. "%-1 is now installed in " .. pat(work) .. "/tree", out)
    ok, out = in_tree(env, q(work .. "/tree/bin/dockerpty") .. " --version")
    assert.is_true(ok, out)
    assert.equal("dockerpty version " .. dockerpty._VERSION .. "\n", out)
    ok, out = in_tree(env, "lua5.4 -e 'local d = require \"dockerpty\"; "
      .. "print(d._VERSION, package.searchpath(\"dockerpty\", package.path))'")
    assert.is_true(ok, out)
    assert.equal(("%s\t%s/tree/share/lua/5.4/dockerpty/init.lua\n"):format(dockerpty._VERSION, work), out)
  end)
end)
