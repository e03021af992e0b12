-- examples/*.lua run against the rig's daemon on every `make test`, so they
-- never rot: each runs as a user would run it (lua5.4 examples/x.lua, in
-- tmux where it needs a terminal), its output is checked, and it must leave
-- no container behind.
local dockerpty = require("dockerpty")
local tmux = require("support.tmux")
local core = dockerpty.core

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
local PROMPT = "/ #"
local shq = tmux.shquote

local LUA = ("DOCKERPTY_IMAGE=%s LUA_PATH=%s LUA_CPATH=%s lua5.4"):format(shq(IMAGE), shq(package.path),
  shq(package.cpath))

-- Run an example without a terminal: stdout, stderr, exit status.
local function example(path, ...)
  local errf = os.tmpname()
  local args = { path, ... }
  for i, a in ipairs(args) do args[i] = shq(a) end
  local p = assert(io.popen(("%s %s </dev/null 2>%s"):format(LUA, table.concat(args, " "), errf)))
  local out = p:read("a")
  local _, _, code = p:close()
  local f = assert(io.open(errf, "rb"))
  local err = f:read("a")
  f:close()
  os.remove(errf)
  return out, err, code
end

local client
local made, sessions = {}, {}

-- Ids of the containers the examples made (they carry a label), running or
-- not.
local function containers()
  local ids = {}
  local p = assert(io.popen("docker ps -aq --no-trunc --filter label=org.dockerpty.example"))
  for id in p:read("a"):gmatch("%x+") do ids[id] = true end
  p:close()
  return ids
end

-- The containers made since `before`.
local function new_since(before)
  local ids = {}
  for id in pairs(containers()) do
    if not before[id] then ids[#ids + 1] = id end
  end
  return ids
end

local function background()
  local id = client:create_container{ image = IMAGE, command = { "sleep", "300" },
    host_config = { NetworkMode = "none" } }.Id
  made[#made + 1] = id
  client:start(id)
  return id
end

local function term(cmd, rows, cols)
  local t = tmux.new{ cmd = cmd, rows = rows or 20, cols = cols or 80, env = { DOCKERPTY_IMAGE = IMAGE } }
  sessions[#sessions + 1] = t
  return t
end

describe("examples #docker", function()
  setup(function()
    client = dockerpty.client.from_env()
  end)

  teardown(function()
    for _, t in ipairs(sessions) do t:kill() end
    for _, id in ipairs(made) do pcall(client.remove_container, client, id, { force = true }) end
    client:close()
  end)

  it("exec_capture.lua captures stdout and stderr apart, and the exit code", function()
    local before = containers()
    local out, err, code = example("examples/exec_capture.lua")
    assert.same({ 'stdout "Linux\\n"\nstderr "to stderr\\n"\nnil\texit\t3\n', "", 0 }, { out, err, code })
    assert.same({}, new_since(before))
  end)

  it("exec_capture.lua runs in a given container and leaves it running", function()
    local id = background()
    local out, _, code = example("examples/exec_capture.lua", id)
    assert.equal(0, code)
    assert.matches('^stdout "Linux\\n"\n', out)
    assert.is_true(client:inspect_container(id).State.Running)
  end)

  -- what both fan-out examples print: 20 exit codes and answers, and that
  -- the ticker in the same loop went on
  local function fanout_output()
    local lines = {}
    for i = 1, 20 do
      lines[i] = ("%2d nil exit %d exec %d\n"):format(i, i, i)
    end
    return table.concat(lines) .. "ticks while the sessions ran: 20 or more\n"
  end

  it("cqueues_fanout.lua: twenty execs in a cqueues controller, a ticker beside them", function()
    local before = containers()
    local t0 = core.now()
    local out, err, code = example("examples/cqueues_fanout.lua")
    local t = core.now() - t0
    assert.same({ fanout_output(), "", 0 }, { out, err, code })
    assert.same({}, new_since(before))
    -- twenty 0.3 s execs at once, not one after another (6 s)
    assert.is_true(t < 5000, "took " .. t .. " ms")
  end)

  it("luv_fanout.lua: twenty execs in a luv loop, a ticker beside them", function()
    local before = containers()
    local out, err, code = example("examples/luv_fanout.lua")
    assert.same({ fanout_output(), "", 0 }, { out, err, code })
    assert.same({}, new_since(before))
    out, err, code = example("examples/luv_fanout.lua", background())
    assert.same({ fanout_output(), "", 0 }, { out, err, code })
  end)

  it("stdin_string.lua sorts the string it feeds", function()
    local before = containers()
    local out, err, code = example("examples/stdin_string.lua")
    assert.same({ "apple\nfig\npear\ntrue\texit\t0\n", "", 0 }, { out, err, code })
    assert.same({}, new_since(before))
    out, err, code = example("examples/stdin_string.lua", background())
    assert.same({ "apple\nfig\npear\ntrue\texit\t0\n", "", 0 }, { out, err, code })
  end)

  it("expect_shell.lua answers a shell's prompt, captures the answer and the exit code", function()
    local before = containers()
    local out, err, code = example("examples/expect_shell.lua")
    assert.same({ "answer 42\nnil\texit\t3\n", "", 0 }, { out, err, code })
    assert.same({}, new_since(before))
    out, err, code = example("examples/expect_shell.lua", background())
    assert.same({ "answer 42\nnil\texit\t3\n", "", 0 }, { out, err, code })
  end)

  it("attach_shell.lua: a shell in a terminal, its exit code, the container removed #tty", function()
    local before = containers()
    local t = term({ "lua5.4", "examples/attach_shell.lua" }, 20, 70)
    t:wait_for(PROMPT)
    t:send("stty size"); t:keys("Enter")
    t:wait_for("\n20 70\n")
    t:send("exit 4"); t:keys("Enter")
    t:wait_for("%[session: nil exit 4%]")
    assert.equal(4, t:wait_exit(10))
    assert.same({}, new_since(before))
  end)

  it("attach_shell.lua leaves the container running on detach #tty", function()
    local before = containers()
    local t = term({ "lua5.4", "examples/attach_shell.lua" })
    t:wait_for(PROMPT)
    t:keys("C-p"); t:keys("C-q")
    t:wait_for("%[session: true detach nil%]")
    assert.equal(0, t:wait_exit(10))
    local left = new_since(before)
    assert.equal(1, #left)
    made[#made + 1] = left[1]
    assert.is_true(client:inspect_container(left[1]).State.Running)
  end)

  it("repl.lua: a shell from the Lua prompt and back, output in a string, done() cleans up #tty", function()
    local before = containers()
    local t = term({ "lua5.4", "-i", "examples/repl.lua" })
    t:wait_for("try shell%(%)")
    t:wait_for("\n> ?$")
    t:send("shell()"); t:keys("Enter")
    t:wait_for(PROMPT)
    t:send("exit 3"); t:keys("Enter")
    t:wait_for("\nnil%s+exit%s+3\n> ?$")   -- tmux shows tabs as spaces
    -- the terminal is back in cooked mode: the REPL reads a line again
    t:send("print((run(\"sh -c 'echo hi; uname'\")))"); t:keys("Enter")
    t:wait_for("\nhi\nLinux\n\n> ?$")
    assert.equal(1, #new_since(before))
    t:send("done()"); t:keys("Enter")
    assert.equal(0, t:wait_exit(10))
    assert.same({}, new_since(before))
  end)

  it("repl.lua survives Ctrl-C during a session: the call raises 'interrupted', the REPL goes on #tty", function()
    local t = term({ "lua5.4", "-i", "examples/repl.lua" })
    t:wait_for("\n> ?$")
    t:send("ok, e = pcall(run, 'sleep 30'); print(ok, e.kind, e.signal, e)"); t:keys("Enter")
    core.sleep(1500)                  -- the exec is running, stdin not attached
    t:keys("C-c")
    t:wait_for("false%s+interrupted%s+INT%s+dockerpty: interrupted by SIGINT\n> ?$")
    -- the REPL is alive and the library still works
    t:send("print((run('echo again')))"); t:keys("Enter")
    t:wait_for("\nagain\n\n> ?$")
    t:send("done()"); t:keys("Enter")
    assert.equal(0, t:wait_exit(10))
  end)

  it("repl.lua removes its container when the REPL ends with Ctrl-D #tty", function()
    local before = containers()
    local t = term({ "lua5.4", "-i", "examples/repl.lua" })
    t:wait_for("\n> ?$")
    assert.equal(1, #new_since(before))
    t:keys("C-d")
    assert.equal(0, t:wait_exit(10))
    local deadline = core.now() + 5000
    while #new_since(before) > 0 and core.now() < deadline do core.sleep(50) end
    assert.same({}, new_since(before))
  end)
end)
