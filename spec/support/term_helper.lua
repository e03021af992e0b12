-- spec/support/term_helper.lua: run inside a real terminal (tmux) by
-- spec/tmux_spec.lua. Enters core.raw(io.stdin), reports what stty and
-- core.termflags see, reads one key unechoed, restores, and shows that the
-- terminal is back (stty -g and tcgetattr bytes identical, line input
-- echoed again). Markers are upper-case words the spec waits for.
local core = require("dockerpty.core")
local tc = require("dockerpty_test")
local T = core.termios

-- Output of a shell command whose stdin is our terminal.
local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a"):gsub("%s+$", "")
  p:close()
  return out
end

-- The stty -a settings among names, as stty prints them ("-icanon").
local function sttyflags(names)
  local seen = {}
  for word in sh("stty -a"):gmatch("%S+") do
    seen[word:gsub(";$", "")] = true
  end
  local out = {}
  for _, n in ipairs(names) do
    if seen["-" .. n] then
      out[#out + 1] = "-" .. n
    elseif seen[n] then
      out[#out + 1] = n
    else
      out[#out + 1] = "?" .. n
    end
  end
  return table.concat(out, " ")
end

local NAMES = { "icanon", "echo", "isig", "iexten", "opost", "icrnl", "ixon" }

local before_g = sh("stty -g")
local before = assert(tc.tcgetattr(io.stdin))
io.write("COOKED ", sttyflags(NAMES), "\n")

local state = assert(core.raw(io.stdin))
local fl = tc.termflags(io.stdin)
-- OPOST is off: "\n" no longer returns the carriage, so write "\r\n".
io.write("RAW ", sttyflags(NAMES), "\r\n")
io.write(("FLAGS icanon=%d echo=%d isig=%d vmin=%d vtime=%d israw=%s\r\n"):format(
  fl.lflag & T.ICANON, fl.lflag & T.ECHO, fl.lflag & T.ISIG, fl.vmin, fl.vtime,
  tostring(state:israw())))
io.write("PRESS\r\n")
io.flush()
local key = io.stdin:read(1)
io.write("GOT ", string.byte(key), "\r\n")
io.flush()

local ok, err = state:restore()
local after_g = sh("stty -g")
io.write(("RESTORED ok=%s err=%s stty-g-same=%s bytes-same=%s israw=%s\n"):format(
  tostring(ok), tostring(err), tostring(after_g == before_g),
  tostring(tc.tcgetattr(io.stdin) == before), tostring(state:israw())))
io.write("COOKED ", sttyflags(NAMES), "\n")
io.write("TYPE\n")
io.flush()
-- A read that fails or meets end-of-file says so ("LINE [nil] ..."), and the
-- exit status then tells it apart from a line read.
local line, rerr = io.read("l")
io.write("LINE [", tostring(line), "]", line and "" or (" read: " .. tostring(rerr)), "\n")
-- Exit only once the spec has seen that line (it presses Enter then): tmux
-- can drop what a pane's program wrote just before it exited.
io.write("BYE\n")
io.flush()
io.read("l")
os.exit(after_g == before_g and line and 0 or 1)
