-- spec/http_spec.lua: dockerpty.Http (src/http.c), REST requests over one
-- kept-alive libcurl handle, against the scripted fake daemon and, tagged
-- #docker, the real daemon (unix socket and TLS): no daemon, TLS
-- verification, only http and https, no redirects, bounded answers.
local core = require("dockerpty.core")
local tc = require("dockerpty_test")
local fake = require("support.fakedaemon")
local env = require("support.tls")
local cjson = require("cjson")

-- The transport of the fake-daemon specs, which run once for each:
-- "plain" (the default for a unix socket) and "libcurl".
local TRANSPORT = "plain"

local function reply(status_line, headers, body)
  local lines = { "HTTP/1.1 " .. status_line }
  for _, h in ipairs(headers or {}) do lines[#lines + 1] = h end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")
end

local OK_PING = reply("200 OK", { "Api-Version: 1.41", "Content-Type: text/plain; charset=utf-8" }, "OK")

-- A fake daemon for one connection and an Http handle on it.
local function fake_http(steps, script_opts)
  local script = script_opts or {}
  script[1] = steps
  local srv = fake.start(script)
  return srv, core.http({ socket = srv.socket, transport = TRANSPORT })
end

-- Our open fds, not counting the pipe of this popen itself (both its
-- ends are ours for a moment after the fork: counting them is a race).
local function fd_count()
  local p = assert(io.popen(("me=$(readlink /proc/$$/fd/1); for f in /proc/%d/fd/*; do " ..
    "[ \"$(readlink $f)\" = \"$me\" ] || echo $f; done"):format(tc.getpid())))
  local n = 0
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n
end

describe("core.http", function()
  it("checks its options like core.connect", function()
    assert.has_error(function() core.http({ socket = "/s", nope = true }) end,
      "bad argument #1 to 'http' (unknown option 'nope')")
    assert.has_error(function() core.http({}) end,
      "bad argument #1 to 'http' (field 'socket', 'url' or 'ssh' required)")
    assert.has_error(function() core.http() end,
      "bad argument #1 to 'http' (table expected, got no value)")
  end)

  it("does not connect when created; a missing socket fails the request", function()
    local path = os.tmpname() .. ".missing.sock"
    local h = core.http({ socket = path })
    finally(function() h:close() end)
    assert.matches("^dockerpty%.Http %(0x%x+%)$", tostring(h))
    local t0 = core.now()
    local r = table.pack(h:request("GET", "/_ping"))
    assert.is_nil(r[1])
    assert.equal("No such file or directory", r[2])
    assert.equal("ENOENT", r[3])
    assert.equal(3, r.n)
    assert.is_true(h:unreached())
    assert.is_true(core.now() - t0 < 1000)
  end)

  it("reports a socket file with no listener as refused, naming `where`", function()
    local path = os.tmpname() .. ".sock"
    local fd = assert(tc.listen_unix(path))
    tc.close(fd)
    local h = core.http({ socket = path, where = "unix:///var/run/docker.sock" })
    finally(function() h:close(); os.remove(path) end)
    local ok, msg, name = h:request("GET", "/_ping")
    assert.is_nil(ok)
    assert.same({ "Connection refused", "ECONNREFUSED", true }, { msg, name, h:unreached() })
  end)
end)

for _, transport in ipairs({ "plain", "libcurl" }) do
  describe("dockerpty.Http (" .. transport .. ")", function()
    lazy_setup(function() TRANSPORT = transport end)

    it("checks request arguments (method numbering: self is not counted)", function()
      local h = core.http({ socket = "/nonexistent.sock", transport = TRANSPORT })
      finally(function() h:close() end)
      assert.has_error(function() h:request("GE T", "/") end,
        "bad argument #1 to 'request' (invalid method)")
      assert.has_error(function() h:request("GET", "x") end,
        "bad argument #2 to 'request' (invalid path)")
      assert.has_error(function() h:request("GET", "/a b") end,
        "bad argument #2 to 'request' (invalid path)")
      assert.has_error(function() h:request("GET", "/", { ["X-A"] = 1 }) end,
        "bad argument #3 to 'request' (header names and values must be strings)")
      assert.has_error(function() h:request("GET", "/", { ["X-A"] = "a\r\nX-Injected: 1" }) end,
        "bad argument #3 to 'request' (invalid value for header 'X-A')")
      assert.has_error(function() h:request("GET", "/", { ["Bad Name"] = "x" }) end,
        "bad argument #3 to 'request' (invalid header name 'Bad Name')")
      assert.has_error(function() h:request("GET", "/", nil, {}) end,
        "bad argument #4 to 'request' (string expected, got table)")
      assert.has_error(function() h:request("GET", "/", nil, nil, 0) end,
        "bad argument #5 to 'request' (timeout must be positive)")
    end)

    it("raises after close; close is idempotent", function()
      local h = core.http({ socket = "/nonexistent.sock", transport = TRANSPORT })
      assert.is_true(h:close())
      assert.is_true(h:close())
      assert.equal("dockerpty.Http (closed)", tostring(h))
      assert.has_error(function() h:request("GET", "/") end, "attempt to use a closed http handle")
    end)

    it("GETs with lower-cased response headers and the body", function()
      local srv, h = fake_http({ { "read_request" }, { "write", OK_PING } })
      finally(function() h:close(); srv:stop() end)
      local status, headers, body = h:request("GET", "/_ping?x=1")
      assert.equal(200, status)
      assert.equal("1.41", headers["api-version"])
      assert.equal("text/plain; charset=utf-8", headers["content-type"])
      assert.equal("OK", body)
      local req = srv:wait()[1].requests[1]
      assert.matches("^GET /_ping%?x=1 HTTP/1%.1\r\n", req)
      assert.is_nil(req:lower():find("content-type", 1, true))
      assert.is_nil(req:lower():find("expect", 1, true))
    end)

    it("sends Content-Length: 0 and no form Content-Type on a POST without a body", function()
      local srv, h = fake_http({ { "read_request" }, { "write", reply("204 No Content", {}) } })
      finally(function() h:close(); srv:stop() end)
      local status, _, body = h:request("POST", "/containers/x/start")
      assert.equal(204, status)
      assert.equal("", body)
      local req = srv:wait()[1].requests[1]
      assert.matches("^POST /containers/x/start HTTP/1%.1\r\n", req)
      assert.matches("\r\nContent%-Length: 0\r\n", req)
      assert.is_nil(req:lower():find("content-type", 1, true))
    end)

    it("POSTs a JSON body with its Content-Type, no Expect", function()
      local json = cjson.encode({ Image = "x", Cmd = { "a" }, Pad = ("p"):rep(4000) })
      local srv, h = fake_http({ { "read_request" }, { "write", reply("201 Created", {}, '{"Id":"abc"}') } })
      finally(function() h:close(); srv:stop() end)
      local status, _, body = h:request("POST", "/containers/create",
        { ["Content-Type"] = "application/json" }, json)
      assert.equal(201, status)
      assert.equal("abc", cjson.decode(body).Id)
      local req = srv:wait()[1].requests[1]
      assert.matches("\r\nContent%-Type: application/json\r\n", req)
      assert.matches("\r\nContent%-Length: " .. #json .. "\r\n", req)
      assert.is_nil(req:lower():find("expect", 1, true))
      assert.equal(json, req:sub(-#json))
    end)

    it("sends DELETE and other methods as given", function()
      local srv, h = fake_http({ { "read_request" }, { "write", reply("204 No Content", {}) } })
      finally(function() h:close(); srv:stop() end)
      assert.equal(204, (h:request("DELETE", "/containers/x?force=1")))
      assert.matches("^DELETE /containers/x%?force=1 HTTP/1%.1\r\n", srv:wait()[1].requests[1])
    end)

    it("does not wait for a body on HEAD", function()
      local srv, h = fake_http({ { "read_request" },
        { "write", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nApi-Version: 1.41\r\n\r\n" }, { "sleep", 2000 } })
      finally(function() h:close(); srv:stop() end)
      local t0 = core.now()
      local status, headers, body = h:request("HEAD", "/_ping", nil, nil, 5000)
      assert.equal(200, status)
      assert.equal("1.41", headers["api-version"])
      assert.equal("", body)
      assert.is_true(core.now() - t0 < 1000)
    end)

    it("reuses one connection for 100 requests", function()
      local srv, h = fake_http({ { "repeat", 100, { { "read_request" }, { "write", OK_PING } } } })
      finally(function() h:close(); srv:stop() end)
      for i = 1, 100 do
        local status, _, body = h:request("GET", "/_ping?n=" .. i)
        assert.equal(200, status)
        assert.equal("OK", body)
      end
      h:close()
      local report = srv:wait()
      assert.equal(1, report.accepted)
      assert.equal(100, #report[1].requests)
      assert.matches("^GET /_ping%?n=100 ", report[1].requests[100])
    end)

    it("reconnects when the daemon closed a kept-alive connection", function()
      local srv = fake.start({
        { { "read_request" }, { "write", OK_PING }, { "close" } },
        { { "read_request" }, { "write", OK_PING } },
      })
      local h = core.http({ socket = srv.socket, transport = TRANSPORT })
      finally(function() h:close(); srv:stop() end)
      assert.equal(200, (h:request("GET", "/_ping")))
      core.sleep(50)
      assert.equal(200, (h:request("GET", "/_ping")))
      assert.equal(2, srv:wait().accepted)
    end)

    it("decodes a chunked body", function()
      local srv, h = fake_http({ { "read_request" },
        { "write", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n" }, { "sleep", 30 },
        { "write", "4\r\ndefg\r\n0\r\n\r\n" } })
      finally(function() h:close(); srv:stop() end)
      local status, _, body = h:request("GET", "/events")
      assert.equal(200, status)
      assert.equal("abcdefg", body)
    end)

    it("does not follow redirects", function()
      local srv, h = fake_http({ { "read_request" },
        { "write", reply("301 Moved", { "Location: /elsewhere" }, "") },
        { "read_all" } })
      finally(function() h:close(); srv:stop() end)
      local status, headers = h:request("GET", "/x")
      assert.equal(301, status)
      assert.equal("/elsewhere", headers.location)
      h:close()
      local report = srv:wait()
      assert.equal(1, #report[1].requests)
      assert.equal(1, report.accepted)
    end)

    it("times out as a whole with a 'timeout' name (the sentence is errors.lua's)", function()
      local srv, h = fake_http({ { "read_request" },
        { "write", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12" },
        { "sleep", 1500 } })
      finally(function() h:close(); srv:stop() end)
      local t0 = core.now()
      local ok, msg, name = h:request("GET", "/slow", nil, nil, 200)
      local t = core.now() - t0
      assert.is_nil(ok)
      assert.equal("timeout", msg)
      assert.equal("timeout", name)
      assert.is_false(h:unreached(), "the daemon was reached: it is slow")
      assert.is_true(t >= 190 and t < 1000, "took " .. t .. " ms")
    end)

    it("reports a garbage answer as a protocol error, or with libcurl's name", function()
      local srv, h = fake_http({ { "read_request" }, { "write", "\1\0\0\0\0\0\0\5hello garbage\r\n\r\n" },
        { "close" } })
      finally(function() h:close(); srv:stop() end)
      local ok, msg, name = h:request("GET", "/_ping")
      assert.is_nil(ok)
      if transport == "plain" then
        assert.same({ "malformed response head", "protocol" }, { msg, name })
      else
        assert.matches("^Received HTTP/0.9", msg)
        assert.matches("^CURLE_", name)
      end
    end)

    it("reports a connection dropped before the answer", function()
      local srv, h = fake_http({ { "read_request" }, { "close" } })
      finally(function() h:close(); srv:stop() end)
      local ok, msg, name = h:request("GET", "/_ping")
      assert.is_nil(ok)
      if transport == "plain" then
        assert.same({ "empty reply from server", "closed" }, { msg, name })
      else
        assert.same({ "Empty reply from server", "CURLE_GOT_NOTHING" }, { msg, name })
      end
    end)

    it("bounds the body at 64 MiB", function()
      local mib = ("b"):rep(1024 * 1024)
      local srv, h = fake_http({ { "read_request" },
        { "write", "HTTP/1.1 200 OK\r\nContent-Length: " .. (65 * #mib) .. "\r\n\r\n" },
        { "write", mib, times = 65 } })
      finally(function() h:close(); srv:stop() end)
      assert.same({ nil, "response body larger than 67108864 bytes", "protocol" },
        { h:request("GET", "/big", nil, nil, 20000) })
    end)
  end)
end

describe("dockerpty.Http plain transport", function()
  local function plain(steps, more)
    local script = { steps }
    for _, m in ipairs(more or {}) do script[#script + 1] = m end
    local srv = fake.start(script)
    return srv, core.http({ socket = srv.socket })
  end

  it("sends Host: api.moby.localhost unless given, and leaves out empty headers", function()
    local srv, h = plain({ { "read_request" }, { "write", OK_PING }, { "read_request" }, { "write", OK_PING } })
    finally(function() h:close(); srv:stop() end)
    assert.equal(200, (h:request("GET", "/_ping", { ["X-Empty"] = "" })))
    assert.equal(200, (h:request("GET", "/_ping", { Host = "docker", ["Content-Length"] = "9" })))
    h:close()
    local reqs = srv:wait()[1].requests
    assert.equal("GET /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n", reqs[1])
    assert.equal("GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n", reqs[2])
  end)

  it("decodes chunk extensions, trailers and lines split across reads", function()
    local srv, h = plain({ { "read_request" },
      { "write", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n" },
      { "write", "5;name=x\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: 1\r\n\r\n", dribble = 1 },
      { "read_request" }, { "write", OK_PING } })
    finally(function() h:close(); srv:stop() end)
    local status, _, body = h:request("GET", "/x", nil, nil, 10000)
    assert.equal(200, status)
    assert.equal("hello, chunked!", body)
    assert.equal("OK", select(3, h:request("GET", "/_ping")))
    h:close()
    assert.equal(1, srv:wait().accepted)
  end)

  it("rejects a malformed chunk size as a protocol error", function()
    local srv, h = plain({ { "read_request" },
      { "write", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n" }, { "sleep", 500 } })
    finally(function() h:close(); srv:stop() end)
    assert.same({ nil, "malformed chunk size", "protocol" },
      { h:request("GET", "/x", nil, nil, 5000) })
  end)

  it("skips a 100 Continue answer", function()
    local srv, h = plain({ { "read_request" },
      { "write", "HTTP/1.1 100 Continue\r\n\r\n" .. "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}" } })
    finally(function() h:close(); srv:stop() end)
    local status, _, body = h:request("POST", "/containers/create", nil, "{}")
    assert.equal(201, status)
    assert.equal("{}", body)
  end)

  it("reads a body without a length up to EOF, then connects again", function()
    local srv, h = plain({ { "read_request" }, { "write", "HTTP/1.0 200 OK\r\n\r\nup to the end" }, { "close" } },
      { { { "read_request" }, { "write", reply("200 OK", { "Connection: close" }, "second") }, { "close" } },
        { { "read_request" }, { "write", OK_PING } } })
    finally(function() h:close(); srv:stop() end)
    assert.equal("up to the end", select(3, h:request("GET", "/a", nil, nil, 5000)))
    assert.equal("second", select(3, h:request("GET", "/b", nil, nil, 5000)))
    assert.equal("OK", select(3, h:request("GET", "/c", nil, nil, 5000)))
    h:close()
    assert.equal(3, srv:wait().accepted)
  end)

  it("reports a body cut short", function()
    local srv, h = plain({ { "read_request" }, { "write", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345" },
      { "close" } })
    finally(function() h:close(); srv:stop() end)
    assert.same({ nil, "connection closed before the response was complete", "closed" },
      { h:request("GET", "/x", nil, nil, 5000) })
  end)

  it("rejects a bad Content-Length and a head that never ends", function()
    local srv, h = plain({ { "read_request" }, { "write", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n" } },
      { { { "read_request" }, { "write", "HTTP/1.1 200 OK\r\n" .. ("X-Long: " .. ("y"):rep(390) .. "\r\n"):rep(50) },
        { "sleep", 1000 } } })
    finally(function() h:close(); srv:stop() end)
    assert.same({ nil, "malformed Content-Length", "protocol" },
      { h:request("GET", "/x", nil, nil, 5000) })
    assert.same({ nil, "response head longer than 16384 bytes", "protocol" },
      { h:request("GET", "/y", nil, nil, 5000) })
  end)

  it("times out while waiting for the head", function()
    local srv, h = plain({ { "read_request" }, { "sleep", 1500 } })
    finally(function() h:close(); srv:stop() end)
    local t0 = core.now()
    assert.same({ nil, "timeout", "timeout" },
      { h:request("GET", "/slow", nil, nil, 150) })
    assert.is_true(core.now() - t0 < 1000)
  end)

  it("asks again on a new connection when a kept-alive one closes before answering", function()
    -- the daemon reads the second request and closes without a byte: the
    -- race of an idle timeout; a fresh connection gets the answer
    local srv, h = plain({ { "read_request" }, { "write", OK_PING }, { "read_request" }, { "close" } },
      { { { "read_request" }, { "write", reply("201 Created", {}, "{}") } } })
    finally(function() h:close(); srv:stop() end)
    assert.equal(200, (h:request("GET", "/_ping")))
    assert.equal(201, (h:request("POST", "/containers/create", nil, "{}", 5000)))
    h:close()
    local report = srv:wait()
    assert.equal(2, report.accepted)
    assert.matches("^POST /containers/create ", report[2].requests[1])
  end)

  it("does not load libcurl for a unix socket; a TCP endpoint does", function()
    local srv = fake.start({ { { "read_request" }, { "write", OK_PING }, { "sleep", 2000 } },
      { { "read_head" }, { "write", "HTTP/1.1 101 UPGRADED\r\n\r\n" } } })
    finally(function() srv:stop() end)
    local prog = ("local core = require('dockerpty.core'); local tc = require('dockerpty_test'); " ..
      "local h = core.http{ socket = %q }; local s = h:request('GET', '/_ping'); " ..
      "local c = assert(core.connect{ socket = %q }); c:send('POST /x HTTP/1.1\\r\\n\\r\\n'); " ..
      "local st = c:read_head(5000); io.write(s, ' ', st, ' ', tostring(tc.curl_loaded())); " ..
      "core.http{ url = 'http://127.0.0.1:1' }:request('GET', '/_ping'); " ..
      "io.write(' ', tostring(tc.curl_loaded()), ' ', core.curl_version():match('^libcurl/[%%d.]+'))"
      ):format(srv.socket, srv.socket)
    local build = os.getenv("DP_BUILD") or "build"
    local p = assert(io.popen(("LUA_CPATH='%s/?.so;;' lua5.4 -e %q 2>&1"):format(build, prog)))
    local out = p:read("a")
    p:close()
    assert.matches("^200 101 false true libcurl/%d", out)
  end)

  it("checks the transport option", function()
    assert.has_error(function() core.http({ socket = "/s", transport = "tcp" }) end,
      "bad argument #1 to 'http' (field 'transport' must be \"plain\" or \"libcurl\")")
    assert.has_error(function() core.http({ url = "http://h:1", transport = "plain" }) end,
      "bad argument #1 to 'http' (field 'transport' \"plain\" needs a unix socket)")
  end)
end)

-- {================ real daemon ================

describe("dockerpty.Http #docker", function()
  it("GET /_ping gives 200, OK and an Api-Version header", function()
    local h = core.http(env.plain())
    finally(function() h:close() end)
    local status, headers, body = h:request("GET", "/_ping", nil, nil, 10000)
    assert.equal(200, status, headers)
    assert.equal("OK", body)
    assert.matches("^1%.%d+$", headers["api-version"])
  end)

  it("HEAD /_ping gives 200 and no body", function()
    local h = core.http(env.plain())
    finally(function() h:close() end)
    local status, headers, body = h:request("HEAD", "/_ping", nil, nil, 10000)
    assert.equal(200, status)
    assert.truthy(headers["api-version"])
    assert.equal("", body)
  end)

  it("reuses its connection for 100 requests (no fd growth)", function()
    local h = core.http(env.plain())
    finally(function() h:close() end)
    assert.equal(200, (h:request("GET", "/_ping")))
    -- objects of earlier specs closed by the collector must not count (a
    -- finalizer's objects go in a later cycle: collect until it settles)
    local before = fd_count()
    repeat
      local last = before
      collectgarbage()
      before = fd_count()
    until before == last
    local t0 = core.now()
    for _ = 1, 100 do
      assert.equal(200, (h:request("GET", "/_ping", nil, nil, 10000)))
    end
    local t = core.now() - t0
    assert.equal(before, fd_count())
    assert.is_true(t < 5000, "100 requests took " .. t .. " ms")
  end)

  it("creates, inspects and removes a container with JSON", function()
    local h = core.http(env.plain())
    local id
    finally(function()
      if id then h:request("DELETE", "/containers/" .. id .. "?force=1") end
      h:close()
    end)
    local status, _, body = h:request("POST", "/containers/create", { ["Content-Type"] = "application/json" },
      cjson.encode({ Image = env.image(), Cmd = { "true" }, HostConfig = { NetworkMode = "none" } }), 20000)
    assert.equal(201, status, body)
    id = cjson.decode(body).Id
    status, _, body = h:request("GET", "/containers/" .. id .. "/json")
    assert.equal(200, status)
    assert.equal(id, cjson.decode(body).Id)
    status = h:request("DELETE", "/containers/" .. id)
    assert.equal(204, status)
    id = nil
    status, _, body = h:request("GET", "/containers/dockerpty-no-such-container/json")
    assert.equal(404, status)
    assert.matches("[Nn]o such container", cjson.decode(body).message)
  end)

  it("POST without a body is accepted by the daemon (no form Content-Type)", function()
    local h = core.http(env.plain())
    finally(function() h:close() end)
    local status, _, body = h:request("POST", "/containers/dockerpty-no-such-container/start")
    assert.equal(404, status, body)
    assert.matches("[Nn]o such container", cjson.decode(body).message)
  end)
end)

describe("dockerpty.Http TLS #docker", function()
  it("pings over TLS with the client certificate", function()
    local h = core.http(env.endpoint())
    finally(function() h:close() end)
    local status, headers, body = h:request("GET", "/_ping", nil, nil, 10000)
    assert.equal(200, status)
    assert.equal("OK", body)
    assert.truthy(headers["api-version"])
  end)

  it("fails with the verification reason under a wrong CA", function()
    local ep = env.endpoint(env.need("DOCKERPTY_TLS_BADCA"))
    local h = core.http(ep)
    finally(function() h:close() end)
    local ok, msg, name = h:request("GET", "/_ping", nil, nil, 10000)
    assert.is_nil(ok)
    assert.equal("SSL certificate problem: unable to get local issuer certificate", msg)
    assert.is_true(h:unreached())
    assert.equal("CURLE_PEER_FAILED_VERIFICATION", name)
  end)

  it("fails without a client certificate", function()
    local h = core.http(env.endpoint(nil, false))
    finally(function() h:close() end)
    local ok, msg, name = h:request("GET", "/_ping", nil, nil, 10000)
    assert.is_nil(ok)
    assert.matches("certificate", msg)
    assert.matches("^CURLE_", name)
  end)

  it("ignores proxy variables in the environment", function()
    local ep = env.endpoint()
    local prog = ("local core = require('dockerpty.core'); local h = core.http(%s); " ..
      "local s, m = h:request('GET', '/_ping', nil, nil, 10000); print(s or m)"):format(fake.serialize(ep))
    local build = os.getenv("DP_BUILD") or "build"
    if build:sub(1, 1) ~= "/" then build = "./" .. build end
    local proxy = "http://127.0.0.1:9"
    local cmd = ("HTTPS_PROXY=" .. proxy .. " https_proxy=" .. proxy .. " ALL_PROXY=" .. proxy .. " " ..
      "LUA_CPATH='%s/?.so;;' lua5.4 -e \"%s\""):format(build, prog:gsub('"', '\\"'))
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    assert.equal("200\n", out)
  end)
end)
