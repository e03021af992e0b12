-- spec/detach_spec.lua: detach keys (issue 14): `detach_keys = ""` turns
-- detaching off, locally and in the daemon, so Ctrl-P Ctrl-Q reach the
-- container; a prefix of the keys followed by another key is passed on at
-- once. Through tmux against the real daemon, with a container that prints
-- each byte it reads in hex.
--
-- The daemon's side: an empty detachKeys means ctrl-p,ctrl-q to Docker's
-- daemon (attach and exec create) and to Podman's exec create; Podman's
-- attach takes it as none. So "" sends config.NO_DETACH_ATTACH or
-- config.NO_DETACH_EXEC instead, on both engines (the specs below run on
-- each).
local config = require("dockerpty.config")
local core = require("dockerpty.core")

describe("config.parse_detach_keys and config.daemon_detach_keys", function()
  it("takes \"\" as no keys, and anything else as parse_keys does", function()
    assert.equal("", config.parse_detach_keys(""))
    assert.equal("\16\17", config.parse_detach_keys("ctrl-p,ctrl-q"))
    assert.same({ nil, "invalid detach keys: shift-z", "invalid" }, { config.parse_detach_keys("shift-z") })
  end)

  it("keeps an option \"\" over the config and the default", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    finally(function() os.execute("rm -rf " .. dir) end)
    local f = assert(io.open(dir .. "/config.json", "w"))
    f:write('{"detachKeys": "ctrl-a,a"}')
    f:close()
    local getenv = function(k) return k == "DOCKER_CONFIG" and dir or nil end
    assert.equal("", config.detach_keys("", getenv))
    assert.equal("ctrl-a,a", config.detach_keys(nil, getenv))
  end)

  it("sends the daemon the spec, or for \"\" keys nobody types", function()
    assert.equal("ctrl-x,y", config.daemon_detach_keys("ctrl-x,y", "attach"))
    assert.equal("ctrl-x,y", config.daemon_detach_keys("ctrl-x,y", "exec"))
    local attach = config.daemon_detach_keys("", "attach")
    assert.equal(string.rep("\255", 16), core.parse_keys(attach))
    local exec = config.daemon_detach_keys("", "exec")
    assert.equal("\28" .. string.rep("\0", 15), core.parse_keys(exec))
    assert.is_nil(exec:find("[\128-\255]"))   -- JSON carries it unchanged: ASCII
  end)
end)

describe("detach keys in a real terminal #docker #tty", function()
  local dockerpty = require("dockerpty")
  local tmux = require("support.tmux")
  local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
  -- raw, no flow control: every byte is read and shown as "got <hex>"; x ends it
  local ECHO = "stty raw -echo -ixon; printf 'ready\\r\\n'; while :; do " ..
    "b=$(dd bs=1 count=1 2>/dev/null | od -An -tx1 | tr -d ' '); printf 'got %s\\r\\n' \"$b\"; " ..
    "[ \"$b\" = 78 ] && exit 3; done"

  local client
  local made, sessions = {}, {}

  setup(function() client = dockerpty.client.from_env() end)
  teardown(function()
    for _, t in ipairs(sessions) do t:kill() end
    for _, id in ipairs(made) do pcall(client.remove_container, client, id, { force = true }) end
    client:close()
  end)

  local function container(cmd)
    local r = client:create_container{ image = IMAGE, command = cmd, tty = true, stdin_open = true,
      host_config = { NetworkMode = "none" } }
    made[#made + 1] = r.Id
    return r.Id
  end

  local function session(args)
    local cmd = { "lua5.4", "spec/support/attach.lua" }
    for _, a in ipairs(args) do cmd[#cmd + 1] = a end
    local t = tmux.new{ cmd = cmd, rows = 20, cols = 60 }
    sessions[#sessions + 1] = t
    return t
  end

  local function result(t)
    local screen = t:wait_for("%[%[TERMIOS %a+%]%]", 10)
    local flat = screen:gsub("\n", "")
    return { flat:match("%[%[RESULT (%S+) (%S+) (%S+)%]%]") }, flat:match("%[%[TERMIOS (%a+)%]%]"), screen
  end

  -- Each key typed shows up as its "got" line before the next one is typed.
  local function typed(t, key, hex, n)
    t:keys(key)
    t:wait_for(function(s)
      local c = 0
      for _ in (s .. "\n"):gmatch("got " .. hex .. "\n") do c = c + 1 end
      return c >= n
    end)
  end

  local function off_cases(name, open)
    it(name .. ": detach_keys = \"\" passes Ctrl-P Ctrl-Q to the container", function()
      local t = open('{detach_keys = ""}')
      t:wait_for("ready")
      typed(t, "C-p", "10", 1)
      typed(t, "C-q", "11", 1)
      typed(t, "C-p", "10", 2)
      typed(t, "C-q", "11", 2)
      -- on exec, a ctrl-\ is held by the daemon until a key that does not
      -- continue config.NO_DETACH_EXEC: these arrive together with the x
      t:keys("C-\\"); t:keys("C-@"); t:keys("x")
      local res, termios, screen = result(t)
      assert.same({ "nil", "exit", "3" }, res)
      assert.equal("same", termios)
      assert.matches("got 10\ngot 11\ngot 10\ngot 11\ngot 1c\ngot 00\ngot 78\n", screen, 1, true)
    end)

    it(name .. ": a prefix of the keys then another key is sent on at once; the keys still detach", function()
      local t = open(nil)
      t:wait_for("ready")
      typed(t, "C-p", "10", 0)       -- held: nothing yet
      assert.is_nil(t:screen():find("got 10", 1, true))
      typed(t, "a", "61", 1)         -- released with the key that broke the match
      assert.matches("got 10\ngot 61", t:screen(), 1, true)
      t:keys("C-p", "C-q")
      local res, termios = result(t)
      assert.same({ "true", "detach" }, { res[1], res[2] })
      assert.equal("same", termios)
    end)
  end

  off_cases("dockerpty.start", function(opts)
    local id = container({ "sh", "-c", ECHO })
    return session({ "run", id, opts })
  end)

  off_cases("dockerpty.exec_command", function(opts)
    local id = container({ "sleep", "300" })
    client:start(id)
    return session({ "exec", id, "sh -c '" .. ECHO:gsub("'", "'\\''") .. "'", opts })
  end)
end)
