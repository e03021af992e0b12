--- Docker Swarm services: the running tasks of a service, the engine of the
-- node each runs on, and an exec in one task or in all of them at once.
-- The Engine API has no exec across nodes: a task's container is reached
-- on its own node's engine, found by these rules, in this order:
--
-- 1. `opts.nodes[node id or hostname]`: a host string or a client;
-- 2. a docker context named after the node's id or hostname (when
--    `dockerpty.context` is installed; one that does not load is passed
--    over, its error among the rules tried);
-- 3. the client itself, when the task runs on the node it is connected to
--    (`/info` Swarm.NodeID);
-- 4. `ssh://[user@]addr`, the node's address (`opts.ssh_user`).
-- @module dockerpty.service
-- @usage
-- local service = require("dockerpty.service")
-- for _, t in ipairs(service.tasks(client, "web")) do print(t.name, t.hostname) end
-- local ok, how, code = service.exec(client, "web", "uptime", { task = 2 })
-- for _, r in ipairs(service.exec(client, "web", "uptime", { all = true })) do
--   print(r.task.name, r.how, r.code)
-- end
local cjson = require("cjson")
local clientlib = require("dockerpty.client")
local errors = require("dockerpty.errors")
local prefix = require("dockerpty.prefix")
local session = require("dockerpty.session")
local util = require("dockerpty.util")

local M = {}

-- {======================================================
-- Tasks
-- =======================================================

--- `GET /services/{id or name}`; an unknown service is an error object
-- (kind "api", status 404) saying "no such service: NAME".
-- @tparam Client client a manager's
-- @tparam string service name or id
-- @treturn table the daemon's answer (`ID`, `Spec`...)
-- @usage print(service.inspect(client, "web").ID)
function M.inspect(client, service)
  util.check(1, "inspect", client, "table")
  util.check(2, "inspect", service, "string")
  if service == "" then util.argerror(2, "inspect", "empty service name") end
  local ok, r = pcall(client.json, client, "GET", "/services/" .. util.urlencode(service))
  if not ok then
    if errors.is(r) and r.status == 404 then
      errors.raise("api", "no such service: " .. service, 404, { detail = r.detail })
    end
    error(r, 0)
  end
  return r
end

--- The swarm's nodes by id: `{hostname=, addr=, role=, state=}`.
-- @tparam Client client a manager's
-- @usage print(service.nodes(client)[id].hostname)
function M.nodes(client)
  util.check(1, "nodes", client, "table")
  local nodes = {}
  for _, n in ipairs(client:json("GET", "/nodes")) do
    local desc, st, spec = n.Description or {}, n.Status or {}, n.Spec or {}
    nodes[n.ID] = { id = n.ID, hostname = desc.Hostname, addr = st.Addr, state = st.State, role = spec.Role }
  end
  return nodes
end

local function task_order(a, b)
  if (a.slot or 0) ~= (b.slot or 0) then return (a.slot or 0) < (b.slot or 0) end
  return a.name < b.name
end

--- The running tasks of a service, in slot order.
-- @tparam Client client a manager's
-- @tparam string service name or id
-- @treturn table a list of `{id=, slot=, name=, node=, hostname=, addr=,
-- container=, service=}`: `slot` is nil for a global service's task,
-- whose name is then `service.NODEID`, as `docker service ps` shows it
-- @usage for _, t in ipairs(service.tasks(c, "web")) do print(t.name, t.container) end
function M.tasks(client, service)
  util.check(1, "tasks", client, "table")
  util.check(2, "tasks", service, "string")
  local svc = M.inspect(client, service)
  local name = svc.Spec and svc.Spec.Name or service
  local filters = cjson.encode({ service = { svc.ID }, ["desired-state"] = { "running" } })
  local list = client:json("GET", "/tasks", { filters = filters })
  local nodes = M.nodes(client)
  local tasks = {}
  for _, t in ipairs(list) do
    local st = t.Status or {}
    local cid = st.ContainerStatus and st.ContainerStatus.ContainerID
    if st.State == "running" and type(cid) == "string" and cid ~= "" then
      local slot = math.tointeger(t.Slot)
      if slot == 0 then slot = nil end
      local n = nodes[t.NodeID] or {}
      tasks[#tasks + 1] = {
        id = t.ID, slot = slot, name = name .. "." .. (slot or t.NodeID), node = t.NodeID,
        hostname = n.hostname, addr = n.addr, container = cid, service = name,
      }
    end
  end
  table.sort(tasks, task_order)
  return tasks
end

--- The task `which` names among `tasks`: a slot (number or digits), a
-- task's name (`web.2`), its id or a unique prefix of the id; the first
-- when `which` is nil. Raises (kind "api") when there is none.
-- @usage local t = service.pick(tasks, "web", 2)
function M.pick(tasks, service, which)
  if #tasks == 0 then
    errors.raise("api", ("service %s has no running task"):format(service), nil, { name = "no_task" })
  end
  if which == nil then return tasks[1] end
  local slot = math.tointeger(which) or (type(which) == "string" and which:match("^%d+$") and tonumber(which))
  local found
  for _, t in ipairs(tasks) do
    if (slot and t.slot == slot) or t.name == which or t.id == which then return t end
    if not slot and type(which) == "string" and #which >= 1 and t.id:sub(1, #which) == which then
      if found then
        errors.raise("api", ("task %s of service %s is ambiguous"):format(which, service), nil,
          { name = "no_task" })
      end
      found = t
    end
  end
  if found then return found end
  errors.raise("api", ("service %s has no running task %s"):format(service, tostring(which)), nil,
    { name = "no_task" })
end

-- }======================================================

-- {======================================================
-- The engine of a node
-- =======================================================

-- A client for host, with the transport of the client it stems from.
local function client_for(parent, host, tls)
  local tr = parent.transport and parent:transport()
  return clientlib.new({ host = host, tls = tls, transport = tr })
end

local function describe_node(task)
  if task.hostname and task.hostname ~= "" then
    return ("%s (%s)"):format(task.hostname, task.node)
  end
  return task.node
end

-- The node the client is connected to, once per `cache` table.
local function own_node(client, cache)
  if cache.own == nil then
    local ok, info = pcall(client.json, client, "GET", "/info")
    cache.own = ok and type(info) == "table" and info.Swarm and info.Swarm.NodeID or false
  end
  return cache.own
end

local resolve

--- The engine of the node a task runs on, by the module's rules.
-- @tparam Client client the manager's
-- @tparam table task from `tasks`
-- @tparam[opt] table opts `nodes` (`{[id or hostname] = host or client}`),
-- `ssh_user`, `context` (false: skip the context rule)
-- @treturn Client the node's engine (the manager's own client for rule 3)
-- @treturn string the rule: "map", "context", "manager" or "ssh"
-- @treturn string where: the host, or "context NAME"
-- @treturn boolean whether the client was made here (the caller closes it)
-- @treturn table the rules tried before it, one phrase each ("no nodes
-- entry for ID or HOST", "no docker context named ID or HOST", a context's
-- load error, "not the node of HOST"), as errors name them
-- @raise an error object (kind "connection", name "unreachable") naming
-- the node and every rule tried, when none applies
-- @usage local eng, rule = service.engine(client, task, { ssh_user = "ops" })
function M.engine(client, task, opts)
  util.check(1, "engine", client, "table")
  util.check(2, "engine", task, "table")
  opts = util.check(3, "engine", opts, "table", true) or {}
  return resolve(client, task, opts, {})
end

-- An error's message as a phrase within another: no "dockerpty: ", no
-- Lua source position.
local function phrase(e)
  return (tostring(errors.is(e) and e.message or e):gsub("^dockerpty: ", ""):gsub("^[^:\n]*%.lua:%d+: ", ""))
end

-- Rule 2: a context named after the node (one of `keys`). Missing ones
-- are named together in `tried`; one that fails to load, or whose host
-- makes no client, is named with its error.
local function by_context(client, keys, tried)
  local has, context = pcall(require, "dockerpty.context")
  if not has or type(context) ~= "table" or type(context.load) ~= "function" then return nil end
  local missing, broken = {}, {}
  for _, k in ipairs(keys) do
    local ok, ctx = pcall(context.load, k)
    if ok then
      local made, c = pcall(client_for, client, ctx.host, ctx.tls)
      if made then return c, "context", "context " .. k, true end
      broken[#broken + 1] = ('context "%s": %s'):format(k, phrase(c))
    elseif phrase(ctx):find('^context "[^"]*" not found') then
      missing[#missing + 1] = k
    else
      broken[#broken + 1] = phrase(ctx)
    end
  end
  if #missing > 0 then tried[#tried + 1] = "no docker context named " .. table.concat(missing, " or ") end
  table.move(broken, 1, #broken, #tried + 1, tried)
  return nil
end

-- The rules, with what `cache` keeps between tasks (the client's node).
function resolve(client, task, opts, cache)
  local tried = {}
  local keys = { task.node }
  if task.hostname and task.hostname ~= "" and task.hostname ~= task.node then keys[2] = task.hostname end
  -- 1: the map
  local nodes = opts.nodes or {}
  for _, k in ipairs(keys) do
    local v = nodes[k]
    if type(v) == "table" then return v, "map", v.where and v:where() or tostring(k), false, tried end
    if type(v) == "string" then
      local c = client_for(client, v)
      return c, "map", c:where(), true, tried    -- where: no credentials
    end
  end
  tried[#tried + 1] = "no nodes entry for " .. table.concat(keys, " or ")
  -- 2: a context named after the node
  if opts.context ~= false then
    local c, rule, where, owned = by_context(client, keys, tried)
    if c then return c, rule, where, owned, tried end
  end
  -- 3: the manager itself
  local own = own_node(client, cache)
  if own and own == task.node then return client, "manager", client:where(), false, tried end
  tried[#tried + 1] = ("not the node of %s"):format(client:where())
  -- 4: ssh to the node's address
  local addr = task.addr
  if addr and addr ~= "" and addr ~= "0.0.0.0" then
    local host = "ssh://" .. (opts.ssh_user and (opts.ssh_user .. "@") or "") .. addr
    local ok, c = pcall(client_for, client, host)
    if ok then return c, "ssh", host, true, tried end
    tried[#tried + 1] = host .. ": " .. phrase(c)
  else
    tried[#tried + 1] = "no address for ssh"
  end
  errors.raise("connection", ("no engine for node %s of task %s: %s"):format(describe_node(task),
    task.name, table.concat(tried, "; ")), nil, { name = "unreachable", node = task.node })
end

-- }======================================================

-- {======================================================
-- Exec
-- =======================================================

-- Options of service.exec itself; the rest go to exec_command / sessions.
local OWN = { task = true, all = true, nodes = true, ssh_user = true, context = true, sinks = true,
  prefix = true, color = true }
local SESSION = { interactive = true, stdin = true, stdout = true, stderr = true, detach_keys = true,
  sig_proxy = true, tty = true, environment = true, workdir = true, user = true, privileged = true,
  warn = true, record = true, record_input = true }
-- What `all` cannot take: one task to pick, and what only one session
-- with its own terminal has (detaching, signals, a recording).
local NOT_ALL = { "task", "detach_keys", "sig_proxy", "record", "record_input" }

-- A task's error as the caller should see it: a 404 on the container
-- means the engine is not that node's; an engine that does not answer is
-- named with the task, the rules tried before and the one that chose it.
-- Any other error is returned as it is.
local function task_error(e, task, chosen)
  if errors.is(e) and e.status == 404 then
    local msg = ("task %s: no container %s at %s (the engine of node %s by the %s rule?)"):format(
      task.name, task.container:sub(1, 12), chosen.where, describe_node(task), chosen.rule)
    return errors.new("api", msg, 404, { detail = e.detail })
  end
  if errors.is(e) and e.kind == "connection" then
    local extra = {}
    for k, v in pairs(e) do extra[k] = v end
    extra.kind, extra.message, extra.status = nil, nil, nil
    local why = phrase(e)
    local parts = { table.unpack(chosen.tried) }
    if why:find(chosen.where, 1, true) then
      parts[#parts + 1] = ("the %s rule: %s"):format(chosen.rule, why)
    else
      parts[#parts + 1] = ("the %s rule (%s): %s"):format(chosen.rule, chosen.where, why)
    end
    return errors.new("connection", ("task %s on node %s: %s"):format(task.name, describe_node(task),
      table.concat(parts, "; ")), e.status, extra)
  end
  return e
end

local function exec_error(e, task, chosen) error(task_error(e, task, chosen), 0) end

-- The engine of a task's node, and how it was chosen (for exec_error).
local function engine_of(client, task, opts, cache)
  local eng, rule, where, owned, tried = resolve(client, task, opts, cache)
  return eng, owned, { rule = rule, where = where, tried = tried }
end

local function exec_one(client, tasks, service, command, opts, sopts)
  local task = M.pick(tasks, service, opts.task)
  local eng, owned, chosen = engine_of(client, task, opts, {})
  local ok, a, b, c = pcall(require("dockerpty.blocking").exec_command, eng, task.container, command, sopts)
  if owned then eng:close() end
  if not ok then exec_error(a, task, chosen) end
  return a, b, c, task
end

-- The input every task gets with `all`: a string (a file is read whole).
local function shared_input(sopts)
  local s = sopts.stdin
  if sopts.interactive == false or s == nil or s == false then return false end
  if type(s) == "string" then return s end
  if io.type(s) == "file" then return s:read("a") or "" end
  util.argerror(4, "exec", "option 'stdin' with 'all' must be a string, a file or false")
end

-- One sink pair per task: opts.sinks(task), else prefixed lines.
local function task_sinks(tasks, opts, sopts)
  local names = {}
  for i, t in ipairs(tasks) do names[i] = t.name end
  local wo = { color = opts.color, prefix = opts.prefix }
  local out, err = false, false
  if sopts.stdout ~= false then out = prefix.new(sopts.stdout or io.stdout, names, wo) end
  if sopts.stderr ~= false then err = prefix.new(sopts.stderr or io.stderr, names, wo) end
  local function sinks(t)
    if opts.sinks then return opts.sinks(t) end
    return out and out:sink(t.name) or false, err and err:sink(t.name) or false
  end
  local function flush(name)
    if out then out:flush(name) end
    if err then err:flush(name) end
  end
  return sinks, flush
end

-- The sessions to their ends as one group; each task's unfinished last
-- line is written when its own session ends, not when the last one does.
local function run_group(list, names, flush)
  return session.run_all(list, { on_finish = function(i) flush(names[i]) end })
end

local function exec_all(client, tasks, service, command, opts, sopts)
  if #tasks == 0 then M.pick(tasks, service) end
  local input = shared_input(sopts)
  if sopts.tty and input then
    errors.raise("usage", "a tty with stdin cannot be shared by every task (-it with --all)")
  end
  local sinks, flush = task_sinks(tasks, opts, sopts)
  local results, list, index, engines, names, how = {}, {}, {}, {}, {}, {}
  local cache = {}
  for i, t in ipairs(tasks) do
    local ok, e = pcall(function()
      local eng, owned, chosen = engine_of(client, t, opts, cache)
      if owned then engines[#engines + 1] = eng end
      local out, err = sinks(t)
      local sok, s = pcall(session.exec, eng, t.container, command, {
        stdin = input, stdout = out, stderr = err, tty = sopts.tty, environment = sopts.environment,
        workdir = sopts.workdir, user = sopts.user, privileged = sopts.privileged, warn = sopts.warn })
      if not sok then exec_error(s, t, chosen) end
      list[#list + 1], index[#list + 1], names[#list + 1], how[#list + 1] = s, i, t.name, chosen
    end)
    if not ok then results[i] = { task = t, ok = nil, how = "error", error = e } end
  end
  local ok, rs = pcall(run_group, list, names, flush)
  flush()
  for _, e in ipairs(engines) do e:close() end
  if not ok then error(rs, 0) end
  for k, r in ipairs(rs) do
    r.task = tasks[index[k]]
    if r.how == "error" then r.error = task_error(r.error, r.task, how[k]) end
    results[index[k]] = r
  end
  return results
end

--- Run a command in a service's task, or in every running task at once.
-- @tparam Client client a manager's
-- @tparam string service name or id
-- @tparam string|table command shell-split string or argv table
-- @tparam[opt] table opts `task` (a slot, a task's name or id; default the
-- first running task), `all` (every task), `nodes`, `ssh_user`, `context`
-- (see `engine`), and the session options of `exec_command` (`tty`,
-- `interactive`, `stdin`, `stdout`, `stderr`, `detach_keys`, `sig_proxy`,
-- `environment`, `workdir`, `user`, `privileged`, `warn`, `record`,
-- `record_input`). With `all`: `stdin` is a string (or a file, read
-- whole) every task gets, false by default; `stdout` and `stderr` (files
-- or functions) get every task's lines prefixed with its name (`prefix =
-- false`: not prefixed, still whole lines; `color`: true, false, or nil
-- for "when a terminal"), or `sinks(task)` returns a task's own stdout
-- and stderr sinks; `warn` gets every task's warnings; `task`,
-- `detach_keys`, `sig_proxy`, `record` and `record_input` are refused
-- (there is no one session for them).
-- @return one task: `true|nil, "exit", code, task` or `true, "detach",
-- nil, task`, as `exec_command`; with `all`: a list in slot order of
-- `{task=, ok=, how=, code=}`, or `{task=, ok=nil, how="error", error=}`
-- @raise an error object: no such service, no running task (or none that
-- `task` names), a node no rule reaches (one task; the message names the
-- rules tried), an engine that does not answer (the rules tried and the
-- one that chose it), a tty with stdin with `all`
-- @usage local ok, how, code = service.exec(c, "web", { "sh", "-c", "exit 3" }, { task = "web.2" })
function M.exec(client, service, command, opts)
  util.check(1, "exec", client, "table")
  util.check(2, "exec", service, "string")
  util.argv(3, "exec", command)
  opts = util.check(4, "exec", opts, "table", true) or {}
  local sopts = {}
  for k, v in pairs(opts) do
    if SESSION[k] then
      sopts[k] = v
    elseif not OWN[k] then
      util.argerror(4, "exec", ("unknown option '%s'"):format(tostring(k)))
    end
  end
  if opts.sinks ~= nil and type(opts.sinks) ~= "function" then
    util.argerror(4, "exec", "option 'sinks' must be a function")
  end
  if opts.all then
    for _, k in ipairs(NOT_ALL) do
      if opts[k] ~= nil then
        util.argerror(4, "exec", ("conflicting options: cannot specify both 'all' and '%s'"):format(k))
      end
    end
  end
  local tasks = M.tasks(client, service)
  if opts.all then return exec_all(client, tasks, service, command, opts, sopts) end
  return exec_one(client, tasks, service, command, opts, sopts)
end

-- }======================================================

return M
