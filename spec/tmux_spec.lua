-- tmux_spec.lua: proves spec/support/tmux.lua (programs in a real terminal)
-- and, through it, raw mode on a real tty (spec/support/term_helper.lua).
-- The termios come back byte for byte, and raw mode is exactly cfmakeraw's
-- set (docs/protocol.md, "Terminal").
local tmux = require("support.tmux")

-- busted keeps one finally() function per test (the last one given), so
-- cleanups go on a list that a single finally runs, newest first.
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

-- A tmux instance killed at the end of the test.
local function start(opts)
  local t = tmux.new(opts)
  defer(function() t:kill() end)
  return t
end

describe("support.tmux #tty", function()
  it("shows what a program prints", function()
    local t = start{ cmd = { "sh", "-c", "printf 'hello %s\\n' world; sleep 30" } }
    local screen = t:wait_for("hello world")
    assert.equal("hello world", screen)
  end)

  it("runs a shell string and passes env, cwd and TERM through", function()
    local t = start{
      cmd = "echo \"[$FOO] [$TERM] [$DP_BUILD]\"; pwd; sleep 30",
      env = { FOO = "it's a b;c" }, cwd = "spec",
    }
    local screen = t:wait_for("\n/")
    local build = os.getenv("DP_BUILD") or ""
    assert.equal("[it's a b;c] [screen] [" .. build .. "]", screen:match("^[^\n]*"))
    assert.matches("/spec$", screen)
  end)

  it("gives the program the Lua paths that find dockerpty.core", function()
    local t = start{ cmd = { "lua5.4", "-e",
      "print(require('dockerpty.core')._VERSION == require('dockerpty.core')._VERSION and 'CORE OK') " ..
      "os.execute('sleep 30')" }, cwd = "/" }
    assert.matches("CORE OK", t:wait_for("CORE"))
  end)

  it("types literal text that cat echoes", function()
    local t = start{ cmd = { "cat" } }
    t:send("-n Enter ends;"):keys("Enter")
    t:send("a'b\"c $x\\;"):keys("Enter")
    local screen = t:wait_for("c %$x\\;\na'b")
    -- each line twice: the terminal's echo, then cat's copy
    assert.equal("-n Enter ends;\n-n Enter ends;\na'b\"c $x\\;\na'b\"c $x\\;", screen)
  end)

  it("reports the requested size and a resize through stty size", function()
    local t = start{ cmd = "stty size; read x; stty size; read x", rows = 20, cols = 70 }
    assert.equal("20 70", t:wait_for("%d+ %d+"))
    t:resize(30, 100)
    t:keys("Enter")
    assert.equal("20 70\n\n30 100", t:wait_for("30 100"))
  end)

  it("returns the exit status, or nil and the signal", function()
    local t = start{ cmd = "exit 7" }
    assert.equal(7, t:wait_exit())
    local t2 = start{ cmd = "kill -TERM $$" }
    assert.same({ nil, 15 }, { t2:wait_exit() })
  end)

  it("gives the pid of the program", function()
    local t = start{ cmd = { "sh", "-c", "echo pid=$$; sleep 30" } }
    local pid = tonumber(t:wait_for("pid=%d+"):match("pid=(%d+)"))
    assert.equal(pid, t:pid())
  end)

  it("raises with the last screen and what it awaited on timeout", function()
    local t = start{ cmd = { "sh", "-c", "echo something else; sleep 30" }, cols = 40 }
    t:wait_for("something")
    local ok, err = pcall(t.wait_for, t, "never%-there", 0.2)
    assert.is_false(ok)
    assert.matches('timed out after 0.2 s waiting for "never%%%-there"; last screen:\n'
      .. ("-"):rep(40) .. "\nsomething else\n" .. ("-"):rep(40), err)
    ok = pcall(t.wait_for, t, function(s) return s == "" end, 0.1)
    assert.is_false(ok)
  end)

  it("waits with a predicate function", function()
    local t = start{ cmd = { "sh", "-c", "echo one; echo two; sleep 30" } }
    local screen = t:wait_for(function(s) return select(2, s:gsub("\n", "")) == 1 end)
    assert.equal("one\ntwo", screen)
  end)

  it("kills the server idempotently", function()
    local t = start{ cmd = { "sleep", "30" } }
    local pid = t:pid()
    assert.is_true(t:kill())
    assert.is_true(t:kill())
    local ok = os.execute("tmux -S " .. t.socket .. " -f /dev/null has-session 2>/dev/null")
    assert.is_falsy(ok)
    assert.is_nil(io.open(t.socket))
    local alive
    for _ = 1, 40 do
      alive = os.execute("kill -0 " .. pid .. " 2>/dev/null")
      if not alive then break end
      os.execute("sleep 0.05")
    end
    assert.is_falsy(alive)
  end)

  it("uses one server per instance", function()
    local a = start{ cmd = { "sleep", "30" } }
    local b = start{ cmd = { "sleep", "30" } }
    assert.are_not.equal(a.socket, b.socket)
    assert.matches("/dockerpty%-tmux%-%d+%-%d+$", a.socket)
    a:kill()
    assert.is_number(b:pid())
  end)
end)

describe("core.raw() in a real terminal #tty", function()
  it("enters raw mode, reads a key unechoed, and restores the terminal", function()
    local t = start{ cmd = { "lua5.4", "spec/support/term_helper.lua" }, rows = 24, cols = 100 }
    local screen = t:wait_for("PRESS")
    assert.matches("COOKED icanon echo isig iexten opost icrnl ixon\n", screen, 1, true)
    assert.matches("RAW %-icanon %-echo %-isig %-iexten %-opost %-icrnl %-ixon\n", screen)
    assert.matches("FLAGS icanon=0 echo=0 isig=0 vmin=1 vtime=0 israw=true\n", screen, 1, true)
    -- ISIG off: C-c is a byte, not SIGINT; ECHO off: nothing echoed
    t:keys("C-c")
    screen = t:wait_for("TYPE")
    assert.matches("PRESS\nGOT 3\nRESTORED ok=true err=nil stty%-g%-same=true bytes%-same=true israw=false\n"
      .. "COOKED icanon echo isig iexten opost icrnl ixon\nTYPE$", screen)
    -- cooked again: typed text is echoed and read as a line
    t:send("back to normal")
    t:wait_for("TYPE\nback to normal$")
    t:keys("Enter")
    -- (two CI runs timed out here: the helper exited right after its last line
    -- and tmux dropped the line, the echoed Enter with it; now it waits)
    screen = t:wait_for("BYE", 15)
    assert.matches("TYPE\nback to normal\nLINE %[back to normal%]\nBYE", screen)
    t:keys("Enter")
    assert.equal(0, t:wait_exit())
  end)
end)
