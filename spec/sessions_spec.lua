-- Many sessions in one process and one poll loop (issue 7).
local dockerpty = require("dockerpty")
local session = dockerpty.session
local core = dockerpty.core

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"

describe("dockerpty.session #docker", function()
  local client
  local made = {}

  local function create(opts)
    opts.image = IMAGE
    opts.host_config = { NetworkMode = "none" }
    local r = client:create_container(opts)
    made[#made + 1] = r.Id
    return r.Id
  end

  setup(function() client = dockerpty.client.from_env() end)
  teardown(function()
    for _, id in ipairs(made) do pcall(client.remove_container, client, id, { force = true }) end
    client:close()
  end)

  it("drives 50 exec sessions in 50 containers at once, each with its own stdin and sinks", function()
    local n = 50
    local ids = {}
    for i = 1, n do
      ids[i] = create{ command = { "sleep", "300" } }
      client:start(ids[i])
    end
    local outs, errs, sessions = {}, {}, {}
    local t0 = core.now()
    for i = 1, n do
      outs[i], errs[i] = {}, {}
      local cmd = { "sh", "-c", "wc -c; echo err-$0 >&2; exit $0", tostring(i) }
      sessions[i] = session.exec(client, ids[i], cmd, {
        stdin = string.rep("x", i * 1000),
        stdout = function(s) table.insert(outs[i], s) end,
        stderr = function(s) table.insert(errs[i], s) end,
      })
    end
    local results = session.run_all(sessions, { timeout = 60000 })
    local elapsed = core.now() - t0
    for i = 1, n do
      assert.equal(tostring(i * 1000), table.concat(outs[i]):match("%d+"), "session " .. i)
      assert.equal("err-" .. i .. "\n", table.concat(errs[i]), "session " .. i)
      assert.same({ ok = nil, how = "exit", code = i }, results[i])
    end
    print(("\n50 concurrent exec sessions: %d ms (create, start and run)"):format(elapsed))
  end)

  it("runs at most `parallel` sessions at once, the next as one ends, results in list order", function()
    local id = create{ command = { "sh", "-c", "mkdir -p /tmp/run; exec sleep 300" } }
    client:start(id)
    local outs, sessions = {}, {}
    -- each prints how many others run as it starts
    local script = "mkdir -p /tmp/run; ls /tmp/run | wc -l; touch /tmp/run/$0; sleep 0.3; rm /tmp/run/$0; exit $0"
    for i = 1, 6 do
      outs[i] = {}
      sessions[i] = session.exec(client, id, { "sh", "-c", script, tostring(i) },
        { stdin = false, stdout = function(s) table.insert(outs[i], s) end })
    end
    local ended = {}
    local results = session.run_all(sessions, { parallel = 2, timeout = 60000,
      on_finish = function(i, s)
        assert.equal(sessions[i], s)
        assert.is_true(s:finished())
        ended[#ended + 1] = i
      end })
    table.sort(ended)
    assert.same({ 1, 2, 3, 4, 5, 6 }, ended)
    for i = 1, 6 do
      assert.same({ ok = nil, how = "exit", code = i }, results[i])
      assert(tonumber(table.concat(outs[i])) <= 1, ("session %d started beside %s others"):format(i,
        table.concat(outs[i])))
    end
    assert.has_error(function() session.run_all({}, { parallel = 0 }) end,
      "bad argument #2 to 'run_all' (option 'parallel': positive integer expected, got 0)")
  end)

  it("runs attach sessions, reports errors per session and a timeout", function()
    local a = create{ command = { "sh", "-c", "cat; echo done" }, stdin_open = true }
    local b = create{ command = { "sh", "-c", "echo b-out; exit 5" } }
    local out_a, out_b = {}, {}
    local results = session.run_all({
      session.run(client, a, { stdin = "to-a\n", stdout = function(s) out_a[#out_a + 1] = s end }),
      session.run(client, b, { stdout = function(s) out_b[#out_b + 1] = s end }),
      session.run(client, "dockerpty-no-such-container", {}),
    })
    assert.same({ ok = true, how = "exit", code = 0 }, results[1])
    assert.same({ ok = nil, how = "exit", code = 5 }, results[2])
    assert.equal("to-a\ndone\n", table.concat(out_a))
    assert.equal("b-out\n", table.concat(out_b))
    assert.equal("error", results[3].how)
    assert.equal(404, results[3].error.status)

    local slow = create{ command = { "sleep", "30" } }
    local t0 = core.now()
    results = session.run_all({ session.run(client, slow, { stdout = false }) }, { timeout = 500 })
    assert.same({ how = "timeout" }, results[1])
    assert.is_true(core.now() - t0 < 3000)
  end)
end)
