-- spec/support/frames_server.lua: a one-connection server for the zero
-- copy specs. Listens on PATH, prints "ready", accepts one connection,
-- writes the bytes of FILE to it (in pieces of at most 100,000 bytes,
-- pausing PAUSE_MS after each when given), then closes it and exits.
--   lua5.4 spec/support/frames_server.lua PATH FILE [PAUSE_MS]
local core = require("dockerpty.core")
local tc = require("dockerpty_test")

local path, file, pause = arg[1], arg[2], tonumber(arg[3] or "0")
local f = assert(io.open(file, "rb"))
local data = f:read("a")
f:close()
local lfd = assert(tc.listen_unix(path))
io.stdout:write("ready\n")
io.stdout:flush()
local fd = assert(tc.accept(lfd, 10000))
local off = 0
while off < #data do
  local n = assert(core.write(fd, data:sub(off + 1, off + 100000)))
  off = off + n
  if pause > 0 then core.sleep(pause) end
end
tc.close(fd)
tc.close(lfd)
os.remove(path)
