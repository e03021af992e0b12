--- The `service exec` command: a command in one task of a Swarm service, or
-- in all of them at once, wherever they run (over `dockerpty.service`).
--
--     service exec [-i] [-t] [-e K=V]... [-w DIR] [-u USER] [--detach-keys K]
--       [--all] [--no-prefix] [--node NODE=HOST]... [--ssh-user USER]
--       SERVICE[.SLOT] COMMAND [ARG...]
--
-- SERVICE.NODEID names the task of a global service on a node.
--
-- Exit status: the task's; with `--all`, 0 when every task exited 0, else
-- the first non-zero status in slot order (a task that could not run
-- counts as 125), with a one-line summary on stderr naming the tasks that
-- failed; 125 for a bad flag, an unknown service, a service with no
-- running task, a node no rule reaches, or any other failure before the
-- command ran.
-- @module dockerpty.service_cli
-- @usage os.exit(require("dockerpty.service_cli").main({ "exec", "web.2", "uptime" }))
local cli = require("dockerpty.cli")
local client = require("dockerpty.client")
local service = require("dockerpty.service")
local tty = require("dockerpty.tty")

local M = {}

local PROG = "dockerpty service"

-- Failures, their messages and statuses are the command's (dockerpty.cli).
local fail = cli.fail
local message_of = cli.message_of

local function usage(msg)
  fail(125, ("%s (see '%s exec --help')"):format(msg, PROG))
end

M.HELP = [[
Usage:  dockerpty service exec [OPTIONS] SERVICE[.SLOT] COMMAND [ARG...]

Run a command in a running task of a Swarm service, on whichever node it
runs (SERVICE.SLOT, or SERVICE.NODEID for a global service's task; the
first task by default); with --all, in every running task at once, each
output line prefixed with the task's name.

The engine of a task's node: a --node entry for its id or hostname; else a
docker context named after it; else the manager itself when the task runs
there; else ssh://[USER@]ADDR, the node's address.

Options:
  -i, --interactive        Keep STDIN open (with --all, every task gets it)
  -t, --tty                Allocate a pseudo-TTY (not with -i and --all)
  -e, --env list           Set environment variables
  -w, --workdir string     Working directory inside the container
  -u, --user string        Username or UID
      --detach-keys string Override the key sequence for detaching (not with
                           --all)
      --all                Run in every running task (not with SERVICE.SLOT)
      --no-prefix          With --all, do not prefix lines with task names
      --node list          NODE=HOST: the engine of a node (id or hostname)
      --ssh-user string    User for ssh://ADDR engines
  -h, --help               Print usage

Exit status: the task's; with --all, 0 when every task exited 0, else the
first non-zero in slot order; 125 for an unknown service, no running task,
a node no rule reaches, or a bad flag.
]]

local function flag(short, long, kind) return { short = short, long = long, kind = kind } end
local FLAGS = {
  flag("i", "interactive", "bool"), flag("t", "tty", "bool"), flag("e", "env", "list"),
  flag("w", "workdir", "string"), flag("u", "user", "string"), flag(nil, "detach-keys", "string"),
  flag(nil, "all", "bool"), flag(nil, "no-prefix", "bool"), flag(nil, "node", "list"),
  flag(nil, "ssh-user", "string"), flag("h", "help", "bool"),
}
-- The flags, as dockerpty.cli's parser takes them (its completion reads them).
M.FLAGS = FLAGS

-- pflag's way, as docker (dockerpty.cli's parser): options stop at the
-- first positional or "--".
local function parse(argv, first)
  return cli.parse(FLAGS, argv, first, PROG .. " exec")
end

-- -e as docker takes it: K=V as is; a bare K takes the local value if set.
local function env_list(list, getenv)
  if not list then return nil end
  local out = {}
  for _, v in ipairs(list) do
    local k = v:match("^([^=]*)")
    if k == "" then usage("invalid environment variable: " .. v) end
    if v:find("=", 1, true) then
      out[#out + 1] = v
    elseif getenv(v) then
      out[#out + 1] = v .. "=" .. getenv(v)
    end
  end
  return out
end

-- --node NODE=HOST, repeated, as a `nodes` map.
local function node_map(list)
  if not list then return nil end
  local map = {}
  for _, v in ipairs(list) do
    local k, h = v:match("^([^=]+)=(.+)$")
    if not k then
      usage(('invalid argument "%s" for "--node" flag: NODE=HOST expected'):format(client._redact(v)))
    end
    map[k] = h
  end
  return map
end

-- SERVICE, SERVICE.SLOT or a task's name (SERVICE.NODEID for a global
-- service): a service's name has no dot (a DNS name component).
local function target(arg)
  local name, rest = arg:match("^([^.]+)%.(.+)$")
  if not name then return arg, nil end
  if rest:match("^%d+$") then return name, tonumber(rest) end
  return name, arg
end

-- The --all status and the summary line of the tasks that failed.
local function all_status(results, err)
  local status, failed = 0, {}
  for _, r in ipairs(results) do
    local code
    if r.how == "error" then
      code = 125
      -- the task is named once: "NAME (on node ...)", not "NAME (task NAME on node ...)"
      local why = message_of(r.error):gsub("^dockerpty: ", "")
      local named = "task " .. r.task.name
      if why:sub(1, #named) == named then why = why:sub(#named + 1):gsub("^: ", ""):gsub("^ ", "") end
      failed[#failed + 1] = ("%s (%s)"):format(r.task.name, why)
    elseif r.how == "exit" and r.code ~= 0 then
      code = math.tointeger(r.code) or 125
      failed[#failed + 1] = ("%s (exit %s)"):format(r.task.name, tostring(r.code))
    elseif r.how ~= "exit" then
      code = 125
      failed[#failed + 1] = ("%s (%s)"):format(r.task.name, tostring(r.how))
    end
    if code and status == 0 then status = code end
  end
  if #failed > 0 then
    err:write(("dockerpty: %d of %d tasks failed: %s\n"):format(#failed, #results,
      table.concat(failed, ", ")))
  end
  return status
end

local function exec(cl, o, args, io_)
  local svc, slot = target(args[1])
  local command = { table.unpack(args, 2) }
  local opts = {
    task = slot, all = o.all, nodes = node_map(o.node), ssh_user = o["ssh-user"],
    interactive = o.interactive and true or false, tty = o.tty and true or false,
    environment = env_list(o.env, io_.getenv), workdir = o.workdir, user = o.user,
    detach_keys = o["detach-keys"],
  }
  if o.all then
    opts.stdin = o.interactive and io_.stdin or false
    opts.stdout, opts.stderr = io_.stdout, io_.stderr
    opts.prefix = not o["no-prefix"]
    return all_status(service.exec(cl, svc, command, opts), io_.stderr)
  end
  if o["no-prefix"] then usage("--no-prefix needs --all") end
  if o.tty and o.interactive and not tty.isatty(io_.stdin) then
    fail(1, "the input device is not a TTY")
  end
  local _, how, code = service.exec(cl, svc, command, opts)
  if how == "detach" then fail(1, "read escape sequence") end
  return math.tointeger(code) or 0
end

--- Run `service ARGV...`; returns the exit status. Messages go to stderr
-- as one line each.
-- @tparam table argv the words after `service`, e.g. `{ "exec", "web", "ls" }`
-- @tparam[opt] table env `client` (a manager's client; default from the
-- environment), `stdin`, `stdout`, `stderr` (files), `getenv`
-- @treturn integer
-- @usage os.exit(service_cli.main(arg))
function M.main(argv, env)
  env = env or {}
  local io_ = { stdin = env.stdin or io.stdin, stdout = env.stdout or io.stdout,
    stderr = env.stderr or io.stderr, getenv = env.getenv or os.getenv }
  local cl
  local ok, status = pcall(function()
    if argv[1] ~= "exec" then
      if argv[1] == nil or argv[1] == "-h" or argv[1] == "--help" then
        io_.stdout:write(M.HELP)
        return 0
      end
      fail(1, ("unknown command: %s %s (see '%s exec --help')"):format(PROG, argv[1], PROG))
    end
    local o, args = parse(argv, 2)
    if o.help then
      io_.stdout:write(M.HELP)
      return 0
    end
    if #args < 2 then
      fail(1, ("'%s exec' requires at least 2 arguments (see '%s exec --help')"):format(PROG, PROG))
    end
    if o.all and o.interactive and o.tty then
      usage("-i and -t together cannot be used with --all (one terminal cannot feed every task)")
    end
    if o.all and select(2, target(args[1])) then
      fail(125, ("conflicting options: cannot specify both --all and a task (%s)"):format(args[1]))
    end
    if o.all and o["detach-keys"] then
      fail(125, "conflicting options: cannot specify both --all and --detach-keys")
    end
    cl = env.client or client.from_env()
    return exec(cl, o, args, io_)
  end)
  if cl and cl ~= env.client then cl:close() end
  io_.stdout:flush()
  if not ok then
    io_.stderr:write(message_of(status), "\n")
    return cli.is_failure(status) and status.status or 125
  end
  return status
end

return M
