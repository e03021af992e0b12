-- Pumps and the poll loop over pipes and socketpairs (issue 2).
local core = require("dockerpty.core")
local tc = require("dockerpty_test")

local function tmpname()
  local n = os.tmpname()
  return n
end

local function readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  return out
end

-- A multiplexed frame.
local function frame(stream, payload)
  return string.pack(">I1I1I1I1I4", stream, 0, 0, 0, #payload) .. payload
end

local function nonblocking_fds()
  local n = 0
  for fd = 0, 64 do
    if core.nonblock(fd) then n = n + 1 end
  end
  return n
end

describe("core.pump", function()
  it("rejects unknown options and bad endpoints", function()
    assert.has_error(function() core.pump{ from = 0, nope = 1 } end,
      "unknown pump option 'nope'")
    assert.has_error(function() core.pump{ to = 1 } end,
      "bad field 'from' in pump options (a source is required)")
    assert.has_error(function() core.pump{ from = {}, to = 1 } end,
      "bad field 'from' in pump options (fd, file, connection or string expected)")
    assert.has_error(function() core.pump{ from = 0, to = "x" } end,
      "bad field 'to' in pump options (fd, file, connection, function or false expected)")
    assert.has_error(function() core.pump{ from = 0, on_eof = "x" } end)
  end)

  it("prints its type name", function()
    local p = core.pump{ from = "x" }
    assert.matches("^dockerpty.Pump %(0x%x+%)$", tostring(p))
    p:close()
    assert.equal("dockerpty.Pump (closed)", tostring(p))
    p:close()
  end)

  it("delivers a string source to a function sink and ends", function()
    local got = {}
    local p = core.pump{ from = "hello world", to = function(s) got[#got + 1] = s end }
    local lp = core.loop():add(p)
    assert.equal("done", lp:run(2000))
    assert.equal("hello world", table.concat(got))
    assert.equal("done", p:status())
  end)

  it("moves 64 MiB through pipes with an identical checksum", function()
    local src = tmpname()
    local out = tmpname()
    finally(function() os.remove(src); os.remove(out) end)
    sh("head -c 67108864 /dev/urandom > " .. src)
    local want = sh("md5sum < " .. src):match("^(%x+)")
    local from = assert(io.popen("cat " .. src, "r"))
    local to = assert(io.popen("md5sum > " .. out, "w"))
    local p = core.pump{ from = from, to = to }
    assert.equal("done", core.loop():add(p):run(60000))
    from:close()
    to:close()
    assert.equal(want, readfile(out):match("^(%x+)"))
    assert.equal(67108864, p:stats().bytes_in)
    assert.equal(67108864, p:stats().bytes_out)
  end)

  it("demultiplexes stdout and stderr into two sinks byte for byte", function()
    math.randomseed(42)
    local parts, o, e = {}, {}, {}
    for i = 1, 2000 do
      local n = math.random(0, 70000)
      local payload = string.rep(string.char(i % 256), n)
      local stream = math.random(0, 2)
      parts[#parts + 1] = frame(stream, payload)
      if stream == 2 then e[#e + 1] = payload else o[#o + 1] = payload end
    end
    local src = tmpname()
    finally(function() os.remove(src) end)
    local f = assert(io.open(src, "wb"))
    f:write(table.concat(parts))
    f:close()
    local from = assert(io.popen("cat " .. src, "r"))
    local got_o, got_e = {}, {}
    local p = core.pump{ from = from, demux = true,
      to = function(s) got_o[#got_o + 1] = s end,
      err = function(s) got_e[#got_e + 1] = s end }
    assert.equal("done", core.loop():add(p):run(60000))
    from:close()
    assert.equal(table.concat(o), table.concat(got_o))
    assert.equal(table.concat(e), table.concat(got_e))
    assert.is_nil(p:stats().truncated)
  end)

  it("keeps stdout and stderr pieces in order when a sink blocks", function()
    -- both streams go to the same pipe, whose reader starts late: pieces
    -- queue up, and must come out in the order they arrived
    local parts, want = {}, {}
    for i = 1, 400 do
      local payload = string.rep(string.char(65 + i % 26), 1000 + i)
      parts[#parts + 1] = frame(1 + i % 2, payload)
      want[#want + 1] = payload
    end
    local out = tmpname()
    finally(function() os.remove(out) end)
    local to = assert(io.popen("sleep 0.3; cat > " .. out, "w"))
    local p = core.pump{ from = table.concat(parts), demux = true, to = to, err = to }
    assert.equal("done", core.loop():add(p):run(10000))
    to:close()
    assert.is_true(p:stats().capacity > 0)
    assert.equal(table.concat(want), readfile(out))
  end)

  it("reports a daemon error frame and a truncated stream", function()
    local p = core.pump{ from = frame(1, "ok") .. frame(3, "boom\n"), demux = true,
      to = function() end }
    core.loop():add(p):run(2000)
    assert.same({ nil, "boom", "daemon" }, { p:status() })

    local got = {}
    p = core.pump{ from = frame(1, "abc") .. frame(1, "defgh"):sub(1, 10), demux = true,
      to = function(s) got[#got + 1] = s end }
    assert.equal("done", core.loop():add(p):run(2000))
    assert.equal("abcde", table.concat(got))
    assert.equal("payload", p:stats().truncated)
  end)

  it("keeps memory bounded while a sink stops reading for a second", function()
    local src = tmpname()
    finally(function() os.remove(src); os.remove(src .. ".n") end)
    sh("head -c 16777216 /dev/zero > " .. src)
    local from = assert(io.popen("cat " .. src, "r"))
    local to = assert(io.popen("sleep 1; wc -c > " .. src .. ".n", "w"))
    local bound, bufsize = 262144, 65536
    local p = core.pump{ from = from, to = to, bound = bound, bufsize = bufsize }
    local lp = core.loop():add(p)
    local most = 0
    repeat
      local how = lp:run(20)
      local st = p:stats()
      if st.pending > most then most = st.pending end
      assert.is_true(st.capacity <= 2 * (bound + bufsize) + bufsize)
    until how == "done"
    from:close()
    to:close()
    assert.is_true(most > 0)                 -- backpressure did happen
    assert.is_true(most <= bound + bufsize)  -- and stayed bounded
    assert.equal("16777216", readfile(src .. ".n"):match("%d+"))
  end)

  it("half-closes its sink on EOF and the reply still arrives", function()
    local a, b = tc.socketpair()
    finally(function() tc.close(a); tc.close(b) end)
    local to_server = {}
    local to_client = {}
    -- client: "hello" then EOF, half-closed; the server side collects it
    local p1 = core.pump{ from = "hello", to = a, on_eof = "shutdown", wait_for_output = false }
    local p2 = core.pump{ from = b, to = function(s) to_server[#to_server + 1] = s end }
    local lp = core.loop():add(p1):add(p2)
    assert.equal("done", lp:run(2000))       -- p2 saw EOF: the half-close arrived
    assert.equal("hello", table.concat(to_server))
    -- the other direction still works after the half-close
    local p3 = core.pump{ from = "reply", to = b, on_eof = "shutdown", wait_for_output = false }
    local p4 = core.pump{ from = a, to = function(s) to_client[#to_client + 1] = s end }
    assert.equal("done", core.loop():add(p3):add(p4):run(2000))
    assert.equal("reply", table.concat(to_client))
  end)

  it("ends with EPIPE when the reader went away, and SIGPIPE kills nothing", function()
    -- this process keeps SIGPIPE's default action: a raised SIGPIPE would
    -- end busted here, before any assertion
    local r, w = tc.pipe()
    tc.close(r)
    finally(function() tc.close(w) end)
    local p = core.pump{ from = string.rep("x", 100000), to = w }
    assert.equal("done", core.loop():add(p):run(2000))
    assert.same({ nil, "Broken pipe", "EPIPE" }, { p:status() })
    -- the same while stepped (no run: no disposition is installed either)
    local p2 = core.pump{ from = string.rep("x", 100000), to = w }
    local lp = core.loop():add(p2)
    local steps = 0
    while not lp:step() do steps = steps + 1; assert.is_true(steps < 1000) end
    assert.same({ nil, "Broken pipe", "EPIPE" }, { p2:status() })
  end)

  it("moves what Pump:feed queues, and ends at feed(nil)", function()
    local got = {}
    local p = core.pump{ from = true, to = function(s) got[#got + 1] = s end }
    local lp = core.loop():add(p)
    assert.is_false(lp:step())
    assert.is_nil(lp:timeout())          -- nothing to do until fed
    assert.equal(3, p:feed("abc"))
    assert.equal(6, p:feed("def"))
    assert.is_false(lp:step())
    assert.equal("abcdef", table.concat(got))
    assert.equal(0, p:feed(""))
    p:feed(nil)
    assert.is_true(lp:step())
    assert.equal("done", p:status())
    assert.has_error(function() p:feed("late") end, "attempt to feed a pump after its end")
    local q = core.pump{ from = "x", to = false }
    assert.has_error(function() q:feed("y") end,
      "attempt to feed a pump whose source is not a queue")
  end)

  it("ends with ENOSPC on a full disk (/dev/full)", function()
    local f = assert(io.open("/dev/full", "w"))
    finally(function() f:close() end)
    local p = core.pump{ from = "data", to = f }
    assert.equal("done", core.loop():add(p):run(2000))
    assert.same({ nil, "No space left on device", "ENOSPC" }, { p:status() })
  end)
end)

describe("core.pump coalescing", function()
  -- A writer that sends 400 pieces of 12 KiB, 0.3 ms apart (busy-waiting,
  -- so the pieces come as a steady stream, like a tty's output under load),
  -- into a pipe of 64 KiB: the pump waits for about 32 KiB at a time. Its
  -- stdout is unbuffered, so that a piece is one write(2), not a 4 KiB one
  -- and the rest (a read of 4 KiB never waits: the test would measure how
  -- fast the reader keeps up instead).
  local WRITER = [[lua5.4 -e 'io.stdout:setvbuf("no") local s = ("x"):rep(12288) ]]
    .. [[for _ = 1, 400 do io.write(s) ]]
    .. [[local t = os.clock() + 0.0003 while os.clock() < t do end end']]

  local function pump_stats(cmd, size, coalesce_us)
    local from = assert(io.popen(cmd, "r"))
    local n = 0
    local p = core.pump{ from = from, to = function(s) n = n + #s end, coalesce_us = coalesce_us }
    assert.equal("done", core.loop():add(p):run(60000))
    from:close()
    assert.equal(size, n)
    assert.equal(n, p:stats().bytes_in)
    return p:stats()
  end

  it("reads a steady stream in fewer, larger pieces; coalesce_us = 0 turns it off #novalgrind", function()
    local merged = pump_stats(WRITER, 400 * 12288, nil)
    local plain = pump_stats(WRITER, 400 * 12288, 0)
    print(("\n[400 pieces of 12 KiB: %d reads (%d waits) with coalescing, %d reads without]"):format(
      merged.reads, merged.defers, plain.reads))
    assert.is_true(merged.reads <= 300, ("%d reads for 400 pieces with coalescing"):format(merged.reads))
    assert.is_true(merged.defers > 0)
    assert.equal(0, plain.defers)
    assert.is_true(plain.reads > merged.reads, ("%d reads without coalescing, %d with"):format(
      plain.reads, merged.reads))
  end)

  it("never waits on a pipe its writer keeps full (stdin from a fast producer)", function()
    local st = pump_stats("head -c 67108864 /dev/zero", 67108864, nil)
    print(("\n[64 MiB from a full pipe: %d reads, %d waits]"):format(st.reads, st.defers))
    assert.is_true(st.defers * 20 <= st.reads, ("%d waits in %d reads"):format(st.defers, st.reads))
  end)

  it("does not make a lone small piece wait: echo comes back at once", function()
    local r1, w1 = tc.pipe()
    finally(function() tc.close(r1); tc.close(w1) end)
    local got, t_in = {}, nil
    local p = core.pump{ from = r1, to = function(s)
      got[#got + 1] = { s, core.now() - t_in }
    end, wait_for_output = true }
    -- 20 single bytes, each written while the loop waits for it
    local lp = core.loop():add(p)
    for i = 1, 20 do
      t_in = core.now()
      core.write(w1, string.char(64 + i))
      lp:run(5)
    end
    assert.equal(20, #got)
    for i, g in ipairs(got) do
      assert.equal(string.char(64 + i), g[1])
      assert.is_true(g[2] <= 5, ("byte %d came after %d ms"):format(i, g[2]))
    end
  end)

  it("checks the option", function()
    assert.has_error(function() core.pump{ from = "x", coalesce_us = -1 } end,
      "bad field 'coalesce_us' in pump options (0 to 1000000 expected)")
  end)
end)

describe("core.loop", function()
  it("coalesces a burst of SIGWINCH into one call", function()
    local r, w = tc.pipe()
    finally(function() tc.close(r) end)
    local calls = 0
    local pid = tc.getpid()
    local lp = core.loop():on_winch(function() calls = calls + 1 end)
    lp:add(core.pump{ from = r, to = false })
    os.execute(("(sleep 0.2; for i in 1 2 3 4 5; do kill -WINCH %d; done; sleep 0.3; exec >&-) &")
      :format(pid))
    assert.equal("timeout", lp:run(800))
    tc.close(w)
    assert.equal(1, calls)
  end)

  it("ends with the signal that came, and restores its disposition", function()
    local r, w = tc.pipe()
    finally(function() tc.close(r); tc.close(w) end)
    local lp = core.loop():signals({ "TERM", "INT", "HUP" })
    lp:add(core.pump{ from = r, to = false })
    os.execute(("(sleep 0.2; kill -TERM %d) &"):format(tc.getpid()))
    local t0 = core.now()
    assert.same({ "signal", "TERM" }, { lp:run(5000) })
    assert.is_true(core.now() - t0 < 3000)
  end)

  it("forwards signals to on_signal and goes on", function()
    local r, w = tc.pipe()
    finally(function() tc.close(r); tc.close(w) end)
    local seen = {}
    local lp = core.loop():signals({}, { "USR1" }, function(name) seen[#seen + 1] = name end)
    lp:add(core.pump{ from = r, to = false })
    os.execute(("(sleep 0.1; kill -USR1 %d) &"):format(tc.getpid()))
    assert.equal("timeout", lp:run(600))
    assert.same({ "USR1" }, seen)
  end)

  it("re-raises a callback's error unchanged and leaves no fd non-blocking", function()
    local r, w = tc.pipe()
    finally(function() tc.close(r); tc.close(w) end)
    core.write(w, "data")
    local before = nonblocking_fds()
    local err = setmetatable({ code = 42 }, { __tostring = function() return "custom" end })
    local p = core.pump{ from = r, to = function() error(err) end }
    local lp = core.loop():add(p)
    local ok, got = pcall(lp.run, lp, 2000)
    assert.is_false(ok)
    assert.equal(err, got)
    assert.is_false(core.nonblock(r))
    p:close()     -- its own non-blocking copy of r (fdio.h) goes with it
    assert.equal(before, nonblocking_fds())
    assert.is_false(lp:running())
  end)

  it("raises on re-entry from a callback", function()
    local lp = core.loop()
    local inner
    lp:add(core.pump{ from = "x", to = function()
      inner = select(2, pcall(lp.run, lp, 10))
    end })
    assert.equal("done", lp:run(1000))
    assert.matches("loop already running", inner)
  end)

  it("returns done at once with no pump waiting", function()
    assert.equal("done", core.loop():run(1000))
    local r, w = tc.pipe()
    finally(function() tc.close(r); tc.close(w) end)
    local lp = core.loop():add(core.pump{ from = r, to = false, wait_for_output = false })
    assert.equal("done", lp:run(1000))
  end)
end)
