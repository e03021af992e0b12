--- dockerpty: attach the current terminal to a Docker container's pseudo-tty.
--
-- What `docker run -it`, `docker exec -it` and `docker attach` do, as a Lua
-- library: Python dockerpty's API, with exit codes, detach that returns,
-- stdin EOF that reaches the container, stderr kept apart in exec and a
-- terminal that is always restored.
--
-- Session options (the `opts` table of `start`, `exec_command`, `start_exec`):
--
-- * `interactive` (default true): attach stdin.
-- * `stdin` (default `io.stdin`): a file, an fd, a string (sent, then EOF), or false.
-- * `stdout`, `stderr` (default `io.stdout`, `io.stderr`): a file, an fd, a
--   function called with each chunk, or false (discarded).
-- * `logs` (default false): replay the container's earlier output first.
-- * `detach_keys`: docker's format ("ctrl-p,ctrl-q"); default `detachKeys`
--   from `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, else ctrl-p,ctrl-q.
--   "" turns detaching off: every key reaches the container (for `start_exec`,
--   the daemon keeps the keys the exec was created with).
-- * `sig_proxy` (default true): without a tty, forward SIGINT, SIGTERM,
--   SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the container (run and attach).
-- * `warn` (default: a line on stderr): a function called with each warning
--   ("dockerpty: failed to resize tty, using default size", an output stream cut
--   inside a frame), or false.
-- * `tty` (exec_command only; default: interactive and stdin is a terminal),
--   `environment`, `workdir`, `user`, `privileged` (exec_command only).
-- * `record`: a path, an open file or a function (called with each line):
--   the session recorded as asciicast v2 (`dockerpty.record`), output and
--   resizes; a path that cannot be written fails before anything is made.
-- * `record_input` (default false): record what is typed too ("i" events;
--   keystrokes may hold passwords).
--
-- Results follow `os.execute`: `true|nil, "exit", code` when the process
-- ended (`true` only for 0), `true, "detach"` when the user detached. Daemon,
-- transport and protocol failures raise a `dockerpty.errors` object
-- (`message`, `kind`, `status`).
-- @module dockerpty
-- @usage
-- local dockerpty = require("dockerpty")
-- local client = dockerpty.client.from_env()
-- local c = client:create_container{ image = "busybox", command = "sh", tty = true, stdin_open = true }
-- print(dockerpty.start(client, c))  --> true  exit  0
local core = require("dockerpty.core")
local blocking = require("dockerpty.blocking")
local clientlib = require("dockerpty.client")
local errors = require("dockerpty.errors")
local operation = require("dockerpty.operation")
local pty = require("dockerpty.pty")
local tty = require("dockerpty.tty")

local M = {}

--- The version of dockerpty.
M._VERSION = core._VERSION
--- The C core (`dockerpty.core`): pumps, loop, terminal, transport.
M.core = core
--- The Engine API client module (`dockerpty.client`).
M.client = clientlib
--- Error objects (`dockerpty.errors`).
M.errors = errors
--- Terminal helpers (`dockerpty.tty`): `size`, `Terminal`.
M.tty = tty
--- Python dockerpty's io module (`dockerpty.io`): Stream, Demuxer, Pump, select.
M.io = require("dockerpty.io")
--- Base of the operations (`dockerpty.operation`).
M.Operation = operation.Operation
--- Attach to a container, starting it if needed.
M.RunOperation = operation.RunOperation
--- Start an exec and attach to it.
M.ExecOperation = operation.ExecOperation
--- Runs an operation in the current terminal (`dockerpty.pty`).
M.PseudoTerminal = pty.PseudoTerminal
--- Keeps the remote tty's size in step with the local one.
M.WINCHHandler = pty.WINCHHandler
--- Many sessions in one process (`dockerpty.session`).
M.session = require("dockerpty.session")
--- Swarm services: tasks, their nodes' engines, exec in one or all (`dockerpty.service`).
M.service = require("dockerpty.service")

--- Attach to a container, starting it if it is not running, until it
-- ends or the user detaches.
-- @tparam Client client from `dockerpty.client`
-- @tparam string|table container id, name or table with `Id`
-- @tparam[opt] table opts session options (see the module's description)
-- @return `true|nil, "exit", code`, or `true, "detach"`
-- @usage local ok, how, code = dockerpty.start(client, "my-container")
-- @function start
M.start = blocking.start

--- Create a container, attach to it, start it and wait for its end, as
-- `docker run` does; with `auto_remove` (or `AutoRemove` in the create
-- options' `host_config`) the container is gone when the call returns,
-- also when it could not start.
-- @tparam Client client
-- @tparam table create_opts the options of `client:create_container`
-- @tparam[opt] table opts session options, plus `auto_remove`
-- @return `true|nil, "exit", code`, or `true, "detach"`; then the container's id
-- @usage local ok, how, code = dockerpty.run(client, { image = "busybox", command = "true" })
-- @function run
M.run = blocking.run

--- Create an exec as Python dockerpty does: `interactive` gives both a tty
-- and stdin.
-- @tparam Client client
-- @tparam string|table container
-- @tparam string|table command shell-split string or argv table
-- @tparam[opt] boolean interactive
-- @treturn table `{Id=}`
-- @usage local e = dockerpty.exec_create(client, "web", "sh", true)
-- @function exec_create
M.exec_create = blocking.exec_create

--- Start an exec made by exec_create and attach to it.
-- @tparam Client client
-- @tparam string|table exec_id id or table with `Id`
-- @tparam[opt] table opts session options. The daemon's detach keys are
-- the exec's, fixed by exec_create; without a `detach_keys` option the
-- session watches for those same keys.
-- @return `true|nil, "exit", code`, or `true, "detach"`; an exec that
-- already ran raises the daemon's error (kind "api", status 409)
-- @usage print(dockerpty.start_exec(client, dockerpty.exec_create(client, "web", "sh", true)))
-- @function start_exec
M.start_exec = blocking.start_exec

--- Run a command in a running container and attach to it. The exec gets
-- a tty when `opts.tty` says so (default: interactive and stdin is a
-- terminal); without one, its stderr stays apart.
-- @tparam Client client
-- @tparam string|table container
-- @tparam string|table command shell-split string or argv table
-- @tparam[opt] table opts session options, plus `tty`, `environment`,
-- `workdir`, `user`, `privileged`
-- @return `true|nil, "exit", code`, or `true, "detach"`
-- @usage local ok, how, code = dockerpty.exec_command(client, "web", "sh -c 'exit 7'") --> nil exit 7
-- @function exec_command
M.exec_command = blocking.exec_command

return M
