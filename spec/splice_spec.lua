-- Zero copy (src/pump.c, "Zero copy"; docs/design.md, "Pumps and the
-- loop"): payloads that go to a pipe untouched move from a unix socket to
-- the pipe with splice(2), and everything else is copied as before. The
-- socket's far end is a child process (spec/support/frames_server.lua)
-- writing Docker's framing; the pipes are read by pumps in the same loop.
local core = require("dockerpty.core")
local tc = require("dockerpty_test")

local function frame(stream, payload)
  return string.pack(">I1I1I1I1I4", stream, 0, 0, 0, #payload) .. payload
end

-- A payload whose bytes say where they are (frame i, offset): a byte
-- moved, lost or doubled anywhere shows.
local function payload(i, n)
  local unit = ("<%d>"):format(i)
  return unit:rep(n // #unit + 1):sub(1, n)
end

-- Start the server on a new path with the bytes `data`; returns a
-- connected Conn and the server's pipe (closed at the end).
local function serve(data, pause_ms)
  local file = os.tmpname()
  local f = assert(io.open(file, "wb"))
  f:write(data)
  f:close()
  local path = os.tmpname()
  os.remove(path)
  local cmd = ("LUA_PATH=%q LUA_CPATH=%q lua5.4 spec/support/frames_server.lua %q %q %d")
    :format(package.path, package.cpath, path, file, pause_ms or 0)
  local srv = assert(io.popen(cmd, "r"))
  assert.equal("ready", srv:read("l"))
  local conn = assert(core.connect({ socket = path }))
  finally(function()
    conn:close()
    srv:close()
    os.remove(file)
  end)
  return conn
end

-- A pump reading fd r into a table of pieces.
local function collector(r, into)
  return core.pump{ from = r, to = function(s) into[#into + 1] = s end, on_eof = "none" }
end

-- Run the conn's demultiplexing pump into two pipes read back by pumps of
-- the same loop. opts: tap (a function), split (stderr to its own pipe,
-- default true), late (ms the pipes are left unread first). Returns
-- stdout, stderr, the pump's stats and status.
local function run(conn, opts)
  opts = opts or {}
  local r1, w1 = tc.pipe()
  local r2, w2 = r1, w1
  if opts.split ~= false then r2, w2 = tc.pipe() end
  local out, err = {}, {}
  local p = core.pump{ from = conn, to = w1, err = w2, demux = true, tap = opts.tap,
    on_end = function()
      tc.close(w1)
      if w2 ~= w1 then tc.close(w2) end
    end }
  local lp = core.loop():add(p)
  if opts.late then lp:run(opts.late) end
  lp:add(collector(r1, out))
  if r2 ~= r1 then lp:add(collector(r2, err)) end
  assert.equal("done", lp:run(30000))
  tc.close(r1)
  if r2 ~= r1 then tc.close(r2) end
  return table.concat(out), table.concat(err), p:stats(), { p:status() }
end

describe("zero copy from a unix socket to pipes", function()
  it("splices large payloads, stdout and stderr apart, every byte in order", function()
    local frames, want_out, want_err = {}, {}, {}
    for i = 1, 60 do
      local n = i % 7 == 0 and 37 or 32768 + i    -- mostly large, some small
      local stream = i % 3 == 0 and 2 or 1
      local s = payload(i, n)
      frames[#frames + 1] = frame(stream, s)
      local into = stream == 2 and want_err or want_out
      into[#into + 1] = s
    end
    local conn = serve(table.concat(frames))
    local out, err, st, status = run(conn)
    assert.equal(table.concat(want_out), out)
    assert.equal(table.concat(want_err), err)
    assert.same({ "done" }, status)
    assert.is_true(st.splices > 0, "no payload was spliced")
    assert.equal(#out + #err, st.bytes_out)
  end)

  it("copies small frames, many in one read, as before", function()
    local frames, want = {}, {}
    for i = 1, 2000 do
      frames[i] = frame(1, payload(i, 20))
      want[i] = payload(i, 20)
    end
    local conn = serve(table.concat(frames))
    local out, _, st = run(conn)
    assert.equal(table.concat(want), out)
    assert.equal(0, st.splices)
    assert.is_true(st.reads < 200, ("%d reads for 2,000 small frames"):format(st.reads))
  end)

  it("keeps order when both streams share one pipe (2>&1)", function()
    local frames, want = {}, {}
    for i = 1, 40 do
      local s = payload(i, i % 2 == 0 and 50000 or 100)
      frames[i] = frame(i % 2 + 1, s)
      want[i] = s
    end
    local conn = serve(table.concat(frames))
    local out, _, st = run(conn, { split = false })
    assert.equal(table.concat(want), out)
    assert.is_true(st.splices > 0)
  end)

  it("falls back to copying and queueing while the pipe is full, losing nothing", function()
    local frames, want = {}, {}
    for i = 1, 64 do
      frames[i] = frame(1, payload(i, 65536))
      want[i] = payload(i, 65536)
    end
    local conn = serve(table.concat(frames))
    local out, _, st = run(conn, { late = 300 })
    assert.equal(#table.concat(want), #out)
    assert.equal(table.concat(want), out)
    assert.is_true(st.splices > 0)
  end)

  it("copies every byte through rbuf when a tap must see them", function()
    local frames, want, seen = {}, {}, {}
    for i = 1, 20 do
      frames[i] = frame(1, payload(i, 40000))
      want[i] = payload(i, 40000)
    end
    local conn = serve(table.concat(frames))
    local out, _, st = run(conn, { tap = function(s) seen[#seen + 1] = s end })
    assert.equal(table.concat(want), out)
    assert.equal(out, table.concat(seen))
    assert.equal(0, st.splices)
  end)

  it("ends with EPIPE, the process alive, when the pipe's reader is gone", function()
    local frames = {}
    for i = 1, 200 do frames[i] = frame(1, payload(i, 65536)) end
    local conn = serve(table.concat(frames), 1)
    local r, w = tc.pipe()
    tc.close(r)
    local p = core.pump{ from = conn, to = w, demux = true }
    core.loop():add(p):run(30000)
    tc.close(w)
    local ok, msg, name = p:status()
    assert.same({ nil, "write: Broken pipe", "EPIPE" }, { ok, msg, name })
    assert.equal(1, p:stats().failed_sink)
  end)
end)
