-- spec/resize_spec.lua: the size of the remote tty from the first byte
-- (issue 14). With API 1.42+ exec create and exec start (and container
-- create) carry ConsoleSize; on any version the first resize follows the
-- start, retried as the docker CLI does (dockerpty.resize), then a warning.
-- Against the fake engine (spec/support/fakeengine.lua) for the request
-- bodies and a daemon that refuses every resize, and against the real one.
--
-- Engines: Docker 20.10 and Podman 4.3 answer API 1.41, so with them the
-- size comes from the resize after start (ConsoleSize is a 1.42 field and
-- is never sent to them). Both accept that resize on the first try for an
-- exec and for a container started by the attach.
local cjson = require("cjson")
local resize = require("dockerpty.resize")
local core = require("dockerpty.core")

describe("resize.retry", function()
  -- A resize that fails `fails` times, and a sleep that records.
  local function fake(fails)
    local calls, slept = 0, {}
    local function try()
      calls = calls + 1
      if calls <= fails then return false, "no tty yet " .. calls end
      return true
    end
    return try, function(ms) slept[#slept + 1] = ms end, function() return calls, slept end
  end

  it("tries once and does not sleep when the first resize works", function()
    local try, sleep, seen = fake(0)
    assert.same({ true, 1 }, { resize.retry(try, sleep) })
    local calls, slept = seen()
    assert.equal(1, calls)
    assert.same({}, slept)
  end)

  it("retries after 10, 20, 30 ms until one works", function()
    local try, sleep, seen = fake(3)
    assert.same({ true, 4 }, { resize.retry(try, sleep) })
    local calls, slept = seen()
    assert.equal(4, calls)
    assert.same({ 10, 20, 30 }, slept)
  end)

  it("gives up after 1 + 10 tries and 550 ms of sleeps, with the last error", function()
    local try, sleep, seen = fake(1000)
    assert.same({ false, 11, "no tty yet 11" }, { resize.retry(try, sleep) })
    local calls, slept = seen()
    assert.equal(11, calls)
    assert.same({ 10, 20, 30, 40, 50, 60, 70, 80, 90, 100 }, slept)
  end)

  it("succeeds on the last retry", function()
    local try, sleep = fake(10)
    assert.same({ true, 11 }, { resize.retry(try, sleep) })
  end)

  it("stops, with no more tries, when a wait says the session ended", function()
    local try, _, seen = fake(1000)
    local waits = 0
    local function sleep() waits = waits + 1; return waits == 3 end
    assert.same({ false, 3, "no tty yet 3", true }, { resize.retry(try, sleep) })
    assert.equal(3, (seen()))
  end)

  it("takes another number of retries", function()
    local try, sleep, seen = fake(1000)
    assert.same({ false, 3, "no tty yet 3" }, { resize.retry(try, sleep, 2) })
    assert.same({ 10, 20 }, select(2, seen()))
  end)
end)

describe("the first size against a fake engine", function()
  local fe = require("support.fakeengine")
  local dockerpty = require("dockerpty")

  after_each(function() fe.cleanup() end)

  -- exec_command on a 24x80 pty against a fake answering as API `version`.
  local function exec_session(version, script, stdout)
    script = script or {}
    script.exec = { tty = true, open_stdin = true }
    local srv = fe.fake(script)
    local client = dockerpty.client.new{ host = srv.host, version = version }
    fe.defer(function() client:close() end)
    local _, s = fe.pty()
    local warnings = {}
    local ok, a, b, c = pcall(dockerpty.exec_command, client, "c1", "sh", {
      stdin = s, stdout = stdout or function() end, warn = function(m) warnings[#warnings + 1] = m end })
    assert(ok, tostring(a))
    assert.same({ true, "exit", 0 }, { a, b, c })
    return srv:stop(), warnings
  end

  local function body(report, line)
    for _, q in ipairs(report.requests) do
      if q.method .. " " .. q.path == line then return cjson.decode(q.body) end
    end
    error("no request " .. line)
  end

  local function count(report, line)
    local n = 0
    for _, l in ipairs(report.lines) do
      if l == line then n = n + 1 end
    end
    return n
  end

  it("sends ConsoleSize on exec create and exec start with API 1.42+, and resizes after start", function()
    local report, warnings = exec_session("1.43")
    assert.same({ 24, 80 }, body(report, "POST /containers/c1/exec").ConsoleSize)
    assert.same({ 24, 80 }, body(report, "POST /exec/e1/start").ConsoleSize)
    assert.equal(1, count(report, "POST /exec/e1/resize?h=24&w=80"))
    assert.same({}, warnings)
  end)

  it("sends no ConsoleSize before API 1.42: the resize after start gives the size", function()
    local report, warnings = exec_session("1.41")
    assert.is_nil(body(report, "POST /containers/c1/exec").ConsoleSize)
    assert.is_nil(body(report, "POST /exec/e1/start").ConsoleSize)
    assert.equal(1, count(report, "POST /exec/e1/resize?h=24&w=80"))
    assert.same({}, warnings)
  end)

  it("retries a refused resize 10 times while the output flows, then warns once and goes on", function()
    local out = {}
    local t0 = core.now()
    local report, warnings = exec_session("1.41", {
      respond = { ["POST /exec/e1/resize"] = { status = 500, body = '{"message":"no tty yet"}' } },
      exec_start = { { "write", "early " }, { "sleep", 1500 }, { "write", "late" }, { "emit", "exit" },
        { "close" } } }, function(b) out[#out + 1] = { core.now() - t0, b } end)
    assert.equal(11, count(report, "POST /exec/e1/resize?h=24&w=80"))
    assert.same({ "dockerpty: failed to resize tty, using default size" }, warnings)
    assert.equal("early late", out[1][2] .. out[2][2])
    assert.is_true(out[1][1] < 500, "the output waited for the resizes")
  end)

  it("stops retrying, without a warning, when the process ends first", function()
    local t0 = core.now()
    local report, warnings = exec_session("1.41", { respond = {
      ["POST /exec/e1/resize"] = { status = 500, body = '{"message":"exec is not running"}' } } })
    assert.is_true(count(report, "POST /exec/e1/resize?h=24&w=80") < 11)
    assert.same({}, warnings)
    assert.is_true(core.now() - t0 < 500)
  end)

  it("sends HostConfig.ConsoleSize on container create with API 1.42+ only", function()
    local function create(version)
      local srv = fe.fake{ respond = { ["POST /containers/create"] = { status = 201, body = '{"Id":"c9"}' } } }
      local client = dockerpty.client.new{ host = srv.host, version = version }
      fe.defer(function() client:close() end)
      client:create_container{ image = "busybox", tty = true, console_size = { 30, 100 } }
      return body(srv:stop(), "POST /containers/create")
    end
    assert.same({ 30, 100 }, create("1.42").HostConfig.ConsoleSize)
    assert.is_nil((create("1.41").HostConfig or {}).ConsoleSize)
  end)
end)

describe("the first size against the real daemon #docker #tty", function()
  local dockerpty = require("dockerpty")
  local tmux = require("support.tmux")
  local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
  local client
  local made = {}

  setup(function() client = dockerpty.client.from_env() end)
  teardown(function()
    for _, id in ipairs(made) do pcall(client.remove_container, client, id, { force = true }) end
    client:close()
  end)

  -- A process that asks for its size at once, and again a second later.
  -- With API 1.42+ the first answer is already right (ConsoleSize: the
  -- container is created with it, the exec created and started with it).
  -- Before 1.42 (Docker 20.10, Podman 4.3 here) the tty has no size until
  -- the resize that follows the start, as with the docker CLI: the first
  -- answer is a race and not checked; the second is.
  it("gives the process the terminal's size: from the first byte with API 1.42+, else right after start", function()
    local early = client:api_at_least("1.42")
    local probe = 'a=$(stty size 2>&1); sleep 1; echo "first=[$a] later=[$(stty size)]"'
    for _, entry in ipairs({ "run", "exec" }) do
      local r = client:create_container{ image = IMAGE, tty = true, stdin_open = true,
        command = entry == "run" and { "sh", "-c", probe } or { "sleep", "60" },
        console_size = { 17, 73 }, host_config = { NetworkMode = "none" } }
      made[#made + 1] = r.Id
      local args = { "lua5.4", "spec/support/attach.lua", entry, r.Id }
      if entry == "exec" then
        client:start(r.Id)
        args[#args + 1] = "sh -c '" .. probe:gsub("'", "'\\''") .. "'"
      end
      -- held after its report: a dying pane may scroll its first line away
      local t = tmux.new{ cmd = args, rows = 17, cols = 73, env = { DP_ATTACH_HOLD = "3000" } }
      finally(function() t:kill() end)
      local screen = t:wait_for("%[%[TERMIOS", 10)
      local first, later = screen:match("first=%[(.-)%] later=%[(.-)%]")
      assert.equal("17 73", later, entry .. ": " .. screen)
      if early then assert.equal("17 73", first, entry) end
      assert.is_nil(screen:find("failed to resize", 1, true))
      t:kill()
    end
  end)
end)
