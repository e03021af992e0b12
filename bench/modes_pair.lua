--- bench/modes_pair.lua: figure 8 side by side (issue 14). Two tty execs
-- of the same text run at the same time, one with the modes tracked and one
-- without, each in its own process, so that what the daemon's tty path does
-- meanwhile falls on both; which one starts first alternates. Run by hand:
--
--   lua5.4 bench/modes_pair.lua CONTAINER [MIB] [PAIRS]
--
-- Prints each pair's tracked/not tracked MiB/s and their median (min-max).
-- A caveat: the one that ends first leaves the daemon to the other for the
-- rest, which narrows the pair's ratio toward 1.
-- One side, when called with "one": lua5.4 bench/modes_pair.lua one C MIB 0|1 FILE
local dockerpty = require("dockerpty")
local text = dofile((arg[0]:match("^(.*)/") or ".") .. "/modes_text.lua")

if arg[1] == "one" then
  local container, mib, track, path = arg[2], tonumber(arg[3]), arg[4] == "1", arg[5]
  local client = dockerpty.client.from_env()
  local out = os.tmpname()
  local wall = text.once(client, container, path, mib, track, out)
  os.remove(out)
  print(("%s %.4f"):format(track and "on" or "off", mib / wall))
  return
end

local container, mib, pairs_ = arg[1], tonumber(arg[2] or 256), tonumber(arg[3] or 9)
assert(container, "usage: modes_pair.lua CONTAINER [MIB] [PAIRS]")
local TEXT = "/tmp/dockerpty-modes-pair.txt"
local client = dockerpty.client.from_env()
text.make(client, container, mib, TEXT)
local me = ("%s %q one %q %d"):format(arg[-1] or "lua5.4", arg[0], container, mib)
local ratios = {}
for i = 1, pairs_ do
  local a, b = i % 2, 1 - i % 2
  local p = io.popen(("{ %s %d %s & %s %d %s & wait; }"):format(me, a, TEXT, me, b, TEXT))
  local got = {}
  for way, rate in p:read("a"):gmatch("(%a+) ([%d.]+)") do got[way] = tonumber(rate) end
  p:close()
  assert(got.on and got.off, "a side failed")
  ratios[i] = got.on / got.off
  print(("pair %d: tracked %.1f, not tracked %.1f MiB/s, ratio %.3f"):format(i, got.on, got.off,
    ratios[i]))
end
text.remove(client, container, TEXT)
client:close()
table.sort(ratios)
local n = #ratios
local med = n % 2 == 1 and ratios[(n + 1) / 2] or (ratios[n / 2] + ratios[n / 2 + 1]) / 2
print(("tracked/not tracked, side by side: %.3f (%.3f-%.3f) of %d pairs"):format(med, ratios[1],
  ratios[n], n))
