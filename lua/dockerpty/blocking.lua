--- dockerpty.blocking: the façade's entry points (start, run, exec_create,
-- start_exec, exec_command), each running one session in the current
-- terminal until it ends. `dockerpty` (init.lua) documents and exports
-- them; the command loads this module alone, without the session engine
-- and the Swarm services it does not use, for a quicker start.
-- @module dockerpty.blocking
local core = require("dockerpty.core")
local config = require("dockerpty.config")
local errors = require("dockerpty.errors")
local operation = require("dockerpty.operation")
local pty = require("dockerpty.pty")
local tty = require("dockerpty.tty")
local util = require("dockerpty.util")

local M = {}

-- The client methods each entry point uses: a wrong client is refused at
-- once, not met as "attempt to call a nil value" inside a session.
local NEEDS = {
  start = { "inspect_container", "wait_async", "attach_socket", "start", "resize", "kill" },
  exec_create = { "exec_create" },
  start_exec = { "exec_inspect", "exec_start", "exec_resize" },
  exec_command = { "inspect_container", "exec_create", "exec_inspect", "exec_start", "exec_resize" },
}

-- A recording header's command: the words of the lists given, in order
-- (an inspect's; a string counts as one word, anything else as none); nil
-- when there are none.
local function process_command(...)
  local words = {}
  for i = 1, select("#", ...) do
    local list = select(i, ...)
    if type(list) == "string" then list = { list } end
    for _, w in ipairs(type(list) == "table" and list or {}) do words[#words + 1] = tostring(w) end
  end
  return words[1] and words or nil
end

-- Whether the options ask for a recording not opened yet (dockerpty.run
-- opens its own before creating the container, with the create's command).
local function will_record(op)
  local r = op.opts.record
  return r and not operation.is_recorder(r)
end

-- dockerpty.start (its documentation is in init.lua)
function M.start(client, container, opts)
  util.check_client(1, "start", client, NEEDS.start)
  util.id_of(2, "start", container)
  local op = operation.RunOperation.new(client, container, operation.options("start", opts))
  local command
  if will_record(op) then
    -- the inspect the session makes first anyway (cached): the header's
    -- command is what the container runs, its Entrypoint then its Cmd
    -- (not Path and Args: Podman repeats a lone Path as Args)
    local conf = op:info().Config or {}
    command = process_command(conf.Entrypoint, conf.Cmd)
  end
  return pty.PseudoTerminal.new(client, op:open_recording(command)):start()
end

-- auto_remove: the daemon removes the container when it stops
-- (AutoRemove); make sure it is gone before returning. 404: already
-- removed; 409: removal in progress. A container that still runs (the
-- session failed) is left to AutoRemove, as docker does.
local function ensure_removed(client, id)
  local ok, info = pcall(client.inspect_container, client, id)
  if not ok then
    if errors.is(info) and info.status == 404 then return end
    error(info, 0)
  end
  if info.State and info.State.Running then return end
  ok, info = pcall(client.remove_container, client, id, { v = true, force = true })
  if not ok and not (errors.is(info) and (info.status == 404 or info.status == 409)) then
    error(info, 0)
  end
  for _ = 1, 200 do
    ok, info = pcall(client.inspect_container, client, id)
    if not ok then
      if errors.is(info) and info.status == 404 then return end
      error(info, 0)
    end
    core.sleep(50)
  end
  errors.raise("timeout", "container " .. id .. " was not removed within 10 s")
end

--- The command a container made from `create_opts` runs, as far as they
-- say: the entrypoint's words then the command's, or the command alone
-- (nil when the image's default runs: known only once created). For the
-- header of a recording.
-- @usage local argv = blocking.create_command{ entrypoint = "sh", command = { "-c", "x" } }
function M.create_command(copts)
  local ok, words = pcall(util.argv, 2, "run", copts.entrypoint)
  if not ok then return copts.command end
  local with, rest = pcall(util.argv, 2, "run", copts.command)
  if with then table.move(rest, 1, #rest, #words + 1, words) end
  return words
end

-- dockerpty.run (its documentation is in init.lua)
function M.run(client, create_opts, opts)
  util.check(1, "run", client, "table")
  util.check(2, "run", create_opts, "table")
  util.check(3, "run", opts, "table", true)
  local sopts, remove = {}, false
  for k, v in pairs(opts or {}) do
    if k == "auto_remove" then remove = v and true or false else sopts[k] = v end
  end
  local copts = {}
  for k, v in pairs(create_opts) do copts[k] = v end
  local hc = {}
  for k, v in pairs(create_opts.host_config or {}) do hc[k] = v end
  if remove then hc.AutoRemove = true end
  remove = hc.AutoRemove == true
  copts.host_config = next(hc) and hc or nil
  if sopts.record then
    -- the recording first: a path that cannot be written fails before
    -- the container is created
    local o = operation.options("start", sopts)
    sopts.record = operation.open_record(o, M.create_command(copts), tty.size(o.stdout) or tty.size(o.stdin))
  end
  local made, created = pcall(client.create_container, client, copts)
  if not made then
    if operation.is_recorder(sopts.record) then sopts.record:close() end
    error(created, 0)
  end
  local ok, res, how, code = pcall(M.start, client, created, sopts)
  if remove and (not ok or how ~= "detach") then
    ensure_removed(client, created.Id)
  end
  if not ok then error(res, 0) end
  return res, how, code, created.Id
end

-- dockerpty.exec_create (its documentation is in init.lua)
function M.exec_create(client, container, command, interactive)
  util.check_client(1, "exec_create", client, NEEDS.exec_create)
  util.id_of(2, "exec_create", container)
  util.argv(3, "exec_create", command)
  -- the daemon watches for the same detach keys as start_exec will
  return client:exec_create(container, command, { stdin = interactive and true or false,
    tty = interactive and true or false, detach_keys = config.detach_keys(nil) })
end

-- dockerpty.start_exec (its documentation is in init.lua)
function M.start_exec(client, exec_id, opts)
  util.check_client(1, "start_exec", client, NEEDS.start_exec)
  util.id_of(2, "start_exec", exec_id)
  local op = operation.ExecOperation.new(client, exec_id, operation.options("start_exec", opts))
  op:refuse_spent()     -- before a recording is opened (ExecOperation:sockets asks too)
  if opts == nil or opts.detach_keys == nil then op:adopt_detach_keys() end
  local command
  if will_record(op) then
    -- refuse_spent's inspect (cached): the command the exec was created with
    local pc = op:info().ProcessConfig or {}
    command = process_command(pc.entrypoint, pc.arguments)
  end
  return pty.PseudoTerminal.new(client, op:open_recording(command)):start()
end

-- dockerpty.exec_command (its documentation is in init.lua)
function M.exec_command(client, container, command, opts)
  util.check_client(1, "exec_command", client, NEEDS.exec_command)
  local op = operation.create_exec("exec_command", client, container, command, opts)
  return pty.PseudoTerminal.new(client, op):start()
end

return M
