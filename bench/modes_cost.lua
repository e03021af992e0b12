--- bench/modes_cost.lua: what tracking the terminal modes costs a tty
-- stream (figure 8). A tty exec in a running container prints MIB MiB of
-- terminal text (colours, a cursor hidden and shown on every line) through
-- the pseudo-terminal, the output pump writing to a file, two ways,
-- interleaved (off on off on ...):
--   off  the output pump as without a local terminal (no tracking)
--   on   the same pump with `track_modes`, as with a raw local terminal
-- The local side is a file, not a terminal, so that no terminal emulator's
-- cost is measured: the pump's option is set as a raw session sets it.
-- Prints one Lua table: per way, MiB/s and CPU s/GiB of each repetition.
--
--   lua5.4 bench/modes_cost.lua CONTAINER [MIB] [REPS]
local dockerpty = require("dockerpty")
local text = dofile((arg[0]:match("^(.*)/") or ".") .. "/modes_text.lua")

local container, mib, reps = arg[1], tonumber(arg[2] or 64), tonumber(arg[3] or 7)
assert(container, "usage: modes_cost.lua CONTAINER [MIB] [REPS]")
local client = dockerpty.client.from_env()
local OUT = os.tmpname()
local TEXT = "/tmp/dockerpty-modes-cost.txt"
text.make(client, container, mib, TEXT)

-- CPU time of this (single-threaded) process in seconds, to the ns: the
-- first field of /proc/self/schedstat (/proc/self/stat counts 10 ms ticks).
local function cpu()
  local f = io.open("/proc/self/schedstat")
  local s = f:read("a")
  f:close()
  return tonumber(s:match("^(%d+)")) / 1e9
end

local function once(track)
  local c0 = cpu()
  local wall = text.once(client, container, TEXT, mib, track, OUT)
  return mib / wall, (cpu() - c0) / (mib / 1024)
end

local res = { off = { rate = {}, cpu = {} }, on = { rate = {}, cpu = {} } }
once(false)   -- warm-up: the image's pages, the daemon's caches
-- ABBA order (off on, on off, ...): a drift over the run, or a cost the
-- previous run leaves behind (its output file's writeback), falls on both ways
for rep = 1, reps do
  for _, way in ipairs(rep % 2 == 1 and { "off", "on" } or { "on", "off" }) do
    local rate, c = once(way == "on")
    res[way].rate[rep], res[way].cpu[rep] = rate, c
    io.stderr:write(("modes_cost rep %d %-3s %7.1f MiB/s %6.2f CPU s/GiB\n"):format(rep, way, rate, c))
  end
end
os.remove(OUT)
text.remove(client, container, TEXT)
client:close()
local function list(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = ("%.4f"):format(v) end
  return "{ " .. table.concat(s, ", ") .. " }"
end
print(("return { off = { rate = %s, cpu = %s }, on = { rate = %s, cpu = %s } }"):format(
  list(res.off.rate), list(res.off.cpu), list(res.on.rate), list(res.on.cpu)))
