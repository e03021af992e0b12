-- dockerpty.client: parsing and configuration, then every method against
-- the real daemon of the test rig (#docker).
local client = require("dockerpty.client")
local core = require("dockerpty.core")
local tc = require("dockerpty_test")
local errors = require("dockerpty.errors")
local daemon = require("support.daemon")

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"

local function env(t) return function(k) return t[k] end end

-- Decode a multiplexed stream plainly: returns stdout, stderr.
local function demux_all(s)
  local out, err, i = {}, {}, 1
  while i + 7 <= #s do
    local t, n = string.unpack(">I1xxxI4", s, i)
    local payload = s:sub(i + 8, i + 7 + n)
    if t == 2 then err[#err + 1] = payload else out[#out + 1] = payload end
    i = i + 8 + n
  end
  return table.concat(out), table.concat(err)
end

-- Read a connection to EOF.
local function read_to_eof(conn, timeout)
  local parts = {}
  local deadline = core.now() + (timeout or 10000)
  while core.now() < deadline do
    local s, _, name = conn:recv(65536, 1000)
    if s then parts[#parts + 1] = s
    elseif name == "closed" then break end
  end
  return table.concat(parts)
end

describe("dockerpty.client", function()
  it("takes the credentials out of a host for messages, wherever they stand", function()
    for h, want in pairs({
      ["tcp://u:s3cret@h:1"] = "tcp://h:1", ["u:s3cret@h:1"] = "h:1",
      ["tcp://u:p@s3cret@h:1"] = "tcp://h:1", ["tcp://u:pa/s3cret@h:1"] = "tcp://h:1",
      ["unix:///var/run/docker.sock"] = "unix:///var/run/docker.sock", ["tcp://h:2375"] = "tcp://h:2375",
    }) do
      assert.equal(want, client._redact(h), h)
    end
  end)

  it("parses DOCKER_HOST forms", function()
    assert.same({ socket = "/var/run/docker.sock", where = "unix:///var/run/docker.sock" },
      client.parse_host("unix:///var/run/docker.sock"))
    assert.same({ url = "http://127.0.0.1:2375", where = "tcp://127.0.0.1:2375" },
      client.parse_host("tcp://127.0.0.1:2375"))
    assert.same({ url = "https://h:2376", where = "tcp://h:2376" }, client.parse_host("tcp://h", true))
    assert.has_error(function() client.new{ host = "npipe:////./pipe/docker" } end)
  end)

  it("reads the environment as the docker CLI does", function()
    local c = client.from_env(env({}))
    assert.equal("unix:///var/run/docker.sock", c:where())
    c = client.from_env(env({ DOCKER_HOST = "tcp://127.0.0.1:1234", DOCKER_TLS_VERIFY = "1",
      DOCKER_CERT_PATH = "/certs", DOCKER_API_VERSION = "1.41" }))
    assert.equal("https://127.0.0.1:1234", c._ep.url)
    assert.same({ ca = "/certs/ca.pem", cert = "/certs/cert.pem", key = "/certs/key.pem", verify = true },
      c._ep.tls)
    assert.equal("1.41", c:api_version())
    c = client.from_env(env({ DOCKER_TLS_VERIFY = "1", HOME = "/home/u",
      DOCKER_HOST = "tcp://h:1" }))
    assert.equal("/home/u/.docker/ca.pem", c._ep.tls.ca)
  end)

  it("rejects unknown options and bad arguments with Lua-style messages", function()
    assert.has_error(function() client.new{ hots = "x" } end,
      "bad argument #1 to 'new' (unknown option 'hots')")
    local c = client.new{ version = "1.41" }
    assert.has_error(function() c:start(42) end,
      "bad argument #1 to 'start' (id string or table with Id expected, got number)")
    assert.has_error(function() c:resize("x", "a", 1) end,
      "bad argument #2 to 'resize' (integer expected, got string)")
  end)

  it("keeps spare connections for ssh:// hosts only: preconnect is a no-op elsewhere", function()
    local path = os.tmpname()
    os.remove(path)
    local fd = tc.listen_unix(path)
    finally(function() tc.close(fd); os.remove(path) end)
    local c = client.new{ host = "unix://" .. path }
    c:preconnect(3)
    assert.same({ nil, "timeout", "timeout" }, { tc.accept(fd, 100) },
      "no connection opened ahead for a socket")
    c:drop_spares()
    c:close()
    assert.has_error(function() c:preconnect("2") end,
      "bad argument #1 to 'preconnect' (integer expected, got string)")
  end)

  it("writes a request with the core's codec (its Host, Content-Length) and our User-Agent", function()
    assert.equal("POST /x HTTP/1.1\r\nUser-Agent: dockerpty/" .. core._VERSION ..
      "\r\nHost: api.moby.localhost\r\nContent-Length: 2\r\n\r\n{}", client.request_text("POST", "/x", {}, "{}"))
    assert.has_error(function() client.request_text("GET", "/x", { ["Bad Name"] = "v" }) end,
      "bad argument #3 to 'http_request' (invalid header name 'Bad Name')")
  end)

  it("fails within a second naming a missing socket", function()
    local c = client.new{ host = "unix:///nonexistent/dockerpty.sock" }
    local t0 = core.now()
    local ok, e = pcall(c.ping, c)
    assert.is_false(ok)
    assert.is_true(errors.is(e))
    assert.equal("connection", e.kind)
    assert.equal("dockerpty: cannot connect to the Docker daemon at unix:///nonexistent/dockerpty.sock: "
      .. "No such file or directory", e.message)
    assert.is_true(core.now() - t0 < 1000)
  end)

  it("fails within a second when nothing listens on the socket", function()
    local path = os.tmpname()
    os.remove(path)
    local fd = tc.listen_unix(path)
    tc.close(fd)     -- the socket file stays, nobody accepts: ECONNREFUSED
    finally(function() os.remove(path) end)
    local c = client.new{ host = "unix://" .. path }
    local t0 = core.now()
    local ok, e = pcall(c.ping, c)
    assert.is_false(ok)
    assert.equal("connection", e.kind)
    assert.equal("dockerpty: cannot connect to the Docker daemon at unix://" .. path
      .. ": Connection refused", e.message)
    assert.is_true(core.now() - t0 < 1000)
  end)
end)

describe("dockerpty.client against the daemon #docker", function()
  local c
  local made = {}

  local function create(opts)
    opts.image = opts.image or IMAGE
    opts.host_config = opts.host_config or { NetworkMode = "none" }
    local r = c:create_container(opts)
    made[#made + 1] = r.Id
    return r
  end

  setup(function()
    c = client.from_env()
  end)

  teardown(function()
    for _, id in ipairs(made) do pcall(c.remove_container, c, id, { force = true }) end
    c:close()
  end)

  it("pings, negotiates the API version and reads the version", function()
    assert.equal("OK", c:ping())
    local v = c:api_version()
    assert.matches("^1%.%d+$", v)
    assert.is_true(client._vnum(v) <= client._vnum(client.MAX_API_VERSION))
    local ver = c:version()
    assert.equal(v <= ver.ApiVersion and v or v, v)
    assert.is_string(ver.Version)
  end)

  it("creates, attaches, starts, waits for the exit code and removes", function()
    local r = create{ command = { "sh", "-c", "echo out; echo err >&2; exit 3" } }
    assert.matches("^%x+$", r.Id)
    local conn = c:attach_socket(r, { stdin = false, stdout = true, stderr = true, stream = true })
    local w = c:wait_async(r.Id, "next-exit")
    assert.is_true(c:start(r.Id))
    -- through the core's demuxer, as a script using only the client would
    local d = core.demux()
    local pieces = d:feed(read_to_eof(conn))
    conn:close()
    assert.is_true(d:eof())
    local out, err = {}, {}
    for _, p in ipairs(pieces) do
      table.insert(p[1] == 2 and err or out, p[2])
    end
    assert.equal("out\n", table.concat(out))
    assert.equal("err\n", table.concat(err))
    assert.equal(3, w:result(10000).StatusCode)
    local info = c:inspect_container(r.Id)
    assert.equal(3, info.State.ExitCode)
    assert.is_false(info.Config.Tty)
    assert.is_true(c:remove_container(r.Id))
    local ok, e = pcall(c.inspect_container, c, r.Id)
    assert.is_false(ok)
    assert.equal(404, e.status)
    assert.equal("api", e.kind)
    assert.equal("dockerpty: no such container: " .. r.Id .. " (404)", e.message)
  end)

  it("sets OpenStdin, StdinOnce and AttachStdin for stdin_open, shell-splits commands", function()
    local r = create{ command = "sh -c 'echo a b'", stdin_open = true, tty = true,
      environment = { FOO = "bar" }, working_dir = "/tmp", user = "nobody", labels = { x = "y" } }
    local info = c:inspect_container(r)
    assert.is_true(info.Config.OpenStdin)
    -- Podman 4.3 keeps neither StdinOnce nor AttachStdin (its attach closes
    -- the container's stdin on client EOF all the same: session_spec's ctrl-d
    -- cases)
    assert.equal(not daemon.is_podman(c), info.Config.StdinOnce)
    assert.equal(not daemon.is_podman(c), info.Config.AttachStdin)
    assert.is_true(info.Config.Tty)
    assert.same({ "sh", "-c", "echo a b" }, info.Config.Cmd)
    assert.equal("/tmp", info.Config.WorkingDir)
    assert.equal("nobody", info.Config.User)
    assert.equal("y", info.Config.Labels.x)
    local found = false
    for _, e in ipairs(info.Config.Env) do if e == "FOO=bar" then found = true end end
    assert.is_true(found)
  end)

  it("hijacks a tty attach: raw bytes, resize, kill", function()
    local r = create{ command = { "sh", "-c", "stty size; sleep 30" }, tty = true, stdin_open = true }
    local conn = c:attach_socket(r, { stdin = true, stdout = true, stderr = true })
    c:start(r)
    local w = c:wait_async(r, "not-running")
    assert.is_true(c:resize(r, 33, 99))
    local s = conn:recv(4096, 5000)
    assert.is_string(s)
    assert.is_true(c:kill(r, "SIGKILL"))
    assert.equal(137, w:result(10000).StatusCode)
    conn:close()
  end)

  it("keeps bytes that arrive in the same read as the 101 head", function()
    local r = create{ command = { "sh", "-c", "echo early" } }
    c:start(r)
    c:wait(r, "not-running")
    -- logs=1 on an exited container: the output comes right behind the head
    local conn = c:attach_socket(r, { logs = true, stream = false, stdin = false })
    local out = demux_all(read_to_eof(conn))
    conn:close()
    -- Podman's log replay drops the line's final newline
    assert.equal(daemon.is_podman(c) and "early" or "early\n", out)
  end)

  it("runs an exec without a tty: stdin EOF reaches wc, stdout and stderr apart", function()
    local r = create{ command = { "sleep", "60" } }
    c:start(r)
    local e = c:exec_create(r, { "sh", "-c", "wc -c; echo bye >&2; exit 4" }, { stdin = true })
    assert.matches("^%x+$", e.Id)
    local conn = c:exec_start(e, { socket = true })
    assert.equal(12345, conn:send(string.rep("z", 12345)))
    assert.is_true(conn:shutdown())
    local out, err = demux_all(read_to_eof(conn))
    conn:close()
    assert.equal("12345", out:match("%d+"))
    assert.equal("bye\n", err)
    local info
    for _ = 1, 50 do
      info = c:exec_inspect(e)
      if not info.Running then break end
      core.sleep(20)
    end
    assert.equal(4, info.ExitCode)
    assert.is_false(info.ProcessConfig.tty)
  end)

  it("runs a tty exec and resizes it", function()
    local r = create{ command = { "sleep", "60" } }
    c:start(r)
    local e = c:exec_create(r, "sh -c 'sleep 0.3; stty size'", { stdin = true, tty = true })
    local conn = c:exec_start(e, { socket = true, tty = true })
    local ok = false
    for _ = 1, 20 do
      if pcall(c.exec_resize, c, e, 21, 77) then ok = true; break end
      core.sleep(20)
    end
    assert.is_true(ok)
    local out = read_to_eof(conn)
    conn:close()
    assert.matches("21 77", out)
    assert.is_true(c:exec_inspect(e).ProcessConfig.tty)
  end)

  it("starts a detached exec", function()
    local r = create{ command = { "sleep", "60" } }
    c:start(r)
    local e = c:exec_create(r, { "true" })
    assert.is_true(c:exec_start(e, { detach = true }))
  end)

  it("answers 404 and 409 with the daemon's message", function()
    local ok, e = pcall(c.attach_socket, c, "dockerpty-no-such-container", {})
    assert.is_false(ok)
    assert.equal(404, e.status)
    assert.equal("api", e.kind)
    assert.matches("no such container: dockerpty%-no%-such%-container", e.message)

    local r = create{ command = { "true" } }
    ok, e = pcall(c.exec_create, c, r, { "true" })
    assert.is_false(ok)
    -- Podman answers 500 where Docker answers 409, in its own words
    assert.equal(daemon.is_podman(c) and 500 or 409, e.status)
    assert.matches(daemon.is_podman(c) and "on running containers" or "is not running", e.message)

    ok, e = pcall(c.exec_start, c, "dockerpty-no-such-exec", { socket = true })
    assert.is_false(ok)
    assert.equal(404, e.status)
    assert.matches("no such exec", e.message:lower())
  end)
end)
