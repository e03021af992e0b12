-- The `dockerpty` command (bin/dockerpty, issue 5): each scenario runs
-- through bin/dockerpty and through the docker CLI on the same daemon, and
-- the two must agree on exit status, stdout and stderr (stderr after the
-- prefix: "docker: " or "Error response from daemon: " for docker,
-- "dockerpty: " for ours, which also adds the HTTP status in parentheses).
-- Terminal scenarios run both programs in tmux.
local cjson = require("cjson")
local dockerpty = require("dockerpty")
local daemon = require("support.daemon")
local tmux = require("support.tmux")
local core = dockerpty.core

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
local PROMPT = "/ #"

local shq = tmux.shquote

-- The command line that runs bin/dockerpty with the module under test.
local DP = ("env LUA_PATH=%s LUA_CPATH=%s lua5.4 bin/dockerpty"):format(shq(package.path), shq(package.cpath))

local function words(list)
  local q = {}
  for i, w in ipairs(list) do q[i] = shq(w) end
  return table.concat(q, " ")
end

-- Run a shell command; returns { out =, err =, code = }. stdin is `input`
-- (through a pipe) or /dev/null.
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

local function dp(args, input) return sh(DP .. " " .. words(args), input) end
-- Under `make SANITIZE=1` LD_PRELOAD holds libasan, meant for lua5.4 only.
local function docker(args, input) return sh("env -u LD_PRELOAD docker " .. words(args), input) end

-- The first stderr line without the program's prefixes, the HTTP status we
-- append and the "(see ...)" hint, with a lower-case first letter.
local function norm(err)
  local line = err:match("^[^\n]*")
  line = line:gsub("^docker: ", ""):gsub("^dockerpty: ", ""):gsub("^Error response from daemon: ", "")
  line = line:gsub(" %(see '[^']*'%)$", ""):gsub(" %(%d%d%d%)$", "")
  return (line:gsub("^%u", string.lower))
end

-- Our stderr: exactly one line, starting with "dockerpty: ".
local function one_line(err)
  assert.matches("^dockerpty: [^\n]+\n$", err)
end

local seq = 0
local names = {}
local function name()
  seq = seq + 1
  local n = ("cli-spec-%d-%d-%d"):format(os.time() % 100000, math.random(1, 99999), seq)
  names[#names + 1] = n
  return n
end

local client

-- Run the same arguments through both; returns ours, docker's.
local function both(args, input, docker_args)
  return dp(args, input), docker(docker_args or args, input)
end

-- Our error text must be docker's on Docker. On Podman the docker CLI
-- prints Podman's own words (and cannot map its start errors to 126/127),
-- while dockerpty keeps docker's: there `want`, docker's text on Docker, is
-- the reference.
local function same_err(theirs, ours, want)
  if want then assert.equal(want, norm(ours.err)) end
  if not daemon.is_podman(client) then
    assert.equal(norm(theirs.err), norm(ours.err))
  end
end

local function exists(id)
  local ok, e = pcall(client.inspect_container, client, id)
  if ok then return true end
  -- Podman answers 500 "does not exist in database" while it removes one
  if daemon.is_podman(client) and e.status == 500 then return false end
  assert.equal(404, e.status)
  return false
end

local function running(id)
  return client:inspect_container(id).State.Running
end

-- A container in the background, named, for exec and attach.
local function background(cmd, opts)
  return daemon.background(client, name(), cmd, opts)
end

local function eventually(pred, what, timeout_ms)
  local deadline = core.now() + (timeout_ms or 5000)
  while core.now() < deadline do
    if pred() then return true end
    core.sleep(50)
  end
  error("timed out waiting for " .. what)
end

describe("dockerpty command line", function()
  it("prints its version", function()
    local r = dp({ "--version" })
    assert.same({ 0, "dockerpty version " .. dockerpty._VERSION .. "\n", "" }, { r.code, r.out, r.err })
  end)

  it("loads neither the session engine nor the Swarm code, nor the recorder until it records", function()
    -- a fresh interpreter: what the command compiles before its first request
    local probe = "local cli = require('dockerpty.cli') "
      .. "local blocking = require('dockerpty.blocking') "
      .. "local names = {} "
      .. "for _, m in ipairs({ 'dockerpty', 'dockerpty.session', 'dockerpty.service', "
      .. "'dockerpty.io', 'dockerpty.record' }) do "
      .. "if package.loaded[m] then names[#names + 1] = m end end "
      .. "io.write(table.concat(names, ' '), '|', tostring(type(cli.main) == 'function'), '|') "
      .. "local d = require('dockerpty') "
      .. "io.write(tostring(d.exec_command == blocking.exec_command and d.start == blocking.start "
      .. "and d.run == blocking.run and d.start_exec == blocking.start_exec "
      .. "and d.exec_create == blocking.exec_create), ' ', type(d.session), ' ', type(d.service))"
    local p = assert(io.popen(("env LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s 2>&1"):format(
      shq(package.path), shq(package.cpath), shq(probe))))
    local out = p:read("a")
    p:close()
    assert.equal("|true|true table table", out)
    -- a path to record to loads the recorder, and the recording is made
    local cast = os.tmpname()
    finally(function() os.remove(cast) end)
    local operation = require("dockerpty.operation")
    local o = operation.options("exec_command", { record = cast, stdin = false })
    local rec = operation.open_record(o, { "true" }, { 24, 80 })
    assert.is_true(operation.is_recorder(rec))
    assert.is_false(operation.is_recorder({}))
    rec:close()
    local f = assert(io.open(cast, "rb"))
    assert.matches('^{"version": ?2', f:read("a"))
    f:close()
  end)

  it("prints the commands with --help, and without a command", function()
    local r = dp({ "--help" })
    assert.equal(0, r.code)
    assert.matches("^Usage:  dockerpty %[OPTIONS%] COMMAND\n", r.out)
    for _, c in ipairs({ "attach", "exec", "run", "start" }) do
      assert.matches("\n  " .. c .. " ", r.out)
    end
    assert.equal(r.out, dp({}).out)
  end)

  it("prints each command's usage with --help, and the exit statuses", function()
    for c, usage in pairs({ run = "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
        exec = "exec [OPTIONS] CONTAINER COMMAND [ARG...]", attach = "attach [OPTIONS] CONTAINER",
        start = "start [OPTIONS] CONTAINER [CONTAINER...]" }) do
      local r = dp({ c, "--help" })
      assert.equal(0, r.code)
      assert.equal("", r.err)
      assert.equal("Usage:  dockerpty " .. usage, r.out:match("^[^\n]*"))
      assert.matches("\nExit status: ", r.out)
      assert.matches("Ctrl%-P Ctrl%-Q", r.out)
    end
    assert.matches('prints "read escape sequence" and exits 1', dp({ "attach", "--help" }).out)
  end)

  it("refuses an unknown flag with status 125 and one line", function()
    local r = dp({ "run", "--bogus", IMAGE })
    assert.equal(125, r.code)
    assert.equal("dockerpty: unknown flag: --bogus (see 'dockerpty run --help')\n", r.err)
    r = dp({ "exec", "-iz", "c", "true" })
    assert.equal(125, r.code)
    assert.equal("dockerpty: unknown shorthand flag: 'z' in -iz (see 'dockerpty exec --help')\n", r.err)
    r = dp({ "--bogus", "run" })
    assert.equal(125, r.code)
    assert.equal("dockerpty: unknown flag: --bogus (see 'dockerpty --help')\n", r.err)
  end)

  it("refuses a flag without its value, and a bad boolean, with 125", function()
    local r = dp({ "run", "--name" })
    assert.same({ 125, "dockerpty: flag needs an argument: --name (see 'dockerpty run --help')\n" },
      { r.code, r.err })
    r = dp({ "run", "-e" })
    assert.same({ 125, "dockerpty: flag needs an argument: 'e' in -e (see 'dockerpty run --help')\n" },
      { r.code, r.err })
    r = dp({ "run", "--rm=maybe", IMAGE })
    assert.same({ 125, 'dockerpty: invalid argument "maybe" for "--rm" flag: true or false expected'
      .. " (see 'dockerpty run --help')\n" }, { r.code, r.err })
  end)

  it("refuses missing arguments and an unknown command with 1, as docker", function()
    local r = dp({ "run" })
    assert.same({ 1, "dockerpty: 'dockerpty run' requires at least 1 argument"
      .. " (see 'dockerpty run --help')\n" }, { r.code, r.err })
    r = dp({ "exec", "c" })
    assert.same({ 1, "dockerpty: 'dockerpty exec' requires at least 2 arguments"
      .. " (see 'dockerpty exec --help')\n" }, { r.code, r.err })
    r = dp({ "attach", "a", "b" })
    assert.same({ 1, "dockerpty: 'dockerpty attach' requires 1 argument (see 'dockerpty attach --help')\n" },
      { r.code, r.err })
    r = dp({ "frobnicate" })
    assert.same({ 1, "dockerpty: unknown command: dockerpty frobnicate (see 'dockerpty --help')\n" },
      { r.code, r.err })
  end)

  it("fails with 1 and one line, no Lua position, for a bad DOCKER_HOST or DOCKER_API_VERSION", function()
    for _, env in ipairs({ "DOCKER_HOST=bogus://x", "DOCKER_HOST=tcp://h:1/x/y", "DOCKER_API_VERSION=abc" }) do
      for _, args in ipairs({ { "run", IMAGE }, { "exec", "c", "true" }, { "attach", "c" }, { "start", "c" } }) do
        local r = sh("env " .. env .. " " .. DP .. " " .. words(args))
        local what = env .. " " .. args[1]
        assert.equal(1, r.code, what)
        one_line(r.err)
        assert.is_nil(r.err:find("%.lua:%d+:"), r.err)
        assert.is_nil(r.err:find("dockerpty:%d+:"), r.err)
        assert.is_nil(r.err:find("traceback", 1, true), r.err)
      end
    end
  end)

  it("refuses invalid detach keys with 125 before creating anything", function()
    local r = dp({ "run", "--detach-keys", "shift-z", "--name", "never-made", IMAGE })
    assert.same({ 125, "dockerpty: invalid detach keys: shift-z\n" }, { r.code, r.err })
  end)
end)

describe("dockerpty and docker side by side #docker", function()
  setup(function()
    client = dockerpty.client.from_env()
    assert.equal(0, sh("command -v docker >/dev/null").code, "the docker CLI is needed")
  end)

  teardown(function()
    for _, n in ipairs(names) do pcall(client.remove_container, client, n, { force = true }) end
    client:close()
  end)


  local function run_args(...)
    local a = { "run", "--rm", "--network", "none" }
    for _, w in ipairs({ ... }) do a[#a + 1] = w end
    return a
  end

  it("spell every flag as docker does", function()
    for _, c in ipairs({ "run", "exec", "attach", "start" }) do
      local theirs = sh("docker " .. c .. " --help").out
      for line in dp({ c, "--help" }).out:gmatch("[^\n]+") do
        local flags = line:match("^  (%-%a, %-%-[%w-]+)") or line:match("^      (%-%-[%w-]+)")
        -- --logs, --record and --record-input are ours; docker's help does not list --help
        local ours = { ["--logs"] = true, ["--record"] = true, ["--record-input"] = true }
        if flags and not ours[flags] and not flags:find("--help", 1, true) then
          assert.truthy(theirs:find("\n  " .. flags, 1, true) or theirs:find("\n      " .. flags, 1, true),
            c .. " " .. flags)
        end
      end
    end
  end)

  it("record a session with --record (asciicast v2), refuse a bad path before creating anything", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    finally(function() os.execute("rm -rf " .. dir) end)
    local r = dp(run_args("--record", dir .. "/s.cast", IMAGE, "sh", "-c", "echo caf\195\169; exit 4"))
    assert.same({ "caf\195\169\n", "", 4 }, { r.out, r.err, r.code })
    local f = assert(io.open(dir .. "/s.cast"))
    local head = cjson.decode(f:read("l"))
    assert.equal(2, head.version)
    local text = {}
    for line in f:lines() do
      local ev = cjson.decode(line)
      assert.equal("number", type(ev[1]))
      if ev[2] == "o" then text[#text + 1] = ev[3] end
    end
    f:close()
    assert.equal("caf\195\169\n", table.concat(text))
    local before = sh("docker ps -aq | wc -l").out
    r = dp(run_args("--record", "/nonexistent/dir/s.cast", IMAGE, "true"))
    assert.equal(125, r.code)
    assert.matches("^dockerpty: cannot write the recording /nonexistent/dir/s.cast: ", r.err)
    assert.equal(before, sh("docker ps -aq | wc -l").out)
    r = dp(run_args("--record-input", IMAGE, "true"))
    assert.same({ 125, "dockerpty: --record-input needs --record FILE\n" }, { r.code, r.err })
    -- the path is checked before the pull (which would fail otherwise: no
    -- registry is reachable from the rigs), with nothing on stderr before
    r = dp(run_args("--pull", "always", "--record", "/nonexistent/dir/s.cast", IMAGE, "true"))
    assert.equal(125, r.code)
    one_line(r.err)
    assert.matches("^dockerpty: cannot write the recording /nonexistent/dir/s.cast: ", r.err)
  end)

  it("refuse --record where nothing is attached: run -d, exec -d, start without -a or -i", function()
    local cast = os.tmpname()
    os.remove(cast)
    finally(function() os.remove(cast) end)
    local before = sh("docker ps -aq | wc -l").out
    local r = dp({ "run", "-d", "--network", "none", "--record", cast, IMAGE, "true" })
    assert.same({ 125, "", "dockerpty: conflicting options: cannot specify both --record and --detach\n" },
      { r.code, r.out, r.err })
    assert.equal(before, sh("docker ps -aq | wc -l").out)
    local c = background({ "sleep", "300" })
    r = dp({ "exec", "-d", "--record", cast, c, "touch", "/tmp/ran" })
    assert.same({ 125, "", "dockerpty: conflicting options: cannot specify both --record and --detach\n" },
      { r.code, r.out, r.err })
    core.sleep(300)
    assert.equal(1, dp({ "exec", c, "test", "-e", "/tmp/ran" }).code)
    local stopped = background({ "true" }, { created = true })
    r = dp({ "start", "--record", cast, stopped })
    assert.same({ 125, "", "dockerpty: --record needs --attach or --interactive\n" }, { r.code, r.out, r.err })
    assert.equal("created", client:inspect_container(stopped).State.Status)
    assert.is_nil(io.open(cast, "rb"))
  end)

  it("exit with the container's status: 0 and 7", function()
    for _, code in ipairs({ 0, 7 }) do
      local ours, theirs = both(run_args(IMAGE, "sh", "-c", "exit " .. code))
      assert.same({ code, "", "" }, { ours.code, ours.out, ours.err })
      -- the docker CLI's --rm waits for "removed", which Podman answers with 0
      if not daemon.is_podman(client) then
        assert.same({ code, "", "" }, { theirs.code, theirs.out, theirs.err })
      end
    end
  end)

  it("keep stdout and stderr apart", function()
    local ours, theirs = both(run_args(IMAGE, "sh", "-c", "echo out; echo err >&2"))
    assert.same({ 0, "out\n", "err\n" }, { ours.code, ours.out, ours.err })
    assert.same({ 0, "out\n", "err\n" }, { theirs.code, theirs.out, theirs.err })
  end)

  it("pipe stdin through run -i: echo hi | run -i IMAGE cat", function()
    local ours, theirs = both(run_args("-i", IMAGE, "cat"), "hi\n")
    assert.same({ 0, "hi\n", "" }, { ours.code, ours.out, ours.err })
    assert.same({ 0, "hi\n", "" }, { theirs.code, theirs.out, theirs.err })
  end)

  it("run -t without -i writes through a tty", function()
    local ours, theirs = both(run_args("-t", IMAGE, "echo", "hi"))
    assert.same({ 0, "hi\r\n" }, { ours.code, ours.out })
    assert.same({ 0, "hi\r\n" }, { theirs.code, theirs.out })
  end)

  it("exit 125 for an unknown image", function()
    local ours, theirs = both(run_args("--pull", "never", "nope/nope:latest", "true"))
    assert.same({ 125, 125 }, { ours.code, theirs.code })
    one_line(ours.err)
    same_err(theirs, ours, "no such image: nope/nope:latest")
  end)

  it("exit 125 for an unknown flag", function()
    local ours, theirs = both(run_args("--bogus", IMAGE, "true"))
    assert.same({ 125, 125 }, { ours.code, theirs.code })
    assert.equal(norm(theirs.err), norm(ours.err))
  end)

  it("exit 127 when the command is not found and 126 when it cannot be invoked", function()
    for code, cmd in pairs({ [127] = "nope", [126] = "/etc" }) do
      local ours, theirs = both(run_args(IMAGE, cmd))
      assert.equal(code, ours.code)
      one_line(ours.err)
      if not daemon.is_podman(client) then
        assert.equal(code, theirs.code)
        assert.equal(norm(theirs.err), norm(ours.err))
      end
    end
  end)

  it("refuse -it with a stdin that is not a terminal, with docker's text, and create nothing", function()
    local n1, n2 = name(), name()
    local ours = dp(run_args("-it", "--name", n1, IMAGE, "cat"), "hi\n")
    local theirs = docker(run_args("-it", "--name", n2, IMAGE, "cat"), "hi\n")
    assert.same({ 1, "dockerpty: the input device is not a TTY\n" }, { ours.code, ours.err })
    assert.same({ 1, "the input device is not a TTY" }, { theirs.code, norm(theirs.err) })
    assert.is_false(exists(n1))
    assert.is_false(exists(n2))
  end)

  it("remove the container with --rm, also when it could not start", function()
    for _, cmd in ipairs({ "true", "nope" }) do
      local n1, n2 = name(), name()
      local ours = dp(run_args("--name", n1, IMAGE, cmd))
      local theirs = docker(run_args("--name", n2, IMAGE, cmd))
      assert.equal(cmd == "true" and 0 or 127, ours.code)
      if not daemon.is_podman(client) then assert.equal(theirs.code, ours.code) end
      assert.is_false(exists(n1))
      eventually(function() return not exists(n2) end, "docker's --rm")
    end
  end)

  it("keep the container without --rm", function()
    local n = name()
    local r = dp({ "run", "--network", "none", "--name", n, IMAGE, "true" })
    assert.equal(0, r.code)
    assert.is_true(exists(n))
  end)

  it("pass -e, -w, -u and --entrypoint, in combined and = spellings", function()
    local script = 'echo "$A|$B|$HOME"; pwd; id -u'
    local ours, theirs = both(run_args("-eA=1", "--env=B=two words", "-e", "HOME", "-w", "/tmp",
      "--user=nobody", IMAGE, "sh", "-c", script))
    local want = "1|two words|" .. os.getenv("HOME") .. "\n/tmp\n99\n"
    assert.same({ 0, want }, { ours.code, ours.out })
    assert.same({ 0, want }, { theirs.code, theirs.out })
    ours, theirs = both(run_args("--entrypoint", "echo", IMAGE, "hello", "--", "-x"))
    assert.same({ 0, "hello -- -x\n" }, { ours.code, ours.out })
    assert.same({ 0, "hello -- -x\n" }, { theirs.code, theirs.out })
  end)

  it("stop options at IMAGE and after --", function()
    local ours, theirs = both(run_args("--", IMAGE, "echo", "-i", "--rm"))
    assert.same({ 0, "-i --rm\n" }, { ours.code, ours.out })
    assert.same({ 0, "-i --rm\n" }, { theirs.code, theirs.out })
  end)

  it("exec: status, split output, -i, -e/-w/-u, a command not found", function()
    local c = background({ "sleep", "300" })
    local ours, theirs = both({ "exec", c, "sh", "-c", "echo out; echo err >&2; exit 3" })
    assert.same({ 3, "out\n", "err\n" }, { ours.code, ours.out, ours.err })
    assert.same({ 3, "out\n", "err\n" }, { theirs.code, theirs.out, theirs.err })
    ours, theirs = both({ "exec", "-i", c, "cat" }, "hi\n")
    assert.same({ 0, "hi\n" }, { ours.code, ours.out })
    assert.same({ 0, "hi\n" }, { theirs.code, theirs.out })
    ours, theirs = both({ "exec", "-e", "A=b", "-w", "/tmp", "-u", "nobody", c, "sh", "-c",
      "echo $A; pwd; id -u" })
    assert.same({ 0, "b\n/tmp\n99\n" }, { ours.code, ours.out })
    assert.same({ 0, "b\n/tmp\n99\n" }, { theirs.code, theirs.out })
    ours, theirs = both({ "exec", c, "nope" })
    assert.equal(theirs.code, ours.code)
    assert.truthy(ours.code == 126 or ours.code == 127)
    if daemon.is_podman(client) then
      -- Podman may add a second line to the stream: "read unixpacket ... reset by peer"
      assert.equal((theirs.out .. theirs.err):match("^[^\n]*\n"), (ours.out .. ours.err):match("^[^\n]*\n"))
    else
      assert.equal(theirs.out .. theirs.err, ours.out .. ours.err)
    end
  end)

  it("exec: -it without a terminal, and no such container, exit 1", function()
    local c = background({ "sleep", "300" })
    local ours, theirs = both({ "exec", "-it", c, "cat" }, "hi\n")
    assert.same({ 1, 1 }, { ours.code, theirs.code })
    assert.equal("dockerpty: the input device is not a TTY\n", ours.err)
    assert.equal(norm(theirs.err), norm(ours.err))
    ours, theirs = both({ "exec", "no-such-container-x", "true" })
    assert.same({ 1, 1 }, { ours.code, theirs.code })
    one_line(ours.err)
    same_err(theirs, ours, "no such container: no-such-container-x")
  end)

  it("attach: output, piped stdin and the exit status", function()
    local results = {}
    for _, prog in ipairs({ dp, docker }) do
      local c = background({ "sh", "-c", "read line; echo got $line; exit 4" }, { stdin_open = true })
      eventually(function() return running(c) end, "the container to run")
      results[#results + 1] = prog({ "attach", c }, "x\n")
    end
    assert.same({ 4, "got x\n", "" }, { results[1].code, results[1].out, results[1].err })
    assert.same({ 4, "got x\n", "" }, { results[2].code, results[2].out, results[2].err })
  end)

  it("attach: a stopped container and no such container exit 1", function()
    local c = background({ "true" }, { created = true })
    local ours, theirs = both({ "attach", c })
    assert.same({ 1, 1 }, { ours.code, theirs.code })
    one_line(ours.err)
    assert.equal(norm(theirs.err), norm(ours.err))
    assert.is_false(running(c))
    ours, theirs = both({ "attach", "no-such-container-x" })
    assert.same({ 1, 1 }, { ours.code, theirs.code })
    same_err(theirs, ours, "no such container: no-such-container-x")
  end)

  it("start -a and start -a -i: output and status", function()
    local results = {}
    for _, prog in ipairs({ dp, docker }) do
      local c = background({ "sh", "-c", "echo hi; exit 4" }, { created = true })
      local r = prog({ "start", "-a", c })
      local c2 = background({ "cat" }, { created = true, stdin_open = true })
      local r2 = prog({ "start", "-ai", c2 }, "piped\n")
      results[#results + 1] = { r.code, r.out, r2.code, r2.out }
    end
    assert.same({ 4, "hi\n", 0, "piped\n" }, results[1])
    assert.same(results[2], results[1])
  end)

  it("start without -a prints the name; no such container exits 1", function()
    local c = background({ "sleep", "300" }, { created = true })
    local r = dp({ "start", c })
    assert.same({ 0, c .. "\n" }, { r.code, r.out })
    assert.is_true(running(c))
    local ours, theirs = both({ "start", "-a", "no-such-container-x" })
    assert.same({ 1, 1 }, { ours.code, theirs.code })
    same_err(theirs, ours, "no such container: no-such-container-x")
  end)

  -- Start a command line (stdout and stderr to a pipe, signals at their
  -- defaults: popen, not an asynchronous list, which would ignore SIGINT);
  -- read lines until `ready`, send SIGINT; returns the exit status (nil for a
  -- signal) and the whole output.
  local function interrupt(line, ready)
    local p = assert(io.popen("echo $$; exec " .. line .. " </dev/null 2>&1"))
    local pid = math.tointeger(tonumber(p:read("l")))
    local lines = {}
    repeat
      local l = p:read("l")
      lines[#lines + 1] = l
    until l == nil or l == ready
    os.execute("kill -INT " .. pid)
    lines[#lines + 1] = p:read("a")
    local _, how, code = p:close()
    return how == "exit" and code or nil, table.concat(lines, "\n")
  end

  it("forward SIGINT to a container without a tty, and not with --sig-proxy=false", function()
    local script = 'trap "echo got INT; exit 33" INT; echo ready; while :; do sleep 0.1; done'
    -- (on Podman, the docker CLI's --rm exits 0 here: see above)
    for _, line in ipairs(daemon.is_podman(client) and { DP } or { DP, "docker" }) do
      local status, out = interrupt(("%s run --rm --network none %s sh -c %s"):format(line, IMAGE,
        shq(script)), "ready")
      assert.same({ 33, "ready\ngot INT\n" }, { status, out })
    end
    -- Without the proxy, SIGINT ends dockerpty (by the signal) and the
    -- container runs on. docker 28 differs: it holds on until the third
    -- SIGINT (cli PR #6058), so it is not compared here.
    local n = name()
    local status, out = interrupt(("%s run --sig-proxy=false --network none --name %s %s sh -c %s"):format(
      DP, n, IMAGE, shq(script)), "ready")
    assert.same({ nil, "ready\n" }, { status, out })
    assert.is_true(running(n))
  end)

  it("-H names the daemon; an unreachable one is a 125 for run", function()
    local host = os.getenv("DOCKER_HOST") or "unix:///var/run/docker.sock"
    local r = dp({ "-H", host, "run", "--rm", "--network", "none", IMAGE, "echo", "via -H" })
    assert.same({ 0, "via -H\n" }, { r.code, r.out })
    local ours, theirs = both({ "-H", "unix:///nonexistent/d.sock", "run", "--rm", IMAGE, "true" })
    assert.same({ 125, 125 }, { ours.code, theirs.code })
    one_line(ours.err)
    assert.matches("unix:///nonexistent/d.sock", ours.err, 1, true)
  end)
end)

-- docker run's everyday flags (issue 15): each case runs through both
-- programs on the same daemon, with a name and without --rm, so that both
-- containers can be inspected: the exit status, stdout and stderr (after
-- the prefixes) agree, and so do the Engine API fields the flag sets,
-- which also hold the value the flag means (`want`), so that two
-- programs that both ignored the flag could not pass.
describe("docker run's everyday flags, side by side #docker", function()
  local work
  -- the working directory both programs run in (relative bind sources)
  local cwd = io.popen("pwd"):read("l")
  local VOLUME = ("cli-spec-vol-%d"):format(math.random(1, 999999))

  setup(function()
    client = dockerpty.client.from_env()
    work = os.tmpname()
    os.remove(work)
    assert(os.execute(("mkdir -p %s/bind && echo hello > %s/bind/f && chmod -R a+rX %s"):format(
      work, work, work)))
    local f = assert(io.open(work .. "/env", "w"))
    f:write("A=1\n# a comment\n\nB=two words\nDP_SPEC_UNSET_VAR\nHOME\n")
    f:close()
    f = assert(io.open(work .. "/labels", "w"))
    f:write("fromfile=1\nbareinfile\n")
    f:close()
  end)

  teardown(function()
    for _, n in ipairs(names) do pcall(client.remove_container, client, n, { force = true, v = true }) end
    pcall(client.json, client, "DELETE", "/volumes/" .. VOLUME)
    os.execute("rm -rf " .. work)
    client:close()
  end)

  local function field(info, path)
    local v = info
    for k in path:gmatch("[^.]+") do
      if type(v) ~= "table" then return nil end
      v = v[math.tointeger(tonumber(k)) or k]
    end
    return v
  end

  -- Empty lists and maps, and absent fields, are the same request.
  local function normal(v)
    if v == nil or v == cjson.null or (type(v) == "table" and next(v) == nil) then return nil end
    return v
  end

  -- An environment as a sorted list, without the HOSTNAME that Podman adds
  -- (each container its own) in an order of its own.
  local function env_set(list)
    if not list then return nil end
    local out = {}
    for _, v in ipairs(list) do
      if not v:find("^HOSTNAME=") then out[#out + 1] = v end
    end
    table.sort(out)
    return out
  end

  -- Run `flags IMAGE cmd` through both; returns ours, docker's and their
  -- inspect data (nil when nothing was created).
  local function side_by_side(flags, cmd, input)
    local results = {}
    for _, prog in ipairs({ dp, docker }) do
      local n = name()
      local a = { "run", "--network", "none", "--name", n }
      for _, w in ipairs(flags) do a[#a + 1] = (w:gsub("WORK", work):gsub("VOLUME", VOLUME)) end
      a[#a + 1] = IMAGE
      for _, w in ipairs(cmd or { "true" }) do a[#a + 1] = w end
      local r = prog(a, input)
      local ok, info = pcall(client.inspect_container, client, n)
      r.info = ok and info or nil
      results[#results + 1] = r
    end
    return results[1], results[2]
  end

  local CASES = {
    { "-v bind mount, read-only", { "-v", "WORK/bind:/data:ro" }, { "sh", "-c", "cat /data/f; touch /data/x" },
      code = 1, out = "hello\n", fields = { ["HostConfig.Binds.1"] = "WORK/bind:/data:ro" },
      podman = { why = "Podman's inspect adds the options it applied: :ro,rprivate,rbind", fields = false } },
    { "-v ./relative: absolute against the working directory", { "-v", "./spec/../spec/:/s:ro" },
      { "ls", "/s/cli_spec.lua" }, out = "/s/cli_spec.lua\n", fields = { ["HostConfig.Binds.1"] = "CWD/spec:/s:ro" },
      podman = { why = "Podman's inspect adds the options it applied: :ro,rprivate,rbind", fields = false } },
    { "-v name:/x: a named volume stays a name", { "-v", "VOLUME:/x" }, { "ls", "-d", "/x" }, out = "/x\n",
      fields = { ["HostConfig.Binds.1"] = "VOLUME:/x" },
      podman = { why = "Podman's inspect adds the options it applied: :rprivate,nosuid,...", fields = false } },
    { "--mount type=bind,src=.: absolute against the working directory", { "--mount", "type=bind,src=.,dst=/s" },
      { "ls", "/s/spec/cli_spec.lua" }, out = "/s/spec/cli_spec.lua\n",
      fields = { ["HostConfig.Mounts.1.Source"] = "CWD" },
      podman = { why = "Podman's inspect lists --mount under Mounts only", fields = false } },
    { "-v anonymous volume", { "-v", "/anon" }, { "ls", "-d", "/anon" }, out = "/anon\n",
      fields = { ["Config.Volumes"] = { ["/anon"] = {} } },
      podman = { why = "Podman's inspect leaves Config.Volumes empty", fields = false } },
    { "--mount type=bind", { "--mount", "type=bind,source=WORK/bind,target=/data,readonly" }, { "cat", "/data/f" },
      out = "hello\n", fields = { ["HostConfig.Mounts.1.ReadOnly"] = true, ["HostConfig.Mounts"] = 0 },
      podman = { why = "Podman's inspect lists --mount under Mounts only", fields = false } },
    { "--mount type=volume", { "--mount", "type=volume,target=/v,volume-nocopy,volume-label=a=b" },
      { "ls", "-d", "/v" }, out = "/v\n", fields = { ["HostConfig.Mounts.1.VolumeOptions.NoCopy"] = true,
        ["HostConfig.Mounts"] = 0 },
      podman = { why = "Podman's inspect lists --mount under Mounts only", fields = false } },
    { "--mount type=tmpfs", { "--mount", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770" },
      { "stat", "-c", "%a", "/t" }, out = "1770\n",
      fields = { ["HostConfig.Mounts.1.TmpfsOptions.SizeBytes"] = 1048576, ["HostConfig.Mounts"] = 0 },
      podman = { why = "Podman's inspect lists --mount under Mounts only", fields = false } },
    { "--mount in CSV quotes, with an upper-case type", { "--mount", 'TYPE=TMPFS,"dst=/t,x","tmpfs-mode=700"' },
      { "stat", "-c", "%a %n", "/t,x" }, out = "700 /t,x\n",
      fields = { ["HostConfig.Mounts.1.Type"] = "tmpfs", ["HostConfig.Mounts.1.Target"] = "/t,x" },
      podman = { why = "Podman joins a mount's options with commas and refuses a target that holds one "
        .. "(\"x: invalid mount option\"): both exit 125 and create nothing", code = 125, out = false,
        fields = false, none_created = true } },
    { "--env-file and -e", { "--env-file", "WORK/env", "-e", "C=3" }, { "sh", "-c", 'echo "$A|$B|$C|$HOME"' },
      out = "1|two words|3|" .. os.getenv("HOME") .. "\n", fields = { ["Config.Env"] = 0 } },
    { "-h/--hostname", { "-h", "box.example" }, { "hostname" }, out = "box.example\n",
      fields = { ["Config.Hostname"] = "box.example" } },
    { "-l/--label and --label-file", { "-l", "a=1", "--label", "b", "--label-file", "WORK/labels" }, nil,
      fields = { ["Config.Labels.a"] = "1", ["Config.Labels.b"] = "", ["Config.Labels.fromfile"] = "1",
        ["Config.Labels"] = 0 } },
    { "--log-driver", { "--log-driver", "none" }, nil, fields = { ["HostConfig.LogConfig.Type"] = "none" } },
    { "--log-opt", { "--log-opt", "max-size=1m", "--log-opt", "max-file=2" }, nil,
      fields = { ["HostConfig.LogConfig.Config.max-size"] = "1m", ["HostConfig.LogConfig"] = 0 },
      podman = { why = "Podman's inspect does not give LogConfig.Config back", fields = false } },
    { "--read-only", { "--read-only" }, { "touch", "/x" }, code = 1,
      fields = { ["HostConfig.ReadonlyRootfs"] = true } },
    { "--tmpfs", { "--tmpfs", "/run:size=1m,mode=700" }, { "stat", "-c", "%a", "/run" }, out = "700\n",
      fields = { ["HostConfig.Tmpfs./run"] = "size=1m,mode=700" },
      podman = { why = "Podman's inspect adds the options it applied (rw,rprivate,nosuid,...)", fields = false } },
    -- the rig's daemon may not be allowed every capability: whatever it
    -- answers, both programs get the same answer
    { "--privileged", { "--privileged" }, { "true" }, fields = { ["HostConfig.Privileged"] = true } },
    { "--cap-add and --cap-drop", { "--cap-add", "net_admin", "--cap-add", "SYS_TIME", "--cap-drop", "chown",
      "--cap-drop", "CAP_KILL" }, { "grep", "CapEff", "/proc/self/status" },
      fields = { ["HostConfig.CapAdd"] = 0, ["HostConfig.CapDrop"] = 0, ["HostConfig.CapAdd.1"] = "CAP_NET_ADMIN" },
      podman = { why = "Podman reports capabilities without CAP_, and CapDrop as all it drops",
        fields = false } },
    { "--cap-drop all", { "--cap-drop", "all", "--cap-add", "chown" }, nil,
      fields = { ["HostConfig.CapDrop.1"] = "ALL", ["HostConfig.CapAdd.1"] = "CAP_CHOWN" },
      podman = { why = "Podman reports capabilities without CAP_, and CapDrop as all it drops",
        fields = false } },
    { "--security-opt", { "--security-opt", "no-new-privileges", "--security-opt", "label=disable" },
      { "grep", "NoNewPrivs", "/proc/self/status" }, out = "NoNewPrivs:\t1\n",
      fields = { ["HostConfig.SecurityOpt"] = 0, ["HostConfig.SecurityOpt.1"] = "no-new-privileges" } },
    { "--device", { "--device", "/dev/null:/dev/mynull:rw" }, { "sh", "-c", "echo x > /dev/mynull && echo ok" },
      out = "ok\n", fields = { ["HostConfig.Devices.1.PathInContainer"] = "/dev/mynull", ["HostConfig.Devices"] = 0 },
      podman = { why = "the docker CLI refuses --device on Podman (\"unknown server OS\": no Os in "
        .. "Podman's /version)", cli = false } },
    { "-m/--memory", { "-m", "64m" }, nil, fields = { ["HostConfig.Memory"] = 64 * 1024 * 1024 } },
    { "--cpus", { "--cpus", "0.5" }, nil, fields = { ["HostConfig.NanoCpus"] = 500000000 } },
    { "--ulimit", { "--ulimit", "nofile=100:200" }, { "sh", "-c", "ulimit -n; ulimit -Hn" }, out = "100\n200\n",
      fields = { ["HostConfig.Ulimits"] = { { Name = "nofile", Soft = 100, Hard = 200 } } },
      podman = { why = "the rig's Podman may not raise the limit: the attach fails with 409, on which the "
        .. "docker CLI exits 1 (\"unable to upgrade to tcp\") and dockerpty 126 with the daemon's \"permission denied\"",
        cli = false, code = 126, out = false, fields = false } },
    { "--add-host", { "--add-host", "foo:1.2.3.4", "--add-host", "bar=::1" }, { "grep", "-E", "foo|bar", "/etc/hosts" },
      out = "1.2.3.4\tfoo\n::1\tbar\n", fields = { ["HostConfig.ExtraHosts"] = { "foo:1.2.3.4", "bar:::1" } } },
    { "--dns", { "--dns", "192.0.2.53" }, { "grep", "nameserver", "/etc/resolv.conf" }, out = "nameserver 192.0.2.53\n",
      fields = { ["HostConfig.Dns"] = { "192.0.2.53" } },
      podman = { why = "with --network none Podman writes no nameserver", out = false, fields = false } },
    { "--stop-signal and --stop-timeout", { "--stop-signal", "SIGINT", "--stop-timeout", "3" }, nil,
      fields = { ["Config.StopSignal"] = "SIGINT", ["Config.StopTimeout"] = 3 },
      podman = { why = "Podman reports the stop signal by number",
        fields = { ["Config.StopSignal"] = "2", ["Config.StopTimeout"] = 3 } } },
    { "--init", { "--init" }, { "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline" }, fields = { ["HostConfig.Init"] = true },
      podman = { why = "the rig's Podman has no catatonit: both fail with 127 and create nothing", code = 127,
        none_created = true, fields = false } },
    { "--pull never, the image here", { "--pull", "never" }, { "echo", "hi" }, out = "hi\n" },
    { "--pull missing, the image here", { "--pull=missing" }, { "echo", "hi" }, out = "hi\n" },
    { "--platform", { "--platform", "linux/amd64" }, { "echo", "hi" }, out = "hi\n" },
    { "-a stderr", { "-a", "stderr" }, { "sh", "-c", "echo out; echo err >&2" }, err = "err\n",
      fields = { ["Config.AttachStdout"] = false, ["Config.AttachStderr"] = true },
      podman = { why = "the docker CLI 28 panics on Podman's attach with -a (a nil stdout in StdCopy); "
        .. "Podman's inspect keeps no Attach* fields", cli = false, fields = false } },
    { "-i -a stdin -a stdout", { "-i", "-a", "stdin", "--attach=stdout" }, { "sh", "-c", "cat; echo err >&2" },
      input = "piped\n", out = "piped\n", fields = { ["Config.AttachStdin"] = true, ["Config.AttachStderr"] = false },
      podman = { why = "the docker CLI 28 panics on Podman's attach with -a (a nil stdout in StdCopy); "
        .. "Podman's inspect keeps no Attach* fields", cli = false, fields = false } },
    { "-i -a stdout: -i attaches stdin too", { "-i", "-a", "stdout" }, { "sh", "-c", "cat; echo err >&2" },
      input = "piped\n", out = "piped\n", fields = { ["Config.AttachStdin"] = true, ["Config.StdinOnce"] = true,
        ["Config.AttachStderr"] = false },
      podman = { why = "the docker CLI 28 panics on Podman's attach with -a (a nil stdout in StdCopy); "
        .. "Podman's inspect keeps no Attach* fields", cli = false, fields = false } },
    { "--rm=false", { "--rm=false" }, { "echo", "kept" }, out = "kept\n", fields = { ["HostConfig.AutoRemove"] = false } },
    { "--group-add", { "--group-add", "10", "--group-add", "20" }, { "id", "-G" }, out = "0 10 20\n",
      fields = { ["HostConfig.GroupAdd"] = { "10", "20" } } },
    { "--ipc", { "--ipc", "private" }, nil, fields = { ["HostConfig.IpcMode"] = "private" },
      podman = { why = "Podman reports a private IPC namespace as \"shareable\"", fields = false } },
    { "--pid", { "--pid", "host" }, nil, fields = { ["HostConfig.PidMode"] = "host" } },
    { "--shm-size", { "--shm-size", "1m" }, { "sh", "-c", "df -k /dev/shm | tail -1 | awk '{print $2}'" },
      out = "1024\n", fields = { ["HostConfig.ShmSize"] = 1048576 } },
    { "--restart", { "--restart", "on-failure:3" }, nil,
      fields = { ["HostConfig.RestartPolicy"] = { Name = "on-failure", MaximumRetryCount = 3 } } },
    { "-p/--publish", { "-p", "8080:80", "-p", "127.0.0.1::81/udp", "-p", "90-91" }, nil,
      fields = { ["HostConfig.PortBindings.80/tcp"] = { { HostIp = "", HostPort = "8080" } },
        ["HostConfig.PortBindings"] = 0, ["Config.ExposedPorts"] = 0,
        ["HostConfig.PortBindings.91/tcp"] = { { HostIp = "", HostPort = "" } } },
      podman = { why = "Podman keeps no port bindings under --network none", fields = false } },
  }

  -- A case as it holds on this engine: on Podman, `podman` states what
  -- differs and overrides the case's keys (false: not checked there);
  -- with `cli = false` the docker CLI itself fails on Podman, so only
  -- dockerpty's answer is checked.
  local function as_on_engine(case)
    if not (case.podman and daemon.is_podman(client)) then return case end
    local c = {}
    for k, v in pairs(case) do c[k] = v end
    for k, v in pairs(case.podman) do
      if v == false then c[k] = nil else c[k] = v end
    end
    c.compare = case.podman.cli ~= false
    return c
  end

  for _, c in ipairs(CASES) do
    it(c[1], function()
      local case = as_on_engine(c)
      local ours, theirs = side_by_side(case[2], case[3], case.input)
      if case.compare ~= false then
        -- both stderrs in the message: a status that differs says why
        assert.same({ theirs.code, theirs.out }, { ours.code, ours.out },
          ("stderr: dockerpty %q, docker %q"):format(ours.err or "", theirs.err or ""))
        assert.equal(norm(theirs.err), norm(ours.err))
      end
      if case.code then assert.equal(case.code, ours.code) end
      if case.out then assert.equal(case.out, ours.out) end
      if case.err then assert.equal(case.err, ours.err) end
      if case.none_created then
        assert.is_nil(ours.info)
        assert.is_nil(theirs.info)
        return
      end
      assert.truthy(ours.info, "dockerpty created the container")
      if case.compare ~= false then assert.truthy(theirs.info, "docker created the container") end
      for path, want in pairs(case.fields or {}) do
        local mine = normal(field(ours.info, path))
        if path == "Config.Env" then mine = env_set(mine) end
        if case.compare ~= false then
          local its = normal(field(theirs.info, path))
          if path == "Config.Env" then its = env_set(its) end
          assert.same(its, mine, path)
        end
        if want ~= 0 then
          if type(want) == "string" then want = want:gsub("WORK", work):gsub("CWD", cwd):gsub("VOLUME", VOLUME) end
          assert.same(want, mine, path)
        else
          assert.is_not_nil(mine, path)
        end
      end
    end)
  end

  it("-d prints the id and leaves the container running; --rm -d removes it at the end", function()
    for _, prog in ipairs({ dp, docker }) do
      local r = prog({ "run", "-d", "--network", "none", IMAGE, "sleep", "30" })
      names[#names + 1] = r.out:match("%x+")
      assert.same({ 0, "" }, { r.code, r.err })
      assert.matches("^%x+\n$", r.out)
      assert.equal(65, #r.out)
      assert.is_true(running(r.out:match("%x+")))
      r = prog({ "run", "-d", "--rm", "--network", "none", IMAGE, "true" })
      assert.equal(0, r.code)
      local id = r.out:match("%x+")
      eventually(function() return not exists(id) end, "--rm -d removal")
    end
  end)

  it("--pull always: the pull goes to the daemon and fails, as docker's, for an unknown registry", function()
    local ours, theirs = side_by_side({ "--pull", "always" }, { "true" })
    -- no registry is reachable from the rig: even the local image fails
    assert.same({ 125, 125 }, { ours.code, theirs.code })
    one_line(ours.err)
    assert.equal(norm(theirs.err), norm(ours.err))
    assert.is_nil(ours.info)
    local a = { "run", "--rm", "--network", "none", "--pull", "always", "nope.invalid/x:1", "true" }
    ours, theirs = dp(a), docker(a)
    assert.same({ 125, 125 }, { ours.code, theirs.code })
    one_line(ours.err)
    assert.equal(norm(theirs.err), norm(ours.err))
    assert.matches("nope%.invalid", ours.err)
  end)

  it("--pull missing: docker's line, then the pull's failure; --pull never: no such image", function()
    local a = { "run", "--rm", "--network", "none", "nope.invalid/x", "true" }
    local ours, theirs = dp(a), docker(a)
    assert.same({ 125, 125 }, { ours.code, theirs.code })
    local first, rest = ours.err:match("^([^\n]*\n)(.*)$")
    assert.equal("Unable to find image 'nope.invalid/x:latest' locally\n", first)
    assert.equal(first, theirs.err:match("^[^\n]*\n"))
    one_line(rest)
    assert.equal(norm(theirs.err:match("\n(.*)")), norm(rest))
    a = { "run", "--rm", "--network", "none", "--pull", "never", "nope.invalid/x", "true" }
    ours, theirs = dp(a), docker(a)
    assert.same({ 125, 125 }, { ours.code, theirs.code })
    assert.equal("dockerpty: no such image: nope.invalid/x:latest (404)\n", ours.err)
    same_err(theirs, ours, "no such image: nope.invalid/x:latest")
  end)

  it("refuse bad values with docker's words and 125, creating what docker creates", function()
    for _, flags in ipairs({
      { "-m", "1q" }, { "--memory=x" }, { "--cpus", "abc" }, { "--ulimit", "nofile" }, { "--ulimit", "nofile=a" },
      { "--ulimit", "bogus=1" }, { "--add-host", "foo" }, { "--add-host", "foo:notip" }, { "--dns", "notip" },
      { "-a", "bogus" }, { "--mount", "target" }, { "--mount", "foo=bar,target=/x" }, { "--env-file", "/nonexistent" },
      { "--label-file", "/nonexistent" }, { "-l", "" }, { "--security-opt", "bogus" }, { "--pid", "bogus" },
      { "--pull", "sometimes" }, { "--stop-timeout", "x" }, { "-p", "abc" }, { "--shm-size", "x" },
      { "--restart", "always", "--rm" }, { "--platform", "bogus" }, { "--ipc", "bogus" }, { "--restart", "bogus" },
      { "--mount", "type=bogus,target=/x" }, { "-v", "a:b:c:d" }, { "--tmpfs", "rel" }, { "--platform", "a/b/c/d" },
      { "--mount", "type=bind,src=/tmp,dst=/x,volume-nocopy" }, { "--mount", "type=tmpfs,dst=/x,volume-label=a=b" },
      { "--mount", "type=Bind,src=/tmp,dst=/x,volume-driver=local" },
      { "--mount", "type=volume,dst=/x,bind-propagation=rslave" }, { "--mount", "type=tmpfs,dst=/x,bind-nonrecursive" },
      { "--mount", "type=bind,src=/tmp,dst=/x,tmpfs-size=1m" }, { "--mount", "type=volume,dst=/x,tmpfs-mode=700" },
      { "--mount", "type=bind,dst=/x,volume-opt=a=b,tmpfs-size=1" }, { "--mount", 'type="bind",dst=/x' },
      { "--mount", '"type=bind,dst=/x' }, { "--mount", '"type=tmpfs"x,dst=/x' }, { "--mount", "" },
      { "--mount", "type=tmpfs,dst=/x," }, { "--mount", " type=tmpfs,dst=/x" },
      { "--mount", "type=bind,volume-nocopy" }, { "--mount", "type=,target=/x" }, { "--mount", "type=bind,target=" },
    }) do
      local ours, theirs = side_by_side(flags, { "true" })
      local what = table.concat(flags, " ")
      assert.same({ 125, 125 }, { ours.code, theirs.code }, what)
      one_line(ours.err)
      assert.equal(norm(theirs.err), norm(ours.err), what)
      -- a value the CLI refuses creates nothing; one the daemon refuses at
      -- start leaves a created container, for both alike
      assert.equal(theirs.info == nil, ours.info == nil, what)
    end
  end)

  it("exec -d, --env-file and --privileged", function()
    local c = background({ "sleep", "300" })
    for _, prog in ipairs({ dp, docker }) do
      local r = prog({ "exec", "-d", c, "sh", "-c", "sleep 0.2; echo x >> /tmp/f" })
      assert.same({ 0, "", "" }, { r.code, r.out, r.err })
    end
    eventually(function() return dp({ "exec", c, "cat", "/tmp/f" }).out == "x\nx\n" end, "both detached execs")
    local ours, theirs = both({ "exec", "--env-file", work .. "/env", c, "sh", "-c", 'echo "$A|$B"' })
    assert.same({ 0, "1|two words\n" }, { ours.code, ours.out })
    assert.same({ 0, "1|two words\n" }, { theirs.code, theirs.out })
    -- the rig's daemon may refuse every capability: the same answer for both
    ours, theirs = both({ "exec", "--privileged", c, "true" })
    assert.same({ theirs.code, theirs.out, theirs.err }, { ours.code, ours.out, ours.err })
    ours, theirs = both({ "exec", "-d", "no-such-container-x", "true" })
    assert.same({ 1, 1 }, { ours.code, theirs.code })
    same_err(theirs, ours, "no such container: no-such-container-x")
  end)
end)

-- A successful --pull, against the fake engine (no registry is reachable
-- from the rigs): the progress as docker shows it on a stream that is not
-- a terminal, printed as it arrives, and the config's credentials for the
-- image's registry in X-Registry-Auth, never printed.
describe("run --pull against a fake engine", function()
  local fe = require("support.fakeengine")
  after_each(function() fe.cleanup() end)

  local function chunk(line) return ("%x\r\n%s\r\n"):format(#line, line) end

  local function b64(s)
    local p = assert(io.popen("printf '%s' " .. shq(s) .. " | base64 -w0"))
    local out = p:read("a")
    p:close()
    return out
  end

  it("streams docker's lines and sends the registry's credentials", function()
    local IMG = "localhost:5000/app:1"
    local srv = fe.fake{ timeout = 20000, respond = {
      ["POST /images/create"] = {
        { "write", "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
          .. "Transfer-Encoding: chunked\r\n\r\n" },
        { "write", chunk('{"status":"Pulling from app","id":"1"}\r\n') },
        { "write", chunk('{"status":"Pulling fs layer","progressDetail":{},"id":"abc123"}\r\n') },
        { "await", "go" },
        { "write", chunk('{"status":"Downloading","progressDetail":{"current":10,"total":100},'
          .. '"progress":"[=>   ] 10B/100B","id":"abc123"}\r\n') },
        { "write", chunk('{"status":"Pull complete","progressDetail":{},"id":"abc123"}\r\n{"stat') },
        { "write", chunk('us":"Digest: sha256:00"}\r\n') },
        { "write", chunk('{"status":"Status: Downloaded newer image for ' .. IMG .. '"}\r\n') },
        { "write", "0\r\n\r\n" },
      },
      ["POST /containers/create"] = { status = 201, body = '{"Id":"c1","Warnings":[]}' },
    } }
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    finally(function() os.execute("rm -rf " .. dir) end)
    local f = assert(io.open(dir .. "/config.json", "w"))
    f:write(cjson.encode({ auths = { ["localhost:5000"] = { auth = b64("user:s3cret") },
      ["other.example"] = { auth = b64("no:no") } } }))
    f:close()
    local errf = dir .. "/err"
    local p = assert(io.popen(("DOCKER_CONFIG=%s %s -H %s run --pull always %s true </dev/null 2>%s"):format(
      shq(dir), DP, shq(srv.host), IMG, errf)))
    local function stderr()
      local e = io.open(errf, "rb")
      local t = e and e:read("a") or ""
      if e then e:close() end
      return t
    end
    local first = "1: Pulling from app\nabc123: Pulling fs layer\n"
    -- the first lines show while the daemon still pulls (it waits for "go")
    eventually(function() return stderr() == first end, "the first lines of the pull", 10000)
    srv:emit("go")
    local out = p:read("a")
    local _, _, code = p:close()
    local err = stderr()
    assert.same({ 0, "", first .. "abc123: Pull complete\nDigest: sha256:00\n"
      .. "Status: Downloaded newer image for " .. IMG .. "\n" }, { code, out, err })
    local report = srv:report()
    local pullreq = report.requests[1].path == "/images/create" and report.requests[1]
      or report.requests[2]
    assert.equal("/images/create", pullreq.path)
    assert.equal("fromImage=localhost%3A5000%2Fapp&tag=1", pullreq.query)
    local auth = pullreq.headers["x-registry-auth"]
    assert.matches("^[%w_=-]+$", auth)
    local d = io.popen("printf '%s' " .. shq(auth) .. " | tr '_-' '/+' | base64 -d")
    assert.same({ username = "user", password = "s3cret", serveraddress = "localhost:5000" },
      cjson.decode(d:read("a")))
    d:close()
    assert.is_nil(err:find("s3cret", 1, true))
    assert.is_nil(err:find(auth, 1, true))
    assert.is_true(report.events.started)
  end)

  it("fails with 125 when the pull's answer is cut off, and creates nothing", function()
    local srv = fe.fake{ timeout = 20000, respond = {
      ["POST /images/create"] = {
        { "write", "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
          .. "Transfer-Encoding: chunked\r\n\r\n" },
        { "write", chunk('{"status":"Pulling from app","id":"1"}\r\n') },
        { "close" },
      },
      ["POST /containers/create"] = { status = 201, body = '{"Id":"c1","Warnings":[]}' },
    } }
    local r = sh(("DOCKER_CONFIG=/nonexistent %s -H %s run --pull always app:1 true"):format(DP, shq(srv.host)))
    assert.equal(125, r.code, r.err)
    assert.matches("^1: Pulling from app\ndockerpty: POST /images/create at [^\n]*\n$", r.err)
    for _, q in ipairs(srv:report().requests) do
      assert.not_equal("/containers/create", q.path)
    end
  end)

  it("sends no X-Registry-Auth without credentials for the registry", function()
    local srv = fe.fake{ timeout = 20000, respond = {
      ["POST /images/create"] = { status = 200, body = '{"status":"Status: Image is up to date for app:1"}\n' },
      ["POST /containers/create"] = { status = 201, body = '{"Id":"c1","Warnings":[]}' },
    } }
    local r = sh(("DOCKER_CONFIG=/nonexistent %s -H %s run --pull always app:1 true"):format(DP, shq(srv.host)))
    assert.same({ 0, "", "Status: Image is up to date for app:1\n" }, { r.code, r.out, r.err })
    local report = srv:report()
    for _, q in ipairs(report.requests) do
      assert.is_nil(q.headers["x-registry-auth"], q.path)
    end
  end)
end)

-- dockerpty.run, the library under `dockerpty run`: create, attach, start,
-- wait, and remove with auto_remove, whatever happened.
describe("dockerpty.run #docker", function()
  setup(function() client = dockerpty.client.from_env() end)
  teardown(function()
    for _, n in ipairs(names) do pcall(client.remove_container, client, n, { force = true }) end
    client:close()
  end)

  it("returns the exit as start does, and removes the container with auto_remove", function()
    local out, n = {}, name()
    local ok, how, code, id = dockerpty.run(client, { image = IMAGE, name = n,
      command = { "sh", "-c", "echo hi; exit 7" }, host_config = { NetworkMode = "none" } },
      { interactive = false, stdout = function(s) out[#out + 1] = s end, auto_remove = true })
    assert.same({ nil, "exit", 7, "hi\n" }, { ok, how, code, table.concat(out) })
    assert.matches("^%x+$", id)
    assert.is_false(exists(n))
    -- without auto_remove the container stays
    n = name()
    ok, how, code = dockerpty.run(client, { image = IMAGE, name = n, command = { "true" },
      host_config = { NetworkMode = "none" } }, { interactive = false })
    assert.same({ true, "exit", 0 }, { ok, how, code })
    assert.is_true(exists(n))
  end)

  it("raises the start failure, gives docker's status for it, and still removes the container", function()
    local n = name()
    local ok, e = pcall(dockerpty.run, client, { image = IMAGE, name = n, command = { "nope" },
      host_config = { NetworkMode = "none", AutoRemove = true } }, { interactive = false })
    assert.is_false(ok)
    assert.is_true(dockerpty.errors.is(e), tostring(e))
    assert.equal(127, dockerpty.errors.exit_status(e))
    assert.equal(1, dockerpty.errors.exit_status(e, "exec"))
    assert.is_false(exists(n))
  end)

  it("checks its arguments at the caller's line", function()
    local ok, e = pcall(function() dockerpty.run(client) end)
    assert.is_false(ok)
    assert.matches("^[^:]*cli_spec%.lua:%d+: bad argument #2 to 'run' %(table expected, got no value%)$", e)
  end)
end)

-- `make demo` without make (which could rebuild the module under test with
-- other flags): the engine, in a rig directory of its own, runs
-- spec/support/demo.sh. Whichever daemon it picks (a reachable one, or a
-- private dockerd it starts), the shell works, the container is removed, and
-- a private daemon is stopped.
describe("make demo #docker #tty", function()
  it("gives a shell in a fresh container, then removes it and stops what it started", function()
    local rig = ("/tmp/dp-demo-%d"):format(math.random(1, 1 << 30))
    -- the engine runs without the sanitizer preload (curl hangs under
    -- libasan), the demo with it
    local preload = os.getenv("LD_PRELOAD")
    local t = tmux.new{ rows = 30, cols = 200, env = { DOCKER_HOST = "", DOCKERPTY_RIG_DIR = rig },
      cmd = ("unset LD_PRELOAD; exec sh spec/support/engine run -- %s sh spec/support/demo.sh"):format(
        preload and shq("LD_PRELOAD=" .. preload) or "") }
    finally(function()
      t:kill()
      os.execute(("DOCKERPTY_RIG_DIR=%s sh spec/support/engine stop >/dev/null 2>&1; rm -rf %s")
        :format(shq(rig), shq(rig)))
    end)
    local screen = t:wait_for(PROMPT, 120)
    local host = screen:match("demo: /bin/sh in a fresh %S+ container at (%S+)")
    assert.truthy(host, screen)
    t:send("uname; hostname"); t:keys("Enter")
    local id = t:wait_for("\nLinux\n%x+\n/ #"):match("\nLinux\n(%x+)\n")
    local cl = dockerpty.client.new{ host = host }
    assert.is_true(cl:inspect_container(id).State.Running)
    t:send("exit"); t:keys("Enter")
    assert.equal(0, t:wait_exit(60))
    if host:find(rig, 1, true) then
      -- the private daemon (or podman service): stopped, and the container
      -- gone from its data
      assert.is_nil(io.open(rig .. "/d.sock"))
      assert.is_nil(io.open(rig .. "/dockerd.pid"))
      assert.is_nil(io.open(rig .. "/p.sock"))
      -- "[/]": the pattern does not match the grep (or its shell) itself
      local p = io.popen("grep -l '[/]" .. rig:sub(2) .. "/' /proc/[0-9]*/cmdline 2>/dev/null")
      local procs = p:read("a")
      p:close()
      assert.equal("", procs)
      p = io.popen("ls " .. shq(rig .. "/data/containers") .. " 2>/dev/null")
      local left = p:read("a")
      p:close()
      assert.is_nil(left:find(id, 1, true))
    else
      local ok, e = pcall(cl.inspect_container, cl, id)
      assert.is_false(ok)
      assert.equal(404, e.status)
    end
    cl:close()
  end)
end)

-- In a terminal, through tmux: the same scenario for both programs.
local PROGRAMS = {
  dockerpty = function(args)
    local a = { "lua5.4", "bin/dockerpty" }
    for _, w in ipairs(args) do a[#a + 1] = w end
    return a
  end,
  docker = function(args)
    local a = { "docker" }
    for _, w in ipairs(args) do a[#a + 1] = w end
    return a
  end,
}

for _, prog in ipairs({ "dockerpty", "docker" }) do
  describe(prog .. " in a terminal #docker #tty", function()
    local argv = PROGRAMS[prog]
    local sessions = {}

    local function term(args, rows, cols)
      local t = tmux.new{ cmd = argv(args), rows = rows or 20, cols = cols or 80 }
      sessions[#sessions + 1] = t
      return t
    end

    setup(function()
      client = dockerpty.client.from_env()
    end)

    teardown(function()
      for _, t in ipairs(sessions) do t:kill() end
      for _, n in ipairs(names) do pcall(client.remove_container, client, n, { force = true }) end
      client:close()
    end)

    it("run --rm -it: prompt, stty size after a resize, exit code, container gone", function()
      local n = name()
      local t = term({ "run", "--rm", "-it", "--network", "none", "--name", n, IMAGE, "/bin/sh" })
      t:wait_for(PROMPT)
      core.sleep(300)   -- the docker CLI resizes only after the start
      t:send("stty size"); t:keys("Enter")
      t:wait_for("\n20 80\n")
      t:resize(30, 100)
      core.sleep(300)
      t:send("stty size"); t:keys("Enter")
      t:wait_for("\n30 100\n")
      t:send("exit 5"); t:keys("Enter")
      local status = t:wait_exit(10)
      -- the docker CLI's --rm waits for "removed", which Podman answers with 0
      if prog == "dockerpty" or not daemon.is_podman(client) then assert.equal(5, status) end
      eventually(function() return not exists(n) end, "the container to be removed")
    end)

    it("run -it: Ctrl-P Ctrl-Q detaches, exits 0, and the container runs on", function()
      local n = name()
      local t = term({ "run", "-it", "--network", "none", "--name", n, IMAGE, "/bin/sh" })
      t:wait_for(PROMPT)
      t:keys("C-p"); t:keys("C-q")
      assert.equal(0, t:wait_exit(10))
      assert.is_true(running(n))
      assert.is_nil(t:screen(true):find("read escape sequence", 1, true))
    end)

    it("attach: the prompt, then Ctrl-P Ctrl-Q prints 'read escape sequence' and exits 1", function()
      local n = background({ "/bin/sh" }, { tty = true, stdin_open = true })
      local t = term({ "attach", n })
      core.sleep(300)
      t:keys("Enter")
      t:wait_for(PROMPT)
      t:send("echo $((6*7))"); t:keys("Enter")
      t:wait_for("\n42\n")
      t:keys("C-p"); t:keys("C-q")
      assert.equal(1, t:wait_exit(10))
      assert.matches("read escape sequence", t:screen(true), 1, true)
      assert.is_true(running(n))
    end)

    it("exec -it: Ctrl-P Ctrl-Q prints 'read escape sequence' and exits 1; exit code otherwise", function()
      local n = background({ "sleep", "300" })
      local t = term({ "exec", "-it", n, "/bin/sh" })
      t:wait_for(PROMPT)
      t:keys("C-p"); t:keys("C-q")
      assert.equal(1, t:wait_exit(10))
      assert.matches("read escape sequence", t:screen(true), 1, true)
      t = term({ "exec", "-it", "-e", "X=y", n, "/bin/sh" }, 20, 70)
      t:wait_for(PROMPT)
      t:send("echo $X; stty size; exit 9"); t:keys("Enter")
      assert.equal(9, t:wait_exit(10))
      assert.matches("\ny\n20 70\n", t:screen(true), 1, true)
    end)

    it("start -ai: the prompt, and Ctrl-P Ctrl-Q exits 0", function()
      local n = background({ "/bin/sh" }, { tty = true, stdin_open = true, created = true })
      local t = term({ "start", "-ai", n })
      t:wait_for(PROMPT)
      t:keys("C-p"); t:keys("C-q")
      assert.equal(0, t:wait_exit(10))
      assert.is_true(running(n))
    end)
  end)
end
