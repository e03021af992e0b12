--- dockerpty: attach the current terminal to a Docker container's pseudo-tty.
--
-- What `docker run -it`, `docker exec -it` and `docker attach` do, as a Lua
-- library: Python dockerpty's API, with exit codes, detach that returns,
-- stdin EOF that reaches the container, stderr kept apart in exec and a
-- terminal that is always restored.
-- @module dockerpty
-- @usage
-- local dockerpty = require("dockerpty")
-- local client = dockerpty.client.from_env()
-- local c = client:create_container{ image = "busybox", command = "sh", tty = true, stdin_open = true }
-- print(dockerpty.start(client, c))  --> true  exit  0
local core = require("dockerpty.core")
local client = require("dockerpty.client")
local errors = require("dockerpty.errors")
local operation = require("dockerpty.operation")
local pty = require("dockerpty.pty")
local tty = require("dockerpty.tty")
local util = require("dockerpty.util")

local M = {}

M._VERSION = core._VERSION
M.core = core
M.client = client
M.errors = errors
M.tty = tty
M.io = require("dockerpty.io")
M.Operation = operation.Operation
M.RunOperation = operation.RunOperation
M.ExecOperation = operation.ExecOperation
M.PseudoTerminal = pty.PseudoTerminal
M.WINCHHandler = pty.WINCHHandler
M.session = require("dockerpty.session")

--- Attach to a container, starting it if it is not running, until it
-- ends or the user detaches.
-- @tparam Client client
-- @tparam string|table container id, name or table with `Id`
-- @tparam[opt] table opts `interactive` (true), `stdin`, `stdout`, `stderr`
-- (files, fds, a string for stdin, functions for output, false to leave
-- out), `logs` (false), `detach_keys` (docker format), `sig_proxy` (true)
-- @treturn[1] true|nil, "exit", code
-- @treturn[2] true, "detach"
-- @usage local ok, how, code = dockerpty.start(client, "my-container")
function M.start(cl, container, opts)
  util.check(1, "start", cl, "table")
  local op = operation.RunOperation.new(cl, container, opts)
  return pty.PseudoTerminal.new(cl, op):start()
end

--- Create an exec as Python dockerpty does: `interactive` gives both a tty
-- and stdin.
-- @treturn table `{Id=}`
function M.exec_create(cl, container, command, interactive)
  util.check(1, "exec_create", cl, "table")
  return cl:exec_create(container, command, { stdin = interactive and true or false,
    tty = interactive and true or false })
end

--- Start an exec made by exec_create and attach to it.
-- @treturn[1] true|nil, "exit", code
-- @treturn[2] true, "detach"
function M.start_exec(cl, exec_id, opts)
  util.check(1, "start_exec", cl, "table")
  local op = operation.ExecOperation.new(cl, exec_id, opts)
  return pty.PseudoTerminal.new(cl, op):start()
end

--- Run a command in a running container and attach to it. The exec gets
-- a tty when `opts.tty` says so (default: interactive and stdin is a
-- terminal); without one, its stderr stays apart.
-- @usage local ok, how, code = dockerpty.exec_command(client, "web", "sh -c 'exit 7'")
function M.exec_command(cl, container, command, opts)
  util.check(1, "exec_command", cl, "table")
  local o = operation.options("exec_command", opts)
  util.id_of(2, "exec_command", container)
  util.argv(3, "exec_command", command)
  local attach_stdin = o.interactive and o.stdin ~= false
  local want_tty = o.tty
  if want_tty == nil then want_tty = attach_stdin and tty.isatty(o.stdin) end
  if want_tty and attach_stdin and (math.type(o.stdin) == "integer" or io.type(o.stdin) == "file")
      and not tty.isatty(o.stdin) then
    errors.raise("usage", "the input device is not a TTY")
  end
  -- inspect first, so "no such container" wins and no exec is left behind
  cl:inspect_container(container)
  local size = want_tty and (tty.size(o.stdout) or tty.size(o.stdin)) or nil
  local exec = cl:exec_create(container, command, {
    stdin = attach_stdin, tty = want_tty and true or false, environment = o.environment,
    workdir = o.workdir, user = o.user, privileged = o.privileged,
    detach_keys = opts and opts.detach_keys, console_size = size,
  })
  local eopts = {}
  for k, v in pairs(opts or {}) do eopts[k] = v end
  eopts.tty, eopts.environment, eopts.workdir, eopts.user, eopts.privileged = nil, nil, nil, nil, nil
  return M.start_exec(cl, exec, eopts)
end

return M
