-- completion/dockerpty.bash (issue 15): sourced in bash, asked as bash
-- asks it on TAB (COMP_WORDS, COMP_CWORD, then COMPREPLY), it answers
-- with the commands, the flags the parser takes, flag values, and
-- container and image names from the daemon.
local cli = require("dockerpty.cli")

local function q(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local bindir

-- The answers to TAB after `words` (the last one is the word being typed).
local function complete(words)
  local qw = {}
  for i, w in ipairs(words) do qw[i] = q(w) end
  local script = ("PATH=%s:$PATH; . completion/dockerpty.bash; COMP_WORDS=(dockerpty %s); "
    .. "COMP_CWORD=%d; _dockerpty; printf '%%s\\n' \"${COMPREPLY[@]}\""):format(
    q(bindir), table.concat(qw, " "), #words)
  local p = assert(io.popen("env -u LD_PRELOAD bash --norc --noprofile -c " .. q(script) .. " 2>&1"))
  local out = p:read("a")
  assert.is_true((p:close()), out)
  local list = {}
  for w in out:gmatch("[^\n]+") do list[#list + 1] = w end
  table.sort(list)
  return list
end

local function has(list, w)
  for _, v in ipairs(list) do
    if v == w then return true end
  end
  return false
end

setup(function()
  -- `dockerpty` in PATH: bin/dockerpty with the module under test
  bindir = os.tmpname()
  os.remove(bindir)
  assert(os.execute("mkdir -p " .. q(bindir)))
  local f = assert(io.open(bindir .. "/dockerpty", "w"))
  local pwd = io.popen("pwd")
  local cwd = pwd:read("l")
  pwd:close()
  local function abs(path)
    return (path:gsub("([^;]+)", function(p) return p:sub(1, 1) == "/" and p or cwd .. "/" .. p end))
  end
  f:write(("#!/bin/sh\nexec env LUA_PATH=%s LUA_CPATH=%s lua5.4 %s \"$@\"\n"):format(
    q(abs(package.path)), q(abs(package.cpath)), q(cwd .. "/bin/dockerpty")))
  f:close()
  assert(os.execute("chmod +x " .. q(bindir .. "/dockerpty")))
end)

teardown(function()
  os.execute("rm -rf " .. q(bindir))
end)

describe("completion/dockerpty.bash", function()
  it("completes the commands and the global flags", function()
    assert.same({ "attach", "exec", "run", "service", "start" }, complete({ "" }))
    assert.same({ "run" }, complete({ "r" }))
    assert.same({ "--context", "--help", "--host", "--version" }, complete({ "--" }))
    assert.same({ "exec" }, complete({ "-H", "unix:///x.sock", "e" }))
    assert.same({ "exec" }, complete({ "-c", "staging", "e" }))
  end)

  it("completes each command's flags, the parser's own", function()
    for _, name in ipairs(cli.ORDER) do
      local want = {}
      for _, f in ipairs(cli.COMMANDS[name].flags) do want[#want + 1] = "--" .. f.long end
      table.sort(want)
      assert.same(want, complete({ name, "--" }), name)
    end
    assert.same({ "--pull" }, complete({ "run", "--pul" }))
    assert.same({ "--publish", "--pull" }, complete({ "run", "--pu" }))
    assert.same({ "--read-only", "--record", "--record-input", "--restart", "--rm" },
      complete({ "run", "-i", "--r" }))
    assert.is_true(has(complete({ "run", "-" }), "-v"))
    assert.same({ "--env", "--env-file" }, complete({ "exec", "--en" }))
  end)

  it("completes service exec and its flags, the ones its parser takes", function()
    assert.same({ "exec" }, complete({ "service", "" }))
    local want = { "--all", "--detach-keys", "--env", "--help", "--interactive", "--no-prefix", "--node",
      "--ssh-user", "--tty", "--user", "--workdir" }
    assert.same(want, complete({ "service", "exec", "--" }))
    assert.same({ "--no-prefix", "--node" }, complete({ "service", "exec", "-it", "--no" }))
    -- each flag as the parser takes it: a flag without a value is followed
    -- by --help (help, 0); one with a value takes the next word
    local p = assert(io.popen(("env LUA_PATH=%s LUA_CPATH=%s lua5.4 bin/dockerpty __complete flags service"):format(
      q(package.path), q(package.cpath))))
    local answers = p:read("a")
    p:close()
    local n = 0
    for f, valued in answers:gmatch("(%S+) ([01])\n") do
      n = n + 1
      local function status(...)
        local cmd = ("env LUA_PATH=%s LUA_CPATH=%s lua5.4 bin/dockerpty -H unix:///nonexistent/d.sock "
          .. "service exec %s >/dev/null 2>&1"):format(q(package.path), q(package.cpath), table.concat({ ... }, " "))
        return select(3, os.execute(cmd))
      end
      if valued == "1" then
        assert.is_not.equal(0, status(f, "--help"), f)
        assert.equal(0, status(f, "x=y", "--help"), f)
      else
        assert.equal(0, status(f, "--help"), f)
      end
    end
    assert.equal(17, n)
  end)

  it("completes service names from the daemon that -H names", function()
    local fe = require("support.fakeengine")
    finally(fe.cleanup)
    local srv = fe.fake{ respond = { ["GET /services"] = { status = 200,
      body = '[{"ID":"s1","Spec":{"Name":"web"}},{"ID":"s2","Spec":{"Name":"worker"}}]' } } }
    assert.same({ "web", "worker" }, complete({ "-H", srv.host, "service", "exec", "-it", "" }))
    assert.same({ "worker" }, complete({ "-H", srv.host, "service", "exec", "--node", "n=ssh://h", "wo" }))
    -- the command after the service is not a service
    assert.same({}, complete({ "-H", srv.host, "service", "exec", "web", "" }))
  end)

  it("completes flag values", function()
    assert.same({ "always", "missing", "never" }, complete({ "run", "--pull", "" }))
    assert.same({ "stderr", "stdin", "stdout" }, complete({ "run", "-a", "std" }))
    assert.same({ "on-failure" }, complete({ "run", "--restart", "on" }))
    -- a value with nothing to offer: no flags, no names
    assert.same({}, complete({ "run", "--name", "" }))
  end)
end)

describe("completion/dockerpty.bash with a daemon #docker", function()
  local client, running_name, stopped_name
  local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"

  setup(function()
    client = require("dockerpty").client.from_env()
    local tag = ("compl-%d-%d"):format(os.time() % 100000, math.random(1, 99999))
    running_name, stopped_name = tag .. "-up", tag .. "-down"
    client:create_container{ image = IMAGE, command = { "sleep", "300" }, name = running_name,
      host_config = { NetworkMode = "none" } }
    client:start(running_name)
    client:create_container{ image = IMAGE, command = { "true" }, name = stopped_name,
      host_config = { NetworkMode = "none" } }
  end)

  teardown(function()
    for _, n in ipairs({ running_name, stopped_name }) do
      pcall(client.remove_container, client, n, { force = true })
    end
    client:close()
  end)

  it("completes running containers for exec and attach, stopped ones for start", function()
    for _, words in ipairs({ { "exec", "" }, { "exec", "-it", "-e", "A=1", "" }, { "attach", "--no-stdin", "" } }) do
      local got = complete(words)
      assert.is_true(has(got, running_name), table.concat(words, " "))
      assert.is_false(has(got, stopped_name), table.concat(words, " "))
    end
    local got = complete({ "start", "-a", "" })
    assert.is_true(has(got, stopped_name))
    assert.is_false(has(got, running_name))
    -- exec's command is not a container
    assert.same({}, complete({ "exec", running_name, "" }))
    -- the prefix narrows
    assert.same({ running_name }, complete({ "exec", running_name:sub(1, -2) }))
  end)

  it("completes images for run, from the daemon that -H names", function()
    local img = IMAGE:find(":", 1, true) and IMAGE or IMAGE .. ":latest"
    -- Podman names the image with its registry: docker.io/NAME
    local function has_image(list) return has(list, img) or has(list, "docker.io/" .. img) end
    assert.is_true(has_image(complete({ "run", "--rm", "-it", "" })))
    assert.is_true(has_image(complete({ "-H", os.getenv("DOCKER_HOST"), "run", "" })))
    -- a daemon that is not there: no names, no error text
    assert.same({}, complete({ "-H", "unix:///nonexistent/d.sock", "run", "" }))
  end)
end)

describe("make install", function()
  -- #nosanitize: luarocks builds its own plain module (see rockspec_spec)
  it("installs the completion script with the rock #nosanitize", function()
    local work = os.tmpname()
    os.remove(work)
    finally(function() os.execute("rm -rf " .. q(work)) end)
    assert.is_true(os.execute(("mkdir -p %s/src && git ls-files -co --exclude-standard | "
      .. "tar cf - -T - | tar xf - -C %s/src"):format(q(work), q(work))))
    -- no LIBCURL_* variable: the rockspec needs none (spec/rockspec_spec.lua)
    local p = io.popen(("cd %s/src && env -u LD_PRELOAD -u LUA_PATH -u LUA_CPATH -u LIBCURL_INCDIR "
      .. "-u LIBCURL_DIR make --no-print-directory "
      .. "install PREFIX=%s/prefix ROCKTREE=%s/tree 2>&1"):format(q(work), q(work), q(work)))
    local out = p:read("a")
    assert.is_true((p:close()), out)
    assert.is_nil(out:find("LIBCURL", 1, true), out)
    local f = assert(io.open(work .. "/prefix/share/bash-completion/completions/dockerpty", "rb"))
    local installed = f:read("a")
    f:close()
    f = assert(io.open("completion/dockerpty.bash", "rb"))
    assert.equal(f:read("a"), installed)
    f:close()
    assert.truthy(io.open(work .. "/tree/bin/dockerpty"))
  end)
end)
