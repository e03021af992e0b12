-- spec/modes_spec.lua: the terminal modes a program in the container turns
-- on are turned off again when the session ends any other way than the
-- program's own clean exit (issue 14): the output pump tracks them
-- (core.pump's `track_modes`, Pump:undo_modes) and the pseudo-terminal
-- writes the undo after the last output byte, before the termios restore.
--
-- Through tmux against the real daemon: the pane's own flags, `#{alternate_on}
-- #{mouse_any_flag} #{cursor_flag}`, are read while the program has them on
-- (1 1 0) and again after the session ended (0 0 1). The same on Podman,
-- except that the lost daemon (#long) needs the rig's private dockerd.
local core = require("dockerpty.core")
local tc = require("dockerpty_test")

-- {======================================================
-- The pump's tracker (unit)
-- =======================================================

describe("core.pump track_modes", function()
  local ON = "\27[?1049h\27[?1000h\27[?25l"

  local function run_pump(opts)
    local lp = core.loop()
    local p = core.pump(opts)
    lp:add(p)
    lp:run(5000)
    return p
  end

  it("undoes what the bytes written to an fd turned on, once", function()
    local r, w = assert(tc.pipe())
    local p = run_pump{ from = ON .. "x\27[?1000", to = w, track_modes = true }
    assert.equal(ON .. "x\27[?1000", assert(core.read(r, 100)))
    -- the split sequence is not complete: ?1000 stays on
    assert.equal("\27[?1000l\27[?25h\27[?1049l", p:undo_modes())
    assert.equal("", p:undo_modes())
    p:close()
    tc.close(r)
    tc.close(w)
  end)

  it("sees what a function sink was given, and nothing without the option", function()
    local got = {}
    local p = run_pump{ from = ON, to = function(s) got[#got + 1] = s end, track_modes = true }
    assert.equal("\27[?1000l\27[?25h\27[?1049l", p:undo_modes())
    local q = run_pump{ from = ON, to = function(s) got[#got + 1] = s end }
    assert.equal("", q:undo_modes())
    assert.equal(ON .. ON, table.concat(got))
    local z = run_pump{ from = ON .. "\27[?25h\27[?1000l\27[?1049l", to = function() end, track_modes = true }
    assert.equal("", z:undo_modes())
  end)

  it("counts only the bytes the fd took: a full pipe's rest is not seen", function()
    local r, w = assert(tc.pipe())
    local fill = string.rep("a", 1 << 20)   -- more than a pipe holds
    local lp = core.loop()
    local p = core.pump{ from = fill .. ON, to = w, track_modes = true }
    lp:add(p)
    lp:run(200)                               -- nobody reads: the modes never went out
    assert.equal("", p:undo_modes())
    -- once read, the queued rest is written: then they count
    local got = 0
    for _ = 1, 200 do
      while core.poll_fd(r, "r", 0) do got = got + #assert(core.read(r, 65536)) end
      if got == #fill + #ON then break end
      lp:run(20)
    end
    assert.equal(#fill + #ON, got)
    assert.equal("\27[?1000l\27[?25h\27[?1049l", p:undo_modes())
    p:close()
    tc.close(r)
    tc.close(w)
  end)
end)

-- }======================================================

-- {======================================================
-- In a real terminal
-- =======================================================

describe("terminal modes undone in a real terminal #docker #tty", function()
  local dockerpty = require("dockerpty")
  local tmux = require("support.tmux")
  local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
  local FLAGS = "#{alternate_on} #{mouse_any_flag} #{cursor_flag}"
  -- alternate screen, mouse reporting, hidden cursor, a colour; then BOOM
  -- once a line is typed
  local PROGRAM = "printf '\\033[?1049h\\033[?1000h\\033[?25l\\033[31mready\\r\\n'; " ..
    "read x; printf 'BOOM\\r\\n'; sleep 300"

  local client
  local made, sessions = {}, {}

  setup(function() client = dockerpty.client.from_env() end)
  teardown(function()
    for _, t in ipairs(sessions) do t:kill() end
    for _, id in ipairs(made) do pcall(client.remove_container, client, id, { force = true }) end
    client:close()
  end)

  local function container(cmd)
    local r = client:create_container{ image = IMAGE, command = cmd, tty = true, stdin_open = true,
      host_config = { NetworkMode = "none" } }
    made[#made + 1] = r.Id
    return r.Id
  end

  local function pane(cmd, env)
    local t = tmux.new{ cmd = cmd, rows = 20, cols = 70, env = env }
    sessions[#sessions + 1] = t
    return t
  end

  -- The program is up with its modes on: the pane says so.
  local function modes_on(t)
    t:wait_for("ready")
    assert.equal("1 1 0", t:_format(FLAGS))
  end

  -- attach.lua's report, the pane's flags after the session.
  local function ended(t)
    local screen = t:wait_for("%[%[TERMIOS %a+%]%]", 15)
    local flat = screen:gsub("\n", "")
    return flat, t:_format(FLAGS)
  end

  local function attach(id, opts)
    return pane({ "lua5.4", "spec/support/attach.lua", "run", id, opts }, { DP_ATTACH_HOLD = "3000" })
  end

  it("(a) detach: the modes are off, the termios state is back", function()
    local id = container({ "sh", "-c", PROGRAM })
    local t = attach(id)
    modes_on(t)
    t:keys("C-p", "C-q")
    local flat, flags = ended(t)
    assert.matches("[[RESULT true detach nil]]", flat, 1, true)
    assert.matches("[[TERMIOS same]]", flat, 1, true)
    assert.equal("0 0 1", flags)
  end)

  it("(b) the container killed from outside", function()
    local id = container({ "sh", "-c", PROGRAM })
    local t = attach(id)
    modes_on(t)
    client:kill(id)
    local flat, flags = ended(t)
    assert.matches("[[RESULT nil exit 137]]", flat, 1, true)
    assert.matches("[[TERMIOS same]]", flat, 1, true)
    assert.equal("0 0 1", flags)
  end)

  for _, sig in ipairs({ { "TERM", 15 }, { "HUP", 1 }, { "INT", 2 } }) do
    it("(c) SIG" .. sig[1] .. " to the client: undone before the signal is re-raised", function()
      local id = container({ "sh", "-c", PROGRAM })
      local t = attach(id)
      modes_on(t)
      os.execute("kill -" .. sig[1] .. " " .. t:pid())
      local flat, flags = ended(t)
      assert.matches("[[ERROR dockerpty: interrupted by SIG" .. sig[1] .. "]]", flat, 1, true)
      assert.matches("[[TERMIOS same]]", flat, 1, true)
      assert.equal("0 0 1", flags)
      local status, signal = t:wait_exit(10)
      assert.same({ nil, sig[2] }, { status, signal })
    end)
  end

  it("(d) a Lua error in the output function: the undo goes through that function", function()
    local id = container({ "sh", "-c", PROGRAM })
    local t = attach(id, "{stdout = function(s) io.stdout:write(s); io.stdout:flush(); " ..
      "if s:find('BOOM', 1, true) then error('boom in output') end end}")
    modes_on(t)
    t:keys("Enter")
    local flat, flags = ended(t)
    assert.matches("boom in output]]", flat, 1, true)
    assert.matches("[[TERMIOS same]]", flat, 1, true)
    assert.equal("0 0 1", flags)
  end)

  it("nothing is written when the output is not a terminal", function()
    local id = container({ "sh", "-c", PROGRAM })
    local out = os.tmpname()
    finally(function() os.remove(out) end)
    local t = pane({ "sh", "-c", "lua5.4 spec/support/attach.lua run " .. id .. " >" .. out })
    -- the pane shows nothing: wait for the program's line in the file
    local deadline = core.now() + 10000
    local got = ""
    while not got:find("ready", 1, true) and core.now() < deadline do
      core.sleep(100)
      local f = io.open(out, "rb")
      got = f and f:read("a") or ""
      if f then f:close() end
    end
    assert.matches("ready", got, 1, true)
    t:keys("C-p", "C-q")
    t:wait_exit(10)
    local f = assert(io.open(out, "rb"))
    got = f:read("a")
    f:close()
    -- stdin is the pane's terminal (raw), stdout a file: no undo in it
    assert.matches("[[RESULT true detach nil]]", got, 1, true)
    assert.is_nil(got:find("\27[?25h", 1, true))
    assert.is_nil(got:find("\27[?1049l", 1, true))
  end)

  it("busybox vi, :q: the screen and flags as with the docker CLI", function()
    -- the pane is kept alive after the program (a dead pane's flags are not
    -- the terminal's): "[[END status]]" is printed, then it sleeps
    local function vi_in(prog)
      local t = pane({ "sh", "-c", prog .. " run --rm -it --network none " .. IMAGE ..
        " vi /tmp/f; echo \"[[END $?]]\"; sleep 30" })
      t:wait_for("/tmp/f")
      local during = t:_format(FLAGS)
      t:send(":q"); t:keys("Enter")
      local screen = t:wait_for("%[%[END %d+%]%]", 15)
      return { during, t:_format(FLAGS), screen }
    end
    local ours = vi_in("lua5.4 bin/dockerpty")
    local theirs = vi_in("docker")
    assert.same(theirs, ours)
    assert.equal("1 0 1", ours[1])
    assert.equal("0 0 1", ours[2])
    assert.matches("[[END 0]]", ours[3], 1, true)
  end)
end)

describe("terminal modes undone when the daemon goes away #docker #tty #long", function()
  -- The rig's private dockerd only (DOCKERPTY_RIG=private): killed, then
  -- started again with `engine revive`. Not under Podman (no such rig).
  local dockerpty = require("dockerpty")
  local tmux = require("support.tmux")
  local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"

  it("(e) dockerd killed: the session ends with the modes off", function()
    assert.equal("private", os.getenv("DOCKERPTY_RIG"), "needs the rig's own dockerd (DOCKERPTY_RIG=private)")
    local rig = os.getenv("DOCKERPTY_RIG_DIR")
    if rig == nil or rig == "" then rig = "/tmp/dockerpty-rig-" .. io.popen("id -u"):read("l") end
    local engine = os.getenv("DOCKERPTY_ENGINE_SCRIPT") or "spec/support/engine"
    local client = dockerpty.client.from_env()
    local r = client:create_container{ image = IMAGE, tty = true, stdin_open = true,
      command = { "sh", "-c", "printf '\\033[?1049h\\033[?1000h\\033[?25lready\\r\\n'; sleep 300" },
      host_config = { NetworkMode = "none" } }
    local t = tmux.new{ cmd = { "lua5.4", "spec/support/attach.lua", "run", r.Id }, rows = 20, cols = 70,
      env = { DP_ATTACH_HOLD = "3000" } }
    local revived
    finally(function()
      t:kill()
      if not revived then os.execute("sh " .. engine .. " revive >/dev/null 2>&1") end
      local c = dockerpty.client.from_env()
      pcall(c.remove_container, c, r.Id, { force = true })
      c:close()
    end)
    t:wait_for("ready")
    assert.equal("1 1 0", t:_format("#{alternate_on} #{mouse_any_flag} #{cursor_flag}"))
    local f = assert(io.open(rig .. "/dockerd.pid"))
    local pid = assert(tonumber(f:read("a"):match("%d+")))
    f:close()
    os.execute("kill -KILL " .. pid)
    local screen = t:wait_for("%[%[TERMIOS %a+%]%]", 15)
    local flags = t:_format("#{alternate_on} #{mouse_any_flag} #{cursor_flag}")
    revived = os.execute("sh " .. engine .. " revive >/dev/null 2>&1")
    local flat = screen:gsub("\n", "")
    assert.matches("[[ERROR ", flat, 1, true)
    assert.matches("[[TERMIOS same]]", flat, 1, true)
    assert.equal("0 0 1", flags)
    assert.is_true(revived, "engine revive failed")
    client:close()
  end)
end)

-- }======================================================
