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
local core = dockerpty.core

local function one(container, mib, track, text)
  local operation = require("dockerpty.operation")
  local pty = require("dockerpty.pty")
  local client = dockerpty.client.from_env()
  local path = os.tmpname()
  local out = assert(io.open(path, "w"))
  local exec = client:exec_create(container, { "cat", text }, { stdin = false, tty = true })
  local op = operation.ExecOperation.created(client, exec, { tty = true, stdin = false },
    { stdout = out, stdin = false })
  op.tracks_modes = function() return track end
  local t0 = core.now()
  local ok, how, code = pty.PseudoTerminal.new(client, op):start()
  local wall = (core.now() - t0) / 1000
  local size = out:seek("end")
  out:close()
  os.remove(path)
  assert(ok and how == "exit" and code == 0 and size >= mib * 1048576, "exec failed")
  print(("%s %.4f"):format(track and "on" or "off", mib / wall))
end

if arg[1] == "one" then
  return one(arg[2], tonumber(arg[3]), arg[4] == "1", arg[5])
end

local container, mib, pairs_ = arg[1], tonumber(arg[2] or 256), tonumber(arg[3] or 9)
assert(container, "usage: modes_pair.lua CONTAINER [MIB] [PAIRS]")
local text = "/tmp/dockerpty-modes-pair.txt"
-- the line of modes_cost.lua: about one ESC in 9 bytes
local make = ("l=$(printf '\\033[?25l\\033[1;32muser@host\\033[0m:\\033[1;34m~/src\\033[0m$ " ..
  "ls -l caf\\303\\251 cr\\303\\250me \\033[?25h\\r'); yes \"$l\" | head -c %d > %s"):format(
  mib * 1048576, text)
local client = dockerpty.client.from_env()
assert(select(2, dockerpty.exec_command(client, container, { "sh", "-c", make },
  { stdin = false, tty = false, stdout = false })) == "exit", "cannot make the text")
local me = ("%s %q one %q %d"):format(arg[-1] or "lua5.4", arg[0], container, mib)
local ratios = {}
for i = 1, pairs_ do
  local a, b = i % 2, 1 - i % 2
  local p = io.popen(("{ %s %d %s & %s %d %s & wait; }"):format(me, a, text, me, b, text))
  local got = {}
  for way, rate in p:read("a"):gmatch("(%a+) ([%d.]+)") do got[way] = tonumber(rate) end
  p:close()
  assert(got.on and got.off, "a side failed")
  ratios[i] = got.on / got.off
  print(("pair %d: tracked %.1f, not tracked %.1f MiB/s, ratio %.3f"):format(i, got.on, got.off,
    ratios[i]))
end
dockerpty.exec_command(client, container, { "rm", "-f", text }, { stdin = false, tty = false })
client:close()
table.sort(ratios)
local n = #ratios
local med = n % 2 == 1 and ratios[(n + 1) / 2] or (ratios[n / 2] + ratios[n / 2 + 1]) / 2
print(("tracked/not tracked, side by side: %.3f (%.3f-%.3f) of %d pairs"):format(med, ratios[1],
  ratios[n], n))
