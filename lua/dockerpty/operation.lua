--- Operations: what to attach to and how. A `RunOperation` attaches to a
-- container (starting it if needed), an `ExecOperation` starts an exec.
-- Each opens one hijacked connection carrying stdin, stdout and stderr,
-- builds the pumps that move the bytes, resizes the remote tty and
-- collects the result. `PseudoTerminal` (dockerpty.pty) runs them.
-- @module dockerpty.operation
local cjson = require("cjson")
local core = require("dockerpty.core")
local config = require("dockerpty.config")
local errors = require("dockerpty.errors")
local tty = require("dockerpty.tty")
local util = require("dockerpty.util")

local M = {}
local Normalized

--- After the exit is known, the output goes on until it has been idle this
-- long (ms), for daemons that keep the stream open after the exit.
M.DRAIN_MS = 1000

local OPTIONS = {
  interactive = true, stdin = true, stdout = true, stderr = true, logs = true,
  detach_keys = true, sig_proxy = true, tty = true, environment = true, workdir = true,
  user = true, privileged = true, warn = true, record = true, record_input = true,
}

-- Entry points whose stdin may be `true` (a queue the script feeds).
local FED = { exec = true, run = true }

local function check_endpoint(n, fname, name, v, is_input)
  if v == nil or v == false then return v end
  if math.type(v) == "integer" or io.type(v) == "file" then return v end
  if is_input and type(v) == "string" then return v end
  if not is_input and (type(v) == "function" or (type(v) == "table" and getmetatable(v)
      and getmetatable(v).__call)) then
    return v
  end
  util.argerror(n, fname, ("option '%s': %s expected, got %s"):format(name,
    is_input and "file, fd, string or false" or "file, fd, function or false", type(v)))
end

-- Marks a table M.options made: given again, it is taken as it is.
Normalized = {}

-- Whether v is a recording (dockerpty.record's Recorder). That module is
-- loaded only by a session that records: before, nothing is one.
local function is_recorder(v)
  local record = package.loaded["dockerpty.record"]
  return record ~= nil and getmetatable(v) == record.Recorder
end

-- The checks of M.options on the copy `o` (argument n of fname).
local function check_options(n, fname, o)
  if o.stdin == true and not FED[fname] then
    util.argerror(n, fname, "option 'stdin': true is for sessions (dockerpty.session), "
      .. "a file, fd, string or false expected")
  end
  if o.stdin ~= true then check_endpoint(n, fname, "stdin", o.stdin, true) end
  local r = o.record
  if r ~= nil and r ~= false and type(r) ~= "string" and type(r) ~= "function"
      and io.type(r) ~= "file" and not is_recorder(r) then
    util.argerror(n, fname, ("option 'record': path, file, function or false expected, got %s")
      :format(io.type(r) or type(r)))
  end
  if o.record_input ~= nil and type(o.record_input) ~= "boolean" then
    util.argerror(n, fname, ("option 'record_input': boolean expected, got %s")
      :format(type(o.record_input)))
  end
  check_endpoint(n, fname, "stdout", o.stdout, false)
  check_endpoint(n, fname, "stderr", o.stderr, false)
  if o.warn ~= nil and o.warn ~= false and type(o.warn) ~= "function" then
    util.argerror(n, fname, ("option 'warn': function or false expected, got %s"):format(type(o.warn)))
  end
end

--- Normalize the session options shared by every entry point: `opts` is
-- argument `n` (default 3) of function `fname`, which errors name.
-- @local
function M.options(fname, opts, n)
  n = n or 3
  if type(opts) == "table" and getmetatable(opts) == Normalized then return opts end
  if opts ~= nil and type(opts) ~= "table" then
    util.argerror(n, fname, ("table expected, got %s"):format(type(opts)))
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not OPTIONS[k] then
      util.argerror(n, fname, ("unknown option '%s'"):format(tostring(k)))
    end
  end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  if o.interactive == nil then o.interactive = true end
  if o.stdin == nil then o.stdin = io.stdin end
  if o.stdout == nil then o.stdout = io.stdout end
  if o.stderr == nil then o.stderr = io.stderr end
  if not o.interactive then o.stdin = false end
  check_options(n, fname, o)
  if o.sig_proxy == nil then o.sig_proxy = true end
  if o.warn == nil then
    o.warn = function(msg) io.stderr:write(msg, "\n") end
  end
  local spec = config.detach_keys(o.detach_keys, nil, o.warn)
  local keys, msg = config.parse_detach_keys(spec)
  if not keys then errors.raise("usage", msg) end
  o.detach_spec, o.detach_bytes = spec, keys
  return setmetatable(o, Normalized)
end

-- The options that make an exec (exec_command, session.exec): the others
-- are the session's.
local EXEC_FIELDS = { tty = true, environment = true, workdir = true, user = true,
  privileged = true }

--- Split options into an exec's creation options and the session's (the
-- rest); a normalized table (M.options) stays normalized.
-- @local
function M.split_exec_options(opts)
  local create, rest = {}, {}
  for k, v in pairs(opts or {}) do
    if EXEC_FIELDS[k] then create[k] = v else rest[k] = v end
  end
  return create, setmetatable(rest, getmetatable(opts) == Normalized and Normalized or nil)
end

-- Whether a session with a tty and stdin attached from `s` must be
-- refused: a file or an fd that is not a terminal, as the docker CLI
-- refuses it ("the input device is not a TTY").
local function refuse_tty(is_tty, attached, s)
  if is_tty and attached and (math.type(s) == "integer" or io.type(s) == "file")
      and not tty.isatty(s) then
    errors.raise("usage", "the input device is not a TTY")
  end
end

local Operation = {}
Operation.__index = Operation
M.Operation = Operation

--- True when the local terminal should go raw: the remote side has a tty,
-- stdin is attached and it is a terminal.
-- @usage if op:israw() then ... end
function Operation:israw()
  return self:is_tty() and self:stdin_attached() and tty.isatty(self.opts.stdin)
end

--- The size to give the remote tty: local stdout's, else stdin's.
-- @usage local size = op:local_size() --> {24, 80} or nil
function Operation:local_size()
  return tty.size(self.opts.stdout) or tty.size(self.opts.stdin)
end

--- Refuse a tty with a stdin that is a file but not a terminal, as the
-- docker CLI does, before anything is created or attached.
-- @usage op:check_tty() -- raises "the input device is not a TTY"
function Operation:check_tty()
  refuse_tty(self:is_tty(), self:stdin_attached(), self.opts.stdin)
end

--- Feed the output (and, with `record_input`, the input) to a recording
-- (`dockerpty.record`) and an expect matcher (`dockerpty.expect`); either
-- may be nil. Before `pumps`. Returns the operation.
-- @usage op:set_taps(record.open("s.cast"), nil)
function Operation:set_taps(recorder, matcher)
  self.recorder, self.matcher = recorder, matcher
  return self
end

--- Open the recording the options ask for (`record`), sized to the local
-- terminal, and feed it (set_taps). Raises when the path cannot be
-- written. Returns the operation.
-- @usage op:open_recording("sh")
function Operation:open_recording(command)
  return self:set_taps(M.open_record(self.opts, command, self:local_size()), self.matcher)
end

--- Note a resize of the remote tty in the recording, if there is one.
-- @usage op:record_resize(40, 120)
function Operation:record_resize(rows, cols)
  if self.recorder then self.recorder:resize(cols, rows) end
end

--- The pumps for a hijacked connection: stdin to the connection (half-closed
-- at EOF without a tty) and the connection to stdout and stderr
-- (demultiplexed without a tty). Detach keys are watched on a raw tty.
-- @usage local pumps = op:pumps(op:sockets())
function Operation:pumps(conn)
  self._conn = conn          -- the operation's now: close() closes it
  local o = self.opts
  local is_tty = self:is_tty()
  local tap, input_tap, on_end = self:_taps()
  local out = core.pump{
    from = conn,
    to = o.stdout or false,
    err = (not is_tty) and (o.stderr or false) or false,
    demux = not is_tty,
    wait_for_output = true,
    tap = tap, on_end = on_end,
    track_modes = self:tracks_modes(),
  }
  local pumps = {}
  if self:stdin_attached() then
    local inp = core.pump{
      from = o.stdin,
      tap = input_tap,
      to = conn,
      -- without a tty a half-close at EOF gives the process EOF and the
      -- output goes on; with one it would end our output (docs/protocol.md,
      -- "Ending a session")
      on_eof = is_tty and "none" or "shutdown",
      wait_for_output = false,
      detach_keys = self:israw() and o.detach_bytes or nil,
    }
    inp:link(out)
    pumps[#pumps + 1] = inp
    self._stdin_pump = inp
  end
  pumps[#pumps + 1] = out
  self._out_pump = out
  local w = self._wait
  if w then
    -- read the exit while the stream runs: a daemon that keeps the attach
    -- open after the exit (Podman, Docker Desktop) cannot hang the session,
    -- the output is drained until idle for DRAIN_MS, then the session ends
    local wp = core.pump{ from = w:conn(), to = function(data) w:feed(data) end,
      wait_for_output = false }
    wp:drain(out, M.DRAIN_MS)
    pumps[#pumps + 1] = wp
    self._wait_pump = wp
  end
  return pumps
end

-- The output's tap, the input's and the output's on_end: they feed the
-- recorder (`self.recorder`) and the expect matcher (`self.matcher`), when
-- there are any. Without a tty, stderr is recorded as output too.
function Operation:_taps()
  local rec, m = self.recorder, self.matcher
  if not rec and not m then return nil end
  local tap = function(data, stream)
    if rec then rec:output(data, stream) end
    if m then m:push(stream, data) end
  end
  local input_tap = rec and rec:records_input() and function(data) rec:input(data) end or nil
  local on_end = function()
    if rec then rec:output(nil, "stdout"); rec:output(nil, "stderr") end
    if m then m:push("stdout", nil); m:push("stderr", nil) end
  end
  return tap, input_tap, on_end
end

--- Whether v is a recording (a `dockerpty.record` Recorder).
-- @local
M.is_recorder = is_recorder

--- Open the recording the options ask for (`record`, `record_input`), or
-- nil; `size` ({rows, cols}, default 24x80) and `command` go in the header.
-- Raises before anything is created when the path cannot be written.
-- @local
function M.open_record(o, command, size)
  if not o.record then return nil end
  if is_recorder(o.record) then return o.record end   -- opened already
  return require("dockerpty.record").open(o.record, { width = size and size[2] or 80,
    height = size and size[1] or 24, command = command, record_input = o.record_input and true or false })
end

--- Report a warning through the `warn` option (stderr by default).
-- @usage op:warn("dockerpty: failed to resize tty, using default size")
function Operation:warn(msg)
  if self.opts.warn then self.opts.warn(msg) end
end

--- Resize the remote tty, best effort; returns true or false, err.
-- @usage op:try_resize(40, 120)
function Operation:try_resize(rows, cols)
  if not rows or rows <= 0 or cols <= 0 then return false end
  local ok, err = pcall(self.resize, self, rows, cols)
  return ok, err
end

--- Close the connection and any pending wait (idempotent).
-- @usage op:close()
function Operation:close()
  if self.recorder then pcall(self.recorder.close, self.recorder) end
  if self._conn then self._conn:close() end
  if self._wait then self._wait:close() end
  -- pairs, not ipairs: any of them may be missing (no stdin, no wait)
  for _, p in pairs({ self._stdin_pump, self._out_pump, self._wait_pump }) do p:close() end
end

--- The pump that moves stdin, or nil (after `pumps`).
function Operation:stdin_pump()
  return self._stdin_pump
end

local function callable(f)
  return type(f) == "function" or (type(f) == "table" and getmetatable(f) ~= nil
    and getmetatable(f).__call ~= nil)
end

--- Whether the output pump notes the terminal modes the program turns on
-- (to undo them at the end, `undo_modes`): a raw local terminal, and an
-- output that is a terminal or a function (which gets the undo too).
-- @usage if op:tracks_modes() then ... end
function Operation:tracks_modes()
  local f = self.opts.stdout
  return self:israw() and (tty.isatty(f) or callable(f)) or false
end

--- Turn off the terminal modes the program left on (the alternate screen,
-- mouse reporting, a hidden cursor...; core Pump:undo_modes), writing the
-- sequences after the last output byte the terminal got; nothing when
-- nothing is on or the output is not tracked. Best effort, never raises.
-- Returns the bytes written.
-- @usage op:undo_modes()
function Operation:undo_modes()
  local out = self._out_pump
  local undo = out and out:undo_modes() or ""
  if undo == "" then return undo end
  local f = self.opts.stdout
  pcall(function()
    if callable(f) then return f(undo) end
    local off, deadline = 1, core.now() + 1000
    while off <= #undo and core.now() < deadline do
      local n, _, name = core.write(f, undo:sub(off))
      if n then off = off + n
      elseif name == "EAGAIN" or name == "EINTR" then core.poll_fd(core.fileno(f), "w", 0.1)
      else break end
    end
  end)
  return undo
end

--- The pump that moves the output (after `pumps`).
-- @usage op:output_pump():idle(1000)
function Operation:output_pump()
  return self._out_pump
end

--- After the loop: how the stream ended ("detach" or "eof"), from the
-- pumps. Raises the stream's error.
-- @usage if op:stream_outcome() == "detach" then ... end
function Operation:stream_outcome()
  local inp, out = self._stdin_pump, self._out_pump
  if inp and inp:status() == "detached" then
    return "detach"
  end
  local st, msg, name = out:status()     -- nil, msg, name: the pump failed
  local failed = not st and out:stats().failed_sink
  if failed then
    -- our own stdout or stderr would not take the bytes (a reader gone, a
    -- full disk): docker's words, "write /dev/stdout: broken pipe"
    errors.raise("io", ("write /dev/%s: %s"):format(failed == 2 and "stderr" or "stdout",
      msg:lower()), nil, { name = name })
  end
  -- a reset or broken pipe after the output is the daemon closing with our
  -- stdin unread (a container that stopped reading): the end of the
  -- stream, not a failure
  if not st and (name == "ECONNRESET" or name == "EPIPE") then
    st = "done"
  end
  local cut = st == "done" and out:stats().truncated
  if cut then
    -- EOF inside a frame's header or payload: the bytes that came were
    -- delivered; say what was lost
    self:warn(("dockerpty: the output of %s ended inside a frame (truncated %s)"):format(
      self:describe(), cut))
  end
  if not st then
    local kind = (name == "protocol" or name == "daemon") and "protocol" or "connection"
    if name == "daemon" then
      errors.raise("api", "error from daemon in stream: " .. msg, nil, { name = name })
    end
    errors.raise(kind, ("%s: %s"):format(self:describe(), msg), nil, { name = name })
  end
  return "eof"
end

--- The exit code in the body of a wait's answer; raises the daemon's error.
-- @tparam string body
-- @tparam string container for messages
-- @usage local code = operation.wait_code('{"StatusCode":0}', id)
function M.wait_code(body, container)
  if not body or body == "" then
    errors.raise("connection", ("waiting for container %s: the connection closed before the answer")
      :format(container))
  end
  local ok, t = pcall(cjson.decode, body)
  if not ok or type(t) ~= "table" then
    errors.raise("protocol", ("waiting for container %s: malformed answer %q"):format(
      container, body:sub(1, 200)))
  end
  if type(t.Error) == "table" and type(t.Error.Message) == "string" and t.Error.Message ~= "" then
    errors.raise("api", ("waiting for container %s: %s"):format(container, t.Error.Message))
  end
  return t.StatusCode
end

--- The exit code in a stopped container's inspect `State`, or nil while it
-- has not stopped (running, restarting, or created and never started). For
-- a wait whose answer carried the daemon's error instead of the code
-- (docs/protocol.md, "Ending a session").
-- @tparam table state the inspect data's `State`
-- @usage local code = operation.stopped_code(info.State)
function M.stopped_code(state)
  if type(state) ~= "table" or state.Running ~= false or state.Restarting == true
      or state.Status == "created" or type(state.ExitCode) ~= "number" then
    return nil
  end
  return state.ExitCode      -- a float from JSON: result() makes it an integer
end

local function result(code)
  code = math.tointeger(code) or code    -- JSON numbers decode as floats
  if code == 0 then return true, "exit", 0 end
  return nil, "exit", code
end
M.result = result

-- {======================================================
-- RunOperation
-- =======================================================

local RunOperation = setmetatable({}, { __index = Operation })
RunOperation.__index = RunOperation
M.RunOperation = RunOperation

--- Attach to a container, and start it if it is not running.
-- @tparam Client client
-- @tparam string|table container id, name, or table with `Id`
-- @tparam[opt] table opts session options (see dockerpty.start)
-- @usage local op = dockerpty.RunOperation.new(client, "web", { logs = true })
function RunOperation.new(client, container, opts)
  local id = util.id_of(2, "RunOperation.new", container)
  return setmetatable({
    client = client, container = id, opts = M.options("RunOperation.new", opts),
  }, RunOperation)
end

--- The container's inspect data (cached; `refresh` asks again).
-- @usage print(op:info().Config.Tty)
function RunOperation:info(refresh)
  if refresh or not self._info then
    self._info = self.client:inspect_container(self.container)
  end
  return self._info
end

--- Take inspect data fetched elsewhere (the session engine's request).
-- @usage op:set_info(info)
function RunOperation:set_info(info)
  self._info = info
end

--- Refuse a paused or restarting container; note whether it ran.
-- @usage op:check_state()
function RunOperation:check_state()
  local info = self:info()
  local state = info.State or {}
  if state.Paused then
    errors.raise("api", ("cannot attach to a paused container: %s"):format(self.container), 409)
  end
  if state.Restarting then
    errors.raise("api", ("cannot attach to a restarting container: %s"):format(self.container), 409)
  end
  self._was_running = state.Running == true
  self._auto_remove = (info.HostConfig or {}).AutoRemove == true
end

--- Whether the daemon removes the container when it exits.
function RunOperation:auto_remove()
  return self._auto_remove
end

--- The attach's parameters (client:attach_socket's).
function RunOperation:attach_params()
  return {
    stdin = self:stdin_attached(),
    -- a recording or a matcher reads the streams even without a sink
    stdout = self.opts.stdout ~= false or (self.recorder or self.matcher) ~= nil,
    stderr = self.opts.stderr ~= false or (self.recorder or self.matcher) ~= nil,
    logs = self.opts.logs and true or false,
    stream = true,
    detach_keys = config.daemon_detach_keys(self.opts.detach_spec, "attach"),
  }
end

function RunOperation:describe()
  return "container " .. self.container
end

function RunOperation:is_tty()
  return self:info().Config.Tty == true
end

function RunOperation:stdin_attached()
  return self.opts.stdin ~= false and self:info().Config.OpenStdin == true
end

--- Whether the container was running when the operation began.
-- @usage if op:was_running() then ... end
function RunOperation:was_running()
  return self._was_running
end

--- Open the hijacked connection (one for all three streams). Registers
-- the wait first, so the exit cannot be missed.
-- @treturn dockerpty.Conn
-- @usage local conn = op:sockets()
function RunOperation:sockets()
  if self._conn then return self._conn end
  self:check_state()
  self._wait = self.client:wait_async(self.container, self._was_running and "not-running" or "next-exit")
  local ok, conn = pcall(self.client.attach_socket, self.client, self.container,
    self:attach_params())
  if not ok then
    self._wait:close()
    error(conn, 0)
  end
  self._conn = conn
  return conn
end

--- Build the pumps and start the container if it was not running.
-- @treturn table the pumps (stdin's first when attached)
-- @usage local pumps = op:start(op:sockets())
function RunOperation:start(sockets)
  local conn = sockets or self:sockets()
  self._conn = conn
  local pumps = self:pumps(conn)
  if not self._was_running then
    self.client:start(self.container)
  end
  return pumps
end

function RunOperation:resize(rows, cols)
  return self.client:resize(self.container, rows, cols)
end

--- Signals forwarded to the container (without a tty, when sig_proxy).
-- @usage local names = op:proxy_signals() --> {"INT", "TERM", ...} or nil
function RunOperation:proxy_signals()
  if self.opts.sig_proxy and not self:is_tty() then
    return { "INT", "TERM", "HUP", "QUIT", "USR1", "USR2" }
  end
  return nil
end

function RunOperation:send_signal(name)
  pcall(self.client.kill, self.client, self.container, "SIG" .. name)
end

-- The wait's answer. One that carried the daemon's error gives way to the
-- code of a container that has stopped (inspect); otherwise the error stands.
function RunOperation:_wait_result(timeout_ms)
  local ok, res = pcall(self._wait.result, self._wait, timeout_ms)
  if ok then return res end
  if errors.is(res) and res.kind == "api" then
    local iok, info = pcall(self.info, self, true)
    local code = iok and type(info) == "table" and M.stopped_code(info.State)
    if code then return { StatusCode = code } end
  end
  error(res, 0)
end

--- After the stream ended: true|nil, "exit", code or true, "detach".
-- @usage local ok, how, code = op:finish()
function RunOperation:finish()
  local how = self:stream_outcome()
  if how == "detach" then
    self._wait:close()
    return true, "detach"
  end
  local w = self._wait
  local wp = self._wait_pump
  if wp then
    local wst = wp:status()
    if wst == "done" then w:eof() end
  end
  local ok, res = pcall(self._wait_result, self, 3000)
  if not ok then
    if not (errors.is(res) and res.kind == "timeout") then error(res, 0) end
    -- output ended but no exit yet: detached by the daemon, or about to exit
    local info = self:info(true)
    if info.State and info.State.Running then
      w:close()
      return true, "detach"
    end
    res = self:_wait_result(30000)
  end
  if self._auto_remove then
    -- the container is gone when the call returns (docs/protocol.md, "Order
    -- of a run"). A wait for "removed" of its own: Podman answers that
    -- condition with code 0
    pcall(function()
      self.client:wait_async(self.container, "removed"):result(10000)
    end)
  end
  return result(res.StatusCode)
end

-- }======================================================

-- {======================================================
-- ExecOperation
-- =======================================================

local ExecOperation = setmetatable({}, { __index = Operation })
ExecOperation.__index = ExecOperation
M.ExecOperation = ExecOperation

--- Start an exec made by exec_create and attach to it.
-- @usage local op = dockerpty.ExecOperation.new(client, exec, { stdin = "input" })
function ExecOperation.new(client, exec_id, opts)
  local id = util.id_of(2, "ExecOperation.new", exec_id)
  return setmetatable({ client = client, exec_id = id, opts = M.options("ExecOperation.new", opts) },
    ExecOperation)
end

--- An operation for an exec just created with a known configuration
-- (`{tty =, stdin =}`): no inspect is needed before starting it.
-- @usage local op = ExecOperation.created(client, id, { tty = false, stdin = true }, opts)
function ExecOperation.created(client, exec_id, made, opts)
  local op = ExecOperation.new(client, exec_id, opts)
  op._created = { tty = made.tty and true or false, stdin = made.stdin and true or false }
  return op
end

-- ExecOperation.create's work, its errors naming `fname`.
local function create_exec(fname, client, container, command, opts)
  local o = M.options(fname, opts, 4)
  util.id_of(2, fname, container)
  util.argv(3, fname, command)
  local create, rest = M.split_exec_options(o)
  local attach_stdin = o.interactive and o.stdin ~= false
  local want_tty = create.tty
  if want_tty == nil then want_tty = attach_stdin and tty.isatty(o.stdin) end
  refuse_tty(want_tty, attach_stdin, o.stdin)
  local local_size = tty.size(o.stdout) or tty.size(o.stdin)
  local rec = M.open_record(o, command, local_size)   -- a bad path fails first
  -- over ssh, the hijack's connection shakes hands while the REST one does
  -- (a client of the caller's own making may have no spares)
  if client.preconnect then client:preconnect(1) end
  local made, exec = pcall(function()
    -- inspect first, so "no such container" wins and no exec is left behind
    client:inspect_container(container)
    return client:exec_create(container, command, {
      stdin = attach_stdin, tty = want_tty and true or false, environment = create.environment,
      workdir = create.workdir, user = create.user, privileged = create.privileged,
      -- the resolved keys (option, config.json, default): the ones the local
      -- scanner watches for, so the daemon never detaches on others ("" for
      -- none becomes keys nobody types: config.daemon_detach_keys)
      detach_keys = config.daemon_detach_keys(o.detach_spec, "exec"),
      console_size = want_tty and local_size or nil,
    })
  end)
  if not made then
    if rec then rec:close() end
    if client.drop_spares then client:drop_spares() end
    error(exec, 0)
  end
  -- the exec is as created: no inspect needed before starting it
  return ExecOperation.created(client, exec, { tty = want_tty, stdin = attach_stdin }, rest)
    :set_taps(rec, nil)
end
M.create_exec = create_exec

--- Create an exec in a running container and an operation for it, as
-- `dockerpty.exec_command` does. `opts` holds the session options and the
-- exec's own (`tty`, default: interactive and stdin is a terminal;
-- `environment`, `workdir`, `user`, `privileged`). A tty with a stdin that
-- is not a terminal, and a recording that cannot be written, fail before
-- the exec is created; so does a container that does not exist.
-- @usage local op = dockerpty.ExecOperation.create(client, "web", "sh", { tty = true })
function ExecOperation.create(client, container, command, opts)
  return create_exec("ExecOperation.create", client, container, command, opts)
end

function ExecOperation:info(refresh)
  if refresh or not self._info then
    self._info = self.client:exec_inspect(self.exec_id)
  end
  return self._info
end

--- Watch locally for the keys the daemon watches for: the exec's own, from
-- exec inspect (Docker gives the bytes in base64, Podman docker's format),
-- whoever created it. For an exec started without a `detach_keys` option.
-- @usage op:adopt_detach_keys()
function ExecOperation:adopt_detach_keys()
  local keys = self:info().DetachKeys
  if type(keys) ~= "string" or keys == "" then return end
  local bytes = core.parse_keys(keys) or util.unbase64(keys)
  if bytes and bytes ~= "" then
    self.opts.detach_spec, self.opts.detach_bytes = keys, bytes
  end
end

function ExecOperation:describe()
  return "exec " .. self.exec_id
end

--- Whether the exec's process has a tty.
-- @usage if op:is_process_tty() then ... end
-- The exec's tty and stdin: as exec_command asked exec_create for them
-- (no inspect before start), else from exec inspect.
function ExecOperation:_config()
  if self._created and not self._info then return self._created end
  local info = self:info()
  return { tty = (info.ProcessConfig or {}).tty == true, stdin = info.OpenStdin == true }
end

function ExecOperation:is_process_tty()
  return self:_config().tty
end
ExecOperation.is_tty = ExecOperation.is_process_tty

function ExecOperation:stdin_attached()
  return self.opts.stdin ~= false and self:_config().stdin
end

function ExecOperation.was_running()
  return false
end

-- The text of a stream read whole: frames unwrapped when multiplexed.
local function stream_text(data)
  local out, i = {}, 1
  while #data - i + 1 >= 8 and data:find("^[%z\1\2]%z%z%z", i) do
    local len = string.unpack(">I4", data, i + 4)
    out[#out + 1] = data:sub(i + 8, i + 7 + len)
    i = i + 8 + len
  end
  out[#out + 1] = data:sub(i)
  return table.concat(out)
end

--- Raise the daemon's error when the exec already ran (or runs): it cannot
-- be started again. The daemon says so only inside the stream it opens
-- (Docker writes "Error: Exec command ID has already run" as output, then
-- closes), where it would pass for the process's output and the old exit
-- code for its status; so it is asked for apart. Once per operation; an
-- exec this operation created (ExecOperation.created) is new and not asked
-- about. Every start of an existing exec goes through it (`sockets`).
-- @usage op:refuse_spent()
function ExecOperation:refuse_spent()
  if self._created or self._fresh then return end
  local info = self:info()
  local ran = info.Running == true
    or (math.type(info.Pid) ~= nil and info.Pid ~= 0 and type(info.ExitCode) == "number")
  if not ran then
    self._fresh = true
    return
  end
  local data = self.client:exec_start(self.exec_id, { tty = self:is_tty() })
  local text = type(data) == "string" and stream_text(data):gsub("%s+$", "") or ""
  if text == "" then text = "Error: Exec command " .. self.exec_id .. " has already run" end
  local msg = text:gsub("^Error: ", ""):gsub("^(%u)(%l)", function(a, b) return a:lower() .. b end)
  errors.raise("api", msg .. " (409)", 409, { detail = text })
end

--- Start the exec with a hijacked connection (an exec that already ran
-- raises the daemon's error: `refuse_spent`).
-- @usage local conn = op:sockets()
function ExecOperation:sockets()
  if self._conn then return self._conn end
  self:refuse_spent()
  local size = self:is_tty() and self:local_size() or nil
  self._conn = self.client:exec_start(self.exec_id, { socket = true, tty = self:is_tty(),
    console_size = size })
  return self._conn
end

function ExecOperation:start(sockets)
  local conn = sockets or self:sockets()
  self._conn = conn
  return self:pumps(conn)
end

function ExecOperation:resize(rows, cols)
  return self.client:exec_resize(self.exec_id, rows, cols)
end

function ExecOperation.proxy_signals()
  return nil    -- an exec's process cannot be signalled through the API
end

--- After the stream ended: the exit code from exec inspect, polled briefly
-- until Running is false.
-- @usage local ok, how, code = op:finish()
function ExecOperation:finish()
  local how = self:stream_outcome()
  if how == "detach" then return true, "detach" end
  local info
  for i = 1, 40 do
    info = self:info(true)
    if not info.Running then break end
    core.sleep(math.min(10 * i, 100))
  end
  if info.Running then
    return true, "detach"   -- the stream ended while the process runs on
  end
  local code = info.ExitCode
  if type(code) ~= "number" then code = 0 end
  return result(code)
end

-- }======================================================

return M
