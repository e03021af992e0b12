-- spec/hostile_spec.lua: hostile surroundings (issue 17, items 3, 4, 6, 7,
-- 8 and the library's part of 10): closed standard descriptors, detach
-- keys the daemon and the scanner share, honest 404s and API versions,
-- connections that children never inherit, an exec started twice, a bad
-- config.json, a daemon that never answers, and argument errors that name
-- the caller's line. Where the docker CLI does the same thing, it runs side
-- by side on the same daemon. The cases against the fake engine carry no
-- #docker or #tty tag, so that `make valgrind` runs them (an exec started
-- twice, fds 0-2 closed, exec_create's detach keys; faults_spec has the
-- output that fails mid-stream).
local dockerpty = require("dockerpty")
local config = require("dockerpty.config")
local daemon = require("support.daemon")
local fake = require("support.fakedaemon")
local fe = require("support.fakeengine")
local tmux = require("support.tmux")
local core = dockerpty.core
local errors = dockerpty.errors

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
local shq = tmux.shquote

local ENV = ("env LUA_PATH=%s LUA_CPATH=%s"):format(shq(package.path), shq(package.cpath))
local DP = ENV .. " lua5.4 bin/dockerpty"
-- Under `make SANITIZE=1` LD_PRELOAD holds libasan, meant for lua5.4 only.
local DOCKER = "env -u LD_PRELOAD docker"

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function spit(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

-- busted keeps one finally() per test (the last one given), so cleanups
-- go on a list that a single finally runs, newest first.
local cleanups = {}
local function defer(fn)
  cleanups[#cleanups + 1] = fn
  finally(function()
    local first
    while #cleanups > 0 do
      local ok, err = pcall(table.remove(cleanups))
      if not ok and first == nil then first = err end
    end
    if first ~= nil then error(first, 0) end
  end)
end

-- A Lua script in a file of its own, removed after the test.
local function script(src)
  local path = os.tmpname()
  spit(path, src)
  defer(function() os.remove(path) end)
  return path
end

-- Run a shell line (its own redirections apply); returns out, err, code.
-- stdout and stderr go to files, so a line may close either.
local function sh(line)
  local o, e = os.tmpname(), os.tmpname()
  local _, _, code = os.execute(("{ %s ; } >%s 2>%s"):format(line, o, e))
  local out, err = slurp(o), slurp(e)
  os.remove(o)
  os.remove(e)
  return out, err, code
end

local seq = 0
local made = {}
local function name()
  seq = seq + 1
  local n = ("hostile-%d-%d-%d"):format(os.time() % 100000, math.random(1, 99999), seq)
  made[#made + 1] = n
  return n
end

-- Assert that fn raises `msg` positioned at the line fn is written on (a
-- one-line closure), i.e. at the caller of the library.
local function raises_here(fn, msg)
  local info = debug.getinfo(fn, "S")
  local ok, err = pcall(fn)
  assert.is_false(ok)
  assert.equal(("%s:%d: %s"):format(info.short_src, info.linedefined, msg), err)
end

describe("closed standard descriptors", function()
  it("are open on /dev/null once dockerpty.core is loaded", function()
    local dir = tmpdir()
    defer(function() os.execute("rm -rf " .. dir) end)
    -- the script reports the targets of its own fds 0, 1 and 2 in a file
    local fds_lua = dir .. "/fds.lua"
    spit(fds_lua, [[
      if arg[1] == "load" then require("dockerpty.core") end
      local f = io.open("/proc/self/stat")
      local pid = f:read("n")
      f:close()
      os.execute(("for i in 0 1 2; do readlink /proc/%d/fd/$i || echo closed; done >%s 2>/dev/null")
        :format(pid, arg[2]))
    ]])
    local res = dir .. "/res"
    sh(("%s lua5.4 %s none %s <&- >&- 2>&-"):format(ENV, fds_lua, res))
    assert.equal("closed\nclosed\nclosed\n", slurp(res))   -- the closing took
    sh(("%s lua5.4 %s load %s <&- >&- 2>&-"):format(ENV, fds_lua, res))
    assert.equal("/dev/null\n/dev/null\n/dev/null\n", slurp(res))
    -- only the closed ones: an open stdout stays what it was
    sh(("%s lua5.4 %s load %s <&- 2>&- >%s/keep"):format(ENV, fds_lua, res, dir))
    assert.equal("/dev/null\n" .. dir .. "/keep\n/dev/null\n", slurp(res))
  end)

  it("a library session with 0, 1 and 2 closed against the fake engine: no socket is read as stdin", function()
    -- stdin open on the container: were the first socket fd 0, the pump
    -- would read it as stdin and echo the fake's own stream back to it
    local srv = fe.start{ container = { Tty = false, OpenStdin = true, Running = true }, exit_code = 4,
      attach = { { "write", fe.frame(1, "out ") }, { "write", fe.frame(2, "err") }, { "await_eof" },
        { "emit", "exit" }, { "close" } } }
    defer(function() srv:stop() end)
    local dir = tmpdir()
    defer(function() os.execute("rm -rf " .. dir) end)
    local run_lua = dir .. "/run.lua"
    spit(run_lua, ([[
      local dockerpty = require("dockerpty")
      local c = dockerpty.client.new{ host = %q, version = "1.41" }
      local got = {}
      local sink = function(s) got[#got + 1] = s end
      local ok, how, code = dockerpty.start(c, "c1", { stdout = sink, stderr = sink })
      local f = assert(io.open(arg[1], "w"))
      f:write(table.concat({ tostring(ok), how, code, table.concat(got) }, " "))
      f:close()
    ]]):format(srv.host))
    local res = dir .. "/res"
    local _, _, code = sh(("timeout 20 %s lua5.4 %s %s <&- >&- 2>&-"):format(ENV, run_lua, res))
    assert.equal(0, code)
    assert.equal("nil exit 4 out err", slurp(res))
    local report = srv:report()
    assert.equal("", report.hijacks[1].stdin)
    assert.is_true(report.hijacks[1].eof)
  end)

  describe("#docker", function()
    local client
    setup(function() client = dockerpty.client.from_env() end)
    teardown(function()
      for _, n in ipairs(made) do pcall(client.remove_container, client, n, { force = true }) end
      client:close()
    end)

    -- The same line through dockerpty and docker: both give out, err, code.
    local function both(args, redir)
      local ours = { sh(("timeout 30 %s %s %s"):format(DP, args, redir)) }
      local theirs = { sh(("timeout 30 %s %s %s"):format(DOCKER, args, redir)) }
      return ours, theirs
    end

    local RUN = "run --rm --network none " .. IMAGE

    it("run -i with stdin closed: the container reads EOF, as with docker", function()
      local ours, theirs = both(RUN:gsub("^run", "run -i") .. " sh -c 'cat; echo x'", "<&-")
      assert.same({ "x\n", "", 0 }, ours)
      assert.same(theirs, ours)
    end)

    it("run with stdout or stderr closed: the other stream is whole, as with docker", function()
      local cmd = RUN .. " sh -c 'echo out; echo err >&2; exit 3'"
      -- the docker CLI's --rm waits for "removed", which Podman answers
      -- with 0: there only the streams are compared
      local n = daemon.is_podman(client) and 2 or 3
      local ours, theirs = both(cmd, ">&-")
      assert.same({ "", "err\n", 3 }, ours)
      assert.same({ table.unpack(theirs, 1, n) }, { table.unpack(ours, 1, n) })
      ours, theirs = both(cmd, "2>&-")
      assert.same({ "out\n", "", 3 }, ours)
      assert.same({ table.unpack(theirs, 1, n) }, { table.unpack(ours, 1, n) })
      ours, theirs = both(RUN:gsub("^run", "run -i") .. " sh -c 'cat; echo x >&2'", "<&- >&-")
      assert.same({ "", "x\n", 0 }, ours)
      assert.same(theirs, ours)
    end)

    it("a library script with 0, 1 and 2 closed runs its session to the end", function()
      local dir = tmpdir()
      defer(function() os.execute("rm -rf " .. dir) end)
      local run_lua = dir .. "/run.lua"
      -- default stdin and stdout (io.stdin, io.stdout): both closed
      spit(run_lua, ([[
        local dockerpty = require("dockerpty")
        local c = dockerpty.client.from_env()
        local r = c:create_container{ image = %q, command = { "sh", "-c", "cat; echo x; exit 4" },
          stdin_open = true, host_config = { NetworkMode = "none", AutoRemove = true } }
        local ok, how, code = dockerpty.start(c, r)
        local out = {}
        local ok2, how2, code2 = dockerpty.start(c, c:create_container{ image = %q,
          command = { "sh", "-c", "cat; echo y" }, stdin_open = true,
          host_config = { NetworkMode = "none", AutoRemove = true } },
          { stdout = function(s) out[#out + 1] = s end })
        local f = assert(io.open(arg[1], "w"))
        f:write(table.concat({ tostring(ok), how, code, tostring(ok2), how2, code2, table.concat(out) }, " "))
        f:close()
      ]]):format(IMAGE, IMAGE))
      local res = dir .. "/res"
      local _, _, code = sh(("timeout 30 %s lua5.4 %s %s <&- >&- 2>&-"):format(ENV, run_lua, res))
      assert.equal(0, code)
      assert.equal("nil exit 4 true exit 0 y\n", slurp(res))
    end)
  end)
end)

describe("detach keys from config.json #docker #tty", function()
  local client, cfgdir, ctr
  setup(function()
    client = dockerpty.client.from_env()
    cfgdir = tmpdir()
    spit(cfgdir .. "/config.json", '{"detachKeys": "ctrl-x,y"}')
    ctr = name()
    local r = client:create_container{ image = IMAGE, command = { "sleep", "600" }, name = ctr,
      host_config = { NetworkMode = "none" } }
    client:start(r.Id)
  end)
  teardown(function()
    pcall(client.remove_container, client, ctr, { force = true })
    os.execute("rm -rf " .. cfgdir)
    client:close()
  end)

  local terms = {}
  after_each(function()
    for _, t in ipairs(terms) do t:kill() end
    terms = {}
  end)

  -- In the container: the typed line's bytes in octal, then a wait.
  local SHOW = "echo READY; stty -ixon; read -r x; echo \"got$(printf %s \"$x\" | od -An -to1)\"; read -r y"

  local function term(cmd, config_dir)
    local t = tmux.new{ cmd = cmd, env = { DOCKER_CONFIG = config_dir or cfgdir }, rows = 24, cols = 100 }
    terms[#terms + 1] = t
    return t
  end

  -- Ctrl-P Ctrl-Q reach the process as bytes; Ctrl-X y detaches.
  local function drive(t)
    t:wait_for("READY")
    core.sleep(300)
    t:keys("C-p"); t:keys("C-q"); t:send("z"); t:keys("Enter")
    t:wait_for("got 020 021 172", 10)
    t:keys("C-x"); t:keys("y")
  end

  local LIB = {
    exec_command = "dockerpty.exec_command(c, arg[1], arg[2])",
    start_exec = "dockerpty.start_exec(c, dockerpty.exec_create(c, arg[1], arg[2], true))",
    -- attach (and start) a container of its own, named arg[3]
    start = "dockerpty.start(c, c:create_container{ image = arg[4], command = arg[2], name = arg[3], " ..
      "tty = true, stdin_open = true, host_config = { NetworkMode = 'none' } })",
  }
  for _, entry in ipairs({ "exec_command", "start_exec", "start" }) do
    it(entry .. ": the daemon gets the keys the scanner watches for", function()
      local src = ([[local dockerpty = require("dockerpty")
        local c = dockerpty.client.from_env()
        local ok, how, code = %s
        print(("[%%s %%s %%s]"):format(tostring(ok), how, tostring(code)))]]):format(LIB[entry])
      local own = name()
      defer(function() pcall(client.remove_container, client, own, { force = true }) end)
      local t = term({ "lua5.4", script(src), ctr, "sh -c '" .. SHOW .. "'", own, IMAGE })
      drive(t)
      t:wait_for("%[true detach nil%]", 10)
    end)
  end

  it("start_exec watches for the exec's own keys, whoever created it", function()
    -- no config.json here: the exec was made with ctrl-x,y by its creator
    local empty = tmpdir()
    defer(function() os.execute("rm -rf " .. empty) end)
    local e = client:exec_create(ctr, "sh -c '" .. SHOW .. "'", { stdin = true, tty = true,
      detach_keys = "ctrl-x,y" })
    local src = [[local dockerpty = require("dockerpty")
      local ok, how, code = dockerpty.start_exec(dockerpty.client.from_env(), arg[1])
      print(("[%s %s %s]"):format(tostring(ok), how, tostring(code)))]]
    local t = term({ "lua5.4", script(src), e.Id }, empty)
    drive(t)
    t:wait_for("%[true detach nil%]", 10)
  end)

  for _, prog in ipairs({ "dockerpty", "docker" }) do
    it(prog .. " exec -it: Ctrl-P Ctrl-Q pass through, Ctrl-X y detaches", function()
      local cmd = prog == "dockerpty" and { "lua5.4", "bin/dockerpty" } or { "docker" }
      for _, w in ipairs({ "exec", "-it", ctr, "sh", "-c", SHOW }) do cmd[#cmd + 1] = w end
      local t = term(cmd)
      drive(t)
      assert.equal(1, t:wait_exit(10))
      assert.matches("read escape sequence", t:screen(true), 1, true)
    end)
  end
end)

describe("API errors", function()
  local api_error = dockerpty.client._api_error
  local function err_of(...)
    local ok, e = pcall(api_error, ...)
    assert.is_false(ok)
    return e
  end

  it("say 'no such container' only when the 404 is about the container", function()
    local P = "/v1.41/containers/abc/start"
    assert.equal("dockerpty: network bogusnet not found (404)",
      err_of(404, '{"message":"network bogusnet not found"}', "start", P).message)
    assert.equal("dockerpty: no such container: abc (404)",
      err_of(404, '{"message":"No such container: abc"}', "start", P).message)
    assert.equal("dockerpty: no such container: abc (404)", err_of(404,
      '{"cause":"no such container","message":"no container with name or ID \\"abc\\" found: no such container"}',
      "start", P).message)
    assert.equal("dockerpty: no such container: abc (404)", err_of(404, "", "start", P).message)
    assert.equal("dockerpty: no such exec instance: e1 (404)",
      err_of(404, '{"message":"No such exec instance: e1"}', "x", "/v1.41/exec/e1/json").message)
    local e = err_of(404, '{"message":"volume v not found"}', "x", "/v1.41/exec/e1/start")
    assert.same({ "dockerpty: volume v not found (404)", 404, "volume v not found" },
      { e.message, e.status, e.detail })
  end)

  it("take DOCKER_API_VERSION with a leading v, as docker does", function()
    local srv = fe.start{}
    defer(function() srv:stop() end)
    local c = dockerpty.client.from_env(function(k)
      return ({ DOCKER_HOST = srv.host, DOCKER_API_VERSION = "v1.41" })[k]
    end)
    assert.equal("1.41", c:api_version())
    c:inspect_container("c1")
    c:close()
    local rep = srv:report()
    assert.equal("/v1.41/containers/c1/json", rep.requests[#rep.requests].target)
  end)

  describe("#docker", function()
    local client
    setup(function() client = dockerpty.client.from_env() end)
    teardown(function()
      for _, n in ipairs(made) do pcall(client.remove_container, client, n, { force = true }) end
      client:close()
    end)

    it("a missing network is the daemon's own message, as docker prints it", function()
      -- the docker CLI's words: Docker refuses the start with a 404,
      -- Podman the create with a 500
      local _, theirs, tc = sh(("%s run --rm --network bogusnet %s true </dev/null"):format(DOCKER, IMAGE))
      local msg = theirs:match("Error response from daemon: ([^\n]*)")
      assert.is_string(msg)
      assert.matches("bogusnet", msg)
      -- ours start lower-case, as Go errors do ("Could not attach..." from a
      -- swarm manager becomes "could not attach...")
      msg = msg:gsub("^(%u)(%l)", function(a, b) return a:lower() .. b end)
      local ok, e = pcall(function()
        local r = client:create_container{ image = IMAGE, command = "true", name = name(),
          host_config = { NetworkMode = "bogusnet" } }
        client:start(r.Id)
      end)
      assert.is_false(ok)
      assert.equal(("dockerpty: %s (%d)"):format(msg, e.status), e.message)
      -- (Docker: a 404 "network bogusnet not found"; as a swarm manager, as in
      -- the rig, a 500 "Could not attach to network bogusnet: ..."; Podman:
      -- a 500 at create)
      -- the command, side by side
      local _, ours, oc = sh(("%s run --rm --network bogusnet %s true </dev/null"):format(DP, IMAGE))
      assert.equal(("dockerpty: %s (%d)\n"):format(msg, e.status), ours)
      assert.same({ 125, 125 }, { oc, tc })
      -- a container that is not there is still "no such container"
      ok, e = pcall(client.inspect_container, client, "hostile-never-made")
      assert.is_false(ok)
      assert.equal("dockerpty: no such container: hostile-never-made (404)", e.message)
    end)

    it("DOCKER_API_VERSION=v1.41 works for the command, as for docker", function()
      local line = "DOCKER_API_VERSION=v1.41 %s run --rm --network none " .. IMAGE .. " echo hi </dev/null"
      local ours = { sh(line:format(DP)) }
      local theirs = { sh(line:format(DOCKER)) }
      assert.same({ "hi\n", "", 0 }, ours)
      assert.same(theirs, ours)
    end)
  end)
end)

describe("connections and children #docker", function()
  -- "fd target" lines of a process's descriptors, read from outside it.
  local function fds_of(pid)
    local p = io.popen(("cd /proc/%d/fd && for f in *; do echo \"$f $(readlink $f)\"; done"):format(pid))
    local t = {}
    for l in p:lines() do
      local fd, target = l:match("^(%d+) (.*)$")
      if fd then t[tonumber(fd)] = target end
    end
    p:close()
    return t
  end

  local function mypid()
    local f = io.open("/proc/self/stat")
    local pid = f:read("n")
    f:close()
    return math.tointeger(pid)
  end

  -- The rig's dockerd serves TLS only on TCP: plain tcp:// reaches its
  -- unix socket through a relay of our own (python3, a thread per
  -- connection), listening on a free port it prints first.
  local RELAY = [[
import os, socket, sys, threading
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    finally:
        try: b.shutdown(socket.SHUT_WR)
        except OSError: pass
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(16)
print(l.getsockname()[1], flush=True)
while True:
    c, _ = l.accept()
    u = socket.socket(socket.AF_UNIX); u.connect(sys.argv[1])
    for a, b in ((c, u), (u, c)): threading.Thread(target=pipe, args=(a, b), daemon=True).start()
]]
  local function plain_tcp()
    local file = os.tmpname()
    spit(file, RELAY)
    local out = os.tmpname()
    local sock = os.getenv("DOCKER_HOST"):match("^unix://(.*)$")
    os.execute(("python3 %s %s >%s 2>/dev/null & echo $! >%s.pid"):format(file, shq(sock), out, out))
    defer(function()
      os.execute(("kill %s 2>/dev/null"):format(slurp(out .. ".pid"):match("%d+")))
      os.remove(file); os.remove(out); os.remove(out .. ".pid")
    end)
    local port
    for _ = 1, 100 do
      port = (slurp(out) or ""):match("^(%d+)\n")
      if port then break end
      core.sleep(50)
    end
    return { host = "tcp://127.0.0.1:" .. assert(port, "the relay did not start") }
  end

  local tls_certs = os.getenv("DOCKERPTY_TLS_CERTS")
  local TRANSPORTS = {
    { "plain tcp, libcurl", plain_tcp },
    { "ssh", function() return { host = assert(os.getenv("DOCKERPTY_SSH_HOST"), "the rig has no sshd") } end },
    { "plain unix socket", function() return { host = os.getenv("DOCKER_HOST"), transport = "plain" } end },
    { "libcurl unix socket", function() return { host = os.getenv("DOCKER_HOST"), transport = "libcurl" } end },
    { "TLS", function()
      return { host = os.getenv("DOCKERPTY_TLS_HOST"), tls = { ca = tls_certs .. "/ca.pem",
        cert = tls_certs .. "/cert.pem", key = tls_certs .. "/key.pem" } }
    end },
  }

  for _, tr in ipairs(TRANSPORTS) do
    it("are not inherited by a child (" .. tr[1] .. ")", function()
      local pid = mypid()
      local before = fds_of(pid)
      local c = dockerpty.client.new(tr[2]())
      defer(function() c:close() end)
      assert.is_table(c:version())          -- the kept-alive REST connection
      local conn = c:_connect()              -- a connection as hijacks use
      defer(function() conn:close() end)
      -- the sockets opened since: the two connections, and with libcurl
      -- the socketpair of each handle's internal multi handle; over ssh the
      -- pipes or sockets to each ssh child
      local had, ours = {}, {}
      for _, target in pairs(before) do had[target] = true end
      local now = fds_of(pid)
      for fd, target in pairs(now) do
        if not had[target] and (target:match("^socket:") or target:match("^pipe:")) then ours[target] = fd end
      end
      assert.is_not_nil(ours[now[conn:getfd()]])
      local n = 0
      for _ in pairs(ours) do n = n + 1 end
      assert.is_true(n >= 2)     -- the REST one and the hijack one at least
      -- a child through io.popen, and one through os.execute
      local p = io.popen("sh -c 'cd /proc/$$/fd && for f in *; do readlink $f; done'")
      local seen = p:read("a")
      p:close()
      local file = os.tmpname()
      os.execute(("sh -c 'cd /proc/$$/fd && for f in *; do readlink $f; done' >%s"):format(file))
      seen = seen .. slurp(file)
      os.remove(file)
      for target, fd in pairs(ours) do
        assert.is_nil(seen:find(target, 1, true), ("fd %d (%s) leaked into a child"):format(fd, target))
      end
    end)
  end
end)

describe("start_exec on an exec that already ran #docker", function()
  local client, ctr
  setup(function()
    client = dockerpty.client.from_env()
    ctr = name()
    local r = client:create_container{ image = IMAGE, command = { "sleep", "600" }, name = ctr,
      host_config = { NetworkMode = "none" } }
    client:start(r.Id)
  end)
  teardown(function()
    pcall(client.remove_container, client, ctr, { force = true })
    client:close()
  end)

  for _, tty in ipairs({ false, true }) do
    it("raises the daemon's error and writes nothing (tty " .. tostring(tty) .. ")", function()
      local e = client:exec_create(ctr, "sh -c 'echo hi; exit 3'", { tty = tty })
      local out = {}
      local sink = function(s) out[#out + 1] = s end
      local opts = { stdin = false, stdout = sink, stderr = sink }
      assert.same({ nil, "exit", 3 }, { dockerpty.start_exec(client, e, opts) })
      assert.equal(tty and "hi\r\n" or "hi\n", table.concat(out))
      out = {}
      local ok, err = pcall(dockerpty.start_exec, client, e, opts)
      assert.is_false(ok)
      assert.is_true(errors.is(err))
      assert.equal("api", err.kind)
      if daemon.is_podman(client) then
        -- Podman refuses the start itself, with a 500 and its own words
        assert.equal(500, err.status)
        assert.matches("exec session state improper (500)", err.message, 1, true)
      else
        assert.equal(409, err.status)
        assert.equal(("dockerpty: exec command %s has already run (409)"):format(e.Id), err.message)
      end
      assert.equal("", table.concat(out))
    end)
  end
end)

describe("an exec that already ran, against the fake engine", function()
  local cjson = require("cjson")
  after_each(function() fe.cleanup() end)

  -- exec inspect says it ran (a pid and an exit code); a start answers
  -- as Docker does, with its error as the stream's text, then closes
  local SPENT = { respond = {
    ["GET /exec/e1/json"] = { status = 200, ctype = "application/json", body = cjson.encode{ ID = "e1",
      Running = false, Pid = 4242, ExitCode = 3, ProcessConfig = { tty = false }, OpenStdin = false } },
    ["POST /exec/e1/start"] = { { "write", fe.HEAD_200 .. "Error: Exec command e1 has already run\r\n" },
      { "close" } } } }
  local MSG = "dockerpty: exec command e1 has already run (409)"

  local starts = {
    start_exec = function(c, opts) return dockerpty.start_exec(c, "e1", opts) end,
    ["PseudoTerminal:start"] = function(c, opts)
      return dockerpty.PseudoTerminal.new(c, dockerpty.ExecOperation.new(c, "e1", opts)):start()
    end,
    ["ExecOperation:sockets"] = function(c, opts) return dockerpty.ExecOperation.new(c, "e1", opts):sockets() end,
  }
  for _, how in ipairs({ "start_exec", "PseudoTerminal:start", "ExecOperation:sockets" }) do
    it(how .. " raises the daemon's error and writes nothing", function()
      local srv = fe.fake(SPENT)
      local c = fe.client(srv)
      local out = {}
      local sink = function(b) out[#out + 1] = b end
      local ok, err = pcall(starts[how], c, { stdin = false, stdout = sink, stderr = sink })
      assert.is_false(ok)
      assert.is_true(errors.is(err), tostring(err))
      assert.same({ "api", 409, MSG }, { err.kind, err.status, err.message })
      assert.equal("", table.concat(out))
      -- the one start is refuse_spent's, whose text became the error
      local posts = {}
      for _, q in ipairs(srv:report().requests) do
        if q.path == "/exec/e1/start" then posts[#posts + 1] = q end
      end
      assert.equal(1, #posts)
    end)
  end

  it("an exec not yet run starts as before", function()
    local srv = fe.fake{ exec = { tty = false }, exit_code = 5,
      exec_start = { { "write", fe.frame(1, "ran") }, { "emit", "exit" }, { "close" } } }
    local c = fe.client(srv)
    local out = {}
    local op = dockerpty.ExecOperation.new(c, "e1", { stdin = false, stdout = function(b) out[#out + 1] = b end })
    assert.same({ nil, "exit", 5 }, { dockerpty.PseudoTerminal.new(c, op):start() })
    assert.equal("ran", table.concat(out))
  end)
end)

describe("exec_create's detach keys", function()
  after_each(function() fe.cleanup() end)

  it("sends keys nobody types for \"\" (no detaching), not \"\" (the daemon's ctrl-p,ctrl-q)", function()
    local srv = fe.fake{}
    local c = fe.client(srv)
    c:exec_create("c1", { "sh" }, { detach_keys = "" })
    c:exec_create("c1", { "sh" }, { detach_keys = "ctrl-x,y" })
    local got = {}
    for _, q in ipairs(srv:stop().requests) do
      if q.path == "/containers/c1/exec" then got[#got + 1] = require("cjson").decode(q.body).DetachKeys end
    end
    assert.same({ config.NO_DETACH_EXEC, "ctrl-x,y" }, got)
    assert.equal(config.NO_DETACH_EXEC, select(2, c:exec_create_request("c1", { "sh" }, { detach_keys = "" }))
      .DetachKeys)
  end)
end)

describe("config.json", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute("rm -rf " .. dir) end)

  -- A private DOCKER_CONFIG of its own for each case, so "once" is per case.
  local n = 0
  local function case(content)
    n = n + 1
    local d = ("%s/c%d"):format(dir, n)
    os.execute("mkdir -p " .. d)
    if content then spit(d .. "/config.json", content) end
    return d, function(k) if k == "DOCKER_CONFIG" then return d end end
  end

  local function keys_and_warnings(getenv)
    local got = {}
    local warn = function(m) got[#got + 1] = m end
    local k1 = config.detach_keys(nil, getenv, warn)
    local k2 = config.detach_keys(nil, getenv, warn)
    assert.equal(k1, k2)
    return k1, got
  end

  it("warns once, in docker's words, when it is malformed or of the wrong type, and goes on", function()
    local d, env = case('{"detachKeys": ')
    local keys, got = keys_and_warnings(env)
    assert.equal("ctrl-p,ctrl-q", keys)
    assert.same({ ("WARNING: Error parsing config file (%s/config.json): "):format(d) ..
      "Expected value but found T_END at character 16" }, got)
    d, env = case('{"detachKeys": 5}')
    keys, got = keys_and_warnings(env)
    assert.equal("ctrl-p,ctrl-q", keys)
    assert.same({ ("WARNING: Error parsing config file (%s/config.json): detachKeys: string expected, got number")
      :format(d) }, got)
    d, env = case('["ctrl-a"]')
    keys, got = keys_and_warnings(env)
    assert.equal("ctrl-p,ctrl-q", keys)
    assert.same({ ("WARNING: Error parsing config file (%s/config.json): an array where an object was expected")
      :format(d) }, got)
  end)

  it("warns once when it cannot be read, and goes on", function()
    local d, env = case(nil)
    os.execute(("mkdir %s/config.json"):format(d))
    local keys, got = keys_and_warnings(env)
    assert.equal("ctrl-p,ctrl-q", keys)
    assert.same({ ("WARNING: Error parsing config file (%s/config.json): read %s/config.json: is a directory")
      :format(d, d) }, got)
    d, env = case(nil)
    os.execute(("ln -s config.json %s/config.json"):format(d))   -- a symlink loop: open fails
    keys, got = keys_and_warnings(env)
    assert.equal("ctrl-p,ctrl-q", keys)
    assert.same({ ("WARNING: Error loading config file: open %s/config.json: too many levels of symbolic links")
      :format(d) }, got)
  end)

  it("says nothing when it is absent, empty or fine", function()
    for _, content in ipairs({ false, "", "  \n", '{"detachKeys": "ctrl-a,a", "auths": {}}' }) do
      local _, env = case(content or nil)
      local keys, got = keys_and_warnings(env)
      assert.equal(content and content:find("ctrl") and "ctrl-a,a" or "ctrl-p,ctrl-q", keys)
      assert.same({}, got)
    end
  end)

  it("prints the warning prefix the docker CLI prints", function()
    local d = case('{"detachKeys": ')
    local _, ours = sh(("DOCKER_CONFIG=%s %s lua5.4 -e %s"):format(d, ENV,
      shq("require('dockerpty.config').detach_keys(nil)")))
    local _, theirs = sh(("DOCKER_CONFIG=%s DOCKER_HOST=unix:///nonexistent %s version </dev/null"):format(d, DOCKER))
    local prefix = ("WARNING: Error parsing config file (%s/config.json): "):format(d)
    assert.equal(prefix, ours:sub(1, #prefix))
    assert.equal(prefix, theirs:sub(1, #prefix))
    assert.equal(1, select(2, ours:gsub("\n", "")))
  end)

  it("warns once on stderr for a whole script of sessions #docker", function()
    local d = case('{"detachKeys": 5}')
    local client = dockerpty.client.from_env()
    local ctr = name()
    client:start(client:create_container{ image = IMAGE, command = { "sleep", "600" }, name = ctr,
      host_config = { NetworkMode = "none" } }.Id)
    defer(function()
      pcall(client.remove_container, client, ctr, { force = true })
      client:close()
    end)
    local src = [[local dockerpty = require("dockerpty")
      local c = dockerpty.client.from_env()
      for i = 1, 3 do
        local ok, how, code = dockerpty.exec_command(c, arg[1], "sh -c 'exit " .. i .. "'", { stdin = false })
        io.write(how, code, " ")
      end]]
    local out, err, code = sh(("DOCKER_CONFIG=%s %s lua5.4 %s %s </dev/null"):format(d, ENV, script(src), ctr))
    assert.equal(0, code)
    assert.equal("exit1 exit2 exit3 ", out)
    assert.equal(("WARNING: Error parsing config file (%s/config.json): detachKeys: string expected, got number\n")
      :format(d), err)
  end)
end)

describe("a daemon that accepts and never answers", function()
  for _, transport in ipairs({ "plain", "libcurl" }) do
    it("costs one timeout for HEAD then GET /_ping, not two (" .. transport .. ")", function()
      local hang = { { "read_head" }, { "sleep", 5000 } }
      local srv = fake.start({ hang, hang, hang, timeout = 8000 })
      defer(function() srv:stop() end)
      local c = dockerpty.client.new{ host = "unix://" .. srv.socket, timeout = 1, transport = transport }
      if transport == "libcurl" then assert(core.curl_version()) end   -- loaded before the clock starts
      local t0 = core.now()
      local ok, e = pcall(c.api_version, c)
      local elapsed = core.now() - t0
      c:close()
      assert.is_false(ok)
      assert.equal("timeout", e.kind)
      -- one budget and some slack (valgrind), never the two of HEAD and GET
      assert.is_true(elapsed >= 950, "took " .. elapsed .. " ms")
      assert.is_true(elapsed < 1800, "took " .. elapsed .. " ms: more than one budget")
    end)
  end
end)

describe("argument errors", function()
  local client = dockerpty.client.new{ host = "unix:///nonexistent/docker.sock", version = "1.41" }

  it("name the caller's line, however deep the check", function()
    raises_here(function() dockerpty.start({}, "c1") end,
      "bad argument #1 to 'start' (client expected, got a table without method 'inspect_container')")
    raises_here(function() dockerpty.start(nil, "c1") end,
      "bad argument #1 to 'start' (client expected, got no value)")
    raises_here(function() dockerpty.start(client, nil) end,
      "bad argument #2 to 'start' (id string or table with Id expected, got no value)")
    raises_here(function() dockerpty.start(client, "c1", { bogus = 1 }) end,
      "bad argument #3 to 'start' (unknown option 'bogus')")
    raises_here(function() dockerpty.start(client, "c1", { stdout = 1.5 }) end,
      "bad argument #3 to 'start' (option 'stdout': file, fd, function or false expected, got number)")
    raises_here(function() dockerpty.start(client, "c1", { warn = 1 }) end,
      "bad argument #3 to 'start' (option 'warn': function or false expected, got number)")
    raises_here(function() dockerpty.start_exec({ exec_inspect = print }, "e1") end,
      "bad argument #1 to 'start_exec' (client expected, got a table without method 'exec_start')")
    raises_here(function() dockerpty.start_exec(client, "", {}) end,
      "bad argument #2 to 'start_exec' (id string or table with Id expected, got empty string)")
    raises_here(function() dockerpty.exec_command(client, "c1", "sh", 5) end,
      "bad argument #4 to 'exec_command' (table expected, got number)")
    raises_here(function() dockerpty.exec_create(client, "c1", "echo 'a") end,
      "bad argument #3 to 'exec_create' (unterminated single quote in command: echo 'a)")
    raises_here(function() dockerpty.RunOperation.new(client, 7) end,
      "bad argument #2 to 'RunOperation.new' (id string or table with Id expected, got number)")
    raises_here(function() dockerpty.RunOperation.new(client, "c1", { bogus = 1 }) end,
      "bad argument #3 to 'RunOperation.new' (unknown option 'bogus')")
    raises_here(function() dockerpty.ExecOperation.new(client, "e1", { warn = 1 }) end,
      "bad argument #3 to 'ExecOperation.new' (option 'warn': function or false expected, got number)")
    raises_here(function() dockerpty.ExecOperation.create(client, "c1", "sh", { bogus = 1 }) end,
      "bad argument #4 to 'ExecOperation.create' (unknown option 'bogus')")
    raises_here(function() dockerpty.ExecOperation.create(client, "c1", "  ") end,
      "bad argument #3 to 'ExecOperation.create' (empty command)")
    raises_here(function() dockerpty.client.new{ tls = 5 } end,
      "bad argument #1 to 'new' (field 'tls' must be a table or true)")
    raises_here(function() dockerpty.client.new{ bogus = 1 } end,
      "bad argument #1 to 'new' (unknown option 'bogus')")
    raises_here(function() client:resize("c1", "a", 1) end,
      "bad argument #2 to 'resize' (integer expected, got string)")
    raises_here(function() client:exec_create("c1", "sh", { bogus = true }) end,
      "bad argument #1 to 'exec_create' (unknown option 'bogus')")
  end)

  it("refuse an empty command before any request", function()
    local srv = fe.start{ container = { Running = true } }
    defer(function() srv:stop() end)
    local c = dockerpty.client.new{ host = srv.host, version = "1.41" }
    defer(function() c:close() end)
    raises_here(function() dockerpty.exec_command(c, "c1", {}) end,
      "bad argument #3 to 'exec_command' (empty command)")
    raises_here(function() dockerpty.exec_command(c, "c1", "  ") end,
      "bad argument #3 to 'exec_command' (empty command)")
    raises_here(function() dockerpty.exec_create(c, "c1", {}) end,
      "bad argument #3 to 'exec_create' (empty command)")
    raises_here(function() c:exec_create("c1", {}) end,
      "bad argument #2 to 'exec_create' (empty command)")
    raises_here(function() c:create_container{ image = IMAGE, command = {} } end,
      "bad argument #1 to 'create_container' (empty command)")
    assert.same({}, srv:report().requests)
  end)
end)

describe("a refused resize", function()
  after_each(function() fe.cleanup() end)

  it("is warned about once the terminal is restored, with the dockerpty: prefix", function()
    local _, slave = fe.pty()
    local tc = require("dockerpty_test")
    local function cooked() return tc.termflags(slave).lflag & core.termios.ICANON ~= 0 end
    local seen, raw_output = {}, nil
    local r = fe.session({ container = { Tty = true, OpenStdin = true, Running = true },
      respond = { ["POST /containers/c1/resize"] = { status = 500, body = '{"message":"no tty yet"}' } },
      -- long enough for every resize try (about 0.6 s of waits and 11
      -- requests) also under valgrind: a session that ends first stops them
      attach = { { "write", "hi\r\n" }, { "sleep", 4000 }, { "emit", "exit" }, { "close" } } },
      { stdin = slave, sink = function() raw_output = not cooked() end,
        opts = { warn = function(msg) seen[#seen + 1] = { msg, cooked() } end } })
    assert.is_true(r.ok, tostring(r.err))
    assert.is_true(raw_output, "the terminal was not raw during the session")
    -- given once, after the restore (a cooked terminal)
    assert.same({ { "dockerpty: failed to resize tty, using default size", true } }, seen)
    assert.is_true(cooked())
  end)
end)

describe("a refused resize in a real terminal #tty", function()
  -- The fake engine refuses every resize; the container prints a line
  -- before the tries end and one after. The warning comes once the
  -- terminal is back: no raw staircase (a "\n" without its "\r" would
  -- leave the next line where the warning ends), with the prefix.
  it("warns with the dockerpty: prefix from column 0, after the terminal is restored", function()
    local srv = fe.start{ container = { Tty = true, OpenStdin = true, Running = true },
      respond = { ["POST /containers/c1/resize"] = { status = 500, body = '{"message":"no tty yet"}' } },
      attach = { { "write", "before\r\n" }, { "sleep", 1500 }, { "write", "after\r\n" }, { "emit", "exit" }, { "close" } } }
    defer(function() srv:stop() end)
    local t = tmux.new{ cmd = { "sh", "-c", DP .. " attach c1; echo \"[[STATUS $?]]\"; sleep 5" },
      env = { DOCKER_HOST = srv.host, DOCKER_API_VERSION = "1.41" }, rows = 24, cols = 80 }
    defer(function() t:kill() end)
    local screen = t:wait_for("%[%[STATUS %d+%]%]", 15)
    local lines = {}
    for l in (screen .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
    local at
    for i, l in ipairs(lines) do
      if l:find("failed to resize", 1, true) then at = i end
    end
    assert.is_not_nil(at, screen)
    assert.equal("dockerpty: failed to resize tty, using default size", lines[at], screen)
    assert.equal("before", lines[at - 2], screen)
    assert.equal("after", lines[at - 1], screen)
    assert.equal("[[STATUS 0]]", lines[at + 1], screen)
    -- the redraw of a running container (rows+1, cols+1), then 11 tries
    assert.equal(12, select(2, table.concat(fe.paths(srv:report()), "\n"):gsub("resize", "")), screen)
  end)
end)
