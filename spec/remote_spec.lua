-- ssh:// hosts (issue 13): the library and bin/dockerpty reach the rig's
-- daemon through the rig's private sshd (spec/support/sshd), whose sessions
-- run `docker system dial-stdio` against it, side by side with
-- `docker -H ssh://...` on the same daemon. The rig's ssh wrapper is first
-- in PATH for both programs (its key and known_hosts; never ~/.ssh).
-- Podman: the same (dial-stdio on the remote side carries the bytes to
-- Podman's socket unchanged), except that the docker CLI's `run --rm`
-- exits 0 there whatever the container's code (it waits for "removed",
-- which Podman answers with 0), so only ours is checked for that code.
local dockerpty = require("dockerpty")
local tmux = require("support.tmux")
local core = dockerpty.core

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
local SSH = os.getenv("DOCKERPTY_SSH_HOST")
local SSH_DIR = os.getenv("DOCKERPTY_SSH_DIR")
local NODOCKER = os.getenv("DOCKERPTY_SSH_NODOCKER")
local LOCAL = os.getenv("DOCKER_HOST")
local PODMAN = os.getenv("DOCKERPTY_ENGINE") == "podman"
local shq = tmux.shquote

local DP = ("env LUA_PATH=%s LUA_CPATH=%s lua5.4 bin/dockerpty"):format(shq(package.path),
  shq(package.cpath))

local function words(list)
  local q = {}
  for i, w in ipairs(list) do q[i] = shq(w) end
  return table.concat(q, " ")
end

-- Run a shell command line; returns { out =, err =, code = }.
local function sh(line)
  local errf = os.tmpname()
  local p = assert(io.popen(("%s 2>%s"):format(line, errf), "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  local f = assert(io.open(errf, "rb"))
  local err = f:read("a")
  f:close()
  os.remove(errf)
  return { out = out, err = err, code = code }
end

-- bin/dockerpty and the docker CLI against host, stdin from /dev/null or
-- the `input` shell pipeline; `envs` are VAR=value words put first.
local function piped(line, input)
  if input then return sh(input .. " | " .. line) end
  return sh(line .. " </dev/null")
end
local function dp(host, args, input, envs)
  return piped(("env %s %s -H %s %s"):format(envs or "", DP, shq(host), words(args)), input)
end
local function docker(host, args, input, envs)
  return piped(("env -u LD_PRELOAD %s docker -H %s %s"):format(envs or "", shq(host), words(args)), input)
end

-- Our ssh children: pid -> "alive" (running dial-stdio) or "zombie".
local function ssh_children()
  local me = io.open("/proc/self/stat"):read("l"):match("^%d+")
  local kids, pids = {}, {}
  local p = io.popen("ls /proc")
  for pid in p:lines() do pids[#pids + 1] = pid end
  p:close()    -- reaped: the listing's own process is no zombie of ours
  for _, pid in ipairs(pids) do
    if pid:find("^%d+$") then
      local f = io.open("/proc/" .. pid .. "/stat")
      local st = f and f:read("l")
      if f then f:close() end
      local state, ppid
      if st then state, ppid = st:match("^%d+ %b() (%S) (%d+)") end
      if ppid == me then
        local c = io.open("/proc/" .. pid .. "/cmdline")
        local cmd = c and c:read("a") or ""
        if c then c:close() end
        if state == "Z" then
          kids[tonumber(pid)] = "zombie"
        elseif cmd:find("dial-stdio", 1, true) then
          kids[tonumber(pid)] = "alive"
        end
      end
    end
  end
  return kids
end

-- Our ssh children running dial-stdio, in pid order: { pid =, batch =
-- (how many times "-o BatchMode=yes" is on its command line: the rig's
-- wrapper adds one to every ssh), start = (clock ticks after boot) }.
local function ssh_procs()
  local list = {}
  for pid, state in pairs(ssh_children()) do
    if state == "alive" then
      local c = io.open("/proc/" .. pid .. "/cmdline")
      local cmd = c and c:read("a") or ""
      if c then c:close() end
      local st = io.open("/proc/" .. pid .. "/stat")
      local line = st and st:read("l") or ""
      if st then st:close() end
      -- field 22, starttime: the 20th after the ")" that ends the name
      local after = line:match("%)%s(.*)$") or ""
      local fields = {}
      for w in after:gmatch("%S+") do fields[#fields + 1] = w end
      list[#list + 1] = { pid = pid, batch = select(2, cmd:gsub("%z%-o%zBatchMode=yes", "")),
        start = tonumber(fields[20]) or -1 }
    end
  end
  table.sort(list, function(a, b) return a.pid < b.pid end)
  return list
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

local containers = {}
after_each(function()
  for i = #containers, 1, -1 do
    sh("env -u LD_PRELOAD docker rm -f " .. containers[i] .. " >/dev/null")
    containers[i] = nil
  end
end)

-- A running container on the rig's daemon (made with the docker CLI).
local function running()
  local r = sh(("env -u LD_PRELOAD docker run -d --network none %s sleep 600"):format(IMAGE))
  assert.equal(0, r.code, r.err)
  local id = r.out:match("%x+")
  containers[#containers + 1] = id
  return id
end

describe("ssh:// hosts #docker", function()
  it("has a rig sshd that reaches the rig's daemon", function()
    assert.is_string(SSH, "DOCKERPTY_SSH_HOST is not set: the rig starts sshd as root")
    local a = docker(SSH, { "info", "--format", "{{.DockerRootDir}}" })
    local b = docker(LOCAL, { "info", "--format", "{{.DockerRootDir}}" })
    assert.equal(0, a.code, a.err)
    assert.equal(b.out, a.out)
  end)

  it("runs and execs over ssh with the exit codes docker -H ssh:// gives", function()
    local run = { "run", "--rm", "--network", "none", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 7" }
    local ours, theirs = dp(SSH, run), docker(SSH, run)
    assert.same({ "out\n", "err\n", 7 }, { ours.out, ours.err, ours.code })
    assert.same({ theirs.out, theirs.err, PODMAN and 7 or theirs.code }, { ours.out, ours.err, ours.code })
    local id = running()
    for _, code in ipairs({ 0, 5 }) do
      local ex = { "exec", id, "sh", "-c", ("echo in-exec; exit %d"):format(code) }
      ours, theirs = dp(SSH, ex), docker(SSH, ex)
      assert.same({ "in-exec\n", "", code }, { ours.out, ours.err, ours.code })
      assert.same({ theirs.out, theirs.code }, { ours.out, ours.code })
    end
    -- the library: exec_command over a client made for the ssh host
    local c = dockerpty.client.new{ host = SSH }
    finally(function() c:close() end)
    local out = {}
    local ok, how, code = dockerpty.exec_command(c, id, "sh -c 'echo lib; exit 9'",
      { interactive = false, stdout = function(s) out[#out + 1] = s end })
    assert.same({ nil, "exit", 9, "lib\n" }, { ok, how, code, table.concat(out) })
    assert.equal(SSH, c:where())
  end)

  it("carries 32 MiB through run -i ... wc -c over ssh; stdin EOF half-closes", function()
    local input = "head -c 33554432 /dev/zero"
    local args = { "run", "-i", "--rm", "--network", "none", IMAGE, "wc", "-c" }
    local t0 = core.now()
    local ours = dp(SSH, args, input)
    local t1 = core.now()
    local theirs = docker(SSH, args, input)
    local t2 = core.now()
    io.stderr:write(("\n[32 MiB over ssh: dockerpty %d ms, docker %d ms]\n"):format(t1 - t0, t2 - t1))
    assert.same({ "33554432\n", "", 0 }, { ours.out, ours.err, ours.code })
    assert.same({ theirs.out, theirs.code }, { ours.out, ours.code })
  end)

  it("shares one ssh child among REST requests, gives each session its own, reaps all on close", function()
    assert.same({}, ssh_children())
    local c = dockerpty.client.new{ host = SSH }
    finally(function() c:close() end)
    c:ping()
    c:version()
    local id = running()
    c:inspect_container(id)
    local rest = ssh_children()
    assert.equal(1, count(rest))
    local seen
    local ok, how, code = dockerpty.exec_command(c, id, "sh -c 'sleep 0.3; exit 3'", {
      interactive = false,
      stdout = function() end,
    })
    assert.same({ nil, "exit", 3 }, { ok, how, code })
    -- the session's child is gone with its session; the REST one stays
    assert.same(rest, ssh_children())
    local out = {}
    -- the command outlives its first output, so its ssh child is surely
    -- alive (not yet ended and reaped) when the first bytes arrive
    dockerpty.exec_command(c, id, "sh -c 'echo x; sleep 0.5'", { interactive = false,
      stdout = function(s)
        out[#out + 1] = s
        seen = seen or ssh_children()
      end })
    assert.equal(2, count(seen), "a hijacked session runs its own ssh child")
    c:close()
    assert.same({}, ssh_children(), "no ssh child (nor zombie) after client:close()")
    -- the client works again afterwards, on a new child
    assert.equal("OK", c:ping())
    c:close()
    assert.same({}, ssh_children())
  end)

  it("opens an exec's hijack connection beside the REST one: a spare, spawned first, never prompting", function()
    local id = running()
    local c = dockerpty.client.new{ host = SSH }
    finally(function() c:close() end)
    local procs
    local ok, how, code = dockerpty.exec_command(c, id, "sh -c 'echo x; sleep 0.5; exit 4'", {
      interactive = false,
      stdout = function() procs = procs or ssh_procs() end,
    })
    assert.same({ nil, "exit", 4 }, { ok, how, code })
    assert.equal(2, #procs, "the REST child and the session's")
    local spare, rest = procs[1], procs[2]
    if rest.batch > spare.batch then spare, rest = rest, spare end
    assert.equal(rest.batch + 1, spare.batch,
      "the hijack adds BatchMode=yes to the ssh command the REST child runs (which may prompt)")
    -- spawned before the first REST request, not after its answers: the
    -- two handshakes ran side by side
    assert.is_true(spare.pid < rest.pid and spare.start <= rest.start,
      ("spare pid %d (tick %d), REST pid %d (tick %d)"):format(spare.pid, spare.start, rest.pid, rest.start))
    assert.same({}, (function() c:close(); return ssh_children() end)(), "no spare left after close")
  end)

  it("passes over a spare whose ssh failed (a host that would prompt) and connects as docker does", function()
    local id = running()
    -- an ssh that refuses BatchMode, as one asking for a password fails under it
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. shq(dir)))
    finally(function() os.execute("rm -rf " .. shq(dir)) end)
    local rig_ssh = sh("command -v ssh").out:gsub("%s+$", "")
    local f = assert(io.open(dir .. "/ssh", "w"))
    f:write("#!/bin/sh\nfor a; do [ \"$a\" = BatchMode=yes ] && { echo 'Permission denied (password).' >&2; "
      .. "exit 255; }; done\nexec " .. shq(rig_ssh) .. ' "$@"\n')
    f:close()
    assert(os.execute("chmod +x " .. shq(dir .. "/ssh")))
    local path = "PATH=" .. shq(dir .. ":" .. os.getenv("PATH"))
    local ours = dp(SSH, { "exec", id, "sh", "-c", "echo out; echo err >&2; exit 5" }, nil, path)
    assert.same({ "out\n", "err\n", 5 }, { ours.out, ours.err, ours.code })
    local theirs = docker(SSH, { "exec", id, "sh", "-c", "echo out; echo err >&2; exit 5" }, nil, path)
    assert.same({ theirs.out, theirs.err, theirs.code }, { ours.out, ours.err, ours.code })
    -- a session takes its first spare at once, before that ssh has failed:
    -- the request starts again on an ordinary connection
    local prog = os.tmpname()
    f = assert(io.open(prog, "w"))
    f:write(([[
      local dockerpty = require("dockerpty")
      local c = dockerpty.client.new{ host = %q }
      local got = {}
      local s = dockerpty.session.exec(c, %q, { "sh", "-c", "echo out; exit 6" },
        { stdin = false, stdout = function(x) got[#got + 1] = x end })
      local _, how, code = s:wait()
      io.write(how, " ", code, " ", table.concat(got))
      c:close()
    ]]):format(SSH, id))
    f:close()
    finally(function() os.remove(prog) end)
    local r = sh(("env %s LUA_PATH=%s LUA_CPATH=%s lua5.4 %s"):format(path, shq(package.path),
      shq(package.cpath), shq(prog)))
    assert.same({ "exit 6 out\n", 0 }, { r.out, r.code }, r.err)
  end)

  it("names the host and ssh's last stderr line when ssh fails, as docker does", function()
    local port = SSH:match(":(%d+)$")
    local cases = {
      { "host key mismatch", SSH, "Host key verification failed.",
        "DOCKERPTY_SSH_KNOWN_HOSTS=" .. shq(SSH_DIR .. "/wrong_known_hosts") },
      { "auth refused", ("ssh://nobody@127.0.0.1:%s"):format(port), "Permission denied (publickey)." },
      { "refused port", "ssh://root@127.0.0.1:1", "ssh: connect to host 127.0.0.1 port 1: Connection refused" },
      { "no docker on the remote", NODOCKER, "/bin/sh: 1: docker: not found" },
      -- docker does not show the remote's stderr here, only that it failed
      { "no daemon at the remote path", SSH .. "/nonexistent.sock", "/nonexistent.sock", nil,
        "Cannot connect to the Docker daemon" },
    }
    for _, case in ipairs(cases) do
      local name, host, line, envs, docker_line = case[1], case[2], case[3], case[4], case[5]
      local t0 = core.now()
      local ours = dp(host, { "exec", "nothing", "true" }, nil, envs)
      local took = core.now() - t0
      local theirs = docker(host, { "exec", "nothing", "true" }, nil, envs)
      assert.matches("^dockerpty: cannot connect to the Docker daemon at " .. host:gsub("%p", "%%%0")
        .. ": [^\n]*" .. line:gsub("%p", "%%%0") .. "[^\n]*\n$", ours.err, nil, false, name)
      assert.truthy(theirs.err:find(docker_line or line, 1, true), name .. ": docker says " .. theirs.err)
      assert.is_true(theirs.code ~= 0, name)
      assert.is_true(ours.code ~= 0, name)
      assert.is_true(took < 10000, name .. " took " .. took .. " ms")
    end
    -- the library: one error object of kind "connection" with the same text
    local c = dockerpty.client.new{ host = "ssh://root@127.0.0.1:1" }
    finally(function() c:close() end)
    local ok, e = pcall(c.ping, c)
    assert.is_false(ok)
    assert.same({ "connection", "dockerpty: cannot connect to the Docker daemon at ssh://root@127.0.0.1:1: " ..
      "ssh: connect to host 127.0.0.1 port 1: Connection refused" }, { e.kind, e.message })
    c:close()
    assert.same({}, ssh_children())
  end)

  it("ends a session within seconds, with an error, when its ssh child dies", function()
    local id = running()
    local c = dockerpty.client.new{ host = SSH }
    finally(function() c:close() end)
    c:ping()
    local rest = next(ssh_children())
    local killed_at
    local t0 = core.now()
    local ok, e = pcall(dockerpty.exec_command, c, id, "sh -c 'while :; do echo tick; sleep 0.1; done'", {
      interactive = false,
      stdout = function(s)
        if not killed_at and s:find("tick", 1, true) then
          for pid in pairs(ssh_children()) do
            if pid ~= rest then
              killed_at = core.now()
              os.execute("kill -KILL " .. pid)
            end
          end
        end
      end,
    })
    assert.is_number(killed_at, "the session's ssh child was not found")
    assert.is_false(ok)
    assert.equal("connection", e.kind)
    assert.matches("ssh was killed by signal 9", e.message, nil, true)
    assert.is_true(core.now() - killed_at < 5000, ("ended %d ms after the kill"):format(core.now() - killed_at))
    assert.is_true(core.now() - t0 < 15000)
    -- the REST child lives on and the client still works
    assert.equal("OK", c:ping())
    local kids = ssh_children()
    assert.equal(1, count(kids))
    assert.truthy(kids[rest])
  end)

  it("rejects malformed ssh:// hosts as the docker CLI does, never echoing a password", function()
    local bad = {
      { "ssh://", "invalid SSH URL: hostname is empty" },
      { "ssh://u:pw@h", "invalid SSH URL: plain-text password is not supported" },
      { "ssh://h?x=1", "invalid SSH URL: query parameters are not allowed" },
    }
    for _, b in ipairs(bad) do
      local ok, err = pcall(dockerpty.client.new, { host = b[1] })
      assert.is_false(ok)
      assert.truthy(tostring(err):find(b[2], 1, true), tostring(err))
      assert.falsy(tostring(err):find("pw", 1, true))
      local theirs = docker(b[1], { "version" })
      assert.truthy(theirs.err:find(b[2], 1, true), theirs.err)
    end
  end)
end)

describe("DOCKER_HOST forms shared with issue 17 #docker", function()
  it("never prints the credentials of a tcp:// URL (item 9)", function()
    local host = "tcp://user:s3cret@127.0.0.1:1"
    local ours = sh(("env DOCKER_HOST=%s %s exec x true </dev/null"):format(shq(host), DP))
    local theirs = sh(("env -u LD_PRELOAD DOCKER_HOST=%s docker exec x true </dev/null"):format(shq(host)))
    assert.is_true(ours.code ~= 0)
    assert.falsy((ours.out .. ours.err):find("s3cret", 1, true), ours.err)
    assert.falsy((ours.out .. ours.err):find("user:", 1, true), ours.err)
    assert.truthy(ours.err:find("tcp://127.0.0.1:1", 1, true), ours.err)
    assert.truthy(theirs.err:find("tcp://127.0.0.1:1", 1, true), theirs.err)
    local c = dockerpty.client.new{ host = host, connect_timeout = 2 }
    local ok, e = pcall(c.ping, c)
    assert.is_false(ok)
    assert.falsy(tostring(e):find("s3cret", 1, true))
    assert.falsy(c.host:find("s3cret", 1, true))
    local bad = pcall(dockerpty.client.new, { host = "tcp://user:s3cret@h:nope" })
    assert.is_false(bad)
    local _, msg = pcall(dockerpty.client.new, { host = "tcp://user:s3cret@h:nope" })
    assert.falsy(tostring(msg):find("s3cret", 1, true), tostring(msg))
  end)

  it("never prints credentials without a scheme or with an '@' in the password (item 9)", function()
    -- no scheme: tcp, as docker takes it; a password holding '@': the
    -- userinfo ends at the last '@', as in Go's URL parser
    for _, h in ipairs({ { "user:s3cret@127.0.0.1:1", "s3cret" }, { "tcp://user:p@ss@127.0.0.1:1", "ss@" } }) do
      local host, secret = h[1], h[2]
      local ours = sh(("env DOCKER_HOST=%s %s exec x true </dev/null"):format(shq(host), DP))
      local theirs = sh(("env -u LD_PRELOAD DOCKER_HOST=%s docker exec x true </dev/null"):format(shq(host)))
      assert.equal(theirs.code, ours.code, ours.err)
      assert.falsy((ours.out .. ours.err):find(secret, 1, true), ours.err)
      assert.falsy((ours.out .. ours.err):find("user", 1, true), ours.err)
      assert.truthy(ours.err:find("tcp://127.0.0.1:1", 1, true), ours.err)
      assert.truthy(theirs.err:find("tcp://127.0.0.1:1", 1, true), theirs.err)
      -- libcurl is given no user: the URL holds the host alone
      local ep = dockerpty.client.parse_host(host)
      assert.same({ "http://127.0.0.1:1", "tcp://127.0.0.1:1" }, { ep.url, ep.where })
      local c = dockerpty.client.new{ host = host, connect_timeout = 2 }
      assert.falsy(c.host:find(secret, 1, true), c.host)
      assert.falsy(c.host:find("user", 1, true), c.host)
      local ok, e = pcall(c.ping, c)
      assert.is_false(ok)
      assert.equal("connection", e.kind)
      assert.falsy(tostring(e):find(secret, 1, true), tostring(e))
      assert.falsy(e.message:find("user", 1, true), e.message)
      c:close()
      local bad, msg = pcall(dockerpty.client.new, { host = host:gsub(":1$", ":nope") })
      assert.is_false(bad)
      assert.falsy(tostring(msg):find(secret, 1, true), tostring(msg))
      assert.falsy(tostring(msg):find("user", 1, true), tostring(msg))
    end
  end)

  it("takes host[:port] without a scheme as tcp, as docker does (item 10)", function()
    for _, h in ipairs({ "127.0.0.1:1", "127.0.0.1", ":1" }) do
      local ep = dockerpty.client.parse_host(h)
      local theirs = sh(("env -u LD_PRELOAD DOCKER_HOST=%s docker version </dev/null"):format(shq(h)))
      local where = theirs.err:match("Cannot connect to the Docker daemon at (tcp://[^%s]-)%. ")
      assert.equal(where, ep.where, theirs.err)
    end
    local ok, e = pcall(dockerpty.client.new{ host = "127.0.0.1:1", connect_timeout = 2 }.ping,
      dockerpty.client.new{ host = "127.0.0.1:1", connect_timeout = 2 })
    assert.is_false(ok)
    assert.equal("dockerpty: cannot connect to the Docker daemon at tcp://127.0.0.1:1: Connection refused",
      e.message)
  end)
end)

describe("exec -it over ssh #docker #tty", function()
  it("gives a prompt, the terminal's size and the exit code, as docker -H ssh:// does", function()
    local id = running()
    local results, terms = {}, {}
    -- one finally for both terminals (a second call would replace the first)
    finally(function() for _, t in ipairs(terms) do t:kill() end end)
    for _, prog in ipairs({ "dockerpty", "docker" }) do
      local cmd = prog == "dockerpty" and (DP .. " -H " .. shq(SSH))
        or ("env -u LD_PRELOAD docker -H " .. shq(SSH))
      local t = tmux.new{ cmd = cmd .. " exec -it " .. id .. " sh", rows = 30, cols = 100 }
      terms[#terms + 1] = t
      t:wait_for("/ #", 15)
      -- busybox ash asks the terminal where the cursor is (ESC [6n) as it
      -- prints a prompt; through a slow ssh the answer can come after ash
      -- stopped waiting and join the typed line, which then fails. A line
      -- that printed no size at all is typed again (a wrong size is kept)
      local size
      for try = 1, 3 do
        t:send(("stty size; echo done%d:$((6*7))"):format(try))
        t:keys("Enter")
        local screen = t:wait_for(("done%d:42"):format(try), 10)
        size = screen:match("\n(%d+ %d+)\ndone" .. try .. ":42")
        if size then break end
      end
      t:send("exit 4")
      t:keys("Enter")
      results[prog] = { size, t:wait_exit(15) }
    end
    assert.same({ "30 100", 4 }, results.dockerpty)
    assert.same(results.docker, results.dockerpty)
  end)
end)
