-- Faults a real daemon will not produce on demand (issue 7: bad stream
-- input and daemon faults), played by a scripted fake engine (spec/support/
-- fakeengine.lua) against the high-level API: dockerpty.start, start_exec
-- and exec_command, each with a pty pair as the terminal. For each fault:
-- the documented outcome, the exact error where one is due, every byte that
-- did arrive delivered, the terminal's termios and O_NONBLOCK identical
-- afterwards, and the call back within 5 s of the fault.
local fe = require("support.fakeengine")
local core = require("dockerpty.core")
local tc = require("dockerpty_test")

local F = fe.frame
local NOTTY = { Tty = false, OpenStdin = true }   -- multiplexed, stdin from the pty
local TTY = { Tty = true, OpenStdin = true }      -- raw stream, the pty goes raw
local ATTACH = "POST /v1.41/containers/c1/attach?detachKeys=ctrl-p%2Cctrl-q&logs=0&stderr=1" ..
  "&stdin=1&stdout=1&stream=1"

-- Every session: the terminal came back and the call returned in time.
local function settled(r, limit_ms)
  assert.is_true(r.same, "the terminal was not restored")
  local limit = limit_ms or 5000
  assert.is_true(r.elapsed < limit, ("the call took %d ms (limit %d)"):format(r.elapsed, limit))
end

local function failed(r, kind, message, status)
  assert.is_false(r.ok, "the call did not fail")
  assert.equal(message, tostring(r.err))
  assert.equal(kind, r.err.kind)
  assert.equal(status, r.err.status)
end

local function exited(r, code)
  assert.is_true(r.ok, r.err and tostring(r.err))
  assert.same({ code == 0 or nil, "exit", code }, { r.a, r.b, r.c })
end

local function has(list, value)
  for _, v in ipairs(list) do
    if v == value then return true end
  end
  return false
end

-- Peak RSS of this process since the last reset, in KiB.
local function reset_peak()
  local f = assert(io.open("/proc/self/clear_refs", "w"))
  f:write("5")
  f:close()
end

local function peak_kib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)"))
end

after_each(function()
  fe.cleanup()
end)

describe("a session against a daemon sending bad frames (F)", function()
  it("stops at an unknown stream type with 'unrecognized stream type N'", function()
    for _, t in ipairs({ 4, 73, 255 }) do
      local r = fe.session{ container = NOTTY,
        attach = { { "write", F(1, "before") .. F(t, "Invalid input") .. F(1, "after") }, { "hang" } } }
      failed(r, "protocol", "dockerpty: container c1: unrecognized stream type " .. t)
      assert.equal("before", r.out)
      assert.equal("", r.errout)
      settled(r)
      fe.cleanup()
    end
  end)

  it("surfaces a type-3 message as a daemon error and writes none of it", function()
    local r = fe.session{ container = NOTTY,
      attach = { { "write", F(1, "out") .. F(2, "err") .. F(3, "boom: log driver gone\r\n") .. F(1, "x") },
        { "hang" } } }
    failed(r, "api", "dockerpty: error from daemon in stream: boom: log driver gone")
    assert.equal("out", r.out)
    assert.equal("err", r.errout)
    settled(r)
  end)

  it("ends with the wait's code when EOF cuts a header short, every byte delivered", function()
    for n = 1, 7 do
      local warnings = {}
      local r = fe.session({ container = NOTTY, exit_code = 2,
        attach = { { "write", F(1, "abc") .. F(2, "de") .. F(1, "0123456789"):sub(1, n) },
          { "emit", "exit" }, { "close" } } },
        { opts = { warn = function(msg) warnings[#warnings + 1] = msg end } })
      exited(r, 2)
      assert.equal("abc", r.out)
      assert.equal("de", r.errout)
      assert.same({ "dockerpty: the output of container c1 ended inside a frame (truncated header)" },
        warnings)
      settled(r)
      fe.cleanup()
    end
  end)

  it("delivers the bytes of a payload cut short at EOF and ends with the wait's code", function()
    local warnings = {}
    local r = fe.session({ container = NOTTY, exit_code = 3,
      attach = { { "write", F(1, "abc") .. F(2, "0123456789", { len = 100 }) }, { "emit", "exit" },
        { "close" } } }, { opts = { warn = function(msg) warnings[#warnings + 1] = msg end } })
    exited(r, 3)
    assert.equal("abc", r.out)
    assert.equal("0123456789", r.errout)
    assert.same({ "dockerpty: the output of container c1 ended inside a frame (truncated payload)" },
      warnings)
    settled(r)
  end)

  it("streams a frame claiming 0xFFFFFFFF bytes without buffering it #novalgrind #nosanitize", function()
    local chunk = ("0123456789abcdef"):rep(4096)    -- 64 KiB
    local got, bad = 0, false
    local srv = fe.fake{ container = { Tty = false }, exit_code = 0,
      attach = { { "write", F(1, "x", { len = 0xFFFFFFFF }):sub(1, 8) }, { "write", chunk, times = 512 },
        { "emit", "exit" }, { "close" } } }
    local client = fe.client(srv)
    collectgarbage()
    reset_peak()
    local base = peak_kib()
    local t0 = core.now()
    local a, b, c = require("dockerpty").start(client, "c1", { stdin = false,
      stdout = function(s)
        local off = got % 16
        if s ~= ("0123456789abcdef"):rep(#s // 16 + 2):sub(off + 1, off + #s) then bad = true end
        got = got + #s
      end })
    local grew = peak_kib() - base
    assert.same({ true, "exit", 0 }, { a, b, c })
    assert.equal(32 * 1024 * 1024, got)
    assert.is_false(bad)
    assert.is_true(grew < 16 * 1024, ("peak RSS grew by %d KiB for a 32 MiB frame"):format(grew))
    assert.is_true(core.now() - t0 < 5000)
  end)

  it("treats zero-length frames as no-ops", function()
    local r = fe.session{ container = NOTTY,
      attach = { { "write", F(1, "") .. F(1, "a") .. F(2, "") .. F(1, "b") .. F(2, "c") .. F(1, "") },
        { "emit", "exit" }, { "close" } } }
    exited(r, 0)
    assert.equal("ab", r.out)
    assert.equal("c", r.errout)
    settled(r)
  end)

  it("ignores non-zero padding bytes", function()
    local r = fe.session{ container = NOTTY,
      attach = { { "write", F(1, "pad", { pad = { 1, 2, 3 } }) .. F(2, "ded", { pad = { 255, 255, 255 } }) ..
        F(0, "!", { pad = { 0, 0, 9 } }) }, { "emit", "exit" }, { "close" } } }
    exited(r, 0)
    assert.equal("pad!", r.out)
    assert.equal("ded", r.errout)
    settled(r)
  end)
end)

describe("a session against a daemon answering oddly (F, G)", function()
  it("accepts 200 where 101 was expected, as older daemons answer", function()
    local r = fe.session{ container = TTY, attach_head = fe.HEAD_200,
      attach = { { "write", "hello\r\n" }, { "emit", "exit" }, { "close" } } }
    exited(r, 0)
    assert.equal("hello\r\n", r.out)
    assert.is_true(r.raw_seen)
    settled(r)
  end)

  it("raises a raw 404 after the hijack as the daemon's text, never starting", function()
    local r = fe.session{ container = TTY, respond = { ["POST /containers/c1/attach"] = {
      { "write", "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" ..
        "No such container: c1\r\n" }, { "close" } } } }
    failed(r, "api", "dockerpty: no such container: c1 (404)", 404)
    assert.is_false(has(fe.paths(r.report), "POST /containers/c1/start"))
    assert.equal("", r.out)
    settled(r)
  end)

  it("raises a raw 409 after the hijack with its status", function()
    local r = fe.session{ container = TTY, respond = { ["POST /containers/c1/attach"] = {
      { "write", "HTTP/1.1 409 Conflict\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" ..
        "container c1 is paused, unpause the container before attach\r\n" }, { "close" } } } }
    failed(r, "api", "dockerpty: container c1 is paused, unpause the container before attach (409)", 409)
    assert.is_false(has(fe.paths(r.report), "POST /containers/c1/start"))
    settled(r)
  end)

  it("delivers in-band 'Error attaching' text and takes the code from wait", function()
    local text = "Error attaching: configured logging driver does not support reading\n"
    local r = fe.session{ container = NOTTY, exit_code = 5,
      attach = { { "write", F(1, text) }, { "emit", "exit" }, { "close" } } }
    exited(r, 5)
    assert.equal(text, r.out)
    settled(r)
  end)

  -- A wait answer that carries the daemon's error instead of the code (a
  -- chunked body, as the wait's own head announces).
  local WAIT_ERROR = fe.chunked('{"StatusCode":-1,"Error":{"Message":"timed out waiting for file /exits/c1"}}\n')
  local function count(list, value)
    local n = 0
    for _, v in ipairs(list) do
      if v == value then n = n + 1 end
    end
    return n
  end

  it("takes a stopped container's code from inspect when the wait answers with an error", function()
    local r = fe.session{ container = NOTTY, exit_code = 3,
      attach = { { "await", "started" }, { "write", F(1, "out") }, { "emit", "exit" }, { "close" } },
      wait = { { "await", "exit" }, { "write", WAIT_ERROR }, { "close" } } }
    exited(r, 3)
    assert.equal("out", r.out)
    -- the inspect before the attach, and the one after the wait's error
    assert.equal(2, count(fe.paths(r.report), "GET /containers/c1/json"))
    settled(r)
  end)

  it("keeps the wait's error when the container still runs", function()
    local r = fe.session{ container = NOTTY,
      attach = { { "await", "started" }, { "write", F(1, "out") }, { "close" } },
      wait = { { "await", "started" }, { "write", WAIT_ERROR }, { "close" } } }
    failed(r, "api", "dockerpty: waiting for container c1: timed out waiting for file /exits/c1", nil)
    assert.equal("out", r.out)
    settled(r)
  end)

  it("takes the code from inspect in the session engine too, or keeps the error", function()
    local session = require("dockerpty.session")
    for _, case in ipairs({
      { exit = true, want = { nil, "exit", 3 } },
      { exit = false, want = "dockerpty: waiting for container c1: timed out waiting for file /exits/c1" },
    }) do
      local srv = fe.fake{ container = { Tty = false }, exit_code = 3,
        attach = { { "await", "started" }, { "write", F(1, "out") },
          case.exit and { "emit", "exit" } or { "sleep", 0 }, { "close" } },
        wait = { { "await", case.exit and "exit" or "started" }, { "write", WAIT_ERROR }, { "close" } } }
      local out = {}
      local s <close> = session.run(fe.client(srv), "c1", { stdout = function(b) out[#out + 1] = b end })
      local ok, a, b, c = pcall(s.wait, s)
      assert.equal("out", table.concat(out))
      if case.exit then
        assert.is_true(ok, tostring(a))
        assert.same(case.want, { a, b, c })
      else
        assert.is_false(ok)
        assert.equal("api", a.kind)
        assert.equal(case.want, a.message)
      end
      srv:stop()
    end
  end)

  it("delivers an exec start error written on stdout and takes the code from inspect", function()
    local text = 'OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": ' ..
      "executable file not found in $PATH: unknown\r\n"
    local r = fe.session({ exec = { tty = false }, exit_code = 127,
      exec_start = { { "write", F(1, text) }, { "emit", "exit" }, { "close" } } }, { entry = "exec" })
    exited(r, 127)
    assert.equal(text, r.out)
    assert.equal("GET /exec/e1/json", fe.paths(r.report)[#r.report.requests])
    settled(r)
  end)

  it("bounds a head that never ends: one endless line", function()
    local r = fe.session{ container = TTY, attach_head = "",
      attach = { { "write", "HTTP/1.1 101 UPGRADED\r\nX-Pad: " }, { "write", ("a"):rep(1000), times = 100 },
        { "hang" } } }
    local srv = r.srv
    failed(r, "protocol", ("dockerpty: %s at %s: response head longer than 16384 bytes"):format(ATTACH,
      srv.host))
    settled(r)
  end)

  it("bounds a head that never ends: header lines without end", function()
    local r = fe.session{ container = TTY, attach_head = "",
      attach = { { "write", "HTTP/1.1 101 UPGRADED\r\n" },
        { "write", "X-Pad: aaaaaaaaaaaaaaaa\r\n", times = 2000 },
        { "hang" } } }
    assert.is_false(r.ok)
    assert.equal("protocol", r.err.kind)
    assert.matches("^dockerpty: POST /v1%.41/containers/c1/attach%?.* at unix://.*: ", tostring(r.err))
    settled(r)
  end)

  it("times out on a head that stops coming, after the client's timeout", function()
    local r = fe.session({ container = TTY, attach_head = "",
      attach = { { "write", "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n" },
        { "hang" } } }, { timeout = 1 })
    failed(r, "timeout", ("dockerpty: %s at %s: timeout"):format(ATTACH, r.srv.host))
    assert.is_true(r.elapsed >= 1000)
    settled(r, 3000)
  end)

  it("ends a tty session whose daemon dies mid-stream with a connection error, output kept",
      function()
    local r = fe.session{ container = TTY,
      attach = { { "write", "hello " }, { "sleep", 100 }, { "write", "world" }, { "die" } } }
    failed(r, "connection", ("dockerpty: waiting for container c1 at %s: the connection closed before " ..
      "the answer"):format(r.srv.host))
    assert.equal("hello world", r.out)
    assert.is_true(r.raw_seen)
    settled(r)
  end)

  it("ends a multiplexed session whose daemon dies mid-frame with an error, bytes kept (67, 76)", function()
    local r = fe.session{ container = NOTTY,
      attach = { { "write", F(1, "hello") .. F(2, "0123456789", { len = 20 }) }, { "sleep", 100 },
        { "die" } } }
    failed(r, "connection", ("dockerpty: waiting for container c1 at %s: the connection closed before " ..
      "the answer"):format(r.srv.host))
    assert.equal("hello", r.out)
    assert.equal("0123456789", r.errout)
    settled(r)
  end)

  it("ends a tty exec whose daemon dies mid-stream with a connection error", function()
    local r = fe.session({ exec = { tty = true, open_stdin = true },
      exec_start = { { "write", "partial" }, { "sleep", 50 }, { "die" } } }, { entry = "exec" })
    failed(r, "connection", ("dockerpty: cannot connect to the Docker daemon at %s: Connection refused")
      :format(r.srv.host))
    assert.equal("partial", r.out)
    assert.is_true(r.raw_seen)
    settled(r)
  end)

  it("fails clearly with no daemon, the terminal untouched", function()
    local m, s = fe.pty()
    local dockerpty = require("dockerpty")
    local path = os.tmpname() .. ".missing.sock"
    local client = dockerpty.client.new{ host = "unix://" .. path, version = "1.41" }
    local before = tc.tcgetattr(s)
    local t0 = core.now()
    local ok, err = pcall(dockerpty.start, client, "c1", { stdin = s, stdout = function() end })
    assert.is_false(ok)
    assert.equal(("dockerpty: cannot connect to the Docker daemon at unix://%s: No such file or directory")
      :format(path), tostring(err))
    assert.equal("connection", err.kind)
    assert.equal(before, tc.tcgetattr(s))
    assert.is_true(core.now() - t0 < 1000)
    assert.is_number(m)
  end)

  -- Redirects are not followed: a 3xx is an API error like any
  -- answer the client did not ask for.
  it("raises an API error for a redirect answering inspect", function()
    local answer = "HTTP/1.1 301 Moved Permanently\r\n" ..
      "Location: http://127.0.0.1:9/v1.41/containers/c2/json\r\nContent-Length: 0\r\n\r\n"
    local r = fe.session{ respond = { ["GET /containers/c1/json"] = { { "write", answer } } } }
    assert.is_false(r.ok)
    assert.equal("dockerpty: GET /containers/c1/json failed (301)", tostring(r.err))
    assert.equal("api", r.err.kind)
    assert.equal(301, r.err.status)
    assert.same({ "GET /containers/c1/json" }, r.report.lines)
    assert.is_true(r.same)
  end)
end)

describe("a session against a daemon with odd timing", function()
  it("keeps pumping when the wait answers before the last output", function()
    local tail = ("0123456789abcdef"):rep(65536)   -- 1 MiB after the exit
    local r = fe.session{ container = NOTTY, exit_code = 4,
      attach = { { "write", F(1, "first ") }, { "emit", "exit" }, { "sleep", 300 }, { "write", F(1, tail) },
        { "write", F(2, "end") }, { "close" } } }
    exited(r, 4)
    assert.equal(#tail + 6, #r.out)
    assert.is_true(r.out == "first " .. tail)
    assert.equal("end", r.errout)
    settled(r)
  end)

  it("reassembles a head and frames dribbled one byte at a time", function()
    local r = fe.session{ container = NOTTY, exit_code = 1, attach_head = "",
      attach = { { "write", fe.HEAD_101 .. F(1, "abc") .. F(2, "de") .. F(1, "f"), dribble = 1 },
        { "emit", "exit" }, { "close" } } }
    exited(r, 1)
    assert.equal("abcf", r.out)
    assert.equal("de", r.errout)
    settled(r)
  end)

  it("reassembles a tty exec's head and output dribbled one byte at a time", function()
    local r = fe.session({ exec = { tty = true, open_stdin = true }, exec_head = "",
      exec_start = { { "write", fe.HEAD_101 .. "prompt $ ", dribble = 1 }, { "emit", "exit" },
        { "close" } } },
      { entry = "exec" })
    exited(r, 0)
    assert.equal("prompt $ ", r.out)
    assert.is_true(r.raw_seen)
    settled(r)
  end)

  it("ends on output EOF while the daemon stops reading 8 MiB of stdin", function()
    local r = fe.session({ container = NOTTY, exit_code = 6,
      attach = { { "stop_reading" }, { "sleep", 300 }, { "write", F(1, "bye") },
        { "emit", "exit" }, { "shutdown" }, { "sleep", 2000 }, { "close" } } },
      { stdin = ("s"):rep(8 << 20) })
    exited(r, 6)
    assert.equal("bye", r.out)
    assert.is_true(#r.report.hijacks[1].stdin < 8 << 20)
    settled(r, 2000)
  end)

  -- The daemon closed the attach with our stdin unread in its buffer, so
  -- the kernel resets the connection after the output (the "connection
  -- reset by peer" of cli #1456, docker/for-linux #245): not an error.
  it("ends with the container's code when the daemon resets after not reading stdin", function()
    local r = fe.session({ container = NOTTY, exit_code = 6,
      attach = { { "stop_reading" }, { "sleep", 200 }, { "write", F(1, "bye") }, { "emit", "exit" },
        { "close" } } }, { stdin = ("s"):rep(8 << 20) })
    exited(r, 6)
    assert.equal("bye", r.out)
    settled(r)
  end)

  it("ends an exec with its code when the daemon resets after not reading stdin", function()
    local r = fe.session({ exec = { tty = false, open_stdin = true }, exit_code = 0,
      exec_start = { { "stop_reading" }, { "sleep", 200 }, { "write", F(1, "bye") }, { "emit", "exit" },
        { "close" } } }, { entry = "exec", stdin = ("s"):rep(8 << 20) })
    exited(r, 0)
    assert.equal("bye", r.out)
    settled(r)
  end)

  it("returns after the exit even if the daemon keeps the attach open (Podman, Docker Desktop)", function()
    local r = fe.session{ container = NOTTY, exit_code = 0,
      attach = { { "write", F(1, "bye") }, { "emit", "exit" }, { "sleep", 300 }, { "write", F(2, "late") },
        { "hang" } } }
    exited(r, 0)
    assert.equal("bye", r.out)
    assert.equal("late", r.errout)
    settled(r)
  end)

  it("forwards typed input while the output is dribbled (tty)", function()
    local r = fe.session({ container = TTY,
      attach = { { "await_stdin", "ls\n" }, { "write", "ls\r\nbin etc\r\n", dribble = 1 }, { "emit", "exit" },
        { "close" } } }, { input = "ls\n" })
    exited(r, 0)
    assert.equal("ls\r\nbin etc\r\n", r.out)
    assert.equal("ls\n", r.report.hijacks[1].stdin)
    assert.is_true(r.raw_seen)
    settled(r)
  end)
end)

-- Our own output failing mid-stream (issue 17, item 1) while the fake
-- daemon keeps streaming frames and never ends the session by itself: the
-- session ends at once with docker's words, "write /dev/stdout: ...".
describe("a session whose own output fails mid-stream", function()
  local STREAM = { { "write", F(1, ("a"):rep(1000)) }, { "write", F(2, "x") },
    { "write", F(1, ("b"):rep(4096)), times = 200 }, { "hang" } }

  it("ends with an io error when the stdout pipe's reader closes after the first frame", function()
    local r, w = tc.pipe()
    fe.defer(function() tc.close(w) end)
    local got, open = nil, true
    -- the stderr frame arrives after the first stdout frame: its reader
    -- takes what came and goes away
    local res = fe.session({ container = NOTTY, attach = STREAM }, { sink = w, opts = { stderr = function()
      if open then got = core.read(r, 65536); tc.close(r); open = false end
    end } })
    if open then tc.close(r) end
    failed(res, "io", "dockerpty: write /dev/stdout: broken pipe")
    assert.equal("EPIPE", res.err.name)
    assert.equal(("a"):rep(1000), got)
    settled(res)
  end)

  it("ends with an io error on a full disk (/dev/full)", function()
    local full = assert(io.open("/dev/full", "w"))
    fe.defer(function() full:close() end)
    local res = fe.session({ container = NOTTY, attach = STREAM }, { sink = full })
    failed(res, "io", "dockerpty: write /dev/stdout: no space left on device")
    assert.equal("ENOSPC", res.err.name)
    settled(res)
  end)

  it("ends the command with status 1 when its stdout reader goes (| head -c 3000)", function()
    local srv = fe.fake{ container = { Tty = false, Running = true }, attach = STREAM }
    local shq = require("support.tmux").shquote
    local errf = os.tmpname()
    fe.defer(function() os.remove(errf) end)
    local line = ("env DOCKER_HOST=%s DOCKER_API_VERSION=1.41 LUA_PATH=%s LUA_CPATH=%s lua5.4 bin/dockerpty " ..
      "attach --no-stdin c1 2>%s | head -c 3000 | wc -c; echo status ${PIPESTATUS[0]}")
      :format(shq(srv.host), shq(package.path), shq(package.cpath), errf)
    local t0 = core.now()
    local p = assert(io.popen("timeout 20 bash -c " .. shq(line)))
    local out = p:read("a")
    p:close()
    local f = assert(io.open(errf))
    local err = f:read("a")
    f:close()
    assert.equal("3000\nstatus 1\n", (out:gsub("^%s+", "")), err)
    assert.equal("x" .. "dockerpty: write /dev/stdout: broken pipe\n", err)   -- the stderr frame, then ours
    assert.is_true(core.now() - t0 < 5000, ("took %d ms"):format(core.now() - t0))
  end)
end)
