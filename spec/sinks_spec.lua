-- Our own output in hostile surroundings, side by side with the docker CLI
-- on the same daemon: a reader that goes away, a full disk, a stdout pipe
-- shared with another writer, a terminal after the process was killed.
local dockerpty = require("dockerpty")
local tmux = require("support.tmux")
local core = dockerpty.core
local tc = require("dockerpty_test")

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
local shq = tmux.shquote
local DP = ("env LUA_PATH=%s LUA_CPATH=%s lua5.4 bin/dockerpty"):format(shq(package.path),
  shq(package.cpath))
local DOCKER = "env -u LD_PRELOAD docker"

-- Run a shell line with bash; returns stdout, stderr, and the time in ms.
local function bash(line)
  local errf = os.tmpname()
  local t0 = core.now()
  local p = assert(io.popen(("bash -c %s 2>%s </dev/null"):format(shq(line), errf)))
  local out = p:read("a")
  p:close()
  local t = core.now() - t0
  local f = assert(io.open(errf, "rb"))
  local err = f:read("a")
  f:close()
  os.remove(errf)
  return out, err, t
end

describe("our own output #docker", function()
  local client
  local made, names = {}, {}
  setup(function() client = dockerpty.client.from_env() end)
  teardown(function()
    -- what `yes` left running (docker leaves its container running too)
    for _, n in ipairs(names) do made[#made + 1] = n end
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

  -- a run with a name of its own, for the teardown
  local function RUN()
    names[#names + 1] = ("dockerpty-sinks-%d-%d"):format(tc.getpid(), #names + 1)
    return " run --rm --network none --name " .. names[#names] .. " " .. IMAGE
  end

  it("ends at once when the reader goes away (yes | head -1): status 1 and docker's words", function()
    local line = "%s%s yes | head -1; echo status ${PIPESTATUS[0]}"
    local theirs, terr = bash(line:format(DOCKER, RUN()))
    local ours, oerr, t = bash(line:format(DP, RUN()))
    assert.equal("y\nstatus 1\n", theirs)
    assert.equal(theirs, ours)
    assert.equal("write /dev/stdout: broken pipe\n", terr)
    assert.equal("dockerpty: " .. terr, oerr)
    assert.is_true(t < 10000, "took " .. t .. " ms")
  end)

  it("the same for an exec, where the docker CLI dies of SIGPIPE without a word", function()
    local id = running()
    local line = "%s exec " .. id .. " yes | head -1; echo status ${PIPESTATUS[0]}"
    local theirs, terr = bash(line:format(DOCKER))
    local ours, oerr = bash(line:format(DP))
    assert.same({ "y\nstatus 141\n", "" }, { theirs, terr })   -- 128 + SIGPIPE
    assert.same({ "y\nstatus 1\n", "dockerpty: write /dev/stdout: broken pipe\n" }, { ours, oerr })
  end)

  it("reports a full disk (/dev/full) with status 1", function()
    local line = "%s%s echo hi >/dev/full; echo status $?"
    local theirs, terr = bash(line:format(DOCKER, RUN()))
    local ours, oerr = bash(line:format(DP, RUN()))
    assert.equal("status 1\n", theirs)
    assert.equal(theirs, ours)
    assert.equal("write /dev/stdout: no space left on device\n", terr)
    assert.equal("dockerpty: " .. terr, oerr)
  end)

  it("leaves a stdout pipe it shares with another writer blocking for that writer", function()
    local id = running()
    local line = ("{ %s exec %s sleep 3 & sleep 1; head -c 2000000 /dev/zero; wait; } | (sleep 2; wc -c)")
    local theirs, terr = bash(line:format(DOCKER, id))
    local ours, oerr = bash(line:format(DP, id))
    assert.equal("2000000", theirs:match("%d+"))
    assert.equal(theirs, ours)
    assert.equal("", terr)
    assert.equal("", oerr)
  end)

  it("a library session reports a reader gone as an io error", function()
    local id = running()
    local r, w = tc.pipe()
    tc.close(r)
    finally(function() tc.close(w) end)
    local s = dockerpty.session.exec(client, id, { "yes" }, { stdout = w })
    local ok, err = pcall(s.wait, s)
    assert.is_false(ok)
    assert.same({ "io", "EPIPE", "dockerpty: write /dev/stdout: broken pipe" },
      { err.kind, err.name, err.message })
    s:close()
  end)

  it("leaves the terminal blocking for the shell after the process is killed #tty", function()
    local id = running()
    local probe = ("lua5.4 -e %s"):format(shq("print('nonblock', require('dockerpty.core').nonblock(0))"))
    local t = tmux.new{ cmd = { "sh", "-c", ("%s exec -it %s sh; %s; sleep 30"):format(DP, id, probe) },
      rows = 20, cols = 80 }
    finally(function() t:kill() end)
    t:wait_for("/ #")
    -- the client process (not tmux, not the shell): kill -9, no chance to restore
    -- (lua5.4 by its full path through make SANITIZE=1's shim)
    local pg = io.popen("pgrep -f '^(/[^ ]*/)?lua5.4 bin/dockerpty exec -it " .. id .. "'")
    local pids = pg:read("a")
    pg:close()                -- reaped now: no zombie child for later specs
    local pid = assert(pids:match("%d+"), "no dockerpty process")
    assert.is_true(os.execute("kill -KILL " .. pid))
    t:wait_for("nonblock%s+false")
  end)
end)
