--- Many sessions in one process: each Session is one attach or exec with
-- its own stdin (a string, a file or false) and its own stdout and stderr
-- sinks (functions, files, fds or false); `run_all` drives any number of
-- them in one poll loop. Sessions never touch the terminal (no raw mode, no
-- resize), so they suit scripts that fan out to many containers.
-- The blocking `dockerpty.start`, `exec_command` and `start_exec` are
-- unchanged.
-- @module dockerpty.session
-- @usage
-- local sessions = {}
-- for i, id in ipairs(containers) do
--   sessions[i] = session.exec(client, id, "wc -c", { stdin = "hello", stdout = collect(i) })
-- end
-- for i, r in ipairs(session.run_all(sessions)) do print(i, r.ok, r.how, r.code) end
local core = require("dockerpty.core")
local operation = require("dockerpty.operation")
local util = require("dockerpty.util")

local M = {}

local Session = {}
Session.__index = Session
M.Session = Session

local function session_options(opts)
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.stdin == nil then o.stdin = false end   -- not the shared terminal
  return o
end

--- A session that runs `command` in a running container (exec, no tty by
-- default: stdout and stderr stay apart). The exec is created at once.
-- @tparam Client client
-- @tparam string|table container
-- @tparam string|table command
-- @tparam[opt] table opts `stdin`, `stdout`, `stderr`, `tty`, `environment`,
-- `workdir`, `user`, `privileged`
-- @usage local s = session.exec(client, "web", "wc -c", { stdin = "abc", stdout = print })
function M.exec(client, container, command, opts)
  util.check(1, "exec", client, "table")
  local o = session_options(opts)
  local exec = client:exec_create(container, command, {
    stdin = o.stdin ~= false, tty = o.tty and true or false, environment = o.environment,
    workdir = o.workdir, user = o.user, privileged = o.privileged,
  })
  o.tty, o.environment, o.workdir, o.user, o.privileged = nil, nil, nil, nil, nil
  return setmetatable({ op = operation.ExecOperation.new(client, exec, o) }, Session)
end

--- A session attached to a container, which is started if it is not running.
-- @usage local s = session.run(client, id, { stdout = function(chunk) ... end })
function M.run(client, container, opts)
  util.check(1, "run", client, "table")
  local o = session_options(opts)
  return setmetatable({ op = operation.RunOperation.new(client, container, o) }, Session)
end

--- Open the connection and start; returns the pumps for a loop.
-- @usage local pumps = s:open()
function Session:open()
  if not self.pumps then
    self.pumps = self.op:start()
  end
  return self.pumps
end

--- Whether the session's output has ended.
-- @usage if s:finished() then print(s:result()) end
function Session:finished()
  -- the output decides: stdin and the wait's answer do not hold it open
  local out = self.op._out_pump
  if not out then return false end
  local st = out:status()
  return st ~= "running" and st ~= "flushing"
end

--- After the loop: `true|nil, "exit", code` or `true, "detach"`; raises the
-- session's error. Closes the session.
-- @usage local ok, how, code = s:result()
function Session:result()
  local ok, a, b, c = pcall(self.op.finish, self.op)
  self:close()
  if not ok then error(a, 0) end
  return a, b, c
end

--- Release the connections (idempotent).
-- @usage s:close()
function Session:close()
  self.op:close()
end
Session.__close = Session.close

--- Run sessions to their end in one poll loop.
-- @tparam table sessions a list of Session
-- @tparam[opt] table opts `timeout` (ms for the whole run; sessions not
-- finished by then get `{ok = nil, how = "timeout"}` and are closed)
-- @treturn table one entry per session: `{ok=, how=, code=}`, or
-- `{ok = nil, how = "error", error = e}` when it failed (opening or after)
-- @usage for i, r in ipairs(session.run_all(list, { timeout = 60000 })) do print(i, r.how, r.code) end
function M.run_all(sessions, opts)
  util.check(1, "run_all", sessions, "table")
  opts = util.check(2, "run_all", opts, "table", true) or {}
  local results = {}
  local lp = core.loop()
  for i, s in ipairs(sessions) do
    local ok, pumps = pcall(s.open, s)
    if ok then
      for _, p in ipairs(pumps) do lp:add(p) end
    else
      results[i] = { ok = nil, how = "error", error = pumps }
      pcall(s.close, s)
    end
  end
  local how = lp:run(opts.timeout)
  for i, s in ipairs(sessions) do
    if not results[i] then
      if how == "timeout" and not s:finished() then
        s:close()
        results[i] = { ok = nil, how = "timeout" }
      else
        local ok, a, b, c = pcall(s.result, s)
        if ok then
          results[i] = { ok = a, how = b, code = c }
        else
          results[i] = { ok = nil, how = "error", error = a }
        end
      end
    end
  end
  return results
end

return M
