--- PseudoTerminal: runs an operation in the current terminal. It opens the
-- connection, starts the pumps in one poll loop, puts the terminal in raw
-- mode when the remote side has a tty, keeps the remote size in step with
-- the local one, and restores the terminal on every way out.
-- @module dockerpty.pty
local core = require("dockerpty.core")
local errors = require("dockerpty.errors")
local resize = require("dockerpty.resize")
local tty = require("dockerpty.tty")

local M = {}

local PseudoTerminal = {}
PseudoTerminal.__index = PseudoTerminal
M.PseudoTerminal = PseudoTerminal

--- Make a pseudo-terminal for an operation.
-- @tparam Client client
-- @tparam Operation operation a RunOperation or ExecOperation
-- @tparam[opt] table deps injectable `sleep(ms)` (the wait between resize
-- tries; default: run the loop that long) and `warn(msg)`, for tests
-- @usage local pty = dockerpty.PseudoTerminal.new(client, op)
function PseudoTerminal.new(client, operation, deps)
  deps = deps or {}
  return setmetatable({
    client = client,
    operation = operation,
    loop = core.loop(),
    _sleep = deps.sleep,
    _warn = deps.warn or function(msg) operation:warn(msg) end,
  }, PseudoTerminal)
end

-- While the terminal is raw (no output processing: a "\n" does not return
-- the cursor) the warnings of the session, the pty's and the operation's,
-- are held, and given in order once the terminal is restored, each on a
-- line of its own from column 0.
function PseudoTerminal:_hold_warnings()
  local op, held = self.operation, {}
  local opts = op.opts
  local warn, own = opts.warn, self._warn
  if warn then opts.warn = function(msg) held[#held + 1] = { warn, msg } end end
  self._warn = function(msg) held[#held + 1] = { own, msg } end
  return function()
    opts.warn, self._warn = warn, own
    for _, w in ipairs(held) do w[1](w[2]) end
  end
end

--- Resize the remote tty to `size` ({rows, cols}; default: the local size).
-- Best effort: returns true, or false and the error.
-- @usage pty:resize({40, 120})
function PseudoTerminal:resize(size)
  local op = self.operation
  if not op:is_tty() then return false end
  size = size or op:local_size()
  if not size then return false end
  local ok, err = op:try_resize(size[1], size[2])
  -- a recording shows the terminal at its new size
  if ok then op:record_resize(size[1], size[2]) end
  return ok, err
end

-- The first resize: retried while the process is not ready yet
-- (dockerpty.resize), then a warning. Between tries the loop runs, so the
-- output flows; when the session ends meanwhile the retries stop, without
-- a warning, and how the loop ended is returned ("done", or "signal" and
-- its name). Attaching to a running tty redraws its screen by resizing to
-- (rows+1, cols+1) and back.
function PseudoTerminal:_initial_resize()
  local op = self.operation
  if not op:is_tty() then return end
  local size = op:local_size()
  if not size then return end
  if op:was_running() then
    op:try_resize(size[1] + 1, size[2] + 1)
  end
  local ended
  local function wait(ms)
    if self._sleep then return self._sleep(ms) end
    local how, sig = self.loop:run(ms)
    if how ~= "timeout" then
      ended = { how, sig }
      return true
    end
  end
  local ok, _, _, stopped = resize.retry(function() return op:try_resize(size[1], size[2]) end, wait)
  if not ok and not stopped then
    self._warn("dockerpty: failed to resize tty, using default size")
  end
  if ended then return ended[1], ended[2] end
end

local WINCHHandler = {}
WINCHHandler.__index = WINCHHandler
M.WINCHHandler = WINCHHandler

--- Resizes the pty's remote tty whenever the local one changes (SIGWINCH,
-- delivered through the poll loop and coalesced).
-- @usage local h = dockerpty.WINCHHandler.new(pty):start()
function WINCHHandler.new(pty)
  return setmetatable({ pty = pty }, WINCHHandler)
end

-- @usage h:start()
function WINCHHandler:start()
  local pty = self.pty
  pty.loop:on_winch(function() pty:resize() end)
  return self
end

-- @usage h:stop()
function WINCHHandler:stop()
  self.pty.loop:on_winch(nil)
  return self
end

--- Run the session to its end.
-- @tparam[opt] dockerpty.Conn sockets an already opened connection
-- @treturn[1] true|nil, "exit", code when the process ended
-- @treturn[2] true, "detach" when the user detached
-- @usage local ok, how, code = pty:start()
function PseudoTerminal:start(sockets)
  local op = self.operation
  local ok, pumps = pcall(function()
    op:check_tty()
    return op:start(sockets)
  end)
  if not ok then
    op:close()
    error(pumps, 0)
  end
  local term = tty.Terminal.new(op.opts.stdin, op:israw())
  local winch = WINCHHandler.new(self)
  local lp = self.loop
  for _, p in ipairs(pumps) do lp:add(p) end
  local forward = op:proxy_signals()
  local stop = { "INT", "TERM", "HUP" }
  if forward then
    stop = {}
    lp:signals(stop, forward, function(name) op:send_signal(name) end)
  else
    lp:signals(stop)
  end
  local release = op:israw() and self:_hold_warnings()
  local ran, how, sig = pcall(function()
    term:start()
    if op:is_tty() then
      local ended, name = self:_initial_resize()
      if ended then return ended, name end
      winch:start()
    end
    return lp:run()
  end)
  -- every way out (exit, detach, lost stream, error, signal): the modes
  -- the program left on are undone before the termios state comes back
  op:undo_modes()
  term:stop()
  winch:stop()
  for _, p in ipairs(pumps) do lp:remove(p) end
  if release then
    -- a warn function that raises is the session's error, if it has none
    local wok, werr = pcall(release)
    if not wok and ran then ran, how = false, werr end
  end
  if not ran then
    op:close()
    error(how, 0)
  end
  if how == "signal" then
    -- a library does not re-raise a signal into its host (a REPL must
    -- survive Ctrl-C): the session ends and the call says why; the
    -- command re-raises it (bin/dockerpty)
    op:close()
    errors.raise("interrupted", "interrupted by SIG" .. sig, nil, { signal = sig })
  end
  local rok, a, b, c = pcall(op.finish, op)
  op:close()
  if not rok then error(a, 0) end
  return a, b, c
end

return M
