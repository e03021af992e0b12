-- Swarm services (issue 19): the prefixed line writer alone, then the
-- tasks, the engine of each task's node, `service.exec` and the `service
-- exec` command on the rig's two-node swarm (spec/support/swarm: the rig's
-- dockerd as manager, a second private dockerd, hostname dockerpty-worker,
-- as worker). Podman has no swarm: `make test ENGINE=podman` leaves the
-- #swarm specs out.
local dockerpty = require("dockerpty")
local prefix = require("dockerpty.prefix")
local service = require("dockerpty.service")
local tmux = require("support.tmux")
local core = dockerpty.core
local tc = require("dockerpty_test")

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
local shq = tmux.shquote

local function collector()
  local parts = {}
  return function(s) parts[#parts + 1] = s end, function() return table.concat(parts) end
end

describe("dockerpty.prefix", function()
  it("prefixes whole lines with names padded to the longest", function()
    local out, text = collector()
    local w = prefix.new(out, { "web.1", "web.10" }, { color = false })
    w:feed("web.1", "one\ntwo\n")
    w:feed("web.10", "ten\n")
    assert.equal("web.1  | one\nweb.1  | two\nweb.10 | ten\n", text())
  end)

  it("keeps a partial line until it ends, so two sources never mix within a line", function()
    local out, text = collector()
    local w = prefix.new(out, { "a.1", "a.2" }, { color = false })
    local s1, s2 = w:sink("a.1"), w:sink("a.2")
    s1("hel")
    s2("x\ny")
    s1("lo\nwor")
    s2("z\n")
    s1("ld\n")
    assert.equal("a.2 | x\na.1 | hello\na.2 | yz\na.1 | world\n", text())
  end)

  it("writes each source's last line without a newline at flush, with one", function()
    local out, text = collector()
    local w = prefix.new(out, { "s.1", "s.2" }, { color = false })
    w:feed("s.1", "done\npart")
    w:feed("s.2", "tail")
    assert.equal("s.1 | done\n", text())
    w:flush()
    assert.equal("s.1 | done\ns.1 | part\ns.2 | tail\n", text())
    w:flush()
    assert.equal("s.1 | done\ns.1 | part\ns.2 | tail\n", text())
  end)

  it("gives each name its own colour when asked, and lines stay whole", function()
    local out, text = collector()
    local w = prefix.new(out, { "x.1", "x.2" }, { color = true })
    w:feed("x.1", "a\n")
    w:feed("x.2", "b\n")
    assert.equal("\27[36mx.1 | \27[0ma\n\27[33mx.2 | \27[0mb\n", text())
  end)

  it("colours only when the stream is a terminal", function()
    local m, s = assert(tc.openpty(24, 80))
    local term = assert(io.open("/proc/self/fd/" .. s, "w"))
    local file = assert(io.tmpfile())
    finally(function()
      term:close(); file:close(); tc.close(m); tc.close(s)
    end)
    assert.is_true(prefix.new(term, { "x.1" }).color)
    assert.is_false(prefix.new(file, { "x.1" }).color)
    local w = prefix.new(file, { "x.1" })
    w:feed("x.1", "plain\n")
    file:seek("set")
    assert.equal("x.1 | plain\n", file:read("a"))
  end)

  it("writes lines as they are with prefix = false, still whole", function()
    local out, text = collector()
    local w = prefix.new(out, { "p.1", "p.2" }, { prefix = false })
    w:feed("p.1", "ab")
    w:feed("p.2", "cd\n")
    w:feed("p.1", "c\n")
    assert.equal("cd\nabc\n", text())
  end)

  it("rejects what is not a file or function, and names that are not strings", function()
    assert.has.error(function() prefix.new(nil, {}) end,
      "bad argument #1 to 'new' (file or function expected, got no value)")
    assert.has.error(function() prefix.new(print, { 1 }) end,
      "bad argument #2 to 'new' (string expected, got number)")
  end)
end)

describe("dockerpty.service_cli", function()
  local service_cli = require("dockerpty.service_cli")

  -- main(argv) with stdout and stderr in files: status, out, err
  local function main(argv)
    local out, err = assert(io.tmpfile()), assert(io.tmpfile())
    local status = service_cli.main(argv, { stdout = out, stderr = err, stdin = assert(io.tmpfile()),
      client = dockerpty.client.new{ host = "unix:///nonexistent/d.sock" } })
    out:seek("set"); err:seek("set")
    local o, e = out:read("a"), err:read("a")
    out:close(); err:close()
    return status, o, e
  end

  it("refuses a bad flag, -it with --all, a bad --node, and --no-prefix alone with 125", function()
    local see = " (see 'dockerpty service exec --help')\n"
    assert.same({ 125, "", "dockerpty: unknown flag: --bogus" .. see }, { main({ "exec", "--bogus", "s", "true" }) })
    assert.same({ 125, "", "dockerpty: unknown shorthand flag: 'x' in -itx" .. see },
      { main({ "exec", "-itx", "s", "true" }) })
    assert.same({ 125, "", "dockerpty: -i and -t together cannot be used with --all (one terminal cannot feed"
      .. " every task)" .. see }, { main({ "exec", "--all", "-it", "s", "true" }) })
    assert.same({ 125, "", 'dockerpty: invalid argument "n1" for "--node" flag: NODE=HOST expected' .. see },
      { main({ "exec", "--node", "n1", "s", "true" }) })
    assert.same({ 125, "", "dockerpty: --no-prefix needs --all" .. see }, { main({ "exec", "--no-prefix", "s", "true" }) })
    assert.same({ 125, "", "dockerpty: flag needs an argument: --ssh-user" .. see }, { main({ "exec", "--ssh-user" }) })
  end)

  it("wants a service and a command, and prints its help", function()
    assert.same({ 1, "", "dockerpty: 'dockerpty service exec' requires at least 2 arguments"
      .. " (see 'dockerpty service exec --help')\n" }, { main({ "exec", "s" }) })
    assert.same({ 0, service_cli.HELP, "" }, { main({ "exec", "--help" }) })
    assert.same({ 1, "", "dockerpty: unknown command: dockerpty service ls (see 'dockerpty service exec --help')\n" },
      { main({ "ls" }) })
  end)

  it("refuses --all with a task (SERVICE.SLOT or a task's name) or --detach-keys, with 125", function()
    assert.same({ 125, "", "dockerpty: conflicting options: cannot specify both --all and a task (s.2)\n" },
      { main({ "exec", "--all", "s.2", "true" }) })
    assert.same({ 125, "", "dockerpty: conflicting options: cannot specify both --all and a task (s.n0de)\n" },
      { main({ "exec", "--all", "s.n0de", "true" }) })
    assert.same({ 125, "", "dockerpty: conflicting options: cannot specify both --all and --detach-keys\n" },
      { main({ "exec", "--all", "--detach-keys", "ctrl-x", "s", "true" }) })
  end)

  it("says which daemon does not answer, in one line, with 125", function()
    local status, out, err = main({ "exec", "web", "true" })
    assert.equal(125, status)
    assert.equal("", out)
    assert.matches("^dockerpty: [^\n]+\n$", err)
    assert.not_matches("%.lua:%d+", err)
  end)
end)

describe("dockerpty.service.exec", function()
  local gone = dockerpty.client.new{ host = "unix:///nonexistent/d.sock" }

  it("refuses with all what only one session has, before asking the manager", function()
    local given = { task = 2, detach_keys = "ctrl-x", sig_proxy = false, record = "/dev/null", record_input = true }
    for _, k in ipairs({ "task", "detach_keys", "sig_proxy", "record", "record_input" }) do
      assert.has.error(function() service.exec(gone, "web", "true", { all = true, [k] = given[k] }) end,
        ("bad argument #4 to 'exec' (conflicting options: cannot specify both 'all' and '%s')"):format(k))
    end
  end)

  it("takes record and record_input for one task: the manager is asked next", function()
    local ok, e = pcall(service.exec, gone, "web", "true", { record = "/dev/null", record_input = true,
      warn = false, sig_proxy = false, detach_keys = "ctrl-x" })
    assert.is_false(ok)
    assert.same({ "connection", true }, { e.kind, e.message:find("/nonexistent/d.sock", 1, true) ~= nil })
  end)
end)

-- {======================================================
-- On the swarm
-- =======================================================

local MANAGER = os.getenv("DOCKERPTY_SWARM_MANAGER")
local WORKER = os.getenv("DOCKERPTY_SWARM_WORKER")
local MNODE = os.getenv("DOCKERPTY_SWARM_MANAGER_NODE")
local WNODE = os.getenv("DOCKERPTY_SWARM_WORKER_NODE")
local WHOSTNAME = os.getenv("DOCKERPTY_SWARM_WORKER_HOSTNAME")

-- The command, as `dockerpty service ARGS...` will run it.
local CMD = ("env LUA_PATH=%s LUA_CPATH=%s DOCKER_HOST=%s lua5.4 bin/dockerpty service"):format(
  shq(package.path), shq(package.cpath), shq(MANAGER or ""))

local function words(list)
  local q = {}
  for i, w in ipairs(list) do q[i] = shq(w) end
  return table.concat(q, " ")
end

-- { out =, err =, code = } of a shell command, stdin `input` or /dev/null.
local function sh(cmd, input)
  local errf = os.tmpname()
  local line
  if input then
    line = ("printf '%%s' %s | %s 2>%s"):format(shq(input), cmd, errf)
  else
    line = ("%s </dev/null 2>%s"):format(cmd, errf)
  end
  local p = assert(io.popen(line, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  local f = assert(io.open(errf, "rb"))
  local err = f:read("a")
  f:close()
  os.remove(errf)
  return { out = out, err = err, code = code }
end

local function docker(host, args) return sh("env -u LD_PRELOAD docker -H " .. shq(host) .. " " .. words(args)) end
local function cmd(args, input) return sh(CMD .. " " .. words(args), input) end

local function lines(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

-- A docker context store in a directory of its own (removed when the
-- test ends), and contexts in it made by the docker CLI.
local function context_store()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. shq(dir)))
  finally(function() os.execute("rm -rf " .. shq(dir)) end)
  return dir
end

local function make_context(dir, name, host)
  local r = sh(("env DOCKER_CONFIG=%s env -u LD_PRELOAD docker context create %s --docker host=%s"):format(
    shq(dir), shq(name), shq(host)))
  assert.equal(0, r.code, r.err)
end

-- A context whose metadata names no docker endpoint; returns that file.
local function broken_context(dir, name)
  local meta = ("%s/contexts/meta/%s"):format(dir, core.sha256(name))
  assert(os.execute("mkdir -p " .. shq(meta)))
  local f = assert(io.open(meta .. "/meta.json", "w"))
  f:write(('{"Name":"%s","Metadata":{},"Endpoints":{}}'):format(name))
  f:close()
  return meta .. "/meta.json"
end

-- dockerpty.context reads the store in `dir` until the test ends.
local function use_store(dir)
  local context = require("dockerpty.context")
  local load = context.load
  context.load = function(name)
    return load(name, function(k) if k == "DOCKER_CONFIG" then return dir end return os.getenv(k) end)
  end
  finally(function() context.load = load end)
end

describe("dockerpty.service #docker #swarm", function()
  local client, worker
  local made = {}
  local counter = 0

  -- A service whose tasks know their node (hostname) and slot ($SLOT);
  -- waits until `running` tasks run. Tasks spread over both nodes.
  local function create(replicas, per_node, command, running, extra)
    counter = counter + 1
    local name = ("dpsvc%d-%d"):format(counter, core.now() % 100000)
    local args = { "service", "create", "--detach", "--no-resolve-image", "--name", name,
      "--replicas", tostring(replicas), "--replicas-max-per-node", tostring(per_node),
      "--hostname", "{{.Node.Hostname}}", "--env", "SLOT={{.Task.Slot}}", "--stop-signal", "KILL",
      "--restart-condition", "none" }
    for _, a in ipairs(extra or {}) do args[#args + 1] = a end
    args[#args + 1] = IMAGE
    for _, w in ipairs(command or { "sleep", "1000" }) do args[#args + 1] = w end
    local r = docker(MANAGER, args)
    assert.equal(0, r.code, r.err)
    made[#made + 1] = name
    running = running or replicas
    local deadline = core.now() + 60000
    while #service.tasks(client, name) < running do
      assert(core.now() < deadline, ("service %s: fewer than %d running tasks after 60 s"):format(name, running))
      core.sleep(100)
    end
    return name
  end

  setup(function()
    assert(MANAGER and WORKER and MNODE and WNODE, "the rig's swarm is missing (spec/support/swarm)")
    client = dockerpty.client.new{ host = MANAGER }
    worker = dockerpty.client.new{ host = WORKER }
  end)

  teardown(function()
    for _, n in ipairs(made) do docker(MANAGER, { "service", "rm", n }) end
    if client then client:close() end
    if worker then worker:close() end
  end)

  local function nodes() return { [WNODE] = WORKER } end

  it("tasks: the running tasks in slot order, as docker service ps shows them, each on its node", function()
    local name = create(4, 2)
    local tasks = service.tasks(client, name)
    assert.equal(4, #tasks)
    local r = docker(MANAGER, { "service", "ps", "--no-trunc", "--filter", "desired-state=running",
      "--format", "{{.ID}} {{.Name}} {{.Node}}", name })
    assert.equal(0, r.code, r.err)
    local want = lines(r.out)
    table.sort(want)
    local got, on = {}, {}
    for i, t in ipairs(tasks) do
      assert.equal(i, t.slot)
      assert.equal(name .. "." .. i, t.name)
      assert.equal(name, t.service)
      got[i] = ("%s %s %s"):format(t.id, t.name, t.hostname)
      assert.equal("127.0.0.1", t.addr)
      on[t.node] = (on[t.node] or 0) + 1
      -- the container is on that node's engine, and nowhere else
      local here, there = client, worker
      if t.node == WNODE then here, there = worker, client end
      assert.equal(t.container, here:inspect_container(t.container).Id)
      assert.is_false(pcall(there.inspect_container, there, t.container))
    end
    table.sort(got)
    assert.same(want, got)
    assert.same({ [MNODE] = 2, [WNODE] = 2 }, on)
  end)

  it("exec: one task of each node by slot, with its exit code, the worker's through the map", function()
    local name = create(2, 1)
    for _, t in ipairs(service.tasks(client, name)) do
      local out, text = collector()
      local ok, how, code, task = service.exec(client, name,
        { "sh", "-c", "hostname; echo slot $SLOT; exit $((40 + SLOT))" },
        { task = t.slot, nodes = nodes(), interactive = false, stdout = out })
      assert.same({ nil, "exit", 40 + t.slot }, { ok, how, code })
      assert.equal(t.id, task.id)
      assert.equal(("%s\nslot %d\n"):format(t.hostname, t.slot), text())
    end
  end)

  it("exec: a task by its id or by a prefix of the id", function()
    local name = create(2, 1)
    for _, t in ipairs(service.tasks(client, name)) do
      for _, which in ipairs({ t.id, t.id:sub(1, 8) }) do
        local out, text = collector()
        local ok, how, code, task = service.exec(client, name, { "sh", "-c", "echo slot $SLOT; exit $SLOT" },
          { task = which, nodes = nodes(), interactive = false, stdout = out })
        assert.same({ nil, "exit", t.slot, t.id }, { ok, how, code, task.id })
        assert.equal(("slot %d\n"):format(t.slot), text())
      end
    end
  end)

  it("exec: record and record_input make the one task's recording", function()
    local name = create(2, 1)
    local wt
    for _, t in ipairs(service.tasks(client, name)) do if t.node == WNODE then wt = t end end
    local path = os.tmpname()
    finally(function() os.remove(path) end)
    local out, text = collector()
    local ok, how, code = service.exec(client, name, { "sh", "-c", "cat; echo rec-$SLOT" },
      { task = wt.slot, nodes = nodes(), stdin = "typed\n", stdout = out, record = path, record_input = true })
    assert.same({ true, "exit", 0 }, { ok, how, code })
    assert.equal(("typed\nrec-%d\n"):format(wt.slot), text())
    local f = assert(io.open(path))
    local cast = f:read("a")
    f:close()
    local data = {}
    for l in cast:gmatch("[^\n]+") do
      local k, d = l:match('^%[[%d.]+, "(%a)", "(.*)"%]$')
      if k then
        data[k] = (data[k] or "") .. d
      else
        assert.matches('^{"version": ?2,', l)
      end
    end
    assert.equal("typed\\n", data.i)
    assert.equal(("typed\\nrec-%d\\n"):format(wt.slot), data.o)
  end)

  it("exec with all: warn gets every task's warnings (a config.json docker cannot parse)", function()
    local name = create(2, 1)
    local dir = context_store()
    local f = assert(io.open(dir .. "/config.json", "w"))
    f:write("{not json")
    f:close()
    local script = os.tmpname()
    finally(function() os.remove(script) end)
    f = assert(io.open(script, "w"))
    f:write([==[
      local dockerpty, service = require("dockerpty"), require("dockerpty.service")
      local c = dockerpty.client.new{ host = arg[1] }
      local got = {}
      local rs = service.exec(c, arg[2], "true", { all = true, nodes = { [arg[3]] = arg[4] },
        stdout = false, stderr = false, warn = function(m) got[#got + 1] = m end })
      for _, r in ipairs(rs) do io.write(r.how, " ", tostring(r.code), "\n") end
      io.write(table.concat(got, "\n"), "\n")
    ]==])
    f:close()
    local r = sh(("env DOCKER_CONFIG=%s LUA_PATH=%s LUA_CPATH=%s lua5.4 %s %s"):format(shq(dir),
      shq(package.path), shq(package.cpath), shq(script), words({ MANAGER, name, WNODE, WORKER })))
    assert.same({ 0, "" }, { r.code, r.err })
    local got = lines(r.out)
    assert.same({ "exit 0", "exit 0" }, { got[1], got[2] })
    assert.equal(3, #got)
    local want = ("WARNING: Error parsing config file (%s/config.json): "):format(dir)
    assert.equal(want, got[3]:sub(1, #want))
  end)

  it("the command: SERVICE.SLOT on each node, the task's exit status and output", function()
    local name = create(2, 1)
    for _, t in ipairs(service.tasks(client, name)) do
      local r = cmd({ "exec", "--node", WNODE .. "=" .. WORKER, name .. "." .. t.slot,
        "sh", "-c", "hostname; echo err >&2; exit $((50 + SLOT))" })
      assert.equal(50 + t.slot, r.code)
      assert.equal(t.hostname .. "\n", r.out)
      assert.equal("err\n", r.err)
    end
    -- by hostname in --node, and the first task without a slot
    local r = cmd({ "exec", "--node", WHOSTNAME .. "=" .. WORKER, name, "sh", "-c", "exit $SLOT" })
    assert.equal(1, r.code, r.err)
  end)

  it("--all: every task on both nodes, prefixed lines in order, the first failing status", function()
    local name = create(10, 5)
    local script = "for w in one two three; do printf '%s-' $w; sleep 0.05; echo $SLOT; done; "
      .. "echo to-stderr >&2; [ $SLOT != 3 ] || exit 7; [ $SLOT != 8 ] || exit 9"
    local r = cmd({ "exec", "--all", "--node", WNODE .. "=" .. WORKER, name, "sh", "-c", script })
    assert.equal(7, r.code)
    local per = {}
    for _, l in ipairs(lines(r.out)) do
      -- names padded to the width of NAME.10; never two tasks in a line
      local n, text = l:match("^(" .. name:gsub("%-", "%%-") .. "%.%d+) *| (.*)$")
      assert(n, "not a prefixed line: " .. l)
      assert.equal(#name + 3, #l:match("^(.-) | "))
      per[n] = per[n] or {}
      table.insert(per[n], text)
    end
    for slot = 1, 10 do
      assert.same({ "one-" .. slot, "two-" .. slot, "three-" .. slot }, per[name .. "." .. slot])
    end
    local errs = lines(r.err)
    assert.equal(11, #errs)
    assert.equal(("dockerpty: 2 of 10 tasks failed: %s.3 (exit 7), %s.8 (exit 9)"):format(name, name), errs[11])
    table.sort(errs, function(a, b) return #a < #b or (#a == #b and a < b) end)
    for i = 1, 10 do assert(errs[i]:match("| to%-stderr$"), errs[i]) end
  end)

  it("a global service: one task per node named SERVICE.NODEID, reached by that name", function()
    counter = counter + 1
    local name = ("dpglobal%d-%d"):format(counter, core.now() % 100000)
    local r = docker(MANAGER, { "service", "create", "--detach", "--no-resolve-image", "--name", name,
      "--mode", "global", "--hostname", "{{.Node.Hostname}}", "--stop-signal", "KILL", IMAGE, "sleep", "1000" })
    assert.equal(0, r.code, r.err)
    made[#made + 1] = name
    local deadline = core.now() + 60000
    while #service.tasks(client, name) < 2 do
      assert(core.now() < deadline, "fewer than 2 running tasks after 60 s")
      core.sleep(100)
    end
    local want = {}
    for _, t in ipairs(service.tasks(client, name)) do
      assert.is_nil(t.slot)
      assert.equal(name .. "." .. t.node, t.name)
      want[t.name] = t.hostname
    end
    assert.equal(WHOSTNAME, want[name .. "." .. WNODE])
    assert.is_string(want[name .. "." .. MNODE])
    assert.not_equal(WHOSTNAME, want[name .. "." .. MNODE])
    local d = docker(MANAGER, { "service", "ps", "--format", "{{.Name}}", name })
    local names = lines(d.out)
    table.sort(names)
    local mine = { name .. "." .. MNODE, name .. "." .. WNODE }
    table.sort(mine)
    assert.same(mine, names)
    r = cmd({ "exec", "--node", WNODE .. "=" .. WORKER, name .. "." .. WNODE, "hostname" })
    assert.same({ 0, WHOSTNAME .. "\n" }, { r.code, r.out })
    r = cmd({ "exec", "--all", "--node", WNODE .. "=" .. WORKER, name, "hostname" })
    assert.equal(0, r.code, r.err)
    local got = lines(r.out)
    table.sort(got)
    local exp = { name .. "." .. MNODE .. " | " .. want[name .. "." .. MNODE],
      name .. "." .. WNODE .. " | " .. WHOSTNAME }
    table.sort(exp)
    assert.same(exp, got)
  end)

  it("exec with all: one result per task in slot order, over both nodes, per-task sinks", function()
    local name = create(4, 2)
    local outs = {}
    local results = service.exec(client, name, { "sh", "-c", "cat; echo $SLOT; exit $SLOT" }, {
      all = true, nodes = nodes(), stdin = "in-",
      sinks = function(t)
        local out, text = collector()
        outs[t.slot] = text
        return out, false
      end,
    })
    assert.equal(4, #results)
    local on = {}
    for i, r in ipairs(results) do
      assert.equal(i, r.task.slot)
      assert.same({ nil, "exit", i }, { r.ok, r.how, r.code })
      assert.equal("in-" .. i .. "\n", outs[i]())
      on[r.task.node] = true
    end
    assert.same({ [MNODE] = true, [WNODE] = true }, on)
  end)

  it("--no-prefix: lines as they are, still whole; -it with --all is refused", function()
    local name = create(2, 1)
    local r = cmd({ "exec", "--all", "--no-prefix", "--node", WNODE .. "=" .. WORKER, name,
      "sh", "-c", "echo line-$SLOT" })
    assert.equal(0, r.code, r.err)
    local got = lines(r.out)
    table.sort(got)
    assert.same({ "line-1", "line-2" }, got)
    r = cmd({ "exec", "--all", "-it", name, "true" })
    assert.equal(125, r.code)
    assert.equal("dockerpty: -i and -t together cannot be used with --all (one terminal cannot feed every task)"
      .. " (see 'dockerpty service exec --help')\n", r.err)
  end)

  it("--all: a task's last line without a newline is written when that task ends, not at the last one's end", function()
    local name = create(2, 1)
    local script = "if [ $SLOT = 1 ]; then printf early; else sleep 2; echo late; fi"
    local r = cmd({ "exec", "--all", "--node", WNODE .. "=" .. WORKER, name, "sh", "-c", script })
    assert.equal(0, r.code, r.err)
    assert.same({ name .. ".1 | early", name .. ".2 | late" }, lines(r.out))
  end)

  it("-i with --all gives every task the same input", function()
    local name = create(2, 1)
    local r = cmd({ "exec", "-i", "--all", "--node", WNODE .. "=" .. WORKER, name, "wc", "-c" }, "12345")
    assert.equal(0, r.code, r.err)
    local got = lines(r.out)
    table.sort(got)
    assert.same({ name .. ".1 | 5", name .. ".2 | 5" }, got)
  end)

  it("engine: the map by node id or hostname, the manager itself, and what no rule reaches", function()
    local name = create(2, 1)
    local on = {}
    for _, t in ipairs(service.tasks(client, name)) do on[t.node] = t end
    local wt, mt = on[WNODE], on[MNODE]
    local eng, rule, where, owned = service.engine(client, wt, { nodes = { [WNODE] = WORKER } })
    assert.same({ "map", WORKER, true }, { rule, where, owned })
    assert.equal(wt.container, eng:inspect_container(wt.container).Id)
    eng:close()
    eng, rule, where, owned = service.engine(client, wt, { nodes = { [WHOSTNAME] = worker } })
    assert.same({ "map", WORKER, false }, { rule, where, owned })
    assert.equal(worker, eng)
    -- the manager's own node: the client itself, map or not
    eng, rule, where, owned = service.engine(client, mt, { nodes = { [WNODE] = WORKER } })
    assert.same({ "manager", MANAGER, false }, { rule, where, owned })
    assert.equal(client, eng)
    -- a node with no address and no entry: the rules tried, by name
    local lost = { node = "n0de", hostname = "lost", name = name .. ".9", addr = nil }
    local ok, e = pcall(service.engine, client, lost, { context = false })
    assert.is_false(ok)
    assert.same({ "connection", "unreachable" }, { e.kind, e.name })
    assert.equal(("dockerpty: no engine for node lost (n0de) of task %s.9: no nodes entry for n0de or lost; "
      .. "not the node of %s; no address for ssh"):format(name, MANAGER), e.message)
  end)

  it("engine: the map before a context before the manager, and what each skipped rule says", function()
    local name = create(2, 1)
    local on = {}
    for _, t in ipairs(service.tasks(client, name)) do on[t.node] = t end
    local wt, mt = on[WNODE], on[MNODE]
    local mkeys = MNODE .. " or " .. mt.hostname
    local dir = context_store()
    use_store(dir)
    make_context(dir, MNODE, WORKER)
    make_context(dir, WHOSTNAME, MANAGER)
    -- the manager's own node: its map entry wins, then a context named after it
    local eng, rule, where, owned, tried = service.engine(client, mt, { nodes = { [MNODE] = WORKER } })
    assert.same({ "map", WORKER, true, {} }, { rule, where, owned, tried })
    local found, e = pcall(eng.inspect_container, eng, mt.container)   -- the worker has not that container
    assert.same({ false, 404 }, { found, e.status })
    eng:close()
    eng, rule, where, owned, tried = service.engine(client, mt)
    assert.same({ "context", "context " .. MNODE, true, { "no nodes entry for " .. mkeys } },
      { rule, where, owned, tried })
    assert.equal(WORKER, eng:where())
    eng:close()
    eng, rule, where, owned, tried = service.engine(client, mt, { context = false })
    assert.same({ "manager", MANAGER, false, { "no nodes entry for " .. mkeys } }, { rule, where, owned, tried })
    assert.equal(client, eng)
    -- the worker's: its map entry before the context named after its hostname
    eng, rule, where = service.engine(client, wt, { nodes = { [WNODE] = WORKER } })
    assert.same({ "map", WORKER }, { rule, where })
    assert.equal(wt.container, eng:inspect_container(wt.container).Id)
    eng:close()
    eng, rule, where, owned, tried = service.engine(client, wt)
    assert.same({ "context", "context " .. WHOSTNAME, true }, { rule, where, owned })
    assert.same({ "no nodes entry for " .. WNODE .. " or " .. WHOSTNAME }, tried)
    assert.equal(MANAGER, eng:where())
    eng:close()
    -- a context that does not load is named with its error, and the rules go on
    local meta = broken_context(dir, WNODE)
    assert.equal(0, sh("env DOCKER_CONFIG=" .. shq(dir) .. " env -u LD_PRELOAD docker context rm -f "
      .. shq(WHOSTNAME)).code)
    eng, rule, where, owned, tried = service.engine(client, wt)
    assert.same({ "ssh", "ssh://127.0.0.1", true }, { rule, where, owned })
    assert.same({ "no nodes entry for " .. WNODE .. " or " .. WHOSTNAME, "no docker context named " .. WHOSTNAME,
      ('context "%s": %s has no docker endpoint host'):format(WNODE, meta), "not the node of " .. MANAGER }, tried)
    eng:close()
  end)

  it("a map entry that is not the node's engine is a clear error, not a wrong container", function()
    local name = create(2, 1)
    local wt
    for _, t in ipairs(service.tasks(client, name)) do if t.node == WNODE then wt = t end end
    local ok, e = pcall(service.exec, client, name, "true", { task = wt.slot, nodes = { [WNODE] = MANAGER },
      interactive = false })
    assert.is_false(ok)
    assert.equal(("dockerpty: task %s: no container %s at %s (the engine of node %s (%s) by the map rule?)")
      :format(wt.name, wt.container:sub(1, 12), MANAGER, WHOSTNAME, WNODE), e.message)
    -- with --all, that task's error and the other task's result
    local results = service.exec(client, name, "true", { all = true, nodes = { [WNODE] = MANAGER },
      stdout = false, stderr = false })
    for _, r in ipairs(results) do
      if r.task.node == WNODE then
        assert.same({ "error", 404, e.message }, { r.how, r.error.status, r.error.message })
      else
        assert.same({ true, "exit", 0 }, { r.ok, r.how, r.code })
      end
    end
  end)

  it("an unknown service, a service with no running task, a slot with none: errors, and 125", function()
    local r = cmd({ "exec", "nosuch-svc", "true" })
    assert.equal(125, r.code)
    assert.equal("dockerpty: no such service: nosuch-svc\n", r.err)
    local d = docker(MANAGER, { "service", "ps", "nosuch-svc" })
    assert.equal("no such service: nosuch-svc", d.err:match("^[^\n]*"):gsub("^Error: ", ""))
    local name = create(0, 1)
    local ok, e = pcall(service.exec, client, name, "true", { interactive = false })
    assert.is_false(ok)
    assert.equal(("dockerpty: service %s has no running task"):format(name), e.message)
    r = cmd({ "exec", name, "true" })
    assert.equal(125, r.code)
    assert.equal(("dockerpty: service %s has no running task\n"):format(name), r.err)
    r = cmd({ "exec", "--all", name, "true" })
    assert.equal(125, r.code)
    local busy = create(1, 1)
    r = cmd({ "exec", busy .. ".5", "true" })
    assert.equal(125, r.code)
    assert.equal(("dockerpty: service %s has no running task 5\n"):format(busy), r.err)
  end)

  -- The rig's ssh wrapper gives 127.0.0.1 a default port whose sessions
  -- reach the worker's engine (spec/support/sshd): the worker's Addr, as
  -- the manager records it, is 127.0.0.1, so ssh://[user@]127.0.0.1 is the
  -- worker node as a user's ~/.ssh/config would make it.
  it("engine by ssh to the node's address, with --ssh-user; a refused login exits 125 naming it", function()
    local name = create(2, 1)
    local wt
    for _, t in ipairs(service.tasks(client, name)) do if t.node == WNODE then wt = t end end
    assert.equal("127.0.0.1", wt.addr)
    local eng, rule, where, owned = service.engine(client, wt, { context = false })
    assert.same({ "ssh", "ssh://127.0.0.1", true }, { rule, where, owned })
    assert.equal(wt.container, eng:inspect_container(wt.container).Id)
    eng:close()
    eng, rule, where = service.engine(client, wt, { context = false, ssh_user = "root" })
    assert.same({ "ssh", "ssh://root@127.0.0.1" }, { rule, where })
    eng:close()
    -- the command, through the same rule: the task's output and status
    local r = cmd({ "exec", "--ssh-user", "root", name .. "." .. wt.slot, "sh", "-c", "hostname; exit $((60 + SLOT))" })
    assert.same({ 60 + wt.slot, WHOSTNAME .. "\n", "" }, { r.code, r.out, r.err })
    -- a user sshd refuses: 125, one line naming the node, the rules tried
    -- before (an empty context store) and the ssh host
    local dir = context_store()
    local env = "env DOCKER_CONFIG=" .. shq(dir) .. " "
    local refused = { "exec", "--ssh-user", "nobody", name .. "." .. wt.slot, "true" }
    r = sh(env .. CMD .. " " .. words(refused))
    assert.equal(125, r.code)
    assert.equal(1, #lines(r.err), r.err)
    local keys = WNODE .. " or " .. WHOSTNAME
    local ssh = "the ssh rule: cannot connect to the Docker daemon at ssh://nobody@127.0.0.1: nobody@127.0.0.1:"
      .. " Permission denied (publickey).\n"
    assert.equal(("dockerpty: task %s on node %s (%s): no nodes entry for %s; no docker context named %s;"
      .. " not the node of %s; %s"):format(wt.name, WHOSTNAME, WNODE, keys, keys, MANAGER, ssh), r.err)
    -- a context named after the node that does not load: named, then ssh
    local meta = broken_context(dir, WHOSTNAME)
    r = sh(env .. CMD .. " " .. words({ "exec", name .. "." .. wt.slot, "sh", "-c", "exit $((60 + SLOT))" }))
    assert.same({ 60 + wt.slot, "" }, { r.code, r.err })
    r = sh(env .. CMD .. " " .. words(refused))
    assert.equal(125, r.code)
    local tried = ('no nodes entry for %s; no docker context named %s; context "%s": %s has no docker endpoint'
      .. " host; not the node of %s; the ssh rule: "):format(keys, WNODE, WHOSTNAME, meta, MANAGER)
    assert.equal(("dockerpty: task %s on node %s (%s): %s"):format(wt.name, WHOSTNAME, WNODE, tried)
      .. ssh:sub(#"the ssh rule: " + 1), r.err)
    -- with --all: the same rules in that task's part of the summary line
    r = sh(env .. CMD .. " " .. words({ "exec", "--all", "--ssh-user", "nobody", name, "true" }))
    assert.equal(125, r.code)
    local want = ("dockerpty: 1 of 2 tasks failed: %s (on node %s (%s): %s"):format(wt.name, WHOSTNAME, WNODE, tried)
    assert.equal(want, r.err:sub(1, #want))
    assert.matches("nobody@127%.0%.0%.1: Permission denied %(publickey%)%.%)\n$", r.err)
    assert.equal(1, #lines(r.err), r.err)
  end)

  it("engine by a docker context named after the node (hostname or id), before ssh", function()
    local name = create(2, 1)
    local wt
    for _, t in ipairs(service.tasks(client, name)) do if t.node == WNODE then wt = t end end
    local dir = os.tmpname()
    os.remove(dir)
    finally(function() os.execute("rm -rf " .. shq(dir)) end)
    local env = "env DOCKER_CONFIG=" .. shq(dir) .. " "
    -- the docker CLI writes the store; ours reads it
    local c = sh(env .. "env -u LD_PRELOAD docker context create " .. shq(WHOSTNAME) .. " --docker host="
      .. shq(WORKER))
    assert.equal(0, c.code, c.err)
    local r = sh(env .. CMD .. " " .. words({ "exec", name .. "." .. wt.slot, "sh", "-c", "hostname; exit $SLOT" }))
    assert.same({ wt.slot, WHOSTNAME .. "\n", "" }, { r.code, r.out, r.err })
    -- a context by the node's id, pointing at the manager: the rule is named
    assert.equal(0, sh(env .. "env -u LD_PRELOAD docker context rm -f " .. shq(WHOSTNAME)).code)
    c = sh(env .. "env -u LD_PRELOAD docker context create " .. shq(WNODE) .. " --docker host=" .. shq(MANAGER))
    assert.equal(0, c.code, c.err)
    r = sh(env .. CMD .. " " .. words({ "exec", name .. "." .. wt.slot, "true" }))
    assert.equal(125, r.code)
    assert.equal(("dockerpty: task %s: no container %s at context %s (the engine of node %s (%s) by the context"
      .. " rule?)\n"):format(wt.name, wt.container:sub(1, 12), WNODE, WHOSTNAME, WNODE), r.err)
  end)

  it("a task that ends while exec'd: the exec ends too, with the status docker exec gives", function()
    local name = create(2, 1)
    local tasks = service.tasks(client, name)
    local function engine(t) return shq(t.node == WNODE and WORKER or MANAGER) end
    -- docker exec in the first task, and both tasks' containers killed in 2 s
    local f = os.tmpname()
    os.execute(("(env -u LD_PRELOAD docker -H %s exec %s sleep 60 >/dev/null 2>&1; echo $? >%s) &"):format(
      engine(tasks[1]), shq(tasks[1].container), shq(f)))
    os.execute(("(sleep 2; env -u LD_PRELOAD docker -H %s kill %s; env -u LD_PRELOAD docker -H %s kill %s)"
      .. " >/dev/null 2>&1 &"):format(engine(tasks[1]), shq(tasks[1].container), engine(tasks[2]),
      shq(tasks[2].container)))
    local outs = {}
    local t0 = core.now()
    local results = service.exec(client, name, { "sh", "-c", "echo started; sleep 60" }, {
      all = true, nodes = nodes(),
      sinks = function(t)
        local out, text = collector()
        outs[t.slot] = text
        return out, false
      end,
    })
    local elapsed = core.now() - t0
    assert(elapsed < 20000, ("the exec outlived its task by %d ms"):format(elapsed))
    assert.equal(2, #results)
    for i, r in ipairs(results) do
      assert.same({ nil, "exit", 137 }, { r.ok, r.how, r.code }, r.error and tostring(r.error))
      assert.equal("started\n", outs[i]())
    end
    local deadline = core.now() + 20000
    local status
    repeat
      local h = io.open(f)
      status = h and h:read("n")
      if h then h:close() end
      if not status then core.sleep(100) end
    until status or core.now() > deadline
    os.remove(f)
    assert.equal(137, status)
    -- the service has no running task left, once the manager has seen both
    -- containers end (it may lag behind the kill under load)
    deadline = core.now() + 20000
    while #service.tasks(client, name) > 0 and core.now() < deadline do core.sleep(100) end
    local r = cmd({ "exec", name, "true" })
    assert.equal(125, r.code, r.err)
  end)
end)

describe("service exec -it in a terminal #docker #swarm #tty", function()
  local client
  local name

  setup(function()
    assert(MANAGER and WORKER and WNODE, "the rig's swarm is missing (spec/support/swarm)")
    client = dockerpty.client.new{ host = MANAGER }
    name = ("dpsvctty-%d"):format(core.now() % 100000)
    local r = docker(MANAGER, { "service", "create", "--detach", "--no-resolve-image", "--name", name,
      "--replicas", "2", "--replicas-max-per-node", "1", "--hostname", "{{.Node.Hostname}}",
      "--stop-signal", "KILL", IMAGE, "sleep", "1000" })
    assert.equal(0, r.code, r.err)
    local deadline = core.now() + 60000
    while #service.tasks(client, name) < 2 do
      assert(core.now() < deadline, "fewer than 2 running tasks after 60 s")
      core.sleep(100)
    end
  end)

  teardown(function()
    if name then docker(MANAGER, { "service", "rm", name }) end
    if client then client:close() end
  end)

  it("gives a shell in the worker's task: prompt, hostname, stty size after a resize, exit code", function()
    local wt
    for _, t in ipairs(service.tasks(client, name)) do if t.node == WNODE then wt = t end end
    local t = tmux.new{ rows = 20, cols = 80, env = { DOCKER_HOST = MANAGER },
      cmd = { "lua5.4", "bin/dockerpty", "service", "exec", "-it", "--node", WNODE .. "=" .. WORKER,
        name .. "." .. wt.slot, "/bin/sh" } }
    finally(function() t:kill() end)
    t:wait_for("/ #", 15)
    t:send("hostname"); t:keys("Enter")
    t:wait_for("\n" .. WHOSTNAME:gsub("%p", "%%%0") .. "\n")
    t:send("stty size"); t:keys("Enter")
    t:wait_for("\n20 80\n")
    t:resize(30, 100)
    core.sleep(300)
    t:send("stty size"); t:keys("Enter")
    t:wait_for("\n30 100\n")
    t:send("exit 7"); t:keys("Enter")
    assert.equal(7, t:wait_exit(10))
  end)

  it("detaches with --detach-keys, as docker exec does: status 1, \"read escape sequence\"", function()
    local wt
    for _, t in ipairs(service.tasks(client, name)) do if t.node == WNODE then wt = t end end
    local t = tmux.new{ rows = 20, cols = 80, env = { DOCKER_HOST = MANAGER },
      cmd = { "sh", "-c", 'lua5.4 bin/dockerpty service "$@"; echo "status $?"; sleep 30', "sh",
        "exec", "-it", "--detach-keys", "ctrl-x", "--node", WNODE .. "=" .. WORKER, name .. "." .. wt.slot,
        "/bin/sh" } }
    finally(function() t:kill() end)
    t:wait_for("/ #", 15)
    t:keys("C-x")
    t:wait_for("dockerpty: read escape sequence%s+status 1")
  end)
end)

-- }======================================================
