--- Sessions that live in the caller's event loop: each Session is one exec
-- or attach, driven by non-blocking steps from creation to result. A
-- session never blocks on the network: it creates the exec (or inspects
-- the container), starts it, attaches, waits and inspects through
-- requests of its own (dockerpty.request) on its own fds, and moves the
-- bytes through pumps in a loop of its own (core.loop in step mode).
--
-- The polling protocol is cqueues': `pollfd()` (an fd that becomes
-- readable when `step()` has work), `events()` ("r") and `timeout()`
-- (seconds until `step()` must be called anyway, or nil), so
-- `cqueues.poll(s)` takes a session, and luv's `uv.new_poll(s:pollfd())`
-- too. Sessions never touch the terminal (no raw mode, no resize, no
-- signal handlers): that is PseudoTerminal's (dockerpty.pty). Any number
-- of sessions and groups may live in one process, in any number of loops.
--
-- From inside `step()` (in an output function of the session) do not call
-- that same session's `step`, `wait` or `close`; anything else may be
-- called, other sessions' steps included.
-- @module dockerpty.session
-- @usage
-- local s = session.exec(client, "web", "uname -a", { stdout = io.stdout })
-- print(s:wait())                    --> true  exit  0
-- -- in a cqueues controller:  cq:wrap(function() print(s:wait(cqueues.poll)) end)
local core = require("dockerpty.core")
local config = require("dockerpty.config")
local errors = require("dockerpty.errors")
local expect = require("dockerpty.expect")
local operation = require("dockerpty.operation")
local request = require("dockerpty.request")
local util = require("dockerpty.util")

local M = {}

--- Attempts of exec inspect after the stream ended while the process still
-- shows as running (10, 20, ... up to 100 ms apart).
M.INSPECT_TRIES = 40

local Session = {}
Session.__index = Session
M.Session = Session

-- The options of session.exec that make the exec, and the session's.
local function split_options(fname, opts)
  util.check(4, fname, opts, "table", true)
  local create, rest = operation.split_exec_options(opts)
  if rest.stdin == nil then rest.stdin = false end   -- not the shared terminal
  return create, rest
end

-- The session-only options (not the operation's): `expect`.
local function take_script_options(fname, rest)
  local want = rest.expect
  rest.expect = nil
  if want ~= nil and type(want) ~= "boolean" then
    error(("bad argument #%d to '%s' (option 'expect': boolean expected, got %s)"):format(
      fname == "exec" and 4 or 3, fname, type(want)), 3)
  end
  return want
end

local function new_session(client, kind, o, want_expect, command)
  local s = setmetatable({ client = client, kind = kind, o = o, lp = core.loop(), reqs = {},
    phase = client:version_settled() and "begin" or "version", done = false }, Session)
  s.fed = o.stdin == true
  if s.fed then s.pending, s.pending_n = {}, 0 end
  if s.fed or want_expect then s.matcher = expect.new() end
  s.rec = operation.open_record(o, command)    -- before any request: a bad path fails here
  return s
end

--- A session that runs `command` in a running container (exec, no tty by
-- default: stdout and stderr stay apart). Returns at once: the exec is
-- created by the first steps, and its failure (no such container) comes
-- out of `result()` or `wait()`.
-- @tparam Client client
-- @tparam string|table container
-- @tparam string|table command
-- @tparam[opt] table opts `stdin` (a string, file, fd or false), `stdout`,
-- `stderr` (functions, files, fds or false), `tty`, `environment`,
-- `workdir`, `user`, `privileged`, `detach_keys`, `warn`
-- @usage local s = session.exec(client, "web", "wc -c", { stdin = "abc", stdout = print })
function M.exec(client, container, command, opts)
  util.check(1, "exec", client, "table")
  local id = util.id_of(2, "exec", container)
  local argv = util.argv(3, "exec", command)
  local create, rest = split_options("exec", opts)
  local want_expect = take_script_options("exec", rest)
  local o = operation.options("exec", rest, 4)
  local s = new_session(client, "exec", o, want_expect, argv)
  s.container, s.argv, s.create = id, argv, create
  return s
end

--- A session attached to a container, which is started if it is not running.
-- @tparam Client client
-- @tparam string|table container
-- @tparam[opt] table opts as `exec`'s session options, and `logs`
-- @usage local s = session.run(client, id, { stdout = function(chunk) ... end })
function M.run(client, container, opts)
  util.check(1, "run", client, "table")
  local id = util.id_of(2, "run", container)
  util.check(3, "run", opts, "table", true)
  local rest = {}
  for k, v in pairs(opts or {}) do rest[k] = v end
  if rest.stdin == nil then rest.stdin = false end
  local want_expect = take_script_options("run", rest)
  local s = new_session(client, "run", operation.options("run", rest), want_expect)
  s.container = id
  return s
end

-- {======================================================
-- Requests on the session's own fds
-- =======================================================

function Session:_start_req(name, method, path, ropts)
  local r = request.new(self.client, method, path, ropts)
  self.reqs[name] = r
  return r
end

-- Step request `name`: the request once complete (no longer watched),
-- else nil (its fd watched for what it waits for).
function Session:_poll_req(name)
  local r = self.reqs[name]
  local conn = r.conn
  local fd = conn and r:fd()
  if r:step() then
    if fd then self.lp:watch(fd, nil) end
    self.reqs[name] = nil
    return r
  end
  -- a request that started again on another connection (a failed spare):
  -- the old fd out first, even when the new one has its number
  if r.conn ~= conn and fd then self.lp:watch(fd, nil) end
  self.lp:watch(r:fd(), r:events())
  self.lp_stepped = false     -- the loop's epoll set must take the new watch
  return nil
end

-- A request started unless it runs already; stepped; its answer or nil.
function Session:_ask(name, method, path, ropts)
  if not self.reqs[name] then self:_start_req(name, method, path, ropts) end
  return self:_poll_req(name)
end

-- }======================================================

-- {======================================================
-- Phases: each returns true when it moved on (try the next at once)
-- =======================================================

local phases = {}

-- The session whose ping is in flight, per client (phases.version); weak
-- keys: a client the sessions dropped takes its entry with it.
local pings = setmetatable({}, { __mode = "k" })

-- Over ssh, connections the session will open soon shake hands now, side
-- by side (Client:preconnect; other transports keep no spares).
local function preconnect(s, n)
  if s.client.preconnect then s.client:preconnect(n) end
end

-- One ping per client, however many sessions start at once: the first
-- asks (its session noted in `pings`); the others look again every few
-- ms until the version is settled, or take over when the asker went away.
function phases.version(s)
  local c = s.client
  local asker = pings[c]
  local another_asks = asker and asker ~= s and not asker.done
  if not s.preconnected then
    s.preconnected = true
    -- exec: create, start; run: inspect, wait, attach; and the ping it may ask
    local n = s.kind == "exec" and 2 or 3
    if not c:version_settled() and not another_asks then n = n + 1 end
    preconnect(s, n)
  end
  if not c:version_settled() and another_asks then
    s.retry_at = core.now() + 5
    return false
  end
  if not c:version_settled() then
    if not s.reqs.ping then
      s.reqs.ping = request.new(c, "GET", "/_ping", { raw = true })
      pings[c] = s
    end
    local r = s:_poll_req("ping")
    if not r then return false end
    r:close()
    pings[c] = nil
    if r.status ~= 200 then
      errors.raise("api", ("ping of %s failed (%d)"):format(c:where(), r.status), r.status)
    end
    if not c:version_settled() then c:settle_version(r.headers["api-version"]) end
  end
  s.retry_at = nil
  s.phase = "begin"
  return true
end

function phases.begin(s)
  s.phase = s.kind == "exec" and "create" or "inspect"
  return true
end

-- exec: create, then start with a hijacked connection.
function phases.create(s)
  local c, o = s.create, s.o
  local attach_stdin = o.stdin ~= false
  local path, body = s.client:exec_create_request(s.container, s.argv, {
    stdin = attach_stdin, tty = c.tty, environment = c.environment, workdir = c.workdir,
    user = c.user, privileged = c.privileged,
    detach_keys = config.daemon_detach_keys(o.detach_spec, "exec"),
  })
  local r = s:_ask("create", "POST", path, { json = body })
  if not r then return false end
  s.exec_id = r:json().Id
  s.tty, s.stdin_open = c.tty and true or false, attach_stdin
  s.phase = "start"
  return true
end

function phases.start(s)
  local id = util.urlencode(s.exec_id)
  local r = s:_ask("start", "POST", "/exec/" .. id .. "/start", { hijack = true,
    json = { Detach = false, Tty = s.tty }, what = "start exec " .. s.exec_id })
  if not r then return false end
  local conn = r:take_conn()
  s.op = operation.ExecOperation.created(s.client, s.exec_id,
    { tty = s.tty, stdin = s.stdin_open }, s.o)
  s:_stream(conn)
  preconnect(s, 1)      -- the exit inspect's, ready when the output ends
  return true
end

-- run: inspect, register the wait, attach, start.
function phases.inspect(s)
  local r = s:_ask("inspect", "GET", "/containers/" .. util.urlencode(s.container) .. "/json")
  if not r then return false end
  s.op = operation.RunOperation.new(s.client, s.container, s.o)
  s.op:set_taps(s.rec, s.matcher)
  s.op:set_info(r:json())
  s.op:check_state()
  s.phase = "wait"
  return true
end

function phases.wait(s)
  local op = s.op
  local cond = op:was_running() and "not-running" or "next-exit"
  local q = s.client:api_at_least("1.30") and { condition = cond } or nil
  if not s.reqs.wait then
    s:_start_req("wait", "POST", "/containers/" .. util.urlencode(s.container) .. "/wait",
      { query = q, timeout = 1 << 40, what = "wait for " .. s.container })
  end
  local done = s:_poll_req("wait")
  if done then s.wait_done = done end
  local w = done or s.reqs.wait
  if not w.status then return false end     -- the head says it is registered
  if w.status ~= 200 then
    if not done then return false end       -- its error text first
    done:json()                             -- raises the API error
  end
  s.phase = "attach"
  return true
end

function phases.attach(s)
  local op = s.op
  if not op:was_running() and not s.reqs.attach then preconnect(s, 1) end   -- startc's
  local r = s:_ask("attach", "POST", "/containers/" .. util.urlencode(s.container) .. "/attach",
    { query = s.client:attach_query(op:attach_params()), hijack = true,
      what = "attach to " .. s.container })
  if not r then return false end
  local conn = r:take_conn()
  s:_stream(conn)
  if not op:was_running() then s.phase = "startc" end
  return true
end

function phases.startc(s)
  local r = s:_ask("startc", "POST", "/containers/" .. util.urlencode(s.container) .. "/start")
  if not r then return false end
  r:json({ [204] = true, [304] = true, [200] = true })
  s.phase = "stream"
  return true
end

-- Both: the bytes move; the output's end decides.
function Session:_stream(conn)
  self.op:set_taps(self.rec, self.matcher)
  self.pumps = self.op:pumps(conn)
  if self.fed then self:_feed_pending() end
  for _, p in ipairs(self.pumps) do self.lp:add(p) end
  self.phase = "stream"
end

-- Step the wait (run) while the stream goes on: its answer drains the output.
function Session:_step_wait()
  if self.reqs.wait then
    local done = self:_poll_req("wait")
    if done then
      self.wait_done = done
      self.op:output_pump():idle(operation.DRAIN_MS)
    end
  end
end

function phases.stream(s)
  if s.kind == "run" then s:_step_wait() end
  s.lp_stepped = true
  if not s.lp:step() then return false end
  local how = s.op:stream_outcome()
  if how == "detach" then
    s:_finish(true, "detach")
  else
    s.phase = s.kind == "exec" and "exit" or "exitwait"
    s.tries, s.retry_at = 0, nil
  end
  return true
end

-- exec: the exit code from exec inspect, asked again while Running.
function phases.exit(s)
  if s.retry_at and core.now() < s.retry_at then return false end
  local r = s:_ask("exit", "GET", "/exec/" .. util.urlencode(s.exec_id) .. "/json")
  if not r then return false end
  local info = r:json()
  s.tries = s.tries + 1
  if info.Running and s.tries < M.INSPECT_TRIES then
    s.retry_at = core.now() + math.min(10 * s.tries, 100)
    return false
  end
  if info.Running then
    s:_finish(true, "detach")     -- the stream ended while the process runs on
  else
    s:_finish(operation.result(type(info.ExitCode) == "number" and info.ExitCode or 0))
  end
  return true
end

-- run: the container's code is known; with AutoRemove its removal is next.
local function exited(s, code)
  s.code = code
  s.phase = s.op:auto_remove() and "removed" or "done"
  if s.phase == "done" then s:_finish(operation.result(code)) end
  return true
end

-- run: the wait's answer; 3 s after the output ended, inspect: still
-- running means the daemon detached us.
function phases.exitwait(s)
  s.exit_due = s.exit_due or core.now() + 3000
  s:_step_wait()
  if s.wait_done then
    local ok, code = pcall(operation.wait_code, s.wait_done.body, s.container)
    if ok then return exited(s, code) end
    if not (errors.is(code) and code.kind == "api") then error(code, 0) end
    s.wait_err, s.phase = code, "exitstate"
    return true
  end
  if core.now() < s.exit_due then return false end
  local r = s:_ask("running", "GET", "/containers/" .. util.urlencode(s.container) .. "/json")
  if not r then return false end
  if (r:json().State or {}).Running then
    s:_finish(true, "detach")
    return true
  end
  s.exit_due = core.now() + 30000
  return false
end

-- run: the wait answered with the daemon's error instead of a code; a
-- container that has stopped gives its code from inspect, else the error
-- stands (docs/protocol.md, "Ending a session").
function phases.exitstate(s)
  local ok, r = pcall(s._ask, s, "state", "GET", "/containers/" .. util.urlencode(s.container) .. "/json")
  if ok and not r then return false end
  local jok, info = false, nil
  if ok then jok, info = pcall(r.json, r) end
  local code = jok and type(info) == "table" and operation.stopped_code(info.State)
  if not code then error(s.wait_err, 0) end
  return exited(s, code)
end

-- run with AutoRemove: the container is gone when the result comes.
function phases.removed(s)
  s.removed_due = s.removed_due or core.now() + 10000
  local ok, r = pcall(s._ask, s, "removed", "POST",
    "/containers/" .. util.urlencode(s.container) .. "/wait",
    { query = s.client:api_at_least("1.30") and { condition = "removed" } or nil })
  if (ok and not r) and core.now() < s.removed_due then return false end
  s:_finish(operation.result(s.code))
  return true
end

-- }======================================================

-- The connections go at the end; the pollfd stays until close(), since an
-- event loop may still be watching it.
function Session:_release()
  for k, r in pairs(self.reqs) do r:close(); self.reqs[k] = nil end
  if self.op then self.op:close() end
  if self.rec then pcall(self.rec.close, self.rec) end
end

function Session:_finish(ok, how, code)
  self.ok, self.how, self.code = ok, how, code
  self.done = true
  self:_release()
end

function Session:_fail(err)
  self.err = err
  self.done = true
  self:_release()
end

--- Do all the work that is ready, without blocking.
-- @treturn boolean true once the session has finished (then `result()`)
-- @usage while not s:step() do cqueues.poll(s) end
function Session:step()
  if self.done then return true end
  if self.stepping then error("session:step() called from inside its own step", 2) end
  self.stepping, self.lp_stepped = true, false
  local ok, err = pcall(function()
    for _ = 1, 16 do
      if self.done or not phases[self.phase](self) then break end
    end
  end)
  self.stepping = false
  if not ok then self:_fail(err) end
  -- brings pollfd() up to date (once a step is enough)
  if not self.done and not self.lp_stepped then self.lp:step() end
  return self.done
end

--- An fd that is readable when `step()` has work to do (stable for the
-- session's life; close-on-exec).
-- @treturn integer
function Session:pollfd()
  return assert(self.lp:pollfd())
end

--- What `pollfd()` is waited for: "r".
function Session.events()
  return "r"
end

--- Seconds until `step()` must be called even if `pollfd()` stays quiet
-- (0: at once), or nil.
-- @treturn number|nil
function Session:timeout()
  if self.done then return 0 end
  -- the loop's deadlines count while its pumps run; before and after, it
  -- has none of its own (its pollfd carries the requests' fds)
  local t = self.phase == "stream" and self.lp:timeout() or nil
  local now, due = core.now(), self.retry_at or self.exit_due or self.removed_due
  for _, r in pairs(self.reqs) do
    if not due or r:due() < due then due = r:due() end
  end
  local xd = self._expect_due            -- an expect in progress
  if xd and (not due or xd < due) then due = xd end
  if due then
    local d = math.max(0, due - now) / 1000
    if not t or d < t then t = d end
  end
  return t
end

--- Whether the session has finished.
-- @usage if s:finished() then print(s:result()) end
function Session:finished()
  return self.done
end

-- The default poll: block in poll(2) on pollfd() for timeout().
local function default_poll(obj)
  local ok, msg, name = core.poll_fd(obj:pollfd(), "r", obj:timeout())
  if ok == nil then errors.raise("os", msg, nil, { name = name }) end
end
M.poll = default_poll

--- Step until finished; returns what `result()` returns. Between steps it
-- calls `poll(s)` (default: poll(2) on `pollfd()` for `timeout()`);
-- inside a cqueues coroutine pass `cqueues.poll` to yield instead.
-- @tparam[opt] function poll
-- @usage local ok, how, code = s:wait(cqueues.poll)
function Session:wait(poll)
  poll = poll or default_poll
  while not self:step() do poll(self) end
  return self:result()
end

--- After the end: `true|nil, "exit", code` or `true, "detach"`; raises the
-- session's error object.
-- @usage local ok, how, code = s:result()
function Session:result()
  if not self.done then error("session:result() before the session has finished", 2) end
  if self.err then error(self.err, 0) end
  return self.ok, self.how, self.code
end

--- Release the connections and the pollfd (idempotent). A session closed
-- before its end counts as finished with the error "closed".
-- @usage s:close()
function Session:close()
  self:_release()
  if not self.done then
    self.done = true
    self.err = self.err or errors.new("closed", "the session was closed before its end")
  end
  if not self.stepping then self.lp:close() end
end
Session.__close = Session.close
Session.__gc = Session.close

-- {======================================================
-- Scripting: send, close_stdin, expect
-- =======================================================

--- Bytes `send` lets wait in the stdin queue; past them it steps the
-- session until the container has read enough.
M.SEND_BOUND = 64 * 1024
--- Seconds `expect` waits by default.
M.EXPECT_TIMEOUT = 30

local function check_fed(s, fname)
  if not s.fed then
    error(("session:%s() needs a session opened with stdin = true"):format(fname), 3)
  end
end

-- The stream has begun: what send queued goes to the stdin pump.
function Session:_feed_pending()
  local p = self.op:stdin_pump()
  self.stdin_p = p
  if p then
    for _, d in ipairs(self.pending) do p:feed(d) end
    if self.stdin_closed then p:feed(nil) end
  end
  self.pending, self.pending_n = nil, 0
end

-- Bytes sent and not yet read by the container's connection.
function Session:_queued()
  if self.done then return 0 end
  if self.stdin_p then return self.stdin_p:feed("") end
  return self.pending_n or 0
end

--- Send bytes to the container's stdin (a session opened with `stdin =
-- true`). Queues them and returns; while more than `SEND_BOUND` bytes wait,
-- it steps the session, calling `poll(s)` between steps as `wait` does, so
-- memory stays bounded (from inside the session's own step it only queues).
-- Raises after `close_stdin()` or once the session has finished.
-- @tparam string data
-- @tparam[opt] function poll as `wait`'s
-- @usage s:send("ls /\n")
function Session:send(data, poll)
  check_fed(self, "send")
  util.check(1, "send", data, "string")
  util.check(2, "send", poll, "function", true)
  if self.stdin_closed then error("session:send() after close_stdin()", 2) end
  if self.done then error("session:send() after the session has finished", 2) end
  if self.pumps and not self.stdin_p then
    error("session:send(): the container's stdin is not open (created without OpenStdin)", 2)
  end
  if data == "" then return end
  if self.stdin_p then
    self.stdin_p:feed(data)
  else
    self.pending[#self.pending + 1] = data
    self.pending_n = self.pending_n + #data
  end
  if self.stepping then return end
  poll = poll or default_poll
  while self:_queued() > M.SEND_BOUND do
    if self:step() or self:_queued() <= M.SEND_BOUND then break end
    poll(self)
  end
end

--- End the stdin of a session opened with `stdin = true`, once what was
-- sent has gone: without a tty the connection is half-closed, so the
-- container sees EOF and its remaining output still arrives; with a tty
-- nothing is sent (a tty has no EOF: send "\4" for a shell's). Idempotent.
-- @usage s:close_stdin()
function Session:close_stdin()
  check_fed(self, "close_stdin")
  if self.stdin_closed then return end
  self.stdin_closed = true
  if self.stdin_p and not self.done then self.stdin_p:feed(nil) end
end

-- Whether the session has a tty: nil while not known yet (run, before
-- the container's inspect).
function Session:_is_tty()
  if self.kind == "exec" then return self.create.tty and true or false end
  return self.op and self.op:is_tty()
end

local function check_stream(n, fname, stream)
  if stream ~= "stdout" and stream ~= "stderr" then
    error(("bad argument #%d to '%s' (stream \"stdout\" or \"stderr\" expected, got %s)"):format(
      n, fname, type(stream) == "string" and ("%q"):format(stream) or type(stream)), 3)
  end
end

local NO_STDERR = "session:expect(): a session with a tty has no separate stderr"

--- Step the session until output matches. `patterns` is a Lua pattern or
-- a list of them, searched in the text the stream received since its
-- previous match (at most `dockerpty.expect.WINDOW` bytes, 1 MiB, are kept
-- per stream; older unmatched bytes are dropped). The session needs
-- `stdin = true` or `expect = true` (then it keeps that text). Output
-- still reaches the session's stdout and stderr as it arrives.
-- @tparam string|table patterns
-- @tparam[opt] table opts `plain` (match literally), `timeout` (seconds,
-- default 30), `stream` ("stdout", default, or "stderr" without a tty),
-- `poll` (as `wait`'s: `cqueues.poll` yields instead of blocking)
-- @treturn[1] integer the index of the pattern that matched (1 for a single one)
-- @treturn[1] string the text before the match
-- @treturn[1] ... the pattern's captures, or the whole match when it has none
-- @treturn[2] nil
-- @treturn[2] string "timeout", or "eof" when the stream ended without a
-- match (a session that failed raises its error instead); the unmatched
-- text stays in `buffer(stream)`
-- @usage local i, before, answer = s:expect("(%d+)\r?\n")
function Session:expect(patterns, opts)
  util.check(2, "expect", opts, "table", true)
  opts = opts or {}
  local stream = opts.stream or "stdout"
  check_stream(2, "expect", stream)
  local timeout = opts.timeout or M.EXPECT_TIMEOUT
  if type(timeout) ~= "number" or timeout < 0 or timeout ~= timeout then
    error(("bad argument #2 to 'expect' (timeout: seconds expected, got %s)"):format(
      tostring(timeout)), 2)
  end
  if opts.poll ~= nil and type(opts.poll) ~= "function" then
    error(("bad argument #2 to 'expect' (poll: function expected, got %s)"):format(type(opts.poll)), 2)
  end
  local m = self.matcher
  if not m then error("session:expect() needs a session opened with stdin = true or expect = true", 2) end
  local poll = opts.poll or default_poll
  local mopts = { stream = stream, plain = opts.plain }
  local r = table.pack(m:match(patterns, mopts, 2))      -- a bad pattern raises here
  local deadline = core.now() + timeout * 1000
  local first = true
  while not r[1] do
    if stream == "stderr" and self:_is_tty() then self._expect_due = nil; error(NO_STDERR, 2) end
    local ended, late = m:eof(stream) or self.done, core.now() >= deadline
    if ended or late then
      mopts.final = true
      r = table.pack(m:match(patterns, mopts, 2))
      self._expect_due = nil
      if r[1] then break end
      if ended and self.done and self.err then self:result() end    -- raises it
      return nil, ended and "eof" or "timeout"
    end
    self._expect_due = r[2] and math.min(deadline, core.now() + math.ceil(r[2] * 1000)) or deadline
    if not first then poll(self) end
    first = false
    self:step()
    r = table.pack(m:match(patterns, mopts, 2))
  end
  self._expect_due = nil
  return table.unpack(r, 1, r.n)
end

--- The text of a stream not consumed by a match yet (`expect`'s window).
-- @tparam[opt] string stream "stdout" (default) or "stderr"
-- @usage print(s:buffer())
function Session:buffer(stream)
  stream = stream or "stdout"
  check_stream(1, "buffer", stream)
  if not self.matcher then
    error("session:buffer() needs a session opened with stdin = true or expect = true", 2)
  end
  return self.matcher:buffer(stream)
end

-- }======================================================

-- {======================================================
-- Groups
-- =======================================================

local Group = {}
Group.__index = Group
M.Group = Group

--- A group of sessions with the same five methods over all of them: its
-- `pollfd()` is readable when any member has work.
-- @usage local g = session.group(); g:add(s1); g:add(s2); g:wait()
function M.group()
  return setmetatable({ list = {}, byfd = {}, fds = {}, due = {}, next_due = 0, lp = core.loop(),
    left = 0 }, Group)
end

--- Add a session (returns the group).
function Group:add(s)
  local list = self.list
  list[#list + 1] = s
  if not s:finished() then
    local fd = s:pollfd()
    self.byfd[fd] = s
    self.fds[s] = fd
    self.lp:watch(fd, "r")
    self.due[s] = core.now()       -- step it soon
    self.next_due = math.min(self.next_due, self.due[s])
    self.left = self.left + 1
  end
  return self
end

function Group:_member_done(s)
  self.lp:watch(self.fds[s], nil)
  self.byfd[self.fds[s]] = nil
  self.due[s] = nil
  self.left = self.left - 1
  if self.on_done then self.on_done(s) end
end

--- Step the members that have work (ready fds, deadlines passed).
-- @treturn boolean true once every member has finished
-- Members' deadlines are scanned only once the earliest is due: a step
-- costs what its ready members cost, not the size of the group.
function Group:step()
  local now, ready = core.now(), {}
  for _, fd in ipairs(self.lp:ready_fds()) do
    local s = self.byfd[fd]
    if s then ready[s] = true end
  end
  local scan = now >= self.next_due
  if scan then
    for s, due in pairs(self.due) do
      if due <= now then ready[s] = true end
    end
  end
  for s in pairs(ready) do
    if self.due[s] then
      if s:step() then
        self:_member_done(s)
      else
        local t = s:timeout()
        self.due[s] = t and core.now() + math.floor(t * 1000) or math.huge
        if self.due[s] < self.next_due then self.next_due = self.due[s] end
      end
    end
  end
  if scan then
    local m = math.huge
    for _, d in pairs(self.due) do if d < m then m = d end end
    self.next_due = m
  end
  self.lp:step()
  return self.left == 0
end

function Group:pollfd()
  return assert(self.lp:pollfd())
end

function Group.events()
  return "r"
end

function Group:timeout()
  if self.left == 0 then return 0 end
  if self.next_due == math.huge then return nil end
  return math.max(0, self.next_due - core.now()) / 1000
end

Group.wait = function(self, poll)
  poll = poll or default_poll
  while not self:step() do poll(self) end
  return self:results()
end

--- One entry per member, in order: `{ok=, how=, code=}`, or `{ok = nil,
-- how = "error", error = e}`.
function Group:results()
  local out = {}
  for i, s in ipairs(self.list) do
    local ok, a, b, c = pcall(s.result, s)
    if ok then out[i] = { ok = a, how = b, code = c }
    else out[i] = { ok = nil, how = "error", error = a } end
  end
  return out
end

function Group:close()
  for _, s in ipairs(self.list) do s:close() end
  self.lp:close()
end
Group.__close = Group.close

-- }======================================================

--- Run sessions to their end together (a Group).
-- @tparam table sessions a list of Session
-- @tparam[opt] table opts `timeout` (ms for the whole run; sessions not
-- finished by then get `{ok = nil, how = "timeout"}` and are closed),
-- `parallel` (at most that many sessions run at once: the next in the
-- list starts as one ends; default all at once), `on_finish` (called
-- with a session's index and the session as soon as it ends)
-- @treturn table one entry per session: `{ok=, how=, code=}`, or
-- `{ok = nil, how = "error", error = e}` when it failed
-- @usage for i, r in ipairs(session.run_all(list, { timeout = 60000 })) do print(i, r.how, r.code) end
function M.run_all(sessions, opts)
  util.check(1, "run_all", sessions, "table")
  opts = util.check(2, "run_all", opts, "table", true) or {}
  local parallel = opts.parallel
  if parallel ~= nil and (math.type(parallel) ~= "integer" or parallel < 1) then
    error(("bad argument #2 to 'run_all' (option 'parallel': positive integer expected, got %s)"):format(
      tostring(parallel)), 2)
  end
  local on_finish = opts.on_finish
  if on_finish ~= nil and type(on_finish) ~= "function" then
    error(("bad argument #2 to 'run_all' (option 'on_finish': function expected, got %s)"):format(
      type(on_finish)), 2)
  end
  local g = M.group()
  if on_finish then
    local index = {}
    for i, s in ipairs(sessions) do index[s] = i end
    g.on_done = function(s) on_finish(index[s], s) end
  end
  local nexti = 1
  local function admit()
    while sessions[nexti] and (not parallel or g.left < parallel) do
      g:add(sessions[nexti])
      nexti = nexti + 1
    end
    return sessions[nexti] == nil
  end
  local deadline = opts.timeout and core.now() + opts.timeout
  admit()
  while true do
    local done = g:step()
    if admit() and done and g.left == 0 then break end
    local t = g:timeout()
    if deadline then
      local left = math.max(0, deadline - core.now()) / 1000
      if left == 0 then break end
      if not t or left < t then t = left end
    end
    core.poll_fd(g:pollfd(), "r", t)
  end
  local results = g:results()
  for i, s in ipairs(sessions) do
    if not s:finished() then
      s:close()
      results[i] = { ok = nil, how = "timeout" }
    end
  end
  return results
end

return M
