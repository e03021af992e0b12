-- dockerpty.io, the Python-style pieces: they wait on their fds and step one
-- loop, never spin on EAGAIN with sleeps or build a loop per call.
local dio = require("dockerpty.io")
local core = require("dockerpty.core")
local tc = require("dockerpty_test")

describe("dockerpty.io", function()
  it("Stream:write on a full non-blocking pipe waits for room and writes everything #novalgrind", function()
    local out = os.tmpname()
    finally(function() os.remove(out) end)
    local f = assert(io.popen("sleep 0.3; wc -c > " .. out, "w"))
    core.nonblock(f, true)
    local data = ("z"):rep(1 << 20)   -- 16 pipe buffers: EAGAIN many times
    local t0 = os.clock()
    assert.equal(#data, dio.Stream.new(f):write(data))
    -- waiting in poll costs no CPU; a spin on EAGAIN would burn the 0.3 s
    assert.is_true(os.clock() - t0 < 0.1, "CPU while waiting: " .. (os.clock() - t0))
    f:close()
    assert.equal(tostring(#data), io.open(out):read("a"):match("%d+"))
  end)

  it("Pump:flush steps the pump's one loop until it is done", function()
    local r, w = tc.pipe()
    finally(function() tc.close(r) end)
    core.write(w, "hello")
    tc.close(w)
    local got = {}
    local p = dio.Pump.new(dio.Stream.new(r), function(s) got[#got + 1] = s end)
    local n = 0
    while p:flush() do n = n + 1; assert.is_true(n < 100) end
    assert.equal("hello", table.concat(got))
    assert.is_true(p:is_done())
  end)
end)
