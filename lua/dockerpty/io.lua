--- Python dockerpty's `io` module, thin, over the C core: Stream, Demuxer,
-- Pump, select and set_blocking. The byte work happens in C; these are for
-- users who compose their own loop.
-- @module dockerpty.io
local core = require("dockerpty.core")

local M = {}

--- Set an fd or file blocking (true) or non-blocking (false); returns the
-- previous blocking state.
-- @usage local was = dpio.set_blocking(io.stdin, false)
function M.set_blocking(file, blocking)
  local was_nonblock, msg = core.nonblock(file, not blocking)
  if was_nonblock == nil then error("dockerpty: " .. msg, 2) end
  return not was_nonblock
end

local Stream = {}
Stream.__index = Stream
M.Stream = Stream

--- Wrap a file, fd or connection.
-- @usage local s = dpio.Stream.new(conn)
function Stream.new(fd)
  return setmetatable({ fd = fd }, Stream)
end

function Stream:fileno()
  if type(self.fd) == "userdata" and self.fd.getfd then return self.fd:getfd() end
  return core.fileno(self.fd)
end

--- Read up to n bytes: data, or nil, "closed" at EOF, or nil, "timeout".
-- @usage local data, err = s:read(4096)
function Stream:read(n)
  if type(self.fd) == "userdata" and self.fd.recv then
    return self.fd:recv(n or 65536, 0)
  end
  return core.read(self.fd, n or 65536)
end

--- Write data (all of it, retrying while the fd is full).
-- @usage s:write("hello\n")
function Stream:write(data)
  if type(self.fd) == "userdata" and self.fd.send then
    return self.fd:send(data)
  end
  local off = 1
  while off <= #data do
    local n, msg, name = core.write(self.fd, data:sub(off))
    if not n then
      if name ~= "EAGAIN" then return nil, msg, name end
      -- a non-blocking fd that is full: wait until it takes more
      local ok, pmsg, pname = core.poll_fd(core.fileno(self.fd), "w")
      if ok == nil then return nil, pmsg, pname end
    else
      off = off + n
    end
  end
  return #data
end

--- Close a connection (files and fds stay open: they are the caller's).
-- @usage s:close()
function Stream:close()
  if type(self.fd) == "userdata" and self.fd.close then self.fd:close() end
end

local Demuxer = {}
Demuxer.__index = Demuxer
M.Demuxer = Demuxer

--- A demultiplexing reader over a Stream: `read()` returns the next
-- payload piece and its stream (1 or 2).
-- @usage local data, stream = dpio.Demuxer.new(dpio.Stream.new(conn)):read()
function Demuxer.new(stream)
  return setmetatable({ stream = stream, _d = core.demux(), _q = {} }, Demuxer)
end

function Demuxer:fileno()
  return self.stream:fileno()
end

function Demuxer:read(n)
  while #self._q == 0 do
    local data, msg, name = self.stream:read(n)
    if not data then
      if name == "closed" then
        local ok, tmsg = self._d:eof()
        if not ok then return nil, tmsg, "truncated" end
      end
      return nil, msg, name
    end
    local pieces, emsg, ename, partial = self._d:feed(data)
    pieces = pieces or partial
    for _, p in ipairs(pieces) do self._q[#self._q + 1] = p end
    if emsg and #self._q == 0 then return nil, emsg, ename end
  end
  local p = table.remove(self._q, 1)
  return p[2], p[1]
end

local Pump = {}
Pump.__index = Pump
M.Pump = Pump

local function endpoint(x)
  if type(x) == "table" and getmetatable(x) == Stream then return x.fd end
  if type(x) == "table" and getmetatable(x) == Demuxer then return x.stream.fd, true end
  return x
end

--- A pump from a Stream (or Demuxer) to a Stream, as in Python dockerpty:
-- `wait_for_output` (default true) and `propagate_close` (default true:
-- the destination is half-closed at EOF).
-- @usage local p = dpio.Pump.new(dpio.Stream.new(io.stdin), dpio.Stream.new(conn), false)
function Pump.new(from, to, wait_for_output, propagate_close)
  local src, demux = endpoint(from)
  local p = core.pump{
    from = src, to = endpoint(to), demux = demux or false,
    wait_for_output = wait_for_output ~= false,
    on_eof = propagate_close == false and "none" or "shutdown",
  }
  return setmetatable({ from_stream = from, to_stream = to, _pump = p }, Pump)
end

--- The core pump, to add to a core loop.
-- @usage core.loop():add(p:handle()):run()
function Pump:handle()
  return self._pump
end

--- Move what is ready now; returns true while the pump is not finished.
-- @usage while p:flush() do end
function Pump:flush()
  -- one loop per pump, stepped (never blocks): no loop built per flush
  if not self._lp then self._lp = core.loop():add(self._pump) end
  self._lp:step()
  local st = self._pump:status()
  return st == "running" or st == "flushing"
end

function Pump:is_done()
  local st = self._pump:status()
  return st ~= "running" and st ~= "flushing"
end

--- Run several pumps in one loop until those that wait for output are
-- done, or timeout_ms passes. Returns the loop's result.
-- @usage dpio.select({ p_in, p_out }, 1000)
function M.select(pumps, timeout_ms)
  local lp = core.loop()
  for _, p in ipairs(pumps) do lp:add(p._pump or p) end
  return lp:run(timeout_ms)
end

return M
