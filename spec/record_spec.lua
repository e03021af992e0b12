-- spec/record_spec.lua: dockerpty.record writes asciicast v2 that a JSON
-- parser and Debian's asciinema read back.
local cjson = require("cjson")
local errors = require("dockerpty.errors")
local record = require("dockerpty.record")

local function tmpname()
  local p = os.tmpname()
  finally(function() os.remove(p) end)
  return p
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Every line of a recording, parsed; raises on a line that is not JSON.
local function parse(text)
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do
    local ok, v = pcall(cjson.decode, line)
    assert(ok, "not JSON: " .. line)
    lines[#lines + 1] = v
  end
  assert.equal("\n", text:sub(-1))
  return lines
end

-- A recorder into a list of lines, with a clock the test moves.
local function collector(info)
  local lines, now = {}, { t = 100 }
  info = info or {}
  info.clock = function() return now.t end
  local rec = record.open(function(line) lines[#lines + 1] = line end, info)
  return rec, lines, now
end

local function events(lines)
  local out = {}
  for i = 2, #lines do out[#out + 1] = cjson.decode(lines[i]) end
  return out
end

local function output_of(lines)
  local t = {}
  for _, e in ipairs(events(lines)) do
    if e[2] == "o" then t[#t + 1] = e[3] end
  end
  return table.concat(t)
end

describe("dockerpty.record", function()
  it("writes the asciicast v2 header with the terminal size, time, command, TERM and SHELL", function()
    local path = tmpname()
    local before = os.time()
    local rec = record.open(path, { width = 132, height = 43, command = { "sh", "-c", "echo 'hi there'" } })
    rec:close()
    local text = read(path)
    local h = parse(text)[1]
    assert.matches('^{[^\n]*"timestamp": %d+[,}]', text)   -- an integer, not 1.7e9
    assert.equal(2, h.version)
    assert.equal(132, h.width)
    assert.equal(43, h.height)
    assert.is_true(h.timestamp >= before and h.timestamp <= os.time())
    assert.equal([[sh -c 'echo '\''hi there'\''']], h.command)
    assert.same({ TERM = os.getenv("TERM"), SHELL = os.getenv("SHELL") }, h.env)
    local keys = {}
    for k in pairs(h) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "command", "env", "height", "timestamp", "version", "width" }, keys)
  end)

  it("takes the header's env, timestamp and a string command from info; 80x24 by default", function()
    local _, lines = collector({ env = { TERM = "xterm-256color", SHELL = "/bin/zsh", HOME = "/x" },
      timestamp = 1700000000, command = "bash -l" })
    assert.same({ version = 2, width = 80, height = 24, timestamp = 1700000000, command = "bash -l",
      env = { TERM = "xterm-256color", SHELL = "/bin/zsh" } }, cjson.decode(lines[1]))
  end)

  it("leaves TERM and SHELL out of env when the process has neither (none is made up)", function()
    local path = tmpname()
    local code = ("require([[dockerpty.record]]).open([[%s]], { width = 80, height = 24 }):close()"):format(path)
    local cmd = ("env -u TERM -u SHELL LUA_PATH='%s' LUA_CPATH='%s' lua5.4 -e '%s'"):format(package.path,
      package.cpath, code)
    assert.is_true(os.execute(cmd))
    local text = read(path)
    assert.matches(', "env": {}}\n$', text)
    assert.same({}, parse(text)[1].env)
  end)

  it("writes output, resize and (with record_input) input events, seconds from the start", function()
    local rec, lines, now = collector({ record_input = true })
    now.t = 100.25
    rec:output("$ ")
    now.t = 101.5
    rec:input("ls\r")
    now.t = 102.000001
    rec:resize(100, 30)
    rec:output("")
    rec:close()
    assert.same({ { 0.25, "o", "$ " }, { 1.5, "i", "ls\r" }, { 2.000001, "r", "100x30" } }, events(lines))
    assert.equal('[0.250000, "o", "$ "]', lines[2])
  end)

  it("records no input without record_input", function()
    local rec, lines = collector()
    rec:input("secret\r")
    rec:output("ok")
    rec:close()
    assert.same({ { 0, "o", "ok" } }, events(lines))
  end)

  it("never splits a multi-byte character across two events, at any byte position", function()
    local text = "aé€𝄞zΩ"  -- 1-, 2-, 3- and 4-byte characters
    for i = 0, #text do
      for j = i, #text do
        local rec, lines = collector()
        rec:output(text:sub(1, i))
        rec:output(text:sub(i + 1, j))
        rec:output(text:sub(j + 1))
        rec:close()
        for _, e in ipairs(events(lines)) do
          assert.is_truthy(utf8.len(e[3]), ("split %d,%d: event %q is not UTF-8"):format(i, j, e[3]))
          assert.is_not.equal("", e[3])
        end
        assert.equal(text, output_of(lines))
      end
    end
  end)

  it("holds split characters per stream, so stderr does not break a stdout character", function()
    local rec, lines = collector()
    rec:output("caf\195", "stdout")
    rec:output("err\n", "stderr")
    rec:output("\169!", "stdout")
    rec:close()
    assert.same({ "caf", "err\n", "é!" }, { events(lines)[1][3], events(lines)[2][3], events(lines)[3][3] })
  end)

  it("turns each invalid byte into U+FFFD", function()
    local cases = {
      { "a\255b", "a\u{FFFD}b" },
      { "\128x", "\u{FFFD}x" },                                   -- lone continuation byte
      { "\192\175", "\u{FFFD}\u{FFFD}" },                         -- overlong '/'
      { "\237\160\128", "\u{FFFD}\u{FFFD}\u{FFFD}" },             -- surrogate U+D800
      { "\244\144\128\128", "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}" }, -- past U+10FFFF
      { "\226\130A", "\u{FFFD}\u{FFFD}A" },                       -- truncated, then ASCII
      { "\248\136\128\128\128", ("\u{FFFD}"):rep(5) },            -- 5-byte form
    }
    for _, c in ipairs(cases) do
      local rec, lines = collector()
      rec:output(c[1])
      rec:close()
      assert.equal(c[2], output_of(lines))
    end
  end)

  it("gives what a byte-by-byte reference gives for random bytes cut anywhere", function()
    -- the reference: Lua's strict utf8.len, one U+FFFD per byte it rejects
    local function reference(b)
      local out, i = {}, 1
      while i <= #b do
        local ok, bad = utf8.len(b, i)
        if ok then out[#out + 1] = b:sub(i); break end
        out[#out + 1] = b:sub(i, bad - 1) .. "\u{FFFD}"
        i = bad + 1
      end
      return table.concat(out)
    end
    local rnd = 4242
    local function random(n)
      rnd = (rnd * 1103515245 + 12345) % 2147483648
      return rnd % n + 1
    end
    -- bytes biased to UTF-8 leads, continuations and edge values
    local pool = { 0, 9, 10, 13, 27, 34, 47, 65, 92, 127, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1,
      0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF }
    for _ = 1, 400 do
      local b = {}
      for k = 1, random(40) do b[k] = string.char(pool[random(#pool)]) end
      b = table.concat(b)
      local rec, lines = collector()
      local i = 1
      while i <= #b do
        local j = math.min(#b, i + random(6) - 1)
        rec:output(b:sub(i, j))
        i = j + 1
      end
      rec:close()
      for _, e in ipairs(events(lines)) do assert.is_truthy(utf8.len(e[3]), ("%q"):format(b)) end
      assert.equal(reference(b), output_of(lines), ("%q"):format(b))
    end
  end)

  it("turns a character left incomplete at the end into U+FFFD, at close or at the stream's EOF", function()
    local rec, lines = collector()
    rec:output("x\226\130")
    rec:close()
    assert.same({ { 0, "o", "x" }, { 0, "o", "\u{FFFD}\u{FFFD}" } }, events(lines))
    rec, lines = collector()
    local sink = rec:sink("stderr")
    sink("y\240\159")
    sink(nil)
    rec:output("z")
    assert.same({ { 0, "o", "y" }, { 0, "o", "\u{FFFD}\u{FFFD}" }, { 0, "o", "z" } }, events(lines))
  end)

  it("escapes every control character, and the text decodes to the bytes written", function()
    local ctl = {}
    for b = 0, 31 do ctl[#ctl + 1] = string.char(b) end
    ctl[#ctl + 1] = "\127\"\\/"
    local text = table.concat(ctl) .. "\27[1;31mred\27[0m\r\n"
    local path = tmpname()
    local rec = record.open(path, {})
    rec:output(text)
    rec:close()
    local raw = read(path)
    local line = raw:match("\n(.-)\n$")
    assert.is_nil(line:find("%c"))
    assert.truthy(line:find("\\u001b[1;31mred\\u001b[0m\\r\\n", 1, true))
    assert.equal(text, parse(raw)[2][3])
  end)

  it("writes each event as it comes: a killed process leaves every event up to it", function()
    local path = tmpname()
    local script = ([[
      local record = require("dockerpty.record")
      local tc = require("dockerpty_test")
      local rec = record.open(%q, { width = 80, height = 24 })
      rec:output("first\r\n")
      rec:resize(90, 30)
      rec:output("last é")
      os.execute("kill -9 " .. tc.getpid())
    ]]):format(path)
    local cmd = ("LUA_PATH=%q LUA_CPATH=%q lua5.4 -e %q"):format(package.path, package.cpath, script)
    local _, how, code = os.execute("exec >/dev/null 2>&1; " .. cmd)
    assert.same({ "exit", 137 }, { how, code })    -- it was killed, not ended
    local lines = parse(read(path))
    assert.equal(4, #lines)
    assert.same({ "first\r\n", "90x30", "last é" }, { lines[2][3], lines[3][3], lines[4][3] })
  end)

  it("flushes, and leaves open, a file it was given", function()
    local path = tmpname()
    local f = assert(io.open(path, "w"))
    local rec = record.open(f, {})
    rec:output("one")
    assert.equal(2, #parse(read(path)))
    rec:close()
    rec:close()
    assert.equal("file", io.type(f))
    f:write("")
    f:close()
    assert.matches("^dockerpty.Recorder %(closed%)$", tostring(rec))
    assert.has_error(function() rec:output("x") end, "attempt to use a closed recorder")
  end)

  it("fails on a path it cannot write, naming it, and creates nothing", function()
    local cases = {
      { "/nonexistent-dp-dir/demo.cast", "No such file or directory" },
      { "/sys/demo.cast", "Permission denied" },   -- sysfs: not even root creates files there
      { "/tmp", "Is a directory" },
    }
    for _, c in ipairs(cases) do
      local ok, e = pcall(record.open, c[1], {})
      assert.is_false(ok)
      assert.is_true(errors.is(e))
      assert.equal("usage", e.kind)
      assert.equal(("dockerpty: cannot write the recording %s: %s"):format(c[1], c[2]), e.message)
    end
    assert.is_nil(io.open("/nonexistent-dp-dir"))
  end)

  it("raises argument errors for a bad target or info", function()
    assert.has_error(function() record.open(42) end,
      "bad argument #1 to 'open' (path, file or function expected, got number)")
    assert.has_error(function() record.open(nil) end,
      "bad argument #1 to 'open' (path, file or function expected, got no value)")
    assert.has_error(function() record.open(function() end, "x") end,
      "bad argument #2 to 'open' (table expected, got string)")
    assert.has_error(function() record.open(function() end, { width = 80.5 }) end,
      "bad argument #2 to 'open' (info.width: integer expected, got 80.5)")
    assert.has_error(function() record.open(function() end, { height = "24" }) end,
      "bad argument #2 to 'open' (info.height: integer expected, got string)")
    local f = io.tmpfile()
    f:close()
    assert.has_error(function() record.open(f) end, "bad argument #1 to 'open' (attempt to use a closed file)")
  end)
end)

describe("dockerpty.record with asciinema", function()
  local tmux = require("support.tmux")

  -- Run `asciinema cat` in a real terminal (it opens /dev/tty), its output
  -- into a file; then once more onto the screen, which is returned (the
  -- pane stays alive: tmux may scroll a dead pane's screen) with the bytes.
  local function asciinema_cat(path)
    local out = tmpname()
    local t = tmux.new{ cmd = ("asciinema cat %s > %s && asciinema cat %s && echo END && sleep 60")
      :format(path, out, path), rows = 10, cols = 60, term = "xterm-256color",
      env = { LANG = "C.UTF-8", LC_ALL = "C.UTF-8" } }
    finally(function() t:kill() end)
    local screen = t:wait_for("\nEND$", 20)
    return read(out), screen
  end

  it("plays back in asciinema cat with the same text, accents included #tty", function()
    local path = tmpname()
    local rec = record.open(path, { width = 60, height = 10, command = "sh" })
    local chunks = { "caf", "\195", "\169 cr\195\168me br\195\187l\195\169e\r\n",
      "\27[1mna\195\175ve\27[0m \226\130", "\172 \240\159\152", "\128 done/ok\r\n", "bad\255byte\r\n" }
    for _, c in ipairs(chunks) do rec:output(c) end
    rec:resize(70, 12)
    rec:close()
    local bytes, screen = asciinema_cat(path)
    local expected = table.concat(chunks):gsub("\255", "\u{FFFD}")
    assert.equal(expected, bytes)
    assert.truthy(screen:find("café crème brûlée", 1, true))
    assert.truthy(screen:find("naïve € 😀 done/ok", 1, true))
    assert.truthy(screen:find("bad\u{FFFD}byte", 1, true))
  end)
end)
