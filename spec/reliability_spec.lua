-- Reliability against the real daemon, load, resources and security
-- (issue 7: daemon faults, load, security): a container killed or
-- removed mid-stream, dockerd itself killed and restarted (#long), a slow
-- consumer of 64 MiB, 1,500 attach-and-detach cycles in one process, TLS
-- verification, key material, socket permissions and libcurl's limits.
local dockerpty = require("dockerpty")
local fe = require("support.fakeengine")
local env = require("support.tls")
local core = dockerpty.core
local tc = require("dockerpty_test")

local made, clients = {}, {}

local function docker_client()
  local c = dockerpty.client.from_env()
  clients[#clients + 1] = c
  return c
end

local function create(client, opts)
  opts.image = opts.image or env.image()
  opts.host_config = opts.host_config or { NetworkMode = "none" }
  local r = client:create_container(opts)
  made[#made + 1] = { client, r.Id }
  return r.Id
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function shquote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- A command running lua5.4 with this process's module paths.
local function lua_cmd(path)
  return ("env LUA_PATH=%s LUA_CPATH=%s lua5.4 %s"):format(shquote(package.path),
    shquote(package.cpath), path)
end

-- lua_cmd for another user (setpriv): the checkout may not be readable by
-- it (a clone in a 0700 directory), so the library is copied into a fresh
-- world-readable directory; under SANITIZE=1 the runtimes are preloaded
-- explicitly (the lua5.4 shim lives in the checkout too). Returns the
-- command and the directory to remove.
local function lua_cmd_for_others(path)
  local dir = os.tmpname()
  os.remove(dir)
  local so = assert(package.searchpath("dockerpty.core", package.cpath))
  local lua = assert(package.searchpath("dockerpty", package.path)):match("^(.*)/dockerpty/init%.lua$")
  assert(os.execute(("mkdir -p %s/dockerpty %s/lua && cp -r %s/dockerpty %s/lua/ && " ..
    "cp %s %s/dockerpty/core.so && chmod -R a+rX %s"):format(dir, dir, shquote(lua), dir, shquote(so), dir, dir)))
  local preload = os.getenv("DP_SAN_PRELOAD")
  local cmd = ("env LUA_PATH=%s LUA_CPATH=%s %s lua5.4 %s"):format(
    shquote(dir .. "/lua/?.lua;" .. dir .. "/lua/?/init.lua;;"), shquote(dir .. "/?.so;;"),
    preload and preload ~= "" and ("LD_PRELOAD=" .. shquote(preload)) or "", path)
  return cmd, dir
end

local function script(body)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(body)
  f:close()
  return path
end

-- Runs a command; returns its stdout and stderr.
local function run(cmd)
  local err = os.tmpname()
  local p = io.popen(cmd .. " 2>" .. err)
  local out = p:read("a")
  p:close()
  local e = slurp(err)
  os.remove(err)
  return out, e
end

after_each(function()
  fe.cleanup()
  for i = #made, 1, -1 do
    local c, id = made[i][1], made[i][2]
    pcall(c.remove_container, c, id, { force = true })
    made[i] = nil
  end
  for i = #clients, 1, -1 do
    clients[i]:close()
    clients[i] = nil
  end
end)

-- A tty session in this process with a pty for a terminal; on_output(s)
-- is called with each piece of output. Returns the fields of fe.session.
local function tty_session(fn, on_output)
  local m, s = fe.pty()
  local r = { out = {} }
  local function sink(b)
    local fl = tc.termflags(s)
    if fl and fl.lflag & core.termios.ICANON == 0 then r.raw_seen = true end
    r.out[#r.out + 1] = b
    if on_output then on_output(table.concat(r.out)) end
  end
  local before, nb = tc.tcgetattr(s), core.nonblock(s)
  local t0 = core.now()
  local ok, a, b, c = pcall(fn, { stdin = s, stdout = sink, stderr = sink })
  r.elapsed = core.now() - t0
  r.same = tc.tcgetattr(s) == before and core.nonblock(s) == nb
  r.ok, r.out = ok, table.concat(r.out)
  if ok then r.a, r.b, r.c = a, b, c else r.err = a end
  assert.is_number(m)
  return r
end

describe("real-daemon faults #docker", function()
  it("ends with 137 within 5 s when the container is killed mid-stream", function()
    local client, other = docker_client(), docker_client()
    local id = create(client, { command = { "sh", "-c", "while :; do echo tick; sleep 0.1; done" },
      tty = true, stdin_open = true })
    local killed_at
    local r = tty_session(function(o) return dockerpty.start(client, id, o) end, function(out)
      if not killed_at and out:find("tick", 1, true) then
        killed_at = core.now()
        other:kill(id)
      end
    end)
    assert.is_true(r.ok, r.err and tostring(r.err))
    assert.same({ nil, "exit", 137 }, { r.a, r.b, r.c })
    assert.is_true(r.raw_seen)
    assert.is_true(r.same)
    assert.is_true(core.now() - killed_at < 5000)
  end)

  it("ends within 5 s, terminal restored, when the container is removed mid-exec", function()
    local client, other = docker_client(), docker_client()
    local id = create(client, { command = { "sleep", "600" } })
    client:start(id)
    local removed_at
    local r = tty_session(function(o)
      return dockerpty.exec_command(client, id, { "sh", "-c", "while :; do echo tock; sleep 0.1; done" }, o)
    end, function(out)
      if not removed_at and out:find("tock", 1, true) then
        removed_at = core.now()
        other:remove_container(id, { force = true })
      end
    end)
    assert.is_true(r.raw_seen)
    assert.is_true(r.same)
    assert.is_true(core.now() - removed_at < 5000)
    -- the exec is gone with its container: its status cannot be read
    assert.is_false(r.ok)
    assert.equal("api", r.err.kind)
    assert.equal(404, r.err.status)
    assert.matches("^dockerpty: no such exec instance: %x+ %(404%)$", tostring(r.err))
  end)
end)

describe("dockerd killed during a raw session #docker #long", function()
  -- The rig's private daemon only (DOCKERPTY_RIG=private): its pid file is
  -- under DOCKERPTY_RIG_DIR, and `engine revive` starts it again while
  -- `engine run` holds the rig.
  it("ends with a connection error within 5 s, then a new session works", function()
    assert.equal("private", os.getenv("DOCKERPTY_RIG"), "needs the rig's own dockerd (DOCKERPTY_RIG=private)")
    local rig = os.getenv("DOCKERPTY_RIG_DIR")
    if rig == nil or rig == "" then rig = "/tmp/dockerpty-rig-" .. run("id -u"):match("%d+") end
    local engine = os.getenv("DOCKERPTY_ENGINE_SCRIPT") or "spec/support/engine"
    local client = docker_client()
    local id = create(client, { command = { "sh", "-c", "while :; do echo tick; sleep 0.1; done" },
      tty = true, stdin_open = true })
    local pid = assert(tonumber((slurp(rig .. "/dockerd.pid") or ""):match("%d+")), "no dockerd.pid")
    local killed_at
    local r = tty_session(function(o) return dockerpty.start(client, id, o) end, function(out)
      if not killed_at and out:find("tick", 1, true) then
        killed_at = core.now()
        os.execute("kill -KILL " .. pid)
      end
    end)
    local ended = core.now()
    io.stderr:write(("\n[dockerd killed: the session ended %d ms later: %s]\n")
      :format(ended - (killed_at or 0), tostring(r.err)))
    local revived = os.execute("sh " .. engine .. " revive >/dev/null 2>&1")
    assert.is_false(r.ok)
    assert.equal("connection", r.err.kind)
    assert.is_true(r.raw_seen)
    assert.is_true(r.same)
    assert.is_true(ended - killed_at < 5000, ("the session outlived the daemon by %d ms: %s"):format(
      ended - killed_at, tostring(r.err)))
    assert.is_true(revived, "engine revive failed")
    -- a new session on a new client: the container was killed (no live-restore)
    local again = docker_client()
    assert.equal(137, again:inspect_container(id).State.ExitCode)
    local id2 = create(again, { command = { "echo", "back" } })
    local out = {}
    local ok, how, code = dockerpty.start(again, id2, { stdin = false,
      stdout = function(s) out[#out + 1] = s end })
    assert.same({ true, "exit", 0 }, { ok, how, code })
    assert.equal("back\n", table.concat(out))
  end)
end)

describe("load and resources", function()
  -- In a fresh lua5.4, so that what earlier specs did to this process's
  -- heap does not count: the cycles, then the figures as a Lua table.
  local CYCLES = [[
    local dockerpty = require("dockerpty")
    local core = dockerpty.core
    local tc = require("dockerpty_test")
    local client = dockerpty.client.new{ host = arg[1], version = "1.41" }
    local m, s = assert(tc.openpty(24, 80))
    local before = tc.tcgetattr(s)
    -- the detach keys are typed once the terminal is raw: at the first output
    local function cycle()
      local typed = false
      local ok, how = dockerpty.start(client, "c1", { stdin = s, stdout = function()
        if not typed then
          typed = true
          assert(core.write(m, "\16\17"))
        end
      end })
      assert(ok == true and how == "detach", "cycle: " .. tostring(how))
    end
    -- not counting this popen's own pipe (both its ends are ours for a
    -- moment after the fork: counting them is a race)
    local function fds()
      local n = 0
      local p = io.popen(("me=$(readlink /proc/$$/fd/1); for f in /proc/%d/fd/*; do " ..
        "[ \"$(readlink $f)\" = \"$me\" ] || echo $f; done"):format(tc.getpid()))
      for _ in p:lines() do n = n + 1 end
      p:close()
      return n
    end
    -- want: the count of the first sample. A leak stays; an fd the last
    -- cycle still closes on a loaded machine goes within a second
    local function sample(want)
      collectgarbage()
      collectgarbage()
      local n = fds()
      for _ = 1, 20 do
        if not want or n <= want then break end
        core.sleep(50)
        collectgarbage()
        n = fds()
      end
      local f = io.open("/proc/self/status")
      local st = f:read("a")
      f:close()
      return ("{ fds = %d, lua = %.1f, rss = %s, heap = %d }"):format(n, collectgarbage("count"),
        st:match("VmRSS:%s*(%d+)"), tc.heap() // 1024), n
    end
    cycle()
    local first, nfirst = sample()
    local t0 = core.now()
    for _ = 2, 500 do cycle() end
    local mid = sample()
    for _ = 501, 1000 do cycle() end
    local third = sample()
    for _ = 1001, 1500 do cycle() end
    local elapsed = core.now() - t0
    print(("return { first = %s, mid = %s, third = %s, last = %s, elapsed = %d, same = %s }"):format(first,
      mid, third, (sample(nfirst)), elapsed, tostring(tc.tcgetattr(s) == before)))
  ]]

  it("keeps fds, Lua memory, the C heap and RSS flat over 1,500 attach-and-detach cycles #novalgrind #nosanitize", function()
    local srv = fe.fake{ container = { Tty = true, OpenStdin = true, Running = true }, timeout = 600000,
      attach = { { "write", "$ " }, { "hang" } } }
    local prog = script(CYCLES)
    -- glibc's per-thread cache keeps up to 7 freed chunks of each small
    -- size, which mallinfo2 counts as in use: off, so that the heap figure
    -- is what the program holds (it filled over some 4,000 cycles, by 15
    -- KiB a window, when on)
    local out, errout = run("GLIBC_TUNABLES=glibc.malloc.tcache_count=0 " .. lua_cmd(prog) .. " " ..
      shquote(srv.host))
    os.remove(prog)
    local figures = load(out, "figures", "t", {})
    assert(figures, "the cycles did not finish: " .. out .. errout)
    local f = figures()
    local first, mid, third, last = f.first, f.mid, f.third, f.last
    -- the fake notices the last closes within a moment
    local rep
    for _ = 1, 100 do
      rep = srv:report()
      if rep.open == 0 then break end
      core.sleep(20)
    end
    io.stderr:write(("\n[1,500 cycles in %.1f s: fds %d -> %d, Lua %.0f -> %.0f KiB, " ..
      "RSS %d -> %d -> %d -> %d KiB, heap %d -> %d -> %d -> %d KiB (cycles 1, 500, 1000, 1500)]\n"):format(
      f.elapsed / 1000, first.fds, last.fds, first.lua, last.lua, first.rss, mid.rss, third.rss, last.rss,
      first.heap, mid.heap, third.heap, last.heap))
    assert.equal(first.fds, last.fds)
    assert.is_true(last.lua - first.lua < 64, ("Lua memory grew by %.0f KiB"):format(last.lua - first.lua))
    -- the allocator and libcurl warm up over the first few hundred cycles,
    -- then RSS stays flat: no growth per cycle
    assert.is_true(last.rss - first.rss < 2048, ("RSS grew by %d KiB"):format(last.rss - first.rss))
    -- what the allocator has handed out and not had back: RSS also moves
    -- when glibc keeps or returns free pages (steps of 100 to 456 KiB seen
    -- in one window of 500 cycles on a loaded machine), this does not
    -- (seen: 0 then 0 KiB). A leak of 32 bytes a cycle is 16 KiB a window
    assert.is_true(last.heap - first.heap < 64, ("the C heap grew by %d KiB"):format(last.heap - first.heap))
    local a, b = third.heap - mid.heap, last.heap - third.heap
    assert.is_true(a < 16 and b < 16,
      ("the C heap grew by %d then %d KiB over the last two windows of 500 cycles"):format(a, b))
    assert.is_true(f.same, "the terminal was not restored")
    -- every hijack and wait was closed by the client, and the REST
    -- connection went with its process: nothing left open
    assert.equal(1500, #rep.hijacks)
    for i, h in ipairs(rep.hijacks) do
      assert(h.eof, "attach " .. i .. " was left open")
    end
    assert.equal(0, rep.open)
    assert.equal(3001, rep.accepted - 1)   -- REST once, then wait + attach per cycle (+ this report)
  end)

  it("moves 64 MiB to a slow reader byte for byte, peak RSS under 32 MiB #docker #nosanitize", function()
    local client = docker_client()
    -- 64 MiB of random bytes, their md5 on stderr first, then the bytes on stdout
    local gen = "head -c 67108864 /dev/urandom >/tmp/blob && md5sum /tmp/blob >&2 && cat /tmp/blob"
    local id = create(client, { command = { "sh", "-c", gen } })
    local child = script(([[
      local dp = require("dockerpty")
      local ok, how, code = dp.start(dp.client.from_env(), %q, { stdin = false })
      local st = io.open("/proc/self/status"):read("a")
      io.stderr:write(("RESULT %%s %%s %%s HWM %%s\n"):format(tostring(ok), how, code,
        st:match("VmHWM:%%s*(%%d+)")))
    ]]):format(id))
    -- 64 KiB every 62.5 ms (1 MiB/s) for the first 4 s, then as fast as it comes
    local reader = script([[
      local core = require("dockerpty.core")
      local t0 = core.now()
      while true do
        local s = io.stdin:read(65536)
        if not s then break end
        io.stdout:write(s)
        if core.now() - t0 < 4000 then core.sleep(62) end
      end
    ]])
    local errf = os.tmpname()
    local t0 = core.now()
    local out = run(lua_cmd(child) .. " 2>" .. errf .. " | " .. lua_cmd(reader) .. " | md5sum")
    local took = core.now() - t0
    local status = slurp(errf) or ""
    os.remove(errf)
    os.remove(child)
    os.remove(reader)
    local want = status:match("^(%x+)  /tmp/blob\n")
    local hwm = tonumber(status:match("HWM (%d+)"))
    io.stderr:write(("\n[64 MiB to a slow reader in %.1f s, peak RSS %s KiB]\n"):format(took / 1000,
      tostring(hwm)))
    assert.matches("RESULT true exit 0", status)
    assert.is_string(want)
    assert.equal(want, out:match("%x+"))
    assert.is_true(hwm < 32 * 1024, ("peak RSS %d KiB"):format(hwm))
    assert.is_true(took > 4000)
  end)
end)

describe("security", function()
  local function key_secrets(dir)
    local secrets = {}
    for line in (slurp(dir .. "/key.pem") or ""):gmatch("[^\n]+") do
      if not line:find("-----", 1, true) and #line > 16 then secrets[#secrets + 1] = line end
    end
    assert.is_true(#secrets > 0)
    return secrets
  end

  local function no_secret(text, secrets)
    for _, s in ipairs(secrets) do
      assert.is_nil(text:find(s, 1, true), "key material in: " .. text)
    end
  end

  describe("TLS #docker", function()
    it("verifies by default: a wrong CA fails, naming the reason, with no key material", function()
      local certs, bad = env.need("DOCKERPTY_TLS_CERTS"), env.need("DOCKERPTY_TLS_BADCA")
      local host = env.need("DOCKERPTY_TLS_HOST")
      local c = dockerpty.client.new{ host = host,
        tls = { ca = bad .. "/ca.pem", cert = certs .. "/cert.pem", key = certs .. "/key.pem" } }
      clients[#clients + 1] = c
      local ok, err = pcall(c.ping, c)
      assert.is_false(ok)
      assert.equal("connection", err.kind)
      assert.matches("certificate", tostring(err))
      assert.matches(host:gsub("%p", "%%%0"), tostring(err))
      no_secret(tostring(err), key_secrets(certs))
    end)

    it("verifies by default against the system CAs when no CA is given", function()
      local certs, host = env.need("DOCKERPTY_TLS_CERTS"), env.need("DOCKERPTY_TLS_HOST")
      local c = dockerpty.client.new{ host = host,
        tls = { cert = certs .. "/cert.pem", key = certs .. "/key.pem" } }
      clients[#clients + 1] = c
      local ok, err = pcall(c.ping, c)
      assert.is_false(ok)
      assert.matches("certificate", tostring(err))
    end)

    it("skips verification only when asked: verify = false", function()
      local certs, bad = env.need("DOCKERPTY_TLS_CERTS"), env.need("DOCKERPTY_TLS_BADCA")
      local c = dockerpty.client.new{ host = env.need("DOCKERPTY_TLS_HOST"),
        tls = { ca = bad .. "/ca.pem", cert = certs .. "/cert.pem", key = certs .. "/key.pem",
          verify = false } }
      clients[#clients + 1] = c
      assert.equal("OK", c:ping())
    end)

    it("from_env verifies with DOCKER_TLS_VERIFY and the files of DOCKER_CERT_PATH", function()
      local vars = { DOCKER_HOST = env.need("DOCKERPTY_TLS_HOST"), DOCKER_TLS_VERIFY = "1",
        DOCKER_CERT_PATH = env.need("DOCKERPTY_TLS_BADCA") }
      local c = dockerpty.client.from_env(function(k) return vars[k] end)
      clients[#clients + 1] = c
      local ok, err = pcall(c.ping, c)
      assert.is_false(ok)
      assert.matches("certificate", tostring(err))
      vars.DOCKER_CERT_PATH = env.need("DOCKERPTY_TLS_CERTS")
      local good = dockerpty.client.from_env(function(k) return vars[k] end)
      clients[#clients + 1] = good
      assert.equal("OK", good:ping())
    end)

    it("names a bad key file without showing its content", function()
      local certs = env.need("DOCKERPTY_TLS_CERTS")
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -m 700 " .. dir))
      local secret = "c2VjcmV0LWtleS1tYXRlcmlhbC1kby1ub3QtcHJpbnQtbWUtMDEyMzQ1Njc4OQ=="
      local f = assert(io.open(dir .. "/key.pem", "w"))
      f:write("-----BEGIN PRIVATE KEY-----\n", secret, "\n-----END PRIVATE KEY-----\n")
      f:close()
      local prog = script(([[
        local dp = require("dockerpty")
        local c = dp.client.new{ host = %q, tls = { ca = %q, cert = %q, key = %q } }
        local ok, err = pcall(c.ping, c)
        print(ok, tostring(err))
      ]]):format(env.need("DOCKERPTY_TLS_HOST"), certs .. "/ca.pem", certs .. "/cert.pem", dir .. "/key.pem"))
      local out, errout = run(lua_cmd(prog))
      os.remove(prog)
      os.execute("rm -rf " .. dir)
      assert.matches("^false\tdockerpty: ", out)
      assert.is_nil(out:find(secret, 1, true))
      assert.is_nil(errout:find(secret, 1, true))
      assert.is_nil(out:find(secret:sub(1, 24), 1, true))
    end)
  end)

  it("gives a permission error naming the socket to a user who cannot open it", function()
    local srv = fe.fake{}
    assert(os.execute("chown root:root " .. srv.socket .. " && chmod 0660 " .. srv.socket))
    local prog = script(([[
      local dp = require("dockerpty")
      local c = dp.client.from_env()
      local ok, err = pcall(dp.start, c, "c1", { stdin = false })
      print(ok, tostring(err), err.kind)
    ]]))
    os.execute("chmod 0644 " .. prog)
    local cmd, tree = lua_cmd_for_others(prog)
    local out = run(("DOCKER_HOST=%s http_proxy=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 " ..
      "setpriv --reuid=nobody --regid=nogroup --clear-groups %s"):format(srv.host, cmd))
    os.remove(prog)
    os.execute("rm -rf " .. tree)
    local want = "false\tdockerpty: cannot connect to the Docker daemon at %s: Permission denied\t" ..
      "connection\n"
    assert.equal(want:format(srv.host), out)
    local rep = srv:report()
    assert.equal(1, rep.accepted)    -- this report's own connection: the user's never came
  end)

  it("gives nobody a permission error on the daemon's socket, no other way #docker", function()
    local host = env.need("DOCKER_HOST")
    local path = host:match("^unix://(.+)$")
    assert(path, "DOCKER_HOST is not a unix socket: " .. host)
    local prog = script([[
      local dp = require("dockerpty")
      local c = dp.client.from_env()
      local ok, err = pcall(c.ping, c)
      print(ok, tostring(err), err.kind)
    ]])
    os.execute("chmod 0644 " .. prog)
    local cmd, tree = lua_cmd_for_others(prog)
    local out = run(("DOCKER_HOST=%s setpriv --reuid=nobody --regid=nogroup --clear-groups %s"):format(host,
      cmd))
    os.remove(prog)
    os.execute("rm -rf " .. tree)
    local want = "false\tdockerpty: cannot connect to the Docker daemon at %s: Permission denied\t" ..
      "connection\n"
    assert.equal(want:format(host), out)
  end)

  describe("libcurl", function()
    it("speaks only http and https", function()
      local urls = { "file:///etc/passwd", "ftp://127.0.0.1:9/", "dict://127.0.0.1:9/", "gopher://x/" }
      for _, u in ipairs(urls) do
        assert.has_error(function() core.http{ url = u } end,
          ("bad argument #1 to 'http' (field 'url' must start with http:// or https:// (got '%s'))")
            :format(u))
      end
      assert.has_error(function() dockerpty.client.new{ host = "ftp://127.0.0.1:21" } end,
        "bad DOCKER_HOST 'ftp://127.0.0.1:21' (unix:///path, tcp://host:port or ssh://[user@]host expected)")
    end)

    it("follows no redirect, to any protocol", function()
      local srv = fe.fake{ respond = { ["GET /_ping"] = { { "write", "HTTP/1.1 302 Found\r\n" ..
        "Location: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n" } },
        ["GET /version"] = { { "write", "HTTP/1.1 301 Moved Permanently\r\n" ..
        "Location: /v1.41/elsewhere\r\nContent-Length: 0\r\n\r\n" } } } }
      local c = fe.client(srv)
      local h = core.http{ socket = srv.socket }
      fe.defer(function() h:close() end)
      local status, hdrs = h:request("GET", "/_ping", nil, nil, 5000)
      assert.equal(302, status)
      assert.equal("file:///etc/passwd", hdrs.location)
      pcall(c.version, c)
      local rep = srv:report()
      assert.same({ "GET /_ping", "GET /version" }, rep.lines)
    end)

    it("ignores proxy variables for a unix socket", function()
      local srv = fe.fake{ container = { Tty = false }, attach = { { "write", fe.frame(1, "direct\n") },
        { "emit", "exit" }, { "close" } } }
      local prog = script([[
        local dp = require("dockerpty")
        print(dp.start(dp.client.new{ host = os.getenv("DOCKER_HOST"), version = "1.41" }, "c1",
          { stdin = false }))
      ]])
      local proxy = "http://127.0.0.1:9"
      local out = run(("DOCKER_HOST=%s http_proxy=%s HTTP_PROXY=%s https_proxy=%s ALL_PROXY=%s " ..
        "all_proxy=%s %s"):format(srv.host, proxy, proxy, proxy, proxy, proxy, lua_cmd(prog)))
      os.remove(prog)
      assert.equal("direct\ntrue\texit\t0\n", out)
      assert.equal(4, #srv:report().requests)
    end)
  end)
end)
