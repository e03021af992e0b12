-- term_spec.lua: the terminal primitives of dockerpty.core (src/term.c) on
-- pty pairs from openpty (of the specs' own module, dockerpty_test), so no
-- real terminal is needed.
-- The saved termios come back byte for byte, raw mode is exactly cfmakeraw's
-- flag set, a fd that is not a terminal fails cleanly, and O_NONBLOCK is as
-- it was (docs/protocol.md, "Terminal").
local core = require("dockerpty.core")
local tc = require("dockerpty_test")

local T = core.termios

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

-- A pty pair closed at the end of the test.
local function pty(rows, cols)
  local m, s = assert(tc.openpty(rows, cols))
  defer(function() tc.close(s); tc.close(m) end)
  return m, s
end

-- The /dev/pts path of an fd of this process.
local function ttyname(fd)
  local p = assert(io.popen("readlink /proc/" .. tc.getpid() .. "/fd/" .. fd))
  local path = p:read("l")
  p:close()
  assert.matches("^/dev/pts/%d+$", path)
  return path
end

-- Run stty on the terminal at path (a separate process); asserts success.
local function stty(path, args)
  local ok = os.execute("stty -F " .. path .. " " .. args .. " 2>/dev/null")
  assert.is_true(ok, "stty " .. args)
end

local IMASK = T.IGNBRK | T.BRKINT | T.PARMRK | T.ISTRIP | T.INLCR | T.IGNCR | T.ICRNL | T.IXON
local OMASK = T.OPOST
local LMASK = T.ECHO | T.ECHONL | T.ICANON | T.ISIG | T.IEXTEN
local CMASK = T.CSIZE | T.PARENB

describe("core.termios", function()
  it("holds the raw-mode flag bits as distinct non-zero integers", function()
    local names = {
      iflag = { "IGNBRK", "BRKINT", "PARMRK", "ISTRIP", "INLCR", "IGNCR", "ICRNL", "IXON" },
      oflag = { "OPOST" },
      lflag = { "ECHO", "ECHONL", "ICANON", "ISIG", "IEXTEN" },
      cflag = { "CSIZE", "PARENB" },
    }
    for _, list in pairs(names) do
      local seen = 0
      for _, n in ipairs(list) do
        assert.is_true(math.type(T[n]) == "integer" and T[n] > 0, n)
        assert.equal(0, seen & T[n], n .. " overlaps")
        seen = seen | T[n]
      end
    end
    assert.equal(T.CS8, T.CSIZE & T.CS8)
  end)
end)

describe("core.raw()", function()
  it("clears exactly the cfmakeraw flags and sets CS8, VMIN=1, VTIME=0", function()
    local _, s = pty()
    -- Set every bit raw mode clears, so each clearing is observable; keep
    -- unrelated bits as the pty has them. (Linux ptys refuse cs7 and parenb:
    -- the pty driver forces CS8 and clears PARENB, so cflag is checked as is.)
    stty(ttyname(s), "ignbrk brkint parmrk istrip inlcr igncr icrnl ixon opost"
      .. " echo echonl icanon isig iexten min 5 time 3")
    local before = assert(tc.termflags(s))
    assert.equal(IMASK, before.iflag & IMASK)
    assert.equal(OMASK, before.oflag & OMASK)
    assert.equal(LMASK, before.lflag & LMASK)
    assert.equal(T.CS8, before.cflag & CMASK)
    assert.equal(5, before.vmin)
    assert.equal(3, before.vtime)

    local state = assert(core.raw(s))
    defer(function() state:restore() end)
    local after = assert(tc.termflags(s))
    assert.equal(before.iflag & ~IMASK, after.iflag)
    assert.equal(before.oflag & ~OMASK, after.oflag)
    assert.equal(before.lflag & ~LMASK, after.lflag)
    assert.equal((before.cflag & ~CMASK) | T.CS8, after.cflag)
    assert.equal(1, after.vmin)
    assert.equal(0, after.vtime)
  end)

  it("keeps bits outside the raw set (ONLCR, IUTF8, ECHOE, CREAD)", function()
    local _, s = pty()
    stty(ttyname(s), "onlcr iutf8 echoe cread")
    local state = assert(core.raw(s))
    defer(function() state:restore() end)
    local after = assert(tc.termflags(s))
    assert.equal(T.ONLCR, after.oflag & T.ONLCR)
    assert.equal(T.IUTF8, after.iflag & T.IUTF8)
    assert.equal(T.ECHOE, after.lflag & T.ECHOE)
    assert.equal(T.CREAD, after.cflag & T.CREAD)
  end)

  it("does not change O_NONBLOCK", function()
    local _, s = pty()
    assert.is_false(core.nonblock(s))
    local a = assert(core.raw(s))
    assert.is_false(core.nonblock(s))
    a:restore()
    core.nonblock(s, true)
    local b = assert(core.raw(s))
    assert.is_true(core.nonblock(s))
    b:restore()
  end)

  it("accepts a Lua file handle", function()
    local _, s = pty()
    local f = assert(io.open(ttyname(s), "r+"))
    defer(function() f:close() end)
    local before = assert(tc.tcgetattr(f))
    local state = assert(core.raw(f))
    assert.equal(core.fileno(f), state:fd())
    assert.are_not.equal(s, state:fd())
    assert.equal(0, tc.termflags(s).lflag & T.ICANON)
    assert.is_true(state:restore())
    assert.equal(before, tc.tcgetattr(s))
  end)

  it("fails on a pipe with nil, message, ENOTTY", function()
    local r, w = tc.pipe()
    defer(function() tc.close(r); tc.close(w) end)
    local ok, msg, name, errno = core.raw(r)
    assert.is_nil(ok)
    assert.equal("tcgetattr: Inappropriate ioctl for device", msg)
    assert.equal("ENOTTY", name)
    assert.is_nil(errno)
  end)

  it("fails on a bad fd with EBADF", function()
    local ok, msg, name, errno = core.raw(987654)
    assert.is_nil(ok)
    assert.equal("tcgetattr: Bad file descriptor", msg)
    assert.equal("EBADF", name)
    assert.is_nil(errno)
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() core.raw("x") end,
      "bad argument #1 to 'raw' (file or fd expected, got string)")
    assert.has_error(function() core.raw() end,
      "bad argument #1 to 'raw' (file or fd expected, got no value)")
    assert.has_error(function() core.raw(-1) end,
      "bad argument #1 to 'raw' (invalid fd)")
    local f = assert(io.tmpfile())
    f:close()
    assert.has_error(function() core.raw(f) end,
      "bad argument #1 to 'raw' (attempt to use a closed file)")
  end)
end)

describe("TermState", function()
  it("restores the identical termios bytes", function()
    local _, s = pty()
    stty(ttyname(s), "-echoctl ixany min 2 time 7")
    local before = assert(tc.tcgetattr(s))
    local state = assert(core.raw(s))
    assert.are_not.equal(before, tc.tcgetattr(s))
    assert.is_true(state:restore())
    assert.equal(before, tc.tcgetattr(s))
  end)

  it("restores idempotently", function()
    local _, s = pty()
    local before = assert(tc.tcgetattr(s))
    local state = assert(core.raw(s))
    assert.is_true(state:israw())
    assert.equal(s, state:fd())
    assert.is_true(state:restore())
    assert.is_false(state:israw())
    local raw2 = assert(core.raw(s))   -- raw again: a second restore must not undo it
    defer(function() raw2:restore() end)
    assert.is_true(state:restore())
    assert.equal(0, tc.termflags(s).lflag & T.ICANON)
    assert.is_true(raw2:restore())
    assert.equal(before, tc.tcgetattr(s))
  end)

  it("reports the first restore's error once, then returns true", function()
    local m, s = assert(tc.openpty())
    defer(function() tc.close(m) end)
    local state = assert(core.raw(s))
    tc.close(s)
    local ok, msg, name, errno = state:restore()
    assert.is_nil(ok)
    assert.equal("tcsetattr: Bad file descriptor", msg)
    assert.equal("EBADF", name)
    assert.is_nil(errno)
    assert.is_false(state:israw())
    assert.is_true(state:restore())
  end)

  it("restores when an error unwinds a <close> scope", function()
    local _, s = pty()
    local before = assert(tc.tcgetattr(s))
    local seen
    local ok, err = pcall(function()
      local state <close> = assert(core.raw(s))
      seen = state
      assert.are_not.equal(before, tc.tcgetattr(s))
      error("boom", 0)
    end)
    assert.is_false(ok)
    assert.equal("boom", err)
    assert.is_false(seen:israw())
    assert.equal(before, tc.tcgetattr(s))
  end)

  it("restores at the end of a <close> scope", function()
    local _, s = pty()
    local before = assert(tc.tcgetattr(s))
    do
      local state <close> = assert(core.raw(s))
      assert.is_true(state:israw())
    end
    assert.equal(before, tc.tcgetattr(s))
  end)

  it("restores from __gc", function()
    local _, s = pty()
    local before = assert(tc.tcgetattr(s))
    local function leak()
      local state = assert(core.raw(s))
      assert.is_true(state:israw())
    end
    leak()
    assert.are_not.equal(before, tc.tcgetattr(s))
    collectgarbage()
    collectgarbage()
    assert.equal(before, tc.tcgetattr(s))
  end)

  it("restores O_NONBLOCK to what it was before raw()", function()
    local _, s = pty()
    core.nonblock(s, true)
    local a = assert(core.raw(s))
    core.nonblock(s, false)
    assert.is_true(a:restore())
    assert.is_true(core.nonblock(s))

    core.nonblock(s, false)
    local b = assert(core.raw(s))
    core.nonblock(s, true)
    assert.is_true(b:restore())
    assert.is_false(core.nonblock(s))
  end)

  it("formats with tostring", function()
    local _, s = pty()
    local state = assert(core.raw(s))
    assert.matches("^dockerpty%.TermState %(0x%x+%)$", tostring(state))
    state:restore()
    assert.equal("dockerpty.TermState (restored)", tostring(state))
  end)

  it("raises on use after restore and on a wrong self", function()
    local _, s = pty()
    local state = assert(core.raw(s))
    state:restore()
    assert.has_error(function() state:fd() end,
      "attempt to use a restored dockerpty.TermState")
    assert.has_error(function() state.restore({}) end,
      "bad argument #1 to 'restore' (dockerpty.TermState expected, got table)")
    assert.has_error(function() state.israw(nil) end,
      "bad argument #1 to 'israw' (dockerpty.TermState expected, got nil)")
  end)
end)

describe("core.isatty()", function()
  it("is true on both ends of a pty and false on a pipe and a file", function()
    local m, s = pty()
    assert.is_true(core.isatty(m))
    assert.is_true(core.isatty(s))
    local r, w = tc.pipe()
    defer(function() tc.close(r); tc.close(w) end)
    assert.is_false(core.isatty(r))
    assert.is_false(core.isatty(w))
    local f = assert(io.tmpfile())
    defer(function() f:close() end)
    assert.is_false(core.isatty(f))
    assert.is_false(core.isatty(987654))
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() core.isatty({}) end,
      "bad argument #1 to 'isatty' (file or fd expected, got table)")
  end)
end)

describe("core.getwinsize() and tc.setwinsize()", function()
  it("round-trips a size set on the master", function()
    local m, s = pty()
    assert.is_true(tc.setwinsize(m, 33, 101))
    assert.same({ 33, 101 }, { core.getwinsize(s) })
    assert.same({ 33, 101 }, { core.getwinsize(m) })
    assert.is_true(tc.setwinsize(s, 1, 65535))
    assert.same({ 1, 65535 }, { core.getwinsize(m) })
  end)

  it("starts with the size given to openpty, or 0x0", function()
    local _, s = pty(20, 70)
    assert.same({ 20, 70 }, { core.getwinsize(s) })
    local _, s2 = pty()
    assert.same({ 0, 0 }, { core.getwinsize(s2) })
  end)

  it("fails on a pipe with nil, message, ENOTTY", function()
    local r, w = tc.pipe()
    defer(function() tc.close(r); tc.close(w) end)
    assert.same({ nil, "ioctl: Inappropriate ioctl for device", "ENOTTY" },
      { core.getwinsize(r) })
    assert.same({ nil, "ioctl: Inappropriate ioctl for device", "ENOTTY" },
      { tc.setwinsize(w, 10, 10) })
  end)

  it("raises on bad arguments", function()
    local m = pty()
    assert.has_error(function() tc.setwinsize(m, -1, 80) end,
      "bad argument #2 to 'setwinsize' (out of range)")
    assert.has_error(function() tc.setwinsize(m, 24, 65536) end,
      "bad argument #3 to 'setwinsize' (out of range)")
    assert.has_error(function() tc.setwinsize(m, 24) end,
      "bad argument #3 to 'setwinsize' (number expected, got no value)")
    assert.has_error(function() tc.setwinsize(m, "a", 1) end,
      "bad argument #2 to 'setwinsize' (number expected, got string)")
    assert.has_error(function() core.getwinsize(nil) end,
      "bad argument #1 to 'getwinsize' (file or fd expected, got nil)")
    assert.has_error(function() tc.openpty(10) end,
      "bad argument #2 to 'openpty' (number expected, got no value)")
  end)
end)

describe("tc.tcgetattr() and tc.termflags()", function()
  it("return the whole struct termios and its flag words", function()
    local _, s = pty()
    local bytes = assert(tc.tcgetattr(s))
    assert.is_true(#bytes >= 4 * 4 + 1 + 19)
    assert.equal(bytes, tc.tcgetattr(s))
    local fl = assert(tc.termflags(s))
    local iflag = string.unpack("=I4", bytes, 1)
    assert.equal(iflag, fl.iflag)
    assert.equal(string.unpack("=I4", bytes, 13), fl.lflag)
    stty(ttyname(s), "-echo")
    assert.are_not.equal(bytes, tc.tcgetattr(s))
    assert.equal(0, tc.termflags(s).lflag & T.ECHO)
  end)

  it("fail on a pipe with nil, message, ENOTTY", function()
    local r, w = tc.pipe()
    defer(function() tc.close(r); tc.close(w) end)
    assert.same({ nil, "tcgetattr: Inappropriate ioctl for device", "ENOTTY" },
      { tc.tcgetattr(r) })
    assert.same({ nil, "tcgetattr: Inappropriate ioctl for device", "ENOTTY" },
      { tc.termflags(r) })
  end)
end)

describe("dockerpty_test.openpty()", function()
  it("returns a connected pair of close-on-exec fds", function()
    local m, s = pty()
    for _, fd in ipairs({ m, s }) do
      local fdinfo = assert(io.open("/proc/self/fdinfo/" .. fd))
      local info = fdinfo:read("a")
      fdinfo:close()
      local flags = tonumber(info:match("flags:%s*(%d+)"), 8)
      assert.equal(tonumber("2000000", 8), flags & tonumber("2000000", 8))  -- O_CLOEXEC
    end
    stty(ttyname(s), "raw -echo")
    assert.equal(3, core.write(m, "hi\n"))
    assert.equal("hi\n", core.read(s, 10))
  end)
end)
