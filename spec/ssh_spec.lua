-- The ssh transport's child process (src/ssh.c), without sshd: the
-- endpoint's `ssh` argv can be any command whose stdin and stdout carry the
-- stream, so `sh -c ...` children show spawning, half-close, the stderr
-- line in errors, reaping and the fds a child gets. The real thing, over
-- the rig's sshd, is in remote_spec.lua.
local core = require("dockerpty.core")
local errors = require("dockerpty.errors")

local function me()
  return io.open("/proc/self/stat"):read("l"):match("^%d+")
end

-- Our children: pid -> state letter (after the listing's own is reaped).
local function children()
  local pids, kids = {}, {}
  local p = io.popen("ls /proc")
  for pid in p:lines() do pids[#pids + 1] = pid end
  p:close()
  local self = me()
  for _, pid in ipairs(pids) do
    local f = pid:find("^%d+$") and io.open("/proc/" .. pid .. "/stat")
    if f then
      local state, ppid = f:read("l"):match("^%d+ %b() (%S) (%d+)")
      f:close()
      if ppid == self then kids[tonumber(pid)] = state end
    end
  end
  return kids
end

local function recv_all(conn)
  local parts = {}
  while true do
    local s, err, name = conn:recv(65536, 5000)
    if not s then
      if name == "closed" then break end
      return nil, err, name
    end
    parts[#parts + 1] = s
  end
  return table.concat(parts)
end

describe("the ssh transport's child", function()
  it("carries bytes both ways and half-closes: the child sees EOF, output goes on", function()
    local conn = assert(core.connect{ ssh = { "sh", "-c", "cat; echo after-eof" }, where = "ssh://t" })
    local data = ("x"):rep(300000)
    assert.equal(#data, conn:send(data, 5000))
    assert.is_true(conn:shutdown())
    assert.equal(data .. "after-eof\n", recv_all(conn))
    conn:close()
    assert.same({}, children())
  end)

  it("gives the child only stdin, stdout and stderr, in a session of its own", function()
    local conn = assert(core.connect{ ssh = { "sh", "-c",
      "ps -o sid= -p $$; echo $$; exec ls -l /proc/self/fd/" }, where = "ssh://t" })
    local out = recv_all(conn)
    conn:close()
    local sid, pid = out:match("^%s*(%d+)\n(%d+)\n")
    assert.equal(pid, sid, "the child leads its own session")
    local fds = {}
    for fd, target in out:gmatch("\n[^\n]- (%d+) %-> ([^\n]+)") do
      -- ls's own descriptor on the directory it lists aside
      if not target:find("^/proc/%d+/fd$") then fds[#fds + 1] = fd .. " " .. target:gsub("%[%d+%]", "") end
    end
    assert.same({ "0 socket:", "1 socket:", "2 pipe:" }, fds, out)
  end)

  it("reports the child's last stderr line, naming the endpoint", function()
    local h = core.http{ ssh = { "sh", "-c", "echo one >&2; echo 'Permission denied (publickey).' >&2; exit 255" },
      where = "ssh://u@h" }
    local ok, msg, name = h:request("GET", "/_ping", nil, nil, 5000)
    assert.same({ nil, "Permission denied (publickey).", "ssh", true }, { ok, msg, name, h:unreached() })
    assert.equal("cannot connect to the Docker daemon at ssh://u@h: Permission denied (publickey).",
      errors.connect_message("ssh://u@h", msg, name))
    h:close()
    local conn = assert(core.connect{ ssh = { "sh", "-c", "exec >&-; echo gone >&2; exit 1" }, where = "ssh://h" })
    conn:send("GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
    local st, reason, n = conn:read_head(5000)
    assert.same({ nil, "gone", "ssh" }, { st, reason, n })
    conn:close()
    assert.equal("cannot connect to the Docker daemon at ssh://h: gone", errors.connect_message("ssh://h", reason, n))
    -- a send into a child that is gone says the same, with the bytes sent
    conn = assert(core.connect{ ssh = { "sh", "-c", "exec <&- >&-; echo bye >&2; exit 2" }, where = "ssh://h" })
    local sent, why, sname, count
    for _ = 1, 100 do
      sent, why, sname, count = conn:send(("x"):rep(65536), 5000)
      if not sent then break end
    end
    assert.same({ nil, "bye", "ssh" }, { sent, why, sname })
    assert.is_true(math.type(count) == "integer")
    conn:close()
    -- without a word on stderr: how it ended
    h = core.http{ ssh = { "sh", "-c", "exit 3" }, where = "ssh://h" }
    assert.same({ nil, "ssh exited with status 3", "ssh" }, { h:request("GET", "/_ping", nil, nil, 5000) })
    assert.is_true(h:unreached())
    h:close()
    assert.same({}, children())
  end)

  it("says when the program is not found", function()
    local ok, msg, name = core.connect{ ssh = { "dockerpty-no-such-ssh" }, where = "ssh://h" }
    assert.same({ nil, "cannot run dockerpty-no-such-ssh: No such file or directory", "ENOENT" },
      { ok, msg, name })
    -- a REST request over the same fails in the same shape, the daemon unreached
    local h = core.http{ ssh = { "dockerpty-no-such-ssh" }, where = "ssh://h" }
    local r = { h:request("GET", "/_ping") }
    r[4] = h:unreached()
    assert.same({ nil, msg, name, true }, r)
    h:close()
    assert.same({}, children())
  end)

  it("turns a child killed mid-stream into an error, not an EOF", function()
    local conn = assert(core.connect{ ssh = { "sh", "-c", "echo ready; exec sleep 60" }, where = "ssh://h" })
    assert.equal("ready\n", conn:recv(100, 5000))
    local pid = next(children())
    os.execute("kill -KILL " .. pid)
    local t0 = core.now()
    local s, msg, name = conn:recv(100, 5000)
    assert.same({ nil, "ssh://h: ssh was killed by signal 9", "ECONNABORTED" }, { s, msg, name })
    assert.is_true(core.now() - t0 < 2000)
    conn:close()
    assert.same({}, children())
  end)

  it("ends and reaps a child that ignores EOF on close, and one that ignores SIGTERM", function()
    local a = assert(core.connect{ ssh = { "sh", "-c", "exec sleep 60" }, where = "ssh://h" })
    local b = assert(core.connect{ ssh = { "sh", "-c", "trap '' TERM; echo ok; while :; do sleep 0.1; done" },
      where = "ssh://h" })
    assert.equal("ok\n", b:recv(10, 5000))
    local n = 0
    for _ in pairs(children()) do n = n + 1 end
    assert.equal(2, n)
    local t0 = core.now()
    a:close()
    assert.is_true(core.now() - t0 < 1000)
    b:close()   -- SIGTERM ignored: SIGKILL after 2 s
    assert.is_true(core.now() - t0 < 4000)
    assert.same({}, children(), "no child and no zombie")
    -- the same through __gc
    local c = assert(core.connect{ ssh = { "sh", "-c", "exec sleep 60" }, where = "ssh://h" })
    assert.is_table(c and children())
    c = nil  -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    assert.same({}, children())
  end)

  it("rejects bad ssh endpoints as misuse", function()
    assert.has_error(function() core.connect{ ssh = {} } end,
      "bad argument #1 to 'connect' (field 'ssh' must hold 1 to 64 strings)")
    assert.has_error(function() core.connect{ ssh = { 1 } } end,
      "bad argument #1 to 'connect' (field 'ssh' must be a table of strings)")
    assert.has_error(function() core.http{ ssh = { "ssh" }, socket = "/x" } end,
      "bad argument #1 to 'http' (fields 'socket', 'url' and 'ssh' are exclusive)")
    assert.has_error(function() core.http{ ssh = { "ssh" }, transport = "libcurl" } end,
      "bad argument #1 to 'http' (field 'transport' \"libcurl\" cannot carry 'ssh')")
  end)
end)
