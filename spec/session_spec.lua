-- The dockerpty API end to end (issue 4): Python dockerpty's acceptance
-- scenarios, driven through tmux against the real daemon, and ours. Each
-- tmux session runs spec/support/attach.lua, which reports how the session
-- ended and whether the terminal's termios came back identical.
local dockerpty = require("dockerpty")
local tmux = require("support.tmux")
local core = dockerpty.core
local tc = require("dockerpty_test")

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
local PROMPT = "/ #"

local client
local made = {}

local function create(opts)
  opts.image = opts.image or IMAGE
  opts.host_config = opts.host_config or { NetworkMode = "none" }
  local r = client:create_container(opts)
  made[#made + 1] = r.Id
  return r.Id
end

local function tty_container(cmd, extra)
  local o = { command = cmd or { "/bin/sh" }, tty = true, stdin_open = true }
  for k, v in pairs(extra or {}) do o[k] = v end
  return create(o)
end

local function running(id)
  return client:inspect_container(id).State.Running
end

-- Wait until pred() is true (polling), or fail.
local function eventually(pred, what, timeout_ms)
  local deadline = core.now() + (timeout_ms or 5000)
  while core.now() < deadline do
    if pred() then return true end
    core.sleep(50)
  end
  error("timed out waiting for " .. what)
end

local sessions = {}
local function session(args, rows, cols, env)
  local cmd = { "lua5.4", "spec/support/attach.lua" }
  for _, a in ipairs(args) do cmd[#cmd + 1] = a end
  local t = tmux.new{ cmd = cmd, rows = rows or 20, cols = cols or 80, env = env }
  sessions[#sessions + 1] = t
  return t
end

-- The session's report: ok, how, code (strings) and the termios check.
local function report(t, timeout_s)
  t:wait_for("%[%[TERMIOS %a+%]%]", timeout_s or 10)
  local screen = t:screen(true)
  local flat = screen:gsub("\n", "")
  local err = flat:match("%[%[ERROR (.-)%]%]")
  local ok, how, code = flat:match("%[%[RESULT (%S+) (%S+) (%S+)%]%]")
  return { ok = ok, how = how, code = code, err = err,
    termios = flat:match("%[%[TERMIOS (%a+)%]%]"), screen = screen }
end

-- Count lines of the screen that match a plain string.
local function count(screen, s)
  local n, i = 0, 1
  while true do
    local j = screen:find(s, i, true)
    if not j then return n end
    n, i = n + 1, j + #s
  end
end

setup(function()
  client = dockerpty.client.from_env()
end)

teardown(function()
  for _, t in ipairs(sessions) do t:kill() end
  for _, id in ipairs(made) do pcall(client.remove_container, client, id, { force = true }) end
  client:close()
end)

-- Scenarios run in each mode: attach to a new container (run), exec made
-- by exec_create + start_exec, and exec_command.
local function tty_cases(name, open)
  describe(name .. " with a tty running /bin/sh #docker #tty", function()
    it("shows the prompt", function()
      local t = open()
      t:wait_for(PROMPT)
    end)

    it("echoes typed input", function()
      local t = open()
      t:wait_for(PROMPT)
      t:send("whoami")
      t:wait_for("/ # whoami")
    end)

    it("runs a command and prints a new prompt", function()
      local t = open()
      t:wait_for(PROMPT)
      t:send("uname"); t:keys("Enter")
      t:wait_for("uname\nLinux\n/ #")
    end)

    it("shows errors", function()
      local t = open()
      t:wait_for(PROMPT)
      t:send("ls blah"); t:keys("Enter")
      t:wait_for("ls: blah: No such file or directory")
    end)

    it("starts with the terminal's size", function()
      local t = open(20, 70)
      t:wait_for(PROMPT)
      t:send("stty size"); t:keys("Enter")
      t:wait_for("\n20 70\n")
    end)

    it("follows a resize", function()
      local t = open()
      t:wait_for(PROMPT)
      t:resize(30, 100)
      core.sleep(300)
      t:send("stty size"); t:keys("Enter")
      t:wait_for("\n30 100\n")
    end)

    it("ends at the last of five quick resizes", function()
      local t = open()
      t:wait_for(PROMPT)
      for _, sz in ipairs({ { 25, 90 }, { 40, 120 }, { 22, 81 }, { 35, 110 }, { 28, 105 } }) do
        t:resize(sz[1], sz[2])
      end
      core.sleep(400)
      t:send("stty size"); t:keys("Enter")
      t:wait_for("\n28 105\n")
    end)

    it("ends cleanly on exit, with the terminal as it was", function()
      local t = open()
      t:wait_for(PROMPT)
      t:send("exit"); t:keys("Enter")
      local r = report(t)
      assert.same({ "true", "exit", "0", "same" }, { r.ok, r.how, r.code, r.termios })
      assert.equal(0, t:wait_exit())
    end)

    it("returns the exit code", function()
      local t = open()
      t:wait_for(PROMPT)
      t:send("exit 7"); t:keys("Enter")
      local r = report(t)
      assert.same({ "nil", "exit", "7", "same" }, { r.ok, r.how, r.code, r.termios })
    end)

    it("detaches on ctrl-p ctrl-q and returns, the process running on", function()
      local t = open()
      t:wait_for(PROMPT)
      t:keys("C-p", "C-q")
      local r = report(t, 5)
      assert.same({ "true", "detach", "same" }, { r.ok, r.how, r.termios })
    end)
  end)
end

tty_cases("dockerpty.start", function(rows, cols)
  local id = tty_container()
  return session({ "run", id }, rows, cols)
end)

tty_cases("dockerpty.start_exec", function(rows, cols)
  local id = create{ command = { "cat" }, stdin_open = true }
  client:start(id)
  return session({ "create_exec", id, "/bin/sh" }, rows, cols)
end)

tty_cases("dockerpty.exec_command", function(rows, cols)
  local id = create{ command = { "cat" }, stdin_open = true }
  client:start(id)
  return session({ "exec", id, "/bin/sh" }, rows, cols)
end)

describe("dockerpty.start with a tty, more #docker #tty", function()
  it("shows the prompt when the log driver is none", function()
    local id = tty_container(nil, { host_config = { NetworkMode = "none",
      LogConfig = { Type = "none", Config = {} } } })
    local t = session({ "run", id })
    t:wait_for(PROMPT)
  end)

  it("keeps the container running after a detach, and reattaches to the same shell", function()
    local id = tty_container()
    local t = session({ "run", id })
    t:wait_for(PROMPT)
    t:send("echo first-$((20+3))"); t:keys("Enter")
    t:wait_for("first%-23")
    t:keys("C-p", "C-q")
    local r = report(t)
    assert.equal("detach", r.how)
    assert.is_true(running(id))
    local t2 = session({ "run", id })
    t2:wait_for(PROMPT)
    t2:keys("Up")
    t2:wait_for("echo first%-%$%(%(20%+3%)%)")
    t2:keys("Enter")
    t2:wait_for("\nfirst%-23\n")
    t2:send("exit"); t2:keys("Enter")
    assert.equal("exit", report(t2).how)
  end)

  it("ends cleanly at once for /bin/true", function()
    local id = tty_container({ "/bin/true" })
    local t = session({ "run", id })
    local r = report(t)
    assert.same({ "true", "exit", "0", "same" }, { r.ok, r.how, r.code, r.termios })
  end)

  it("attaches to a container already started", function()
    local id = tty_container()
    client:start(id)
    local t = session({ "run", id })
    -- the redraw resize makes the shell print its prompt again
    t:wait_for(PROMPT)
    t:send("echo attached"); t:keys("Enter")
    t:wait_for("\nattached\n")
  end)

  it("replays earlier output with logs = true", function()
    local id = tty_container({ "sh", "-c", "echo before-attach; exec sh" })
    client:start(id)
    eventually(function() return running(id) end, "the container to run")
    core.sleep(300)
    local t = session({ "run", id, "{logs = true}" })
    t:wait_for("before%-attach")
  end)

  it("raises a clear error for an unknown container and leaves the terminal as it was", function()
    local t = session({ "run", "dockerpty-no-such-container" })
    local r = report(t)
    assert.equal("dockerpty: no such container: dockerpty-no-such-container (404)", r.err)
    assert.equal("same", r.termios)
  end)

  it("restores the terminal on SIGTERM and dies of it", function()
    local id = tty_container()
    local t = tmux.new{ cmd = "stty -g > /tmp/dp-stty-$$.a; lua5.4 spec/support/attach.lua run " .. id
      .. "; echo status=$?; stty -g > /tmp/dp-stty-$$.b; cmp -s /tmp/dp-stty-$$.a /tmp/dp-stty-$$.b"
      .. " && echo STTY-SAME || echo STTY-DIFFER; rm -f /tmp/dp-stty-$$.a /tmp/dp-stty-$$.b",
      rows = 20, cols = 80 }
    sessions[#sessions + 1] = t
    t:wait_for(PROMPT)
    local p = io.popen("pgrep -P " .. t:pid() .. " lua5.4")
    local pid = tonumber(p:read("l"))
    p:close()
    assert.is_number(pid)
    tc.kill(pid, "TERM")
    local screen = t:wait_for("STTY%-%u+")
    assert.matches("status=143", screen)
    assert.matches("STTY%-SAME", screen)
  end)

  it("runs from a Lua REPL and leaves it working", function()
    local id = tty_container()
    local t = tmux.new{ cmd = { "lua5.4", "-i" }, rows = 20, cols = 100 }
    sessions[#sessions + 1] = t
    t:wait_for(">")
    t:send(("dp = require 'dockerpty'; c = dp.client.from_env(); print(dp.start(c, '%s'))"):format(id))
    t:keys("Enter")
    t:wait_for(PROMPT)
    t:send("exit"); t:keys("Enter")
    t:wait_for("true%s+exit%s+0")
    t:send("print(6 * 7)"); t:keys("Enter")
    t:wait_for("\n42\n>")
  end)
end)

describe("dockerpty.start with stdin open and no tty #docker #tty", function()
  local function open(cmd, started)
    local id = create{ command = cmd, stdin_open = true }
    if started then client:start(id) end
    return session({ "run", id }), id
  end

  it("shows output", function()
    local t = open({ "tail", "-n1", "-f", "/etc/passwd" })
    t:wait_for("nobody:x:99:99")
  end)

  for _, started in ipairs({ false, true }) do
    local how = started and " (already started)" or ""
    it("echoes a typed line with cat" .. how, function()
      local t = open({ "/bin/cat" }, started)
      core.sleep(300)
      t:send("hello cat"); t:keys("Enter")
      t:wait_for(function(s) return count(s, "hello cat") == 2 end)
    end)

    it("ends on ctrl-d, cleanly, and the container stops" .. how, function()
      local t, id = open({ "/bin/cat" }, started)
      core.sleep(300)
      t:keys("C-d")
      local r = report(t)
      assert.same({ "true", "exit", "0", "same" }, { r.ok, r.how, r.code, r.termios })
      eventually(function() return not running(id) end, "the container to stop")
    end)
  end

  it("shows stderr of a typed command", function()
    local t = open({ "sh", "-c", "cat | sh" })
    core.sleep(300)
    t:send("echo i-am-stderr 1>&2"); t:keys("Enter")
    t:wait_for("\ni%-am%-stderr")
  end)

  it("keeps stdout and stderr lines in order", function()
    -- the daemon copies stdout and stderr separately: give each line time
    local t = open({ "sh", "-c",
      "for i in 1 2 3; do echo out$i; sleep 0.1; echo err$i >&2; sleep 0.1; done" })
    local screen = t:wait_for("err3")
    assert.matches("out1\nerr1\nout2\nerr2\nout3\nerr3", screen)
  end)
end)

describe("dockerpty.start with no stdin and no tty #docker #tty", function()
  it("shows output and errors, ignores Enter and keeps running", function()
    local id = create{ command = { "sh", "-c", "echo to-out; echo to-err >&2; sleep 30" } }
    local t = session({ "run", id })
    t:wait_for("to%-out")
    t:wait_for("to%-err")
    t:keys("Enter")
    core.sleep(500)
    assert.is_nil(t:screen():find("RESULT", 1, true))
    assert.is_true(running(id))
  end)
end)

describe("dockerpty exec without a tty #docker #tty", function()
  local id
  before_each(function()
    id = create{ command = { "cat" }, stdin_open = true }
    client:start(id)
  end)

  it("prints a pipeline's output one per line", function()
    local t = session({ "exec", id, "sh -c 'ls -1 / | tail -n 3'", "{tty = false}" }, nil, nil,
      { DP_ATTACH_HOLD = "3000" })
    local r = report(t)
    assert.matches("%f[%w]tmp\nusr\nvar\n", r.screen)
    assert.same({ "true", "exit", "0", "same" }, { r.ok, r.how, r.code, r.termios })
  end)

  it("shows tail -f output and errors, and ignores Enter", function()
    local t = session({ "exec", id, "sh -c 'ls nope; tail -f /etc/passwd'",
      "{tty = false, interactive = false}" })
    t:wait_for("No such file or directory")
    t:wait_for("nobody:x:99:99")
    t:keys("Enter")
    core.sleep(300)
    assert.is_nil(t:screen():find("RESULT", 1, true))
  end)
end)

describe("dockerpty beyond Python dockerpty #docker", function()
  local function quiet_opts(extra)
    local o = { interactive = false }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  it("returns the exit code of run and exec", function()
    local id = create{ command = { "sh", "-c", "exit 7" } }
    assert.same({ nil, "exit", 7 }, { dockerpty.start(client, id, quiet_opts{ stdout = false }) })
    local id2 = create{ command = { "cat" }, stdin_open = true }
    client:start(id2)
    assert.same({ nil, "exit", 7 }, { dockerpty.exec_command(client, id2, "sh -c 'exit 7'",
      quiet_opts()) })
    assert.same({ true, "exit", 0 }, { dockerpty.exec_command(client, id2, "true", quiet_opts()) })
  end)

  it("collects exactly the bytes written with a function as stdout", function()
    local id = create{ command = { "sh", "-c", [[printf 'a\nb\000c\377'; printf 'E' >&2]] } }
    local out, err = {}, {}
    local ok = dockerpty.start(client, id, quiet_opts{
      stdout = function(s) out[#out + 1] = s end, stderr = function(s) err[#err + 1] = s end })
    assert.is_true(ok)
    assert.equal("a\nb\0c\255", table.concat(out))
    assert.equal("E", table.concat(err))
  end)

  it("keeps stderr apart in an exec without a tty", function()
    local id = create{ command = { "cat" }, stdin_open = true }
    client:start(id)
    local out, err = {}, {}
    assert.is_true(dockerpty.exec_command(client, id, "sh -c 'echo out; echo err >&2; echo out2'",
      quiet_opts{ stdout = function(s) out[#out + 1] = s end,
        stderr = function(s) err[#err + 1] = s end }))
    assert.equal("out\nout2\n", table.concat(out))
    assert.equal("err\n", table.concat(err))
  end)

  it("feeds stdin from a string, and EOF reaches the container", function()
    local id = create{ command = { "cat" }, stdin_open = true }
    client:start(id)
    local out = {}
    assert.is_true(dockerpty.exec_command(client, id, "wc -c",
      { stdin = string.rep("x", 100000), tty = false, stdout = function(s) out[#out + 1] = s end }))
    assert.equal("100000", table.concat(out):match("%d+"))
    local id2 = create{ command = { "sh", "-c", "cat; echo done" }, stdin_open = true }
    out = {}
    assert.is_true(dockerpty.start(client, id2,
      { stdin = "from a string\n", stdout = function(s) out[#out + 1] = s end }))
    assert.equal("from a string\ndone\n", table.concat(out))
  end)

  -- A lua5.4 command line that finds the module under test.
  local function lua_cmd(path)
    return ("env LUA_PATH=%s LUA_CPATH=%s lua5.4 %s"):format(tmux.shquote(package.path),
      tmux.shquote(package.cpath), path)
  end

  local function script(body)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(body)
    f:close()
    return path
  end

  it("counts 8 MiB piped into a non-tty exec's wc -c, and returns", function()
    local id = create{ command = { "cat" }, stdin_open = true }
    client:start(id)
    local path = script(([[
      local dp = require("dockerpty")
      local ok, how, code = dp.exec_command(dp.client.from_env(), %q, "wc -c")
      io.stderr:write(tostring(ok), " ", how, " ", code, "\n")
    ]]):format(id))
    local p = io.popen("head -c 8388608 /dev/urandom | " .. lua_cmd(path) .. " 2>&1")
    local out = p:read("a")
    p:close()
    os.remove(path)
    assert.matches("^%s*8388608\n", out)
    assert.matches("true exit 0", out)
  end)

  it("moves 40 MB of output through a pipe byte for byte", function()
    local gen = "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 40000000"
    local id = create{ command = { "sh", "-c", gen } }
    local path = script(([[
      local dp = require("dockerpty")
      local ok, how, code = dp.start(dp.client.from_env(), %q, { interactive = false })
      io.stderr:write(tostring(ok), " ", how, " ", code, "\n")
    ]]):format(id))
    local errfile = os.tmpname()   -- of our own: other worktrees run this spec too
    local p = io.popen(lua_cmd(path) .. " 2>" .. errfile .. " | md5sum")
    local got = p:read("a"):match("%x+")
    p:close()
    os.remove(path)
    local q = io.popen(gen .. " | md5sum")
    local want = q:read("a"):match("%x+")
    q:close()
    assert.equal(want, got)
    local f = assert(io.open(errfile))
    local status = f:read("a")
    f:close()
    os.remove(errfile)
    assert.matches("true exit 0", status)
  end)

  it("forwards signals to a container without a tty (sig_proxy), and the session goes on", function()
    local id = create{ command = { "sh", "-c", "trap 'echo got-usr1' USR1; "
      .. "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done" } }
    local path = script(([[
      local dp = require("dockerpty")
      io.stdout:write(require("dockerpty_test").getpid(), "\n"); io.stdout:flush()
      local ok, how, code = dp.start(dp.client.from_env(), %q, { interactive = false })
      io.stdout:write("result ", tostring(ok), " ", how, " ", code, "\n")
    ]]):format(id))
    local p = io.popen("timeout 30 " .. lua_cmd(path))
    local pid = tonumber(p:read("l"))
    assert.equal("ready", p:read("l"))
    tc.kill(pid, "USR1")
    assert.equal("got-usr1", p:read("l"))
    tc.kill(pid, "TERM")
    assert.equal("got-term", p:read("l"))
    assert.equal("result nil exit 3", p:read("l"))
    p:close()
    os.remove(path)
  end)

  it("raises a clear error for an unknown container", function()
    local ok, e = pcall(dockerpty.start, client, "dockerpty-no-such-container", quiet_opts())
    assert.is_false(ok)
    assert.equal("dockerpty: no such container: dockerpty-no-such-container (404)", e.message)
    assert.equal("api", e.kind)
    assert.equal(404, e.status)
    ok, e = pcall(dockerpty.exec_command, client, "dockerpty-no-such-container", "true", quiet_opts())
    assert.is_false(ok)
    assert.equal(404, e.status)
  end)

  it("keeps the Operation objects usable step by step", function()
    local id = create{ command = { "sh", "-c", "echo step; exit 3" } }
    local out = {}
    local op = dockerpty.RunOperation.new(client, id, { interactive = false,
      stdout = function(s) out[#out + 1] = s end })
    assert.is_false(op:israw())
    local conn = op:sockets()
    local pumps = op:start(conn)
    local lp = core.loop()
    for _, p in ipairs(pumps) do lp:add(p) end
    assert.equal("done", lp:run(10000))
    assert.same({ nil, "exit", 3 }, { op:finish() })
    op:close()
    assert.equal("step\n", table.concat(out))
  end)
end)
