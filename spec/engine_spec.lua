-- The session engine: sessions that step without blocking, in the caller's
-- own loop (cqueues, luv, a plain poll), any number of them, and a loop
-- whose process state survives any error raised inside it.
local dockerpty = require("dockerpty")
local session = dockerpty.session
local core = dockerpty.core
local fe = require("support.fakeengine")

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"

after_each(function() fe.cleanup() end)

-- Step sessions (or a group) with poll(2) until done; the longest single
-- step, in ms.
local function drive(obj, limit_ms)
  local longest, deadline = 0, core.now() + (limit_ms or 30000)
  while true do
    local t0 = core.now()
    local done = obj:step()
    longest = math.max(longest, core.now() - t0)
    if done then break end
    assert(core.now() < deadline, "not finished in time")
    core.poll_fd(obj:pollfd(), obj:events(), obj:timeout())
  end
  return longest
end

describe("the session engine against a slow daemon", function()
  it("starts 20 sessions together: each step returns at once, all end in about one delay #novalgrind", function()
    local srv = fe.fake{ delay = 2000, exec = { tty = false, open_stdin = false },
      exec_start = { { "write", fe.frame(1, "hi\n") }, { "emit", "exit" }, { "close" } } }
    local client = fe.client(srv)
    local g = session.group()
    local outs = {}
    local t0 = core.now()
    for i = 1, 20 do
      outs[i] = {}
      g:add(session.exec(client, "c1", "echo hi", { stdout = function(s) table.insert(outs[i], s) end }))
    end
    local made = core.now() - t0
    local longest = drive(g)
    local total = core.now() - t0
    -- three requests in a row (create, start, inspect), each 2 s late
    print(("\n[20 sessions, every answer 2 s late: made in %d ms, done in %d ms, longest step %d ms]")
      :format(made, total, longest))
    assert.is_true(made < 500, "creating took " .. made .. " ms")
    assert.is_true(longest < 500, "a step took " .. longest .. " ms")
    assert.is_true(total < 12000, "took " .. total .. " ms (one after another: 120 s)")
    for i, r in ipairs(g:results()) do
      assert.same({ ok = true, how = "exit", code = 0 }, r, "session " .. i)
      assert.equal("hi\n", table.concat(outs[i]))
    end
  end)

  it("reports a failure to connect from result(), not from session.exec", function()
    local client = dockerpty.client.new{ host = "unix:///nonexistent/dockerpty.sock", version = "1.41" }
    local ok, s = pcall(session.exec, client, "c1", "true")
    assert.is_true(ok)
    drive(s)
    local rok, err = pcall(s.result, s)
    assert.is_false(rok)
    assert.equal("connection", err.kind)
    assert.matches("/nonexistent/dockerpty.sock", err.message, 1, true)
  end)

  it("refuses misuse at the call", function()
    local client = dockerpty.client.new{ host = "unix:///nonexistent", version = "1.41" }
    assert.has_error(function() session.exec(nil, "c1", "true") end,
      "bad argument #1 to 'exec' (table expected, got no value)")
    assert.has_error(function() session.exec(client, "", "true") end,
      "bad argument #2 to 'exec' (id string or table with Id expected, got empty string)")
    local s = session.exec(client, "c1", "true")
    assert.has_error(function() s:result() end, "session:result() before the session has finished")
    s:close()
  end)
end)

describe("the session engine on the daemon #docker", function()
  local client
  local made = {}

  setup(function() client = dockerpty.client.from_env() end)
  teardown(function()
    for _, id in ipairs(made) do pcall(client.remove_container, client, id, { force = true }) end
    client:close()
  end)

  local function running()
    local id = client:create_container{ image = IMAGE, command = { "sleep", "300" },
      host_config = { NetworkMode = "none" } }.Id
    made[#made + 1] = id
    client:start(id)
    return id
  end

  it("runs a group whose sessions end at different times, each result its own", function()
    local id = running()
    local g = session.group()
    local order = {}
    local list = {}
    for i, secs in ipairs({ "0.6", "0", "0.3" }) do
      list[i] = session.exec(client, id, { "sh", "-c", "sleep $0; echo $0; exit " .. i, secs }, {
        stdout = function(s) order[#order + 1] = s end })
      g:add(list[i])
    end
    drive(g)
    assert.same({ "0\n", "0.3\n", "0.6\n" }, order)
    assert.same({ { ok = nil, how = "exit", code = 1 }, { ok = nil, how = "exit", code = 2 },
      { ok = nil, how = "exit", code = 3 } }, g:results())
    assert.is_true(list[2]:finished())
  end)

  it("keeps two independent loops in one process, one stepped inside the other's output", function()
    local id = running()
    local inner = session.exec(client, id, { "sh", "-c", "echo inner" }, { stdout = false })
    local seen = {}
    local outer = session.exec(client, id, { "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done" }, {
      stdout = function(s)
        seen[#seen + 1] = s
        inner:step()            -- another session, from inside this one's step
      end })
    drive(outer)
    drive(inner)
    assert.same({ true, "exit", 0 }, { outer:result() })
    assert.same({ true, "exit", 0 }, { inner:result() })
    assert.equal("1\n2\n3\n", table.concat(seen))
  end)

  it("refuses to step a session from inside its own step", function()
    local id = running()
    local s
    local err
    s = session.exec(client, id, { "echo", "x" }, { stdout = function()
      err = select(2, pcall(s.step, s))
    end })
    drive(s)
    assert.matches("called from inside its own step", err)
    assert.same({ true, "exit", 0 }, { s:result() })
  end)

  it("is stepped from inside luv callbacks (uv.new_poll on pollfd, a timer for timeout)", function()
    local uv = require("luv")
    local id = running()
    local out = {}
    local s = session.exec(client, id, { "sh", "-c", "sleep 0.2; echo from-luv; exit 5" }, {
      stdout = function(d) out[#out + 1] = d end })
    local poll, timer, ticks = uv.new_poll(s:pollfd()), uv.new_timer(), 0
    local result
    local function kick()
      if s:step() then
        poll:stop(); poll:close(); timer:close()
        result = { s:result() }
        return
      end
      timer:stop()
      local t = s:timeout()
      if t then timer:start(math.ceil(t * 1000), 0, kick) end
    end
    poll:start("r", kick)
    timer:start(0, 0, kick)
    local ticker = uv.new_timer()
    ticker:start(10, 10, function()
      ticks = ticks + 1
      if result then ticker:stop(); ticker:close() end
    end)
    uv.run()
    assert.same({ nil, "exit", 5 }, result)
    assert.equal("from-luv\n", table.concat(out))
    assert.is_true(ticks >= 10, "the luv loop was blocked: " .. ticks .. " ticks")
    s:close()
  end)

  it("waits inside a cqueues coroutine without blocking the controller", function()
    local cqueues = require("cqueues")
    local id = running()
    local cq = cqueues.new()
    local res, ticks, done = nil, 0, false
    cq:wrap(function()
      local s = session.exec(client, id, { "sh", "-c", "sleep 0.3; exit 4" }, {})
      res = { s:wait(cqueues.poll) }
      cqueues.cancel(s:pollfd())
      s:close()
      done = true
    end)
    cq:wrap(function()
      while not done do ticks = ticks + 1; cqueues.sleep(0.01) end
    end)
    assert(cq:loop())
    assert.same({ nil, "exit", 4 }, res)
    assert.is_true(ticks >= 10, "the controller was blocked: " .. ticks .. " ticks")
  end)

  it("gives no such container from result() and leaves no exec behind", function()
    local s = session.exec(client, "dockerpty-no-such-container", "true")
    drive(s)
    local ok, err = pcall(s.result, s)
    assert.is_false(ok)
    assert.equal(404, err.status)
    assert.matches("no such container", err.message)
  end)
end)

describe("the loop's process state", function()
  local tc = require("dockerpty_test")

  it("is given back when a memory error is raised inside run (handlers, busy flag)", function()
    local raised, finished = 0, 0
    for n = 0, 60 do
      local r, w = tc.pipe()
      core.write(w, ("x"):rep(1000))
      tc.close(w)
      local lp = core.loop()
      local got = {}
      lp:add(core.pump{ from = r, to = function(s) got[#got + 1] = s end })
      lp:signals({ "USR1", "USR2" })
      assert.equal("default", tc.disposition("USR1"))
      tc.fail_alloc_after(n)
      local ok, err = pcall(lp.run, lp, 2000)
      tc.restore_alloc()
      if ok then finished = finished + 1 else
        raised = raised + 1
        assert.matches("not enough memory", tostring(err))
      end
      -- whatever happened: no handler left, the loop usable again
      assert.equal("default", tc.disposition("USR1"))
      assert.equal("default", tc.disposition("USR2"))
      assert.is_false(lp:running())
      local lp2 = core.loop():add(core.pump{ from = "again", to = function() end })
      lp2:signals({ "USR1" })
      assert.equal("done", lp2:run(1000))
      tc.close(r)
    end
    -- the path was taken, and so was the way through
    assert.is_true(raised > 0, "no allocation failed inside run")
    assert.is_true(finished > 0, "run never got through")
  end)

  it("is given back when a memory error is raised inside step", function()
    local raised = 0
    for n = 0, 40 do
      local lp = core.loop():add(core.pump{ from = ("y"):rep(5000), to = function() end })
      local function run() while not lp:step() do end end   -- made before memory fails
      tc.fail_alloc_after(n)
      local ok = pcall(run)
      tc.restore_alloc()
      if not ok then raised = raised + 1 end
      assert.is_false(lp:running())
      while not lp:step() do end     -- and it goes on from where it was
    end
    assert.is_true(raised > 0)
  end)
end)
