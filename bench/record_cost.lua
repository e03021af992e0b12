--- bench/record_cost.lua: what recording costs a tty stream. Runs a tty
-- exec printing N MiB in a running container three ways, interleaved,
-- and prints MiB/s and CPU s/GiB for each:
--   fd      the core writes the output to a file (no Lua per chunk)
--   lua     a Lua sink writes each chunk to the file
--   record  the same Lua sink, plus dockerpty.record to a second file
--
--   lua5.4 bench/record_cost.lua CONTAINER [MIB] [REPS] [text|zero]
local dockerpty = require("dockerpty")
local record = require("dockerpty.record")

local container, mib = arg[1], tonumber(arg[2] or 64)
local reps, kind = tonumber(arg[3] or 3), arg[4] or "text"
assert(container, "usage: record_cost.lua CONTAINER [MIB] [REPS] [text|zero]")
local client = dockerpty.client.from_env()

-- The container prints mib MiB: zeros, or lines of text with escapes and
-- accents (what a terminal gets), from one line repeated by the shell.
local line = "\27[1;32muser@host\27[0m:~/src$ ls -l caf\195\169 cr\195\168me na\195\175ve \226\130\172 42\r"
local cmd = kind == "zero"
  and ("dd if=/dev/zero bs=1M count=%d 2>/dev/null"):format(mib)
  or ("yes %q | head -c %d"):format(line, mib * 1048576)

local function cpu()
  local f = io.open("/proc/self/stat")
  local s = f:read("a")
  f:close()
  local fields = {}
  for x in s:match("%) (.*)"):gmatch("%S+") do fields[#fields + 1] = x end
  return (tonumber(fields[12]) + tonumber(fields[13])) / 100   -- utime + stime, in ticks of 1/100 s
end

local function once(how)
  local out = assert(io.open("/tmp/record_cost.out", "w"))
  local rec, sink
  if how == "fd" then
    sink = out
  else
    if how == "record" then rec = record.open("/tmp/record_cost.cast", { width = 80, height = 24 }) end
    sink = function(chunk)
      if chunk then out:write(chunk) end
      if rec then rec:output(chunk) end
    end
  end
  local s = dockerpty.session.exec(client, container, { "sh", "-c", cmd }, { tty = true, stdout = sink })
  local t0, c0 = dockerpty.core.now(), cpu()
  local r = dockerpty.session.run_all({ s }, { timeout = 600000 })[1]
  local wall, used = (dockerpty.core.now() - t0) / 1000, cpu() - c0
  if rec then rec:close() end
  local size = out:seek("end")
  out:close()
  assert(r.how == "exit" and r.code == 0, "exec failed")
  return wall, used, size
end

local results = { fd = {}, lua = {}, record = {} }
for rep = 1, reps do
  for _, how in ipairs({ "fd", "lua", "record" }) do
    local wall, used, size = once(how)
    results[how][rep] = { mib / wall, used / (mib / 1024) }
    io.stderr:write(("rep %d %-6s %6.2f s %6.2f CPU s %d bytes\n"):format(rep, how, wall, used, size))
  end
end
local function median(list, k)
  local v = {}
  for i, r in ipairs(list) do v[i] = r[k] end
  table.sort(v)
  return v[(#v + 1) // 2]
end
print(("%d MiB of %s, %d reps (median)"):format(mib, kind, reps))
for _, how in ipairs({ "fd", "lua", "record" }) do
  print(("%-7s %7.1f MiB/s %7.2f CPU s/GiB  ratio to fd %.2f"):format(how, median(results[how], 1),
    median(results[how], 2), median(results[how], 1) / median(results.fd, 1)))
end
client:close()
