-- spec/support/fakeengine.lua: a fake Docker Engine API on a unix socket
-- that the high-level API (dockerpty.start, exec_command, start_exec) can
-- run a whole session against, scripted per spec to misbehave
-- (bad stream input, daemon faults). It runs in a child process and serves
-- any number of connections at once (one coroutine each): the kept-alive
-- REST connection, the wait and the hijacks.
--
-- From a spec:
--   local fe = require("support.fakeengine")
--   local srv = fe.start{ container = { Tty = false }, attach = { {"write", fe.frame(1, "hi")},
--     {"emit", "exit"}, {"close"} } }
--   local client = dockerpty.client.new{ host = srv.host, version = "1.41" }
--   ... dockerpty.start(client, "c1", opts) ...
--   local report = srv:report()   -- what the fake saw so far
--   srv:stop()                    -- kill the child (idempotent, for finally)
--
-- Script fields (all optional):
--   container  inspect fields: Tty, OpenStdin, StdinOnce, Running, Paused,
--              Restarting (default: all false)
--   exit_code  the container's StatusCode and the exec's ExitCode (0)
--   exec       { tty =, open_stdin = } for exec inspect (false, false)
--   attach     steps played on the attach connection after its head
--              (default: emit "exit", close)
--   attach_head  the head written first (default: a 101 raw-stream head)
--   exec_start, exec_head  the same for POST /exec/ID/start
--   wait       steps for the wait connection after its 200 head (default:
--              await "exit", then the chunked {"StatusCode": exit_code};
--              fe.chunked(body) makes such an answer)
--   respond    { ["METHOD /path"] = steps or {status =, body =} }: replaces
--              the answer to a REST request (path without /vN.NN and query)
--   timeout    ms the child lives at most (default 60000)
--   delay      ms every answer waits before its first byte (a slow daemon)
-- Events: "started" (POST start), "exit" (sets Running false; the wait
-- answers, exec inspect reports the exit), "killed" (POST kill), and any
-- name a step emits.
--
-- Steps:
--   {"write", s, dribble = ms, times = n}  write s (n times), or one byte
--                              at a time with ms between bytes
--   {"sleep", ms}              {"emit", name}     {"await", name}
--   {"shutdown"}               SHUT_WR: the client reads EOF
--   {"close"}                  close the connection
--   {"die"}                    the daemon dies: every connection and the
--                              listener close at once (the child exits)
--   {"stop_reading"}           stop reading what the client sends (stdin)
--   {"await_stdin", s}         wait until the stdin received contains s
--   {"await_eof"}              wait until the client half-closes or closes
--   {"hang"}                   do nothing until the client closes
-- What the client sends on a hijacked connection is read (and recorded as
-- that hijack's stdin) whenever the step list waits, unless stop_reading.
--
-- The report: `requests` ({method =, path =, query =, body =, target =
-- (as sent, with the version), headers = {lower-cased name = value}}, in order),
-- `lines` ("METHOD /path?query"), `hijacks` ({path =, stdin =, eof =}),
-- `events` (set), `accepted` (connections), `open` (connections still
-- open), `errors` (list).
local M = {}

local LUA = os.getenv("LUA") or "lua5.4"
local SELF = debug.getinfo(1, "S").source:match("^@(.*)$")

local function serialize(v)
  local t = type(v)
  if t == "string" then
    return ("%q"):format(v)
  elseif t == "number" or t == "boolean" then
    return ("%q"):format(v)
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

--- A frame of the multiplexed stream: stream type, payload, and optional
-- `len` (the header's length field) and `pad` (three padding bytes).
function M.frame(stream, payload, opts)
  opts = opts or {}
  local pad = opts.pad or { 0, 0, 0 }
  return string.pack(">BBBBI4", stream, pad[1], pad[2], pad[3], opts.len or #payload) .. payload
end

--- A whole chunked body holding `body` (one chunk, then the last), as the
-- wait's answer comes after its head.
function M.chunked(body)
  return ("%x\r\n%s\r\n0\r\n\r\n"):format(#body, body)
end

M.HEAD_101 = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n" ..
  "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
M.HEAD_200 = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"

local function shq(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- {================ parent side ================

local Server = {}
Server.__index = Server

--- Start a fake engine playing `script`; returns a server with `.socket`
-- and `.host` ("unix://...").
function M.start(script)
  local core = require("dockerpty.core")
  local base = os.tmpname()
  os.remove(base)
  local self = setmetatable({ socket = base .. ".sock", scriptfile = base .. ".script" }, Server)
  self.host = "unix://" .. self.socket
  local f = assert(io.open(self.scriptfile, "wb"))
  f:write("return ", serialize(script or {}))
  f:close()
  self.pipe = assert(io.popen(("trap '' PIPE; exec %s %s %s %s"):format(LUA, shq(SELF),
    shq(self.socket), shq(self.scriptfile)), "r"))
  local line = self.pipe:read("l")
  local pid = line and line:match("^ready (%d+)$")
  if not pid then
    local rest = self.pipe:read("a") or ""
    self.pipe:close()
    self.pipe = nil
    os.remove(self.scriptfile)
    error("fake engine did not start: " .. tostring(line) .. rest)
  end
  self.pid = tonumber(pid)
  self._core = core
  return self
end

-- A request of the fake's own (GET /_fake/...): the answer's body.
function Server:_ask(path)
  local core = self._core
  local conn, msg = core.connect{ socket = self.socket, connect_timeout = 2000 }
  if not conn then error("fake engine: " .. msg) end
  assert(conn:send("GET " .. path .. " HTTP/1.1\r\nHost: fake\r\n\r\n", 5000))
  local status, reason = conn:read_head(5000)
  if not status then conn:close(); error("fake engine: " .. tostring(reason)) end
  local body = conn:read_all(5000, 1 << 30)
  conn:close()
  return body
end

--- What the fake has seen so far (see the banner).
function Server:report()
  if self.final then return self.final end
  local body = self:_ask("/_fake/report")
  return assert(load(body, "report", "t", {}))()
end

--- Emit an event from the spec (e.g. "exit").
function Server:emit(name)
  self:_ask("/_fake/emit/" .. name)
end

--- Kill the child if it runs and clean up; returns the last report when
-- one could be read (idempotent).
function Server:stop()
  if self.pipe then
    local ok, rep = pcall(self.report, self)
    if ok then self.final = rep end
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    self.pipe:read("a")
    self.pipe:close()
    self.pipe = nil
    os.remove(self.scriptfile)
    os.remove(self.socket)
  end
  return self.final
end

-- }=============================================

-- {================ session harness ================
-- One whole session of the high-level API (dockerpty.start, start_exec,
-- exec_command) against a fake engine, with a pty pair as the terminal:
--   local r = fe.session(script, { entry = "run" })
--   -- r.ok, r.a, r.b, r.c (results), r.err (error object), r.out, r.errout,
--   -- r.raw_seen, r.same, r.elapsed (ms), r.report (the fake's report)
-- Options: `entry` "run" (dockerpty.start on "c1", the default), "exec"
-- (start_exec on "e1") or "exec_command" ("c1", `command`); `stdin` (what
-- to pass instead of the pty's slave), `input` (bytes typed on the pty
-- before the call), `timeout` (the client's, in seconds), `sink` (a
-- function for stdout instead of collecting), `opts` (more options).
-- `raw_seen`: the terminal was raw when output arrived; `same`: termios
-- and O_NONBLOCK came back identical. What it opens, fe.cleanup() closes
-- (call it from an after_each).

local open = {}

--- Close what the sessions opened: fake engines, clients, pty fds.
function M.cleanup()
  for i = #open, 1, -1 do
    pcall(open[i])
    open[i] = nil
  end
end

--- Register a cleanup function (run by M.cleanup, last first).
function M.defer(fn)
  open[#open + 1] = fn
end

--- Start a fake engine that M.cleanup stops.
function M.fake(script)
  local srv = M.start(script)
  M.defer(function() srv:stop() end)
  return srv
end

--- A client for the fake, closed by M.cleanup.
function M.client(srv, timeout)
  local dockerpty = require("dockerpty")
  local c = dockerpty.client.new{ host = srv.host, version = "1.41", timeout = timeout }
  M.defer(function() c:close() end)
  return c
end

--- A pty pair (master, slave), closed by M.cleanup.
function M.pty()
  local tc = require("dockerpty_test")
  local m, s = assert(tc.openpty(24, 80))
  M.defer(function() tc.close(m); tc.close(s) end)
  return m, s
end

function M.session(script, o)
  local dockerpty = require("dockerpty")
  local core = dockerpty.core
  local tc = require("dockerpty_test")
  o = o or {}
  local srv = M.fake(script)
  local client = M.client(srv, o.timeout)
  local m, s = M.pty()
  local r = { out = {}, errout = {}, raw_seen = false, srv = srv }
  local function watch()
    local fl = tc.termflags(s)
    if fl and fl.lflag & core.termios.ICANON == 0 then r.raw_seen = true end
  end
  local opts = {
    stdin = o.stdin or s,
    stdout = o.sink or function(b) watch(); r.out[#r.out + 1] = b end,
    stderr = function(b) watch(); r.errout[#r.errout + 1] = b end,
  }
  for k, v in pairs(o.opts or {}) do opts[k] = v end
  if o.input then assert(core.write(m, o.input)) end
  local before, nb = tc.tcgetattr(s), core.nonblock(s)
  local t0 = core.now()
  local ok, a, b, c
  if o.entry == "exec" then
    ok, a, b, c = pcall(dockerpty.start_exec, client, "e1", opts)
  elseif o.entry == "exec_command" then
    ok, a, b, c = pcall(dockerpty.exec_command, client, "c1", o.command or "true", opts)
  else
    ok, a, b, c = pcall(dockerpty.start, client, "c1", opts)
  end
  r.elapsed = core.now() - t0
  r.same = tc.tcgetattr(s) == before and core.nonblock(s) == nb
  r.ok = ok
  if ok then r.a, r.b, r.c = a, b, c else r.err = a end
  r.out, r.errout = table.concat(r.out), table.concat(r.errout)
  r.report = srv:stop()
  return r
end

--- The "METHOD /path" lines of a report, without queries.
function M.paths(report)
  local t = {}
  for _, q in ipairs(report.requests) do t[#t + 1] = q.method .. " " .. q.path end
  return t
end

-- }=============================================

-- {================ child side =================

local function child(socket, scriptfile)
  local build = os.getenv("DP_BUILD") or "build"
  if build:sub(1, 1) ~= "/" then build = "./" .. build end
  package.cpath = build .. "/?.so;" .. package.cpath
  local core = require("dockerpty.core")
  local tc = require("dockerpty_test")
  local cjson = require("cjson")
  local script = assert(loadfile(scriptfile, "t", {}))()
  local deadline = core.now() + (script.timeout or 60000)
  local cont = script.container or {}
  local execs = script.exec or {}
  local exit_code = script.exit_code or 0
  local events, running = {}, cont.Running == true
  local report = { requests = {}, lines = {}, hijacks = {}, events = events, accepted = 0,
    errors = {} }
  local progress

  local lfd, msg = tc.listen_unix(socket)
  if not lfd then
    io.stdout:write("error ", msg, "\n")
    return 1
  end
  io.stdout:write("ready ", tc.getpid(), "\n")
  io.stdout:flush()

  local conns = {}
  local function open_conns()
    return #conns
  end

  local function emit(name)
    events[name] = true
    if name == "exit" then running = false end
  end

  local function response(status, body, ctype)
    local reason = ({ [200] = "OK", [201] = "Created", [204] = "No Content", [404] = "Not Found",
      [409] = "Conflict", [500] = "Internal Server Error" })[status] or "Status"
    body = body or ""
    local h = { ("HTTP/1.1 %d %s"):format(status, reason), "Api-Version: 1.41", "Server: fake" }
    if status ~= 204 then
      h[#h + 1] = "Content-Type: " .. (ctype or "application/json")
      h[#h + 1] = "Content-Length: " .. #body
    end
    return table.concat(h, "\r\n") .. "\r\n\r\n" .. body
  end

  local function json(status, t)
    return { { "write", response(status, cjson.encode(t)) } }
  end

  local function inspect_container(id)
    return {
      Id = id, Name = "/fake",
      Config = { Tty = cont.Tty == true, OpenStdin = cont.OpenStdin == true,
        StdinOnce = cont.StdinOnce == true, AttachStdin = cont.OpenStdin == true,
        AttachStdout = true, AttachStderr = true },
      State = { Running = running, Paused = cont.Paused == true,
        Restarting = cont.Restarting == true, ExitCode = running and 0 or exit_code },
    }
  end

  local function inspect_exec(id)
    local exited = events.exit == true
    return { ID = id, Running = events.exec_started == true and not exited,
      ExitCode = exited and exit_code or cjson.null, ProcessConfig = { tty = execs.tty == true },
      OpenStdin = execs.open_stdin == true, OpenStdout = true, OpenStderr = true,
      ContainerID = "c1" }
  end

  local function wait_steps()
    local head = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n" ..
      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    local steps = { { "write", head } }
    local body = cjson.encode({ StatusCode = exit_code, Error = cjson.null }) .. "\n"
    for _, s in ipairs(script.wait or { { "await", "exit" },
        { "write", M.chunked(body) }, { "close" } }) do
      steps[#steps + 1] = s
    end
    return steps
  end

  local function hijack_steps(head, steps, default_head)
    local out = {}
    head = head or default_head
    if head ~= "" then out[1] = { "write", head } end
    for _, s in ipairs(steps or { { "emit", "exit" }, { "close" } }) do out[#out + 1] = s end
    return out
  end

  -- The answer to a request: steps, and the connection's kind afterwards
  -- ("rest" keeps serving requests, "wait" and "hijack" end it).
  local function route(method, path)
    local key = method .. " " .. path
    local r = script.respond and script.respond[key]
    if r then
      if r.status then return { { "write", response(r.status, r.body or "", r.ctype) } }, "rest" end
      return r, "hijack"
    end
    if path == "/_ping" then
      return { { "write", response(200, method == "HEAD" and "" or "OK", "text/plain") } }, "rest"
    end
    local id, rest = path:match("^/containers/([^/]+)(/.*)$")
    if id then
      if method == "GET" and rest == "/json" then return json(200, inspect_container(id)), "rest" end
      if method == "POST" and rest == "/wait" then return wait_steps(), "wait" end
      if method == "POST" and rest == "/attach" then
        return hijack_steps(script.attach_head, script.attach, M.HEAD_101), "hijack"
      end
      if method == "POST" and rest == "/start" then
        running = true
        emit("started")
        return { { "write", response(204) } }, "rest"
      end
      if method == "POST" and rest == "/resize" then
        return { { "write", response(200, "", "text/plain") } }, "rest"
      end
      if method == "POST" and rest == "/kill" then
        emit("killed")
        return { { "write", response(204) } }, "rest"
      end
      if method == "POST" and rest == "/exec" then return json(201, { Id = "e1" }), "rest" end
    end
    local eid, erest = path:match("^/exec/([^/]+)(/.*)$")
    if eid then
      if method == "GET" and erest == "/json" then return json(200, inspect_exec(eid)), "rest" end
      if method == "POST" and erest == "/start" then
        emit("exec_started")
        return hijack_steps(script.exec_head, script.exec_start, M.HEAD_101), "hijack"
      end
      if method == "POST" and erest == "/resize" then
        return { { "write", response(201, "", "text/plain") } }, "rest"
      end
    end
    local fake = path:match("^/_fake/(.*)$")
    if fake == "report" then
      report.open = open_conns() - 1    -- not counting this request's own
      local body = "return " .. serialize(report)
      return { { "write", response(200, body, "text/plain") }, { "close" } }, "hijack"
    elseif fake and fake:match("^emit/") then
      emit(fake:sub(6))
      return { { "write", response(200, "", "text/plain") }, { "close" } }, "hijack"
    end
    return json(404, { message = "page not found: " .. key }), "rest"
  end

  -- One connection, as a coroutine that yields whenever it would block.
  local function serve(fd)
    local buf = ""
    local c = { reading = false, eof = false }
    local rec

    -- Read what is there (hijack: record it as stdin); never blocks.
    local function drain()
      while not c.eof do
        local s, err = core.read(fd, 65536)
        if s then
          progress = true
          if rec then rec.stdin = rec.stdin .. s else buf = buf .. s end
        elseif err == "timeout" then
          return
        else
          c.eof = true
          if rec then rec.eof = true end
        end
      end
    end

    local function pause()
      if c.reading then drain() end
      coroutine.yield()
    end

    local function fill()
      while true do
        local s, err = core.read(fd, 65536)
        if s then
          progress = true
          buf = buf .. s
          return true
        elseif err == "timeout" then
          coroutine.yield()
        else
          return false
        end
      end
    end

    local function read_request()
      local stop
      while true do
        stop = select(2, buf:find("\r?\n\r?\n"))
        if stop then break end
        if not fill() then return nil end
      end
      local head = buf:sub(1, stop)
      buf = buf:sub(stop + 1)
      local len = tonumber(head:lower():match("\ncontent%-length:%s*(%d+)")) or 0
      while #buf < len do
        if not fill() then return nil end
      end
      local body = buf:sub(1, len)
      buf = buf:sub(len + 1)
      local method, target = head:match("^(%u+) (%S+)")
      local headers = {}
      for k, v in head:gmatch("\n([^:\r\n]+):%s*([^\r\n]*)") do headers[k:lower()] = v end
      return method, target, body, headers
    end

    local function write(s)
      local off = 1
      while off <= #s do
        local n, err, name = core.write(fd, s:sub(off, off + 65535))
        if n then
          progress = true
          off = off + n
        elseif name == "EAGAIN" then
          pause()
        else
          error("write: " .. tostring(err), 0)
        end
      end
    end

    local function run(steps, kind)
      for _, step in ipairs(steps) do
        local op = step[1]
        if op == "write" then
          for _ = 1, step.times or 1 do
            if step.dribble then
              for i = 1, #step[2] do
                write(step[2]:sub(i, i))
                local t = core.now() + step.dribble
                while core.now() < t do pause() end
              end
            else
              write(step[2])
            end
          end
        elseif op == "sleep" then
          local t = core.now() + step[2]
          while core.now() < t do pause() end
        elseif op == "emit" then
          emit(step[2])
        elseif op == "await" then
          while not events[step[2]] do
            if kind == "wait" and c.eof then return end
            pause()
          end
        elseif op == "await_stdin" then
          while not (rec and rec.stdin:find(step[2], 1, true)) do
            if c.eof then return end
            pause()
          end
        elseif op == "await_eof" or op == "hang" then
          while not c.eof do pause() end
        elseif op == "stop_reading" then
          c.reading = false
        elseif op == "shutdown" then
          tc.shutdown(fd)
        elseif op == "close" then
          return
        elseif op == "die" then
          os.exit(0)
        else
          error("unknown step " .. tostring(op), 0)
        end
      end
    end

    while true do
      local method, target, body, headers = read_request()
      if not method then return end
      local path, query = target:match("^([^?]*)%??(.*)$")
      path = path:gsub("^/v%d+%.%d+/", "/")
      if not path:match("^/_fake/") then
        report.requests[#report.requests + 1] = { method = method, path = path, query = query,
          body = body, target = target, headers = headers }
        report.lines[#report.lines + 1] = method .. " " .. path .. (query ~= "" and "?" .. query or "")
      end
      local steps, kind = route(method, path)
      if script.delay and not path:find("^/_fake/") then
        -- a slow daemon: every answer (REST, wait, hijack) comes late
        local delayed = { { "sleep", script.delay } }
        for _, st in ipairs(steps) do delayed[#delayed + 1] = st end
        steps = delayed
      end
      if kind ~= "rest" then
        c.reading = true
        if kind == "hijack" and not path:match("^/_fake/") then
          rec = { path = path, stdin = buf, eof = false }
          buf = ""
          report.hijacks[#report.hijacks + 1] = rec
        end
      end
      run(steps, kind)
      if kind ~= "rest" then return end
    end
  end

  while core.now() < deadline do
    progress = false
    local fd = tc.accept(lfd, 0)
    if fd then
      core.nonblock(fd, true)
      report.accepted = report.accepted + 1
      conns[#conns + 1] = { fd = fd, co = coroutine.create(serve) }
      progress = true
    end
    local i = 1
    while i <= #conns do
      local cn = conns[i]
      local ok, err = coroutine.resume(cn.co, cn.fd)
      if not ok then report.errors[#report.errors + 1] = tostring(err) end
      if coroutine.status(cn.co) == "dead" then
        tc.close(cn.fd)
        table.remove(conns, i)
      else
        i = i + 1
      end
    end
    if not progress then core.sleep(1) end
  end
  return 0
end

-- }=============================================

if arg and arg[0] and arg[0]:match("fakeengine%.lua$") and select("#", ...) == 2 then
  os.exit(child(...))
end

return M
