-- spec/conn_spec.lua: dockerpty.Conn (src/conn.c), the connect-only libcurl
-- transport, against the scripted fake daemon (spec/support/fakedaemon.lua)
-- and, tagged #docker, a real daemon over a unix socket and over TLS.
-- Covered: output in the same read as the head, heads split or oddly formed,
-- errors after the hijack, no daemon, a daemon that dies mid-stream, TLS
-- verification and key files, only http and https, no redirects.
local core = require("dockerpty.core")
local tc = require("dockerpty_test")
local fake = require("support.fakedaemon")
local env = require("support.tls")
local cjson = require("cjson")
local errors = require("dockerpty.errors")

-- The transport of the fake-daemon specs, which run once for each:
-- "plain" (the default for a unix socket) and "libcurl".
local TRANSPORT = "plain"

local UPGRADE = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n" ..
  "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
local REQUEST = "POST /containers/x/attach?stream=1 HTTP/1.1\r\nHost: api.moby.localhost\r\n" ..
  "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"

-- Start a fake daemon for one connection; returns the server and an open
-- Conn that already sent REQUEST. Cleanup through the caller's finally.
local function fake_conn(steps, script_opts)
  local script = script_opts or {}
  script[1] = steps
  local srv = fake.start(script)
  local conn, msg = core.connect({ socket = srv.socket, transport = TRANSPORT })
  assert(conn, msg)
  assert.equal(#REQUEST, conn:send(REQUEST, 2000))
  return srv, conn
end

local function elapsed(t0)
  return core.now() - t0
end

describe("core.connect", function()
  it("rejects unknown and inconsistent options", function()
    local cases = {
      { {}, "field 'socket', 'url' or 'ssh' required" },
      { { socket = "/s", url = "http://h:1" }, "fields 'socket', 'url' and 'ssh' are exclusive" },
      { { socket = "/s", bogus = 1 }, "unknown option 'bogus'" },
      { { socket = 5 }, "field 'socket' must be a string" },
      { { url = "ftp://h" }, "field 'url' must start with http:// or https:// (got 'ftp://h')" },
      { { url = "http://" }, "field 'url' has no host (got 'http://')" },
      { { url = "http://h:1", tls = {} }, "field 'tls' needs an https url" },
      { { url = "https://h:1", tls = { pem = "x" } }, "unknown option 'tls.pem'" },
      { { url = "https://h:1", tls = { key = "k" } }, "field 'tls.key' needs 'tls.cert'" },
      { { url = "https://h:1", tls = { verify = "no" } }, "field 'tls.verify' must be a boolean" },
      { { socket = "/s", connect_timeout = 1.5 }, "field 'connect_timeout' must be a positive integer" },
      { { socket = "/s", connect_timeout = 0 }, "field 'connect_timeout' must be a positive integer" },
      { { socket = ("/x"):rep(60) }, "field 'socket' is too long" },
    }
    for _, c in ipairs(cases) do
      assert.has_error(function() core.connect(c[1]) end,
        "bad argument #1 to 'connect' (" .. c[2] .. ")")
    end
    assert.has_error(function() core.connect("unix:///s") end,
      "bad argument #1 to 'connect' (table expected, got string)")
  end)

  it("fails within a second when the socket is missing #novalgrind", function()
    local path = os.tmpname() .. ".missing.sock"
    local t0 = core.now()
    local conn, msg, name, extra = core.connect({ socket = path })
    assert.is_nil(conn)
    assert.equal("No such file or directory", msg)
    assert.equal("ENOENT", name)
    assert.is_nil(extra)
    assert.is_true(elapsed(t0) < 1000)
    -- the sentence is the Lua layer's; a REST request fails in the same shape
    assert.equal("cannot connect to the Docker daemon at unix://" .. path ..
      ": No such file or directory", errors.connect_message("unix://" .. path, msg, name))
    local h = core.http({ socket = path })
    assert.same({ nil, msg, name }, { h:request("GET", "/_ping") })
    assert.is_true(h:unreached())
    h:close()
  end)

  it("fails within a second when nothing listens on the socket file #novalgrind", function()
    local path = os.tmpname() .. ".sock"
    local fd = assert(tc.listen_unix(path))
    tc.close(fd)
    finally(function() os.remove(path) end)
    local t0 = core.now()
    local conn, msg, name, extra = core.connect({ socket = path })
    assert.is_nil(conn)
    assert.same({ "Connection refused", "ECONNREFUSED" }, { msg, name })
    assert.is_nil(extra)
    assert.is_true(elapsed(t0) < 1000)
  end)

  it("times out on a daemon that accepts nothing once its backlog is full (plain socket) #novalgrind", function()
    local path = os.tmpname() .. ".sock"
    local lfd = assert(tc.listen_unix(path))
    local conns, h = {}, nil
    finally(function()
      if h then h:close() end
      for _, c in ipairs(conns) do c:close() end
      tc.close(lfd)
      os.remove(path)
    end)
    local conn, msg, name, t
    for _ = 1, 200 do
      local t0 = core.now()
      conn, msg, name = core.connect({ socket = path, connect_timeout = 300 })
      t = elapsed(t0)
      if not conn then break end
      conns[#conns + 1] = conn
    end
    assert.is_nil(conn)
    assert.is_true(#conns >= 1)
    assert.same({ "connection timed out", "timeout" }, { msg, name })
    assert.is_true(t >= 290 and t < 2000, "took " .. t .. " ms")
    -- a REST request says what the Lua layer writes from the NAME
    local sentence = errors.connect_message("unix://" .. path, msg, name, 300)
    assert.equal("cannot connect to the Docker daemon at unix://" .. path .. ": connection timed out after 300 ms",
      sentence)
    h = core.http({ socket = path, connect_timeout = 300 })
    local r = { h:request("GET", "/_ping") }
    assert.same({ nil, "connection timed out", "timeout" }, r)
    assert.is_true(h:unreached())
    assert.equal(sentence, errors.connect_message("unix://" .. path, r[2], r[3], 300))
    -- a client's REST request raises that sentence with its own timeout
    local cl = require("dockerpty.client").new({ host = "unix://" .. path, connect_timeout = 0.3 })
    local ok, e = pcall(cl.ping, cl)
    cl:close()
    assert.is_false(ok)
    assert.same({ "timeout", "dockerpty: " .. sentence }, { e.kind, e.message })
  end)

  it("names the endpoint with `where` in the messages of a connection", function()
    local conn, msg, name = core.connect({ socket = "/nonexistent/d.sock", where = "unix:///run/docker.sock" })
    assert.same({ nil, "No such file or directory", "ENOENT" }, { conn, msg, name })
    -- a client's connection: the sentence names its endpoint
    local cl = require("dockerpty.client").new({ host = "unix:///nonexistent/d.sock" })
    local ok, e = pcall(cl._connect, cl)
    assert.is_false(ok)
    assert.same({ "connection", "dockerpty: cannot connect to the Docker daemon at unix:///nonexistent/d.sock: " ..
      "No such file or directory", "ENOENT" }, { e.kind, e.message, e.name })
    cl = require("dockerpty.client").new({ host = "unix:///nonexistent/d.sock", connect_timeout = 0.25 })
    assert.equal("dockerpty: cannot connect to the Docker daemon at unix:///nonexistent/d.sock: " ..
      "connection timed out after 250 ms", errors.new("timeout", errors.connect_message(cl:where(),
        "connection timed out", "timeout", cl._ep.connect_timeout)).message)
  end)

  it("reports a refused TCP port with the tcp:// name", function()
    -- bind a port, close it: nothing listens there afterwards
    local conn, msg, name = core.connect({ url = "http://127.0.0.1:1" })
    assert.same({ nil, "Connection refused", "ECONNREFUSED" }, { conn, msg, name })
    local h = core.http({ url = "http://127.0.0.1:1" })
    local r = { h:request("GET", "/_ping") }
    assert.same({ nil, msg, name }, r)
    assert.is_true(h:unreached())
    h:close()
  end)
end)

for _, transport in ipairs({ "plain", "libcurl" }) do
  describe("dockerpty.Conn (" .. transport .. ")", function()
    lazy_setup(function() TRANSPORT = transport end)

    it("has a type name, tostring forms, and raises after close", function()
      local srv, conn = fake_conn({ { "read_head" } })
      finally(function() conn:close(); srv:stop() end)
      assert.matches("^dockerpty%.Conn %(0x%x+%)$", tostring(conn))
      assert.is_false(conn:istls())
      assert.equal(0, conn:pending())
      assert.is_true(math.type(conn:getfd()) == "integer" and conn:getfd() > 2)
      assert.is_true(conn:close())
      assert.is_true(conn:close())
      assert.equal("dockerpty.Conn (closed)", tostring(conn))
      local methods = { "send", "read_head", "recv", "read_all", "shutdown", "getfd", "pending", "istls" }
      for _, m in ipairs(methods) do
        assert.has_error(function() conn[m](conn, "x") end, "attempt to use a closed connection")
      end
      assert.has_error(function() conn.recv(io.stdout) end,
        "bad argument #1 to 'recv' (dockerpty.Conn expected, got FILE*)")
    end)

    it("is closed by a to-be-closed variable", function()
      local srv = fake.start({ { { "read_head" } } })
      finally(function() srv:stop() end)
      local outer
      do
        local conn <close> = assert(core.connect({ socket = srv.socket, transport = TRANSPORT }))
        outer = conn
      end
      assert.equal("dockerpty.Conn (closed)", tostring(outer))
    end)

    it("keeps bytes that arrive with the head for recv #novalgrind", function()
      local srv, conn = fake_conn({ { "read_head" }, { "write", UPGRADE .. "hello, stream" },
        { "sleep", 200 } })
      finally(function() conn:close(); srv:stop() end)
      local status, reason, headers = conn:read_head(2000)
      assert.equal(101, status)
      assert.equal("UPGRADED", reason)
      assert.equal("tcp", headers.upgrade)
      assert.equal(#"hello, stream", conn:pending())
      assert.equal("hello", conn:recv(5, 0))
      assert.equal(8, conn:pending())
      assert.equal(", stream", conn:recv(100, 0))
      assert.equal(0, conn:pending())
      assert.same({ nil, "timeout", "timeout" }, { conn:recv(100, 0) })
      local report = srv:wait()
      assert.equal(REQUEST, report[1].requests[1])
    end)

    it("reads a head split across writes: status, headers, final CRLF", function()
      local srv, conn = fake_conn({ { "read_head" },
        { "write", "HTTP/1.1 101 UPGRADED\r\n" }, { "sleep", 30 },
        { "write", "Content-Type: application/vnd.docker.multiplexed-stream\r\nUpgrade: tcp\r\n" },
        { "sleep", 30 }, { "write", "\r\n" }, { "sleep", 30 }, { "write", "\1\0\0\0\0\0\0\2hi" } })
      finally(function() conn:close(); srv:stop() end)
      local status, _, headers = conn:read_head(2000)
      assert.equal(101, status)
      assert.equal("application/vnd.docker.multiplexed-stream", headers["content-type"])
      local got = ""
      while #got < 10 do got = got .. assert(conn:recv(100, 2000)) end
      assert.equal("\1\0\0\0\0\0\0\2hi", got)
    end)

    it("reads a head dribbled one byte at a time, with bare LF", function()
      local srv, conn = fake_conn({ { "read_head" },
        { "write", "HTTP/1.1 200 OK\nContent-Type: application/vnd.docker.raw-stream\n\nX", dribble = 1 } })
      finally(function() conn:close(); srv:stop() end)
      local status, reason, headers = conn:read_head(5000)
      assert.equal(200, status)
      assert.equal("OK", reason)
      assert.equal("application/vnd.docker.raw-stream", headers["content-type"])
      assert.equal("X", conn:recv(10, 2000))
    end)

    it("returns a 200 answer instead of 101 as it is", function()
      local srv, conn = fake_conn({ { "read_head" },
        { "write", "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\nraw" } })
      finally(function() conn:close(); srv:stop() end)
      assert.equal(200, (conn:read_head(2000)))
      assert.equal("raw", conn:read_all(2000))
    end)

    it("reads a raw 404 after the hijack with read_head and read_all", function()
      local srv, conn = fake_conn({ { "read_head" },
        { "write", "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" },
        { "write", "No such container: x\r\n" }, { "close" } })
      finally(function() conn:close(); srv:stop() end)
      local status, reason, headers = conn:read_head(2000)
      assert.equal(404, status)
      assert.equal("Not Found", reason)
      assert.equal("text/plain; charset=utf-8", headers["content-type"])
      assert.equal("No such container: x\r\n", conn:read_all(2000))
    end)

    it("says 'closed' when the connection ends inside the head", function()
      local srv, conn = fake_conn({ { "read_head" }, { "write", "HTTP/1.1 101 UPGRADED\r\nContent-Ty" },
        { "close" } })
      finally(function() conn:close(); srv:stop() end)
      assert.same({ nil, "connection closed before the response head was complete", "closed" },
        { conn:read_head(2000) })
    end)

    it("bounds a head that never ends (protocol error once maxlen passes)", function()
      local srv, conn = fake_conn({ { "read_head" }, { "write", "HTTP/1.1 200 OK\r\n" },
        { "write", "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n", times = 2000 }, { "sleep", 500 } })
      finally(function() conn:close(); srv:stop() end)
      local t0 = core.now()
      assert.same({ nil, "response head longer than 1024 bytes", "protocol" }, { conn:read_head(5000, 1024) })
      assert.is_true(conn:pending() < 1024 + 4096 + 1)
      assert.is_true(elapsed(t0) < 2000)
    end)

    it("bounds a head at 16384 bytes by default", function()
      -- long fields: 64 short ones would be "malformed" (too many fields) first
      local srv, conn = fake_conn({ { "read_head" }, { "write", "HTTP/1.1 200 OK\r\n" },
        { "write", "X-Pad: " .. ("a"):rep(500) .. "\r\n", times = 100 }, { "sleep", 500 } })
      finally(function() conn:close(); srv:stop() end)
      assert.same({ nil, "response head longer than 16384 bytes", "protocol" }, { conn:read_head(5000) })
    end)

    it("rejects garbage without waiting for more bytes", function()
      local srv, conn = fake_conn({ { "read_head" }, { "write", "\1\0\0\0\0\0\0\5hello" }, { "sleep", 1000 } })
      finally(function() conn:close(); srv:stop() end)
      local t0 = core.now()
      assert.same({ nil, "malformed response head", "protocol" }, { conn:read_head(5000) })
      assert.is_true(elapsed(t0) < 500)
    end)

    it("times out reading a head that does not come", function()
      local srv, conn = fake_conn({ { "read_head" }, { "sleep", 1000 } })
      finally(function() conn:close(); srv:stop() end)
      local t0 = core.now()
      assert.same({ nil, "timeout", "timeout" }, { conn:read_head(150) })
      local t = elapsed(t0)
      assert.is_true(t >= 140 and t < 600, "took " .. t .. " ms")
    end)

    it("checks read_head's arguments (method numbering: self is not counted)", function()
      local srv, conn = fake_conn({ { "read_head" } })
      finally(function() conn:close(); srv:stop() end)
      assert.has_error(function() conn:read_head(10, 0) end,
        "bad argument #2 to 'read_head' (out of range)")
      assert.has_error(function() conn:read_head(10, 16385) end,
        "bad argument #2 to 'read_head' (out of range)")
      assert.has_error(function() conn:read_head("x") end,
        "bad argument #1 to 'read_head' (number expected, got string)")
    end)

    it("recv: timeout 0 does not wait, a timeout waits, EOF is 'closed'", function()
      local srv, conn = fake_conn({ { "read_head" }, { "write", UPGRADE }, { "sleep", 300 },
        { "write", "late" }, { "close" } })
      finally(function() conn:close(); srv:stop() end)
      assert.equal(101, (conn:read_head(2000)))
      local t0 = core.now()
      assert.same({ nil, "timeout", "timeout" }, { conn:recv(10, 0) })
      assert.is_true(elapsed(t0) < 50)
      assert.same({ nil, "timeout", "timeout" }, { conn:recv(10, 100) })
      assert.is_true(elapsed(t0) >= 90)
      assert.equal("late", conn:recv(10, 2000))
      assert.same({ nil, "closed", "closed" }, { conn:recv(10, 2000) })
      assert.same({ nil, "closed", "closed" }, { conn:recv(10, 2000) })
    end)

    it("recv returns at most max bytes and checks max", function()
      local srv, conn = fake_conn({ { "read_head" }, { "write", UPGRADE .. ("z"):rep(100000) },
        { "sleep", 300 } })
      finally(function() conn:close(); srv:stop() end)
      assert.equal(101, (conn:read_head(2000)))
      assert.equal(3, #conn:recv(3, 2000))
      local total = 3
      while total < 100000 do
        local s = assert(conn:recv(nil, 2000))
        assert.is_true(#s <= 65536)
        total = total + #s
      end
      assert.equal(100000, total)
      assert.has_error(function() conn:recv(0) end, "bad argument #1 to 'recv' (size must be positive)")
    end)

    it("read_all stops at max with the partial data", function()
      local srv, conn = fake_conn({ { "read_head" }, { "write", UPGRADE .. ("y"):rep(5000) }, { "close" } })
      finally(function() conn:close(); srv:stop() end)
      assert.equal(101, (conn:read_head(2000)))
      local data, msg, name, partial = conn:read_all(2000, 1000)
      assert.is_nil(data)
      assert.equal("unix://" .. srv.socket .. ": response longer than 1000 bytes", msg)
      assert.equal("protocol", name)
      assert.equal(("y"):rep(1001), partial)
    end)

    it("read_all times out with the partial data", function()
      local srv, conn = fake_conn({ { "read_head" }, { "write", UPGRADE .. "part" }, { "sleep", 1000 } })
      finally(function() conn:close(); srv:stop() end)
      assert.equal(101, (conn:read_head(2000)))
      assert.same({ nil, "timeout", "timeout", "part" }, { conn:read_all(200) })
    end)

    it("gives 'closed' after the daemon drops the connection mid-stream", function()
      local srv, conn = fake_conn({ { "read_head" }, { "write", UPGRADE .. "some output" }, { "close" } })
      finally(function() conn:close(); srv:stop() end)
      assert.equal(101, (conn:read_head(2000)))
      local got = ""
      while true do
        local s, err = conn:recv(100, 2000)
        if not s then
          assert.equal("closed", err)
          break
        end
        got = got .. s
      end
      assert.equal("some output", got)
    end)

    it("half-close: the daemon sees EOF and the reply still arrives", function()
      local srv, conn = fake_conn({ { "read_head" }, { "write", UPGRADE }, { "read_all" }, { "sleep", 50 },
        { "write", "reply after EOF" }, { "close" } })
      finally(function() conn:close(); srv:stop() end)
      assert.equal(101, (conn:read_head(2000)))
      assert.equal(11, conn:send("stdin bytes", 2000))
      assert.is_true(conn:shutdown())
      assert.is_true(conn:shutdown())   -- idempotent
      assert.equal("reply after EOF", conn:read_all(2000))
      local report = srv:wait()
      assert.is_true(report[1].eof)
      assert.equal("stdin bytes", report[1].data)
      local ok, msg, name = conn:send("more")
      assert.is_nil(ok)
      assert.equal("unix://" .. srv.socket .. ": send after shutdown", msg)
      assert.equal("EPIPE", name)
    end)

    it("send waits while the socket is full and times out #novalgrind", function()
      -- the fake daemon reads nothing after the head: the socket buffers fill up
      local srv, conn = fake_conn({ { "read_head" }, { "sleep", 1500 } })
      finally(function() conn:close(); srv:stop() end)
      local t0 = core.now()
      local r = { conn:send(("x"):rep(8 * 1024 * 1024), 200) }
      -- the fourth value says how much went before the time ran out
      assert.same({ nil, "timeout", "timeout" }, { r[1], r[2], r[3] })
      assert.is_true(math.type(r[4]) == "integer" and r[4] > 0 and r[4] < 8 * 1024 * 1024)
      local t = elapsed(t0)
      assert.is_true(t >= 190 and t < 1000, "took " .. t .. " ms")
    end)

    it("sends a large buffer completely to a reading daemon", function()
      local payload = {}
      for i = 1, 4 * 65536 do payload[i] = string.char(i % 256) end
      payload = table.concat(payload)
      local srv, conn = fake_conn({ { "read_head" }, { "read", #payload }, { "write", "done" } })
      finally(function() conn:close(); srv:stop() end)
      assert.equal(#payload, conn:send(payload, 5000))
      assert.equal("done", conn:recv(10, 5000))
      assert.equal(payload, srv:wait()[1].requests[2])
    end)
  end)
end

-- {================ real daemon ================

-- JSON request through core.http; returns status and decoded body.
local function api(h, method, path, body)
  local status, _, data = h:request(method, path,
    body and { ["Content-Type"] = "application/json" } or nil, body and cjson.encode(body) or nil, 20000)
  assert(status, _)
  local ok, t = pcall(cjson.decode, data)
  return status, ok and t or data
end

local function create(h, cmd, extra)
  local cfg = { Image = env.image(), Cmd = cmd, HostConfig = { NetworkMode = "none" } }
  for k, v in pairs(extra or {}) do cfg[k] = v end
  local status, body = api(h, "POST", "/containers/create", cfg)
  assert.equal(201, status, cjson.encode(body))
  return body.Id
end

local function remove(h, id)
  if id then h:request("DELETE", "/containers/" .. id .. "?force=1", nil, nil, 20000) end
end

-- A raw request on a connection, with the hijack headers.
local function hijack_request(path, body)
  return ("POST %s HTTP/1.1\r\nHost: api.moby.localhost\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n" ..
    "Content-Type: %s\r\nContent-Length: %d\r\n\r\n%s"):format(path,
    body and "application/json" or "text/plain", body and #body or 0, body or "")
end

describe("dockerpty.Conn #docker", function()
  it("hijacks POST /containers/{id}/attach: 101, stdin in, output out", function()
    local h = core.http(env.plain())
    local id
    local conn
    finally(function()
      if conn then conn:close() end
      remove(h, id)
      h:close()
    end)
    id = create(h, { "sh", "-c", "read x; echo got $x; echo err >&2" },
      { OpenStdin = true, StdinOnce = true, AttachStdin = true, AttachStdout = true, AttachStderr = true })
    conn = assert(core.connect(env.plain()))
    conn:send(hijack_request("/containers/" .. id .. "/attach?stream=1&stdin=1&stdout=1&stderr=1"), 5000)
    local status, _, headers = conn:read_head(10000)
    assert.equal(101, status)
    assert.equal("tcp", headers.upgrade)
    assert.equal(204, (api(h, "POST", "/containers/" .. id .. "/start")))
    assert.equal(6, conn:send("world\n", 5000))
    assert.is_true(conn:shutdown())
    local data = assert(conn:read_all(20000))
    local streams = env.demux(data)
    assert.equal("got world\n", streams[1])
    assert.equal("err\n", streams[2])
    assert.equal("", streams.rest)
  end)

  it("reads a daemon error after the hijack for a missing container", function()
    local conn = assert(core.connect(env.plain()))
    finally(function() conn:close() end)
    conn:send(hijack_request("/containers/dockerpty-no-such-container/attach?stream=1&stdout=1"), 5000)
    local status, _, headers = conn:read_head(10000)
    assert.equal(404, status)
    -- Docker writes the text and closes; Podman answers with a length and
    -- keeps the connection
    local body
    if headers["content-length"] then
      body = conn:recv(tonumber(headers["content-length"]), 10000)
    else
      body = conn:read_all(10000)
    end
    assert.matches("[Nn]o such container", body)
    assert.matches("dockerpty%-no%-such%-container", body)
  end)
end)

describe("TLS #docker", function()
  it("connects with the rig's CA and client certificate", function()
    local conn = assert(core.connect(env.endpoint()))
    finally(function() conn:close() end)
    assert.is_true(conn:istls())
    conn:send("GET /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n", 5000)
    local status, _, headers = conn:read_head(10000)
    assert.equal(200, status)
    assert.truthy(headers["api-version"])
  end)

  it("fails before any request with a wrong CA, saying why", function()
    local ep = env.endpoint(env.need("DOCKERPTY_TLS_BADCA"))
    local conn, msg, name = core.connect(ep)
    assert.is_nil(conn)
    local where = "tcp://" .. ep.url:match("^https://(.*)$")
    assert.equal("SSL certificate problem: unable to get local issuer certificate", msg)
    assert.equal("CURLE_PEER_FAILED_VERIFICATION", name)
    assert.equal("cannot connect to the Docker daemon at " .. where ..
      ": SSL certificate problem: unable to get local issuer certificate", errors.connect_message(where, msg, name))
    assert.is_nil(msg:find("BEGIN", 1, true))
  end)

  it("is refused by the daemon without a client certificate", function()
    local conn, msg, name = core.connect(env.endpoint(nil, false))
    if conn then
      -- TLS 1.3: the daemon's alert comes after the handshake
      finally(function() conn:close() end)
      conn:send("GET /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n", 5000)
      local status
      status, msg, name = conn:read_head(10000)
      assert.is_nil(status)
    end
    assert.matches("certificate", msg)
    assert.is_string(name)
  end)

  it("skips verification only when asked (verify = false)", function()
    local ep = env.endpoint(env.need("DOCKERPTY_TLS_BADCA"))
    ep.tls.verify = false
    local conn = assert(core.connect(ep))
    finally(function() conn:close() end)
    conn:send("GET /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n", 5000)
    assert.equal(200, (conn:read_head(10000)))
  end)

  it("half-closes with close_notify: wc -c gets EOF and its output arrives", function()
    local h = core.http(env.endpoint())
    local id, conn
    finally(function()
      if conn then conn:close() end
      remove(h, id)
      h:close()
    end)
    id = create(h, { "sleep", "60" })
    assert.equal(204, (api(h, "POST", "/containers/" .. id .. "/start")))
    local status, exec = api(h, "POST", "/containers/" .. id .. "/exec", { AttachStdin = true,
      AttachStdout = true, AttachStderr = true, Tty = false, Cmd = { "wc", "-c" } })
    assert.equal(201, status)
    conn = assert(core.connect(env.endpoint()))
    conn:send(hijack_request("/exec/" .. exec.Id .. "/start", '{"Detach":false,"Tty":false}'), 5000)
    assert.equal(101, (conn:read_head(10000)))
    assert.equal(12345, conn:send(("x"):rep(12345), 10000))
    assert.is_true(conn:shutdown())
    local data = assert(conn:read_all(20000))
    local streams = env.demux(data)
    assert.equal("12345", streams[1]:match("^%s*(%d+)%s*$"))
    assert.equal("", streams[2])
  end)
end)
