-- spec/support/tmux.lua: drive a program in a real terminal for #tty specs,
-- through Debian's tmux. Each instance runs its own tmux server (its own
-- socket file, -S, removed by kill(); -f /dev/null), so specs never share
-- state with each other or with the user's tmux.
--
--   local tmux = require("support.tmux")
--   local t = tmux.new{ cmd = { "lua5.4", "-e", "..." }, rows = 20, cols = 80 }
--   finally(function() t:kill() end)
--   t:wait_for("ready")
--   t:send("hello"); t:keys("Enter")
--   assert.equal(0, t:wait_exit())
local M = {}

local Tmux = {}
Tmux.__index = Tmux

M.POLL_S = 0.05          -- screen polling interval
M.TIMEOUT_S = 5          -- default wait_for / wait_exit timeout
M.TERM = "screen"        -- the program's TERM

local SESSION = "dp"
local counter = 0

-- Quote s for /bin/sh.
local function shquote(s)
  s = tostring(s)
  if s:match("^[%w%./_=:,+@%%-]+$") then
    return s
  end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
M.shquote = shquote

-- tmux treats an argument ending in ';' as a command separator; a trailing
-- "\;" stands for a literal ';'.
local function tmuxarg(s)
  s = tostring(s)
  if s:sub(-1) == ";" then
    return s:sub(1, -2) .. "\\;"
  end
  return s
end

local function sleep(s)
  local ok, core = pcall(require, "dockerpty.core")
  if ok and core.sleep then
    core.sleep(math.floor(s * 1000 + 0.5))
  else
    os.execute("sleep " .. s)
  end
end

local function now()
  local ok, core = pcall(require, "dockerpty.core")
  if ok and core.now then
    return core.now() / 1000
  end
  return os.time()
end

local function getpid()
  local f = io.open("/proc/self/stat")
  if f then
    local pid = f:read("n")
    f:close()
    if pid then return math.tointeger(pid) end
  end
  local ok, tc = pcall(require, "dockerpty_test")
  if ok then return tc.getpid() end
  return math.random(1, 1 << 30)
end

local function pwd()
  local p = assert(io.popen("pwd"))
  local dir = p:read("l")
  p:close()
  return dir
end

-- A Lua search path with relative entries made absolute, so the program
-- finds the same modules whatever its cwd.
local function abspath(path, base)
  local out = {}
  for entry in (path .. ";"):gmatch("([^;]*);") do
    if entry ~= "" and entry:sub(1, 1) ~= "/" then
      entry = base .. "/" .. entry:gsub("^%./", "")
    end
    out[#out + 1] = entry
  end
  return table.concat(out, ";")
end

-- Run tmux with the given arguments against this instance's server.
-- Returns the output, or raises with it when tmux fails (unless soft).
function Tmux:_run(soft, ...)
  local args = { "tmux", "-S", shquote(self.socket), "-f", "/dev/null" }
  for i = 1, select("#", ...) do
    args[#args + 1] = shquote(tmuxarg((select(i, ...))))
  end
  local cmd = table.concat(args, " ") .. " 2>&1"
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, _, code = p:close()
  if not ok and not soft then
    error(("tmux failed (%s): %s\n%s"):format(tostring(code), cmd, out), 3)
  end
  return out, ok
end

--- Start a detached session running opts.cmd in a rows x cols terminal
-- (default 24 x 80), with remain-on-exit on. cmd is an argv table (exec'd
-- by /bin/sh, so pid() is the program's) or a /bin/sh command string.
-- opts.env adds variables; opts.cwd (default ".") is the directory;
-- opts.term overrides TERM (default M.TERM).
function M.new(opts)
  opts = opts or {}
  assert(opts.cmd, "tmux.new: cmd expected")
  counter = counter + 1
  local self = setmetatable({
    socket = ("%s/dockerpty-tmux-%d-%d"):format(os.getenv("TMPDIR") or "/tmp", getpid(), counter),
    rows = opts.rows or 24,
    cols = opts.cols or 80,
    killed = false,
  }, Tmux)
  local base = pwd()
  local cwd = opts.cwd or "."
  if cwd:sub(1, 1) ~= "/" then
    cwd = base .. "/" .. cwd
  end
  local cmd = opts.cmd
  if type(cmd) == "table" then
    local q = {}
    for i, a in ipairs(cmd) do q[i] = shquote(a) end
    -- exec: the pane's pid and exit status are the program's own
    cmd = "exec " .. table.concat(q, " ")
  end
  local env = {
    LUA_PATH = abspath(package.path, base),
    LUA_CPATH = abspath(package.cpath, base),
    DP_BUILD = os.getenv("DP_BUILD"),
    DOCKER_HOST = os.getenv("DOCKER_HOST"),
  }
  env.LUA_PATH_5_4, env.LUA_CPATH_5_4 = env.LUA_PATH, env.LUA_CPATH
  for k, v in pairs(opts.env or {}) do env[k] = v end
  local names = {}
  for k in pairs(env) do names[#names + 1] = k end
  table.sort(names)
  local args = {
    "start-server", ";",
    "set-option", "-g", "default-terminal", opts.term or M.TERM, ";",
    "set-option", "-g", "default-shell", "/bin/sh", ";",
    "set-option", "-g", "status", "off", ";",
    "set-option", "-g", "remain-on-exit", "on", ";",
    "set-option", "-g", "history-limit", "0", ";",
    "new-session", "-d", "-s", SESSION, "-x", self.cols, "-y", self.rows, "-c", cwd,
  }
  for _, k in ipairs(names) do
    args[#args + 1] = "-e"
    args[#args + 1] = k .. "=" .. tostring(env[k])
  end
  args[#args + 1] = cmd
  -- The separators must reach tmux as bare ";" arguments.
  local quoted = { "tmux", "-S", shquote(self.socket), "-f", "/dev/null" }
  for _, a in ipairs(args) do
    quoted[#quoted + 1] = a == ";" and "';'" or shquote(tmuxarg(a))
  end
  local line = table.concat(quoted, " ") .. " 2>&1"
  local p = assert(io.popen(line))
  local out = p:read("a")
  if not p:close() then
    self:kill()
    error("tmux new-session failed: " .. line .. "\n" .. out, 2)
  end
  return self
end

--- Type literal text (send-keys -l).
function Tmux:send(text)
  self:_run(false, "send-keys", "-t", SESSION, "-l", "--", text)
  return self
end

--- Press named keys ("Enter", "C-p", "Escape", "Up").
function Tmux:keys(...)
  self:_run(false, "send-keys", "-t", SESSION, ...)
  return self
end

--- The visible screen: lines joined with "\n", trailing blanks trimmed.
-- With `history` true, the lines scrolled off the top come first (tmux
-- scrolls one line when it prints "Pane is dead" on a full screen).
function Tmux:screen(history)
  local out = history and self:_run(false, "capture-pane", "-p", "-S", "-", "-t", SESSION)
    or self:_run(false, "capture-pane", "-p", "-t", SESSION)
  local lines = {}
  for line in (out .. "\n"):gmatch("([^\n]*)\n") do
    lines[#lines + 1] = (line:gsub("%s+$", ""))
  end
  while #lines > 0 and lines[#lines] == "" do
    lines[#lines] = nil
  end
  return table.concat(lines, "\n")
end

--- Poll the screen every POLL_S until it matches a Lua pattern or
-- fn(screen) is true. Returns the screen; raises after timeout_s (default
-- 5) with the last screen and what was awaited.
function Tmux:wait_for(what, timeout_s)
  local deadline = now() + (timeout_s or M.TIMEOUT_S)
  local test
  if type(what) == "function" then
    test = what
  else
    test = function(s) return s:find(what) ~= nil end
  end
  local screen
  repeat
    screen = self:screen()
    if test(screen) then
      return screen
    end
    sleep(M.POLL_S)
  until now() >= deadline
  screen = self:screen()
  if test(screen) then
    return screen
  end
  local desc = type(what) == "function" and tostring(what) or ("%q"):format(what)
  -- Runs of blank lines are squeezed so that the end of a long report (a CI
  -- log shows only its tail) still holds the screen's text.
  local shown = screen:gsub("\n\n\n+", function(run)
    return ("\n[%d blank lines]\n"):format(#run - 1)
  end)
  error(("tmux: timed out after %s s waiting for %s; last screen:\n%s\n%s\n%s")
    :format(timeout_s or M.TIMEOUT_S, desc, ("-"):rep(self.cols), shown, ("-"):rep(self.cols)), 2)
end

-- A format string of the pane (display-message -p).
function Tmux:_format(fmt)
  local out = self:_run(false, "display-message", "-p", "-t", SESSION, fmt)
  return (out:gsub("\n$", ""))
end

--- Resize the window (the pane follows).
function Tmux:resize(rows, cols)
  self:_run(false, "resize-window", "-t", SESSION, "-x", cols, "-y", rows)
  self.rows, self.cols = rows, cols
  return self
end

--- Wait until the program exited; returns its exit status, or nil and the
-- signal number when a signal killed it. Raises after timeout_s.
function Tmux:wait_exit(timeout_s)
  local deadline = now() + (timeout_s or M.TIMEOUT_S)
  local unreaped = 0
  while true do
    local dead, status, signal, server = self:_format(
      "#{pane_dead} #{pane_dead_status} #{pane_dead_signal} #{pid}"):match("^(%d*) (%d*) (%d*) (%d*)")
    -- pane_dead turns 1 at pty EOF, the status once tmux has reaped the
    -- child. Under load tmux 3.3a sometimes misses the SIGCHLD and leaves
    -- the child a zombie with no status; a SIGCHLD to our own server makes
    -- it reap (waitpid) and record the status.
    if dead == "1" and status ~= "" then
      return math.tointeger(tonumber(status))
    elseif dead == "1" and signal ~= "" then
      return nil, math.tointeger(tonumber(signal))
    elseif dead == "1" then
      unreaped = unreaped + 1
      if unreaped % 4 == 0 and server ~= "" then
        os.execute("kill -CHLD " .. server .. " 2>/dev/null")
      end
    end
    if now() >= deadline then
      error(("tmux: timed out after %s s waiting for the program to exit; last screen:\n%s")
        :format(timeout_s or M.TIMEOUT_S, self:screen()), 2)
    end
    sleep(M.POLL_S)
  end
end

--- The pid of the program in the pane.
function Tmux:pid()
  return math.tointeger(tonumber(self:_format("#{pane_pid}")))
end

--- Run any other tmux command against this server; returns its output.
function Tmux:command(...)
  return (self:_run(false, ...))
end

--- Stop the server and the program and remove the socket; idempotent.
function Tmux:kill()
  if not self.killed then
    self.killed = true
    self:_run(true, "kill-server")
    os.remove(self.socket)
  end
  return true
end

return M
