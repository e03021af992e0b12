-- spec/support/fakedaemon.lua: a scriptable fake Docker daemon on a unix
-- socket, run in a child process so a spec can talk to it through the real
-- transport (core.connect, core.http) without blocking on itself.
--
-- From a spec:
--   local fake = require("support.fakedaemon")
--   local srv = fake.start({ { {"read_head"}, {"write", "HTTP/1.1 101 UPGRADED\r\n\r\nhi"} } })
--   ... core.connect{ socket = srv.socket } ...
--   local report = srv:wait()        -- the child's record of each connection
--   srv:stop()                       -- kill the child if still running (for finally)
--
-- The script is a list with one entry per connection, played in the order
-- connections are accepted; each entry is a list of steps:
--   {"read_head"}              read a request head (up to the blank line)
--   {"read_request"}           read a head plus a Content-Length body
--   {"read", n}                read exactly n bytes
--   {"read_all"}               read until EOF (the client's shutdown or close)
--   {"write", s, times = n, dribble = ms}
--                              write s (n times); with dribble, one byte at a
--                              time with ms milliseconds between bytes
--   {"sleep", ms}
--   {"shutdown"}               shutdown(SHUT_WR): the client reads EOF
--   {"close"}                  close the connection now
--   {"repeat", n, {steps}}     play steps n times (keep-alive exchanges)
-- Script options (fields of the script table): `timeout` (ms the child lives
-- at most, default 10000), `accept_timeout` (ms to wait for each connection,
-- default: the rest of `timeout`).
--
-- The report is a list, one entry per connection: `requests` (heads and
-- bodies read, in order), `data` (what read_all got), `eof` (read_all saw
-- EOF), `error` (first failure, e.g. "timeout" or "closed"). A report
-- field `accepted` counts connections, `error` a failure outside one.
-- The child prints "ready <pid>" once it listens.
local M = {}

local LUA = os.getenv("LUA") or "lua5.4"
local SELF = debug.getinfo(1, "S").source:match("^@(.*)$")

-- Lua source for a value made of tables, strings, numbers and booleans.
local function serialize(v)
  local t = type(v)
  if t == "string" then
    return ("%q"):format(v)
  elseif t == "number" or t == "boolean" then
    return tostring(v)
  elseif t == "table" then
    local parts = {}
    for k, x in pairs(v) do
      parts[#parts + 1] = "[" .. serialize(k) .. "]=" .. serialize(x)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot serialize a " .. t)
end
M.serialize = serialize

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function shq(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- {================ parent side ================

local Server = {}
Server.__index = Server

--- Start a fake daemon playing `script`; returns a server with `.socket`.
function M.start(script)
  local base = os.tmpname()
  os.remove(base)
  local self = setmetatable({
    socket = base .. ".sock",
    script = base .. ".script",
    report = base .. ".report",
  }, Server)
  write_file(self.script, "return " .. serialize(script))
  -- SIGPIPE ignored (kept across exec): a client that goes away makes a
  -- write fail with EPIPE instead of killing the child.
  self.pipe = assert(io.popen(("trap '' PIPE; exec %s %s %s %s %s"):format(LUA, shq(SELF), shq(self.socket),
    shq(self.script), shq(self.report)), "r"))
  local line = self.pipe:read("l")
  local pid = line and line:match("^ready (%d+)$")
  if not pid then
    local rest = self.pipe:read("a") or ""
    self.pipe:close()
    self.pipe = nil
    os.remove(self.script)
    error("fake daemon did not start: " .. tostring(line) .. rest)
  end
  self.pid = tonumber(pid)
  return self
end

--- Wait for the child to finish its script; returns the report.
function Server:wait()
  if self.result then return self.result end
  if self.pipe then
    self.pipe:read("a")
    self.pipe:close()
    self.pipe = nil
  end
  local f = loadfile(self.report, "t", {})
  self.result = f and f() or { error = "no report" }
  os.remove(self.report)
  os.remove(self.script)
  os.remove(self.socket)
  return self.result
end

--- Stop the child if it still runs, then clean up (for `finally`).
function Server:stop()
  if self.pipe and self.pid then
    os.execute("kill " .. self.pid .. " 2>/dev/null")
  end
  return self:wait()
end

-- }=============================================

-- {================ child side =================

local function child(socket, scriptfile, reportfile)
  local build = os.getenv("DP_BUILD") or "build"
  if build:sub(1, 1) ~= "/" then build = "./" .. build end
  package.cpath = build .. "/?.so;" .. package.cpath
  local core = require("dockerpty.core")
  local tc = require("dockerpty_test")
  local script = assert(loadfile(scriptfile, "t", {}))()
  local deadline = core.now() + (script.timeout or 10000)
  local report = { accepted = 0 }

  local function save()
    write_file(reportfile, "return " .. serialize(report))
  end

  local lfd, msg = tc.listen_unix(socket)
  if not lfd then
    io.stdout:write("error ", msg, "\n")
    return 1
  end
  io.stdout:write("ready ", tc.getpid(), "\n")
  io.stdout:flush()

  local function left()
    return deadline - core.now()
  end

  -- A connection: a non-blocking fd read with a 2 ms retry (no poll here).
  local function play(fd, steps, rec)
    local buf = ""

    local function fill()
      while true do
        local s, err = core.read(fd, 65536)
        if s then
          buf = buf .. s
          return true
        elseif err == "timeout" then
          if left() <= 0 then error("timeout", 0) end
          core.sleep(2)
        elseif err == "closed" then
          return false
        else
          error(err, 0)
        end
      end
    end

    local function take(n)
      local s = buf:sub(1, n)
      buf = buf:sub(n + 1)
      return s
    end

    local function read_head()
      while true do
        local _, stop = buf:find("\r?\n\r?\n")
        if stop then return take(stop) end
        if not fill() then error("closed", 0) end
      end
    end

    local function read_n(n)
      while #buf < n do
        if not fill() then error("closed", 0) end
      end
      return take(n)
    end

    local function write(s)
      local off = 1
      while off <= #s do
        local n, err, name = core.write(fd, s:sub(off))
        if n then
          off = off + n
        elseif name == "EAGAIN" then
          if left() <= 0 then error("timeout", 0) end
          core.sleep(2)
        else
          error(err, 0)
        end
      end
    end

    local function run(list)
      for _, step in ipairs(list) do
        local op = step[1]
        if op == "read_head" then
          rec.requests[#rec.requests + 1] = read_head()
        elseif op == "read_request" then
          local head = read_head()
          local len = tonumber(head:lower():match("\ncontent%-length:%s*(%d+)")) or 0
          rec.requests[#rec.requests + 1] = head .. read_n(len)
        elseif op == "read" then
          rec.requests[#rec.requests + 1] = read_n(step[2])
        elseif op == "read_all" then
          while fill() do end
          rec.data, rec.eof = take(#buf), true
        elseif op == "write" then
          for _ = 1, step.times or 1 do
            if step.dribble then
              for i = 1, #step[2] do
                write(step[2]:sub(i, i))
                core.sleep(step.dribble)
              end
            else
              write(step[2])
            end
          end
        elseif op == "sleep" then
          core.sleep(step[2])
        elseif op == "shutdown" then
          assert(tc.shutdown(fd))
        elseif op == "close" then
          return "closed"
        elseif op == "repeat" then
          for _ = 1, step[2] do
            if run(step[3]) == "closed" then return "closed" end
          end
        else
          error("unknown step " .. tostring(op), 0)
        end
      end
    end

    return run(steps)
  end

  for i, steps in ipairs(script) do
    local wait = script.accept_timeout or left()
    local fd, err = tc.accept(lfd, math.max(wait, 0))
    if not fd then
      report.error = ("connection %d: accept: %s"):format(i, err)
      break
    end
    report.accepted = i
    core.nonblock(fd, true)
    local rec = { requests = {} }
    report[i] = rec
    local ok, perr = pcall(play, fd, steps, rec)
    if not ok then rec.error = tostring(perr) end
    tc.close(fd)
    save()
  end
  tc.close(lfd)
  save()
  return 0
end

-- }=============================================

if arg and arg[0] and arg[0]:match("fakedaemon%.lua$") and select("#", ...) == 3 then
  os.exit(child(...))
end

return M
