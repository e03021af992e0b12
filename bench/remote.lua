--- bench/remote.lua: the figures of engines beyond the local socket, loaded
-- by bench/bench.lua (which passes its helpers in `b`):
--
-- Figure 9 (issue 13): ssh:// over the rig's loopback sshd, side by side
-- with `docker -H ssh://...`: non-tty exec output, and exec start-up
-- (both clients spawn one ssh per connection).
-- Figure 10 (issue 19): `dockerpty service exec --all` over the tasks of a
-- service spread on the rig's two swarm nodes, against one `docker exec`
-- process per task aimed by hand at its node's engine, all at once.
--
-- Each is skipped, with a note, when the rig has no sshd or no swarm
-- (not root, Podman, DOCKERPTY_SWARM=0).
local M = {}

local TASKS = 20

-- The clients of `b.clients()` with DOCKER_HOST set to `host`.
local function over(b, host)
  local list = {}
  for _, c in ipairs(b.clients()) do
    if c.key == "lua" or c.key == "docker" then
      list[#list + 1] = { key = c.key, name = c.name, cmd = function(...)
        return "env DOCKER_HOST=" .. b.q(host) .. " " .. c.cmd(...)
      end }
    end
  end
  return list
end

local function ssh_startup(b, list)
  local r = b.row("9", "start-up exec over ssh", "ms", "low", "%.0f")
  for rep = 1, b.STARTUP_RUNS do
    for _, c in ipairs(list) do
      local cmd = c.cmd("exec", "", b.CONTAINER, { "true" })
      local t0 = b.now()
      local ok = b.sh(("timeout -k 5 60 %s </dev/null >/dev/null 2>/dev/null"):format(cmd))
      local ms = b.now() - t0
      if ok then b.add(r, c.key, ms) else b.fail(r, c.key, "exit status not 0") end
      b.log("fig 9 start-up over ssh %-18s run %d: %s", c.name, rep, ok and ("%d ms"):format(ms) or "failed")
    end
  end
end

function M.figure9(b)
  local host = os.getenv("DOCKERPTY_SSH_HOST")
  if not host or host == "" then
    b.note("figure 9 skipped: the rig has no sshd (it needs root)")
    return
  end
  local list = over(b, host)
  local n = b.SIZES.ssh
  local argv = { "sh", "-c", ("dd if=/dev/zero bs=1M count=%d 2>/dev/null"):format(n) }
  b.with_clients(list, function()
    b.stream_case("9", "output non-tty exec over ssh", "exec", "", n, argv, nil, "wc -c",
      b.check_count(n * b.MiB), 600)
  end)
  ssh_startup(b, list)
end

-- {======================================================
-- Figure 10: a service's tasks on both nodes
-- =======================================================

local function make_service(b, manager)
  local name = ("dpbench%d"):format(b.now() % 100000)
  local ok = b.sh(("%s -H %s service create --detach --no-resolve-image --name %s --replicas %d "
    .. "--replicas-max-per-node %d --env 'SLOT={{.Task.Slot}}' --stop-signal KILL --restart-condition none "
    .. "%s sleep 1000000 >/dev/null"):format(b.DOCKER, b.q(manager), name, TASKS, TASKS // 2, b.q(b.IMAGE)))
  if not ok then return nil, "docker service create failed" end
  local dockerpty = require("dockerpty")
  local client = dockerpty.client.new{ host = manager }
  local deadline = b.now() + 120000
  local tasks
  repeat
    tasks = dockerpty.service.tasks(client, name)
    if #tasks < TASKS then b.sleep(200) end
  until #tasks >= TASKS or b.now() > deadline
  client:close()
  if #tasks < TASKS then return nil, ("%d of %d tasks running after 120 s"):format(#tasks, TASKS), name end
  return name, tasks
end

-- The docker side: one `docker -H NODE exec` per task, all at once.
local function docker_script(b, tasks, engines, dir)
  local parts = {}
  for _, t in ipairs(tasks) do
    parts[#parts + 1] = ("%s -H %s exec %s sh -c 'echo $SLOT' >%s/%d.out 2>&1 &"):format(b.DOCKER,
      b.q(engines[t.node]), b.q(t.container), dir, t.slot)
  end
  parts[#parts + 1] = "wait"
  return table.concat(parts, "\n")
end

local function check_ours(name, tasks)
  return function(res)
    local want = {}
    for _, t in ipairs(tasks) do want[#want + 1] = ("%s.%d | %d"):format(name, t.slot, t.slot) end
    local got = {}
    for l in res.out:gmatch("[^\n]+") do got[#got + 1] = (l:gsub("  +|", " |")) end
    table.sort(want)
    table.sort(got)
    if table.concat(want, "\n") ~= table.concat(got, "\n") then
      return ("wrong output: %q"):format(res.out:sub(1, 120))
    end
  end
end

local function check_docker(b, tasks, dir)
  for _, t in ipairs(tasks) do
    if b.slurp(("%s/%d.out"):format(dir, t.slot)) ~= t.slot .. "\n" then
      return ("task %d answered %q"):format(t.slot, tostring(b.slurp(("%s/%d.out"):format(dir, t.slot))))
    end
  end
end

local function service_runs(b, name, tasks, engines, wnode, worker)
  local case = ("--all over %d tasks on 2 nodes"):format(#tasks)
  local rw = b.row("10", case, "wall ms", "low", "%.0f")
  local rc = b.row("10", case, "CPU s", "low", "%.2f")
  local dir = b.TMP .. "/svc"
  local ours = ("%s %s service exec --all --node %s %s sh -c 'echo $SLOT'"):format(b.LUA,
    b.q(b.HERE .. "/../bin/dockerpty"), b.q(wnode .. "=" .. worker), b.q(name))
  for rep = 1, b.REPS do
    for _, key in ipairs({ "lua", "docker" }) do
      local res, why
      local t0 = b.now()
      if key == "lua" then
        res = b.timed(ours, nil, nil, 120)
        why = res.failure or check_ours(name, tasks)(res)
      else
        b.sh(("rm -rf %s && mkdir -p %s"):format(b.q(dir), b.q(dir)))
        res = b.timed("sh -c " .. b.q(docker_script(b, tasks, engines, dir)), nil, nil, 120)
        why = res.failure or check_docker(b, tasks, dir)
      end
      local ms = b.now() - t0
      if why then
        b.fail(rw, key, why); b.fail(rc, key, why)
      else
        b.add(rw, key, ms); b.add(rc, key, res.cpu)
      end
      b.log("fig 10 %-6s rep %d: %s", key, rep, why or ("%d ms, %.2f CPU s"):format(ms, res.cpu))
    end
  end
end

function M.figure10(b)
  local manager, worker = os.getenv("DOCKERPTY_SWARM_MANAGER"), os.getenv("DOCKERPTY_SWARM_WORKER")
  local mnode, wnode = os.getenv("DOCKERPTY_SWARM_MANAGER_NODE"), os.getenv("DOCKERPTY_SWARM_WORKER_NODE")
  if not (manager and worker and mnode and wnode) then
    b.note("figure 10 skipped: the rig has no swarm (Podman, or DOCKERPTY_SWARM=0)")
    return
  end
  local name, tasks, made = make_service(b, manager)
  local ok, err = pcall(function()
    if not name then error("figure 10: " .. tasks, 0) end
    service_runs(b, name, tasks, { [mnode] = manager, [wnode] = worker }, wnode, worker)
  end)
  b.sh(("%s -H %s service rm %s >/dev/null 2>&1"):format(b.DOCKER, b.q(manager), b.q(name or made or "")))
  if not ok then error(err, 0) end
end

-- }======================================================

return M
