-- spec/vtmodes_spec.lua: the terminal mode tracker core.vtmodes(): the DEC
-- private modes, keypad and SGR state a remote program leaves on, seen in
-- its output however it is split, and the sequences that turn them off.
local core = require("dockerpty.core")

local ESC = "\27"

local function csi(s) return ESC .. "[" .. s end

-- Modes and undo after feeding `chunks` (a string or a list) to a new tracker.
local function track(chunks)
  local vt = core.vtmodes()
  if type(chunks) == "string" then chunks = { chunks } end
  for _, c in ipairs(chunks) do vt:feed(c) end
  return vt:modes(), vt:undo(), vt
end

local function visible(s)
  return (s:gsub("\27", "ESC"))
end

-- Every tracked mode: how it is set and reset, and what undo() writes.
local MODES = {
  { "mouse_any", csi("?1003h"), csi("?1003l"), csi("?1003l") },
  { "mouse_btn", csi("?1002h"), csi("?1002l"), csi("?1002l") },
  { "mouse_vt200", csi("?1000h"), csi("?1000l"), csi("?1000l") },
  { "mouse_x10", csi("?9h"), csi("?9l"), csi("?9l") },
  { "mouse_sgr", csi("?1006h"), csi("?1006l"), csi("?1006l") },
  { "mouse_urxvt", csi("?1015h"), csi("?1015l"), csi("?1015l") },
  { "mouse_utf8", csi("?1005h"), csi("?1005l"), csi("?1005l") },
  { "focus", csi("?1004h"), csi("?1004l"), csi("?1004l") },
  { "paste", csi("?2004h"), csi("?2004l"), csi("?2004l") },
  { "keypad", ESC .. "=", ESC .. ">", ESC .. ">" },
  { "cursor_keys", csi("?1h"), csi("?1l"), csi("?1l") },
  { "cursor_hidden", csi("?25l"), csi("?25h"), csi("?25h") },
  { "sgr", csi("1m"), csi("m"), csi("m") },
  { "alt_screen", csi("?1049h"), csi("?1049l"), csi("?1049l") },
}

-- A long stream touching every mode, text and other sequences in between.
local MIXED = "hello " .. csi("?1049h") .. csi("2J") .. csi("H") .. csi("?1;1000;1006h") ..
  ESC .. "]0;a title\7" .. csi("?25l") .. ESC .. "=" .. csi("38;5;0m") .. "text" ..
  csi("?2004h") .. csi("?1004h") .. ESC .. "(B" .. csi("10;20H") .. csi("?1002h") ..
  csi("4:3m") .. csi("?1003;1005;1015h") .. csi("?9h") .. csi("?1000l") .. "\r\n"

describe("vtmodes", function()
  it("starts with nothing on and undoes nothing", function()
    local modes, undo, vt = track("plain text\r\n")
    assert.same({}, modes)
    assert.equal("", undo)
    assert.is_false(vt:dirty())
  end)

  for _, m in ipairs(MODES) do
    local name, set, reset, undo = m[1], m[2], m[3], m[4]
    it("tracks " .. name .. " (" .. visible(set) .. ", " .. visible(reset) .. ")", function()
      local modes, u, vt = track("x" .. set .. "y")
      assert.same({ name }, modes)
      assert.equal(undo, u)
      assert.is_true(vt:dirty())
      modes, u, vt = track({ set, "text", reset })
      assert.same({}, modes)
      assert.equal("", u)
      assert.is_false(vt:dirty())
    end)
  end

  it("leaves the alternate screen as it was entered (?1049, ?1047, ?47)", function()
    for _, n in ipairs({ "1049", "1047", "47" }) do
      local modes, undo = track(csi("?" .. n .. "h"))
      assert.same({ "alt_screen" }, modes)
      assert.equal(csi("?" .. n .. "l"), undo)
    end
    -- one alternate screen: leaving it by any of the three leaves it
    assert.same({}, (track(csi("?1049h") .. csi("?47l"))))
    assert.equal(csi("?1047l"), select(2, track(csi("?47h") .. csi("?1047h"))))
  end)

  it("tracks keypad mode set by DECNKM (?66) too", function()
    assert.same({ "keypad" }, (track(csi("?66h"))))
    assert.same({}, (track(csi("?66h") .. ESC .. ">")))
    assert.same({}, (track(ESC .. "=" .. csi("?66l"))))
  end)

  it("reads every mode of a multi-parameter sequence", function()
    local modes, undo = track(csi("?1049;1000;1006;25;2004h") .. csi("?25;2004;7;12l"))
    assert.same({ "mouse_vt200", "mouse_sgr", "cursor_hidden", "alt_screen" }, modes)
    assert.equal(csi("?1000l") .. csi("?1006l") .. csi("?25h") .. csi("?1049l"), undo)
  end)

  it("undoes in order: mouse, encodings, focus, paste, keypad, cursor keys, cursor, SGR, alt screen last", function()
    local all = {}
    for i = #MODES, 1, -1 do all[#all + 1] = MODES[i][2] end   -- set in reverse order
    local modes, undo = track(table.concat(all))
    local names, want = {}, {}
    for i, m in ipairs(MODES) do names[i] = m[1]; want[i] = m[4] end
    assert.same(names, modes)
    assert.equal(table.concat(want), undo)
    assert.equal(93, #undo)
    -- what undo() writes turns everything off
    assert.same({}, (track(undo)))
  end)

  it("sees a sequence split at every byte position, and one byte at a time", function()
    local want_modes, want_undo = track(MIXED)
    assert.same({ "mouse_any", "mouse_btn", "mouse_x10", "mouse_sgr", "mouse_urxvt", "mouse_utf8",
      "focus", "paste", "keypad", "cursor_keys", "cursor_hidden", "sgr", "alt_screen" }, want_modes)
    for i = 0, #MIXED do
      local modes, undo = track({ MIXED:sub(1, i), MIXED:sub(i + 1) })
      assert.same(want_modes, modes, "split at " .. i)
      assert.equal(want_undo, undo, "split at " .. i)
    end
    local bytes = {}
    for i = 1, #MIXED do bytes[i] = MIXED:sub(i, i) end
    local bm, bu = track(bytes)
    assert.same({ want_modes, want_undo }, { bm, bu })
    -- and split in three around the longest sequence
    local s = csi("?1003;1005;1015h")
    for i = 1, #s - 1 do
      for j = i + 1, #s do
        assert.same({ "mouse_any", "mouse_urxvt", "mouse_utf8" },
          (track({ s:sub(1, i), s:sub(i + 1, j), s:sub(j + 1) })))
      end
    end
  end)

  it("follows the SGR state: reset by 0 or no parameter, per attribute, colour values skipped", function()
    local function sgr_on(s) return track(s)[1] == "sgr" end
    assert.is_true(sgr_on(csi("1m")))
    assert.is_false(sgr_on(csi("1m") .. csi("m")))
    assert.is_false(sgr_on(csi("1m") .. csi("0m")))
    assert.is_false(sgr_on(csi("1;31;0m")))
    assert.is_true(sgr_on(csi("0;1m")))
    assert.is_false(sgr_on(csi("1;4;31;44m") .. csi("22;24;39;49m")))
    assert.is_true(sgr_on(csi("1;4;31;44m") .. csi("22;24;39m")))
    assert.is_true(sgr_on(csi("38;5;0m")))          -- the 0 is a colour, not a reset
    assert.is_true(sgr_on(csi("48;2;0;0;0m")))
    assert.is_false(sgr_on(csi("38;5;0;0m")))       -- colour, then a reset
    assert.is_false(sgr_on(csi("38;2;1;2;3;0m")))
    assert.is_false(sgr_on(csi("38:2::1:2:3m") .. csi("39m")))
    assert.is_true(sgr_on(csi("4:3m")))             -- curly underline
    assert.is_false(sgr_on(csi("4:3m") .. csi("4:0m")))
    assert.is_false(sgr_on(csi("7m") .. csi("27m")))
    assert.is_false(sgr_on(csi("53;11m") .. csi("55;10m")))
    assert.is_false(sgr_on(csi("1000m") .. csi("99m")))  -- no such attribute
    assert.is_true(sgr_on(csi("31m") .. csi("?0m")))     -- a private 'm' is no SGR
    assert.is_true(sgr_on(csi("31m") .. csi("0 m")))     -- nor one with an intermediate
  end)

  it("turns everything off at a full reset (ESC c)", function()
    assert.same({}, (track(MIXED .. ESC .. "c")))
    assert.same({ "paste" }, (track(MIXED .. ESC .. "c" .. csi("?2004h"))))
  end)

  it("ignores malformed and cancelled sequences as a terminal does", function()
    assert.same({}, (track(csi("?1049 h"))))            -- an intermediate: another function
    assert.same({}, (track(csi("1?1049h"))))            -- a marker after a parameter
    assert.same({}, (track(csi(">1049h"))))             -- another private marker
    assert.same({}, (track(csi("?1049\24h"))))          -- CAN cancels
    assert.same({}, (track(csi("?1049\26h"))))          -- SUB cancels
    assert.same({}, (track(csi("?1049") .. "\200h")))   -- a high byte ends it
    assert.same({}, (track(csi("1049h"))))              -- ANSI mode, not DEC private
    assert.same({ "cursor_hidden" }, (track(csi("?10") .. csi("?25l"))))   -- ESC restarts
    assert.same({ "alt_screen" }, (track(csi("?10\r\n49h"))))   -- C0 inside is executed
    assert.same({ "alt_screen" }, (track(ESC .. "\27[?1049h")))
    assert.same({}, (track(ESC .. " " .. "=")))         -- ESC SP = is not DECKPAM
    assert.same({ "keypad" }, (track(ESC .. "\n=")))
  end)

  it("keeps bounded state for long and huge parameters", function()
    assert.same({ "alt_screen" }, (track(csi("?" .. string.rep("7;", 200000) .. "1049h"))))
    assert.same({}, (track(csi("?" .. string.rep("9", 100000) .. "h"))))
    assert.same({ "alt_screen" }, (track(csi("?" .. string.rep("0", 100000) .. "1049h"))))
    assert.same({}, (track(csi("?1049" .. string.rep("0", 50) .. "h"))))
    assert.same({ "sgr" }, (track(csi(string.rep("1;", 100000) .. "1m"))))
    assert.same({}, (track(csi(string.rep("1;", 100000) .. "m"))))   -- an empty last one is 0
    assert.same({}, (track(csi("4" .. string.rep(":0", 100000) .. "m"))))
    assert.same({ "sgr" }, (track(csi("4:3" .. string.rep(":0", 100000) .. "m"))))
    local split = {}
    for i = 1, 1000 do split[i] = "7;" end
    split[1] = csi("?")
    split[#split + 1] = "1049h"
    assert.same({ "alt_screen" }, (track(split)))
  end)

  it("never leaves a mode on after its own undo, for any bytes in any chunks", function()
    local seed = 12345
    local function rnd(n)
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    end
    local pieces = { "\27", "[", "?", ";", ":", "1049", "1000", "1006", "25", "2004", "1", "h", "l",
      "m", "=", ">", "c", "38", "5", "2", "0", " ", "\24", "\n", "x", "\200", "47", "9", "66" }
    for _ = 1, 300 do
      local t = {}
      for i = 1, rnd(60) + 1 do t[i] = pieces[rnd(#pieces) + 1] end
      local s = table.concat(t)
      local modes, undo, vt = track(s)
      assert.equal(#modes > 0, vt:dirty())
      assert.equal(#modes > 0, undo ~= "")
      local cut = rnd(#s + 1)
      local cm, cu = track({ s:sub(1, cut), s:sub(cut + 1) })
      assert.same({ modes, undo }, { cm, cu })
      -- one byte at a time, no sequence is ever whole in a chunk: the byte
      -- machine alone reads what the fast path read in the whole string
      local bytes = {}
      for i = 1, #s do bytes[i] = s:sub(i, i) end
      local bm, bu = track(bytes)
      assert.same({ modes, undo }, { bm, bu }, visible(s))
      vt:feed(undo)
      assert.same({}, vt:modes(), visible(s))
    end
  end)

  it("reads long chunks as the byte machine reads them one byte at a time", function()
    -- chunks of kilobytes: the part before a chunk's last ESC is read by
    -- the mode search and the backward SGR reading, not in order
    local seed = 4242
    local function rnd(n)
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    end
    local pieces = { csi("0m"), csi("m"), csi("1m"), csi("22m"), csi("31m"), csi("39m"),
      csi("1;32m"), csi("38;5;196m"), csi("48;2;1;2;3m"), csi("4:0m"), csi("4:3m"), csi("7m"),
      csi("27m"), csi("?25l"), csi("?25h"), csi("?1049h"), csi("?1049l"), csi("?1000;1006h"),
      csi("?1000l"), csi("?2004h"), csi("?2004l"), csi("?47h"), ESC .. "=", ESC .. ">", ESC .. "c",
      csi("2J"), csi("10;20H"), csi(">4;1m"), csi("?1;2$p"), ESC .. "]0;t\7", csi("\n1m"),
      csi("\0241m"), "caf\195\169 ", "text and more text ", "\r\n", ESC, csi(""), csi("?") }
    for _ = 1, 40 do
      local t = {}
      for i = 1, 200 + rnd(800) do t[i] = pieces[rnd(#pieces) + 1] end
      local s = table.concat(t)
      local whole, bytes = core.vtmodes(), core.vtmodes()
      local pos = 1
      while pos <= #s do
        local n = 1 + rnd(3000)
        local chunk = s:sub(pos, pos + n - 1)
        whole:feed(chunk)
        for i = 1, #chunk do bytes:feed(chunk:sub(i, i)) end
        assert.same(bytes:modes(), whole:modes(), visible(s:sub(1, pos + n - 1)))
        assert.equal(bytes:undo(), whole:undo())
        pos = pos + n
      end
      -- the SGR attributes, group by group: one turned off shows what was
      -- on besides it (one group a string, chosen at random)
      local off = ({ "22", "23", "24", "25", "27", "28", "29", "39", "49" })[rnd(9) + 1]
      whole:feed(csi(off .. "m"))
      bytes:feed(csi(off .. "m"))
      assert.same(bytes:modes(), whole:modes(), visible(s) .. " then " .. off)
    end
  end)

  it("resets to nothing on", function()
    local vt = core.vtmodes():feed(MIXED)
    assert.equal(vt, vt:reset())
    assert.same({}, vt:modes())
    assert.equal("", vt:undo())
  end)

  it("names its type", function()
    local vt = core.vtmodes()
    assert.matches("^dockerpty%.VtModes %(0x%x+%)$", tostring(vt))
    assert.has.error(function() vt.feed(nil, "x") end,
      "bad argument #1 to 'feed' (dockerpty.VtModes expected, got nil)")
    assert.has.error(function() vt:feed(nil) end,
      "bad argument #1 to 'feed' (string expected, got nil)")
  end)
end)

-- A real terminal: tmux's own pane flags before and after undo().
describe("vtmodes undo in a real terminal #tty", function()
  local tmux = require("support.tmux")

  local FLAGS = "#{alternate_on} #{mouse_any_flag} #{cursor_flag}"
  local MORE = "kp=#{keypad_flag} ck=#{keypad_cursor_flag} std=#{mouse_standard_flag} " ..
    "btn=#{mouse_button_flag} all=#{mouse_all_flag} sgr=#{mouse_sgr_flag} utf8=#{mouse_utf8_flag}"

  -- A program that prints BEFORE, then `set` and SET; shows the first line
  -- typed (%q); at the next one prints its tracker's undo() and UNDONE,
  -- then shows the line after that.
  local function program(set)
    return ([[
      local core = require("dockerpty.core")
      local set = %q
      io.write("BEFORE\n", set, "SET\n"); io.flush()
      io.write(("GOT %%q\n"):format(io.read("l"))); io.flush()
      io.read("l")
      local vt = core.vtmodes():feed(set)
      io.write(vt:undo(), "UNDONE\n"); io.flush()
      io.write(("GOT %%q\n"):format(io.read("l"))); io.flush()
      io.read("l")
    ]]):format(set)
  end

  local function paste(t, text)
    t:command("set-buffer", "-b", "p", text)
    t:command("paste-buffer", "-p", "-d", "-b", "p", "-t", "dp")
    t:keys("Enter")
  end

  local function run(set)
    local t = tmux.new{ cmd = { "lua5.4", "-e", program(set) } }
    finally(function() t:kill() end)
    t:wait_for("SET")
    return t
  end

  it("turns off the alternate screen, mouse, paste, keypad, cursor keys, hidden cursor and SGR", function()
    local E = "\27"
    local set = E .. "[?1049h" .. E .. "[?1000h" .. E .. "[?1006h" .. E .. "[?1005h" .. E .. "[?2004h" ..
      E .. "=" .. E .. "[?1h" .. E .. "[?25l" .. E .. "[?1004h" .. E .. "[1;31m"
    local t = run(set)
    -- on, as the pane sees it
    assert.equal("1 1 0", t:_format(FLAGS))
    assert.equal("kp=1 ck=1 std=1 btn=0 all=0 sgr=1 utf8=1", t:_format(MORE))
    assert.matches("\27%[1m\27%[31mSET", t:command("capture-pane", "-e", "-p", "-t", "dp"))
    paste(t, "pasted")
    assert.matches('GOT "\\27%[200~pasted\\27%[201~"', t:wait_for("GOT"))
    -- off after undo()
    t:keys("Enter")
    local screen = t:wait_for("UNDONE")
    assert.equal("0 0 1", t:_format(FLAGS))
    assert.equal("kp=0 ck=0 std=0 btn=0 all=0 sgr=0 utf8=0", t:_format(MORE))
    -- back on the main screen, as it was, and no attribute left on
    assert.matches("^BEFORE\nUNDONE", screen)
    local cap = t:command("capture-pane", "-e", "-p", "-t", "dp")
    assert.matches("^BEFORE\nUNDONE\n", cap)
    paste(t, "pasted")
    assert.matches('GOT "pasted"', t:wait_for("GOT"))
  end)

  for _, c in ipairs({
    { "\27[?1049h\27[?1002h\27[?25l", "1 1 0", "btn=1" },
    { "\27[?1049h\27[?1003h\27[?25l", "1 1 0", "all=1" },
    { "\27[?47h", "1 0 1", "all=0" },
    { "\27[?1047h\27[?1000h", "1 1 1", "std=1" },
  }) do
    local set, before, flag = c[1], c[2], c[3]
    it("undoes " .. visible(set), function()
      local t = run(set)
      assert.equal(before, t:_format(FLAGS))
      assert.matches(flag, t:_format(MORE), 1, true)
      t:keys("Enter")
      t:wait_for("GOT")
      t:keys("Enter")
      local screen = t:wait_for("UNDONE")
      assert.equal("0 0 1", t:_format(FLAGS))
      assert.equal("kp=0 ck=0 std=0 btn=0 all=0 sgr=0 utf8=0", t:_format(MORE))
      -- the main screen again: what the alternate one showed is gone
      assert.matches("^BEFORE\n", screen)
      assert.is_nil(screen:find("SET", 1, true))
    end)
  end
end)
