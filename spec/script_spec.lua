-- spec/script_spec.lua: scripted sessions (send, expect, close_stdin) and
-- recordings of real sessions (issue 12), against the rig's daemon; the
-- recordings are checked line by line with a JSON parser and played back
-- by Debian's asciinema in a real terminal (tmux).
--
-- Podman (ENGINE=podman): the same specs pass unchanged. The one
-- difference seen is in how the bytes come, not in what comes: Podman
-- splits a tty's echo of a sent line into other pieces ("e", "cho hi..."
-- where Docker sends "echo hi..." at once), so a recording has other event
-- boundaries. Nothing here depends on them: expect matches across pieces
-- and the specs compare the recordings' concatenated text.
local cjson = require("cjson")
local dockerpty = require("dockerpty")
local session = dockerpty.session
local core = dockerpty.core
local tmux = require("support.tmux")

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
local PROMPT = "# "

local function tmpname()
  local p = os.tmpname()
  finally(function() os.remove(p) end)
  return p
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Every line of a recording, parsed (raises on a line that is not JSON):
-- the header and the list of events.
local function parse(text)
  local lines = {}
  for line in text:gmatch("([^\n]*)\n") do
    local ok, v = pcall(cjson.decode, line)
    assert(ok, "not JSON: " .. line)
    lines[#lines + 1] = v
  end
  assert.equal("\n", text:sub(-1))
  local header = table.remove(lines, 1)
  return header, lines
end

-- The text of the events of one code, concatenated; and their count.
local function events(list, code)
  local parts = {}
  for _, e in ipairs(list) do
    if e[2] == code then parts[#parts + 1] = e[3] end
  end
  return table.concat(parts), #parts
end

-- `asciinema cat` needs a terminal (it opens /dev/tty): run it in tmux,
-- its output into a file; returns those bytes.
local function asciinema_cat(path)
  local out = tmpname()
  local t = tmux.new{ cmd = ("asciinema cat %s > %s; echo END; sleep 60"):format(path, out),
    rows = 10, cols = 60, term = "xterm-256color", env = { LANG = "C.UTF-8", LC_ALL = "C.UTF-8" } }
  finally(function() t:kill() end)
  t:wait_for("END", 20)
  return read(out)
end

describe("core.pump tap", function()
  it("is told of each piece and its stream, also for a sink that is false", function()
    local seen, out = {}, {}
    -- a demultiplexed source: a stdout frame, a stderr frame, a stdout frame
    local function frame(stream, data)
      return string.char(stream, 0, 0, 0) .. string.pack(">I4", #data) .. data
    end
    local p = core.pump{ from = frame(1, "one ") .. frame(2, "two ") .. frame(1, "three"),
      to = function(c) out[#out + 1] = c end, err = false, demux = true,
      tap = function(c, stream) seen[#seen + 1] = stream .. ":" .. c end }
    local lp = core.loop()
    lp:add(p)
    lp:run()
    assert.same({ "stdout:one ", "stderr:two ", "stdout:three" }, seen)
    assert.equal("one three", table.concat(out))
  end)

  it("an error in the tap ends the loop with it", function()
    local p = core.pump{ from = "x", to = false, tap = function() error("tap failed", 0) end }
    local lp = core.loop()
    lp:add(p)
    assert.has_error(function() lp:run() end, "tap failed")
  end)
end)

describe("scripted sessions #docker", function()
  local client
  local made = {}
  local box

  local function create(opts)
    opts.image = IMAGE
    opts.host_config = { NetworkMode = "none" }
    local r = client:create_container(opts)
    made[#made + 1] = r.Id
    return r.Id
  end

  setup(function()
    client = dockerpty.client.from_env()
    box = create{ command = { "sleep", "600" } }
    client:start(box)
  end)
  teardown(function()
    for _, id in ipairs(made) do pcall(client.remove_container, client, id, { force = true }) end
    client:close()
  end)

  local function execs()
    local ids = client:inspect_container(box).ExecIDs
    return type(ids) == "table" and #ids or 0
  end

  it("answers a shell's prompt with a tty: its echo, the answer, the exit code", function()
    local seen = {}
    local s <close> = session.exec(client, box, "sh", { tty = true, stdin = true,
      stdout = function(c) seen[#seen + 1] = c end })
    assert.equal(1, (s:expect(PROMPT, { plain = true, timeout = 10 })))
    s:send("echo $((6 * 7))\r")
    -- the tty echoes what was sent, then the answer on its own line
    local i, before, answer = s:expect("\r\n(%d+)\r\n", { timeout = 10 })
    assert.same({ 1, "42" }, { i, answer })
    assert.truthy(before:find("echo $((6 * 7))", 1, true))
    local k = s:expect({ "no such", PROMPT }, { plain = true })
    assert.equal(2, k)
    s:send("exit 7\r")
    assert.same({ nil, "exit", 7 }, { s:wait() })
    -- the session's own sink got all the output as it came
    local all = table.concat(seen)
    assert.truthy(all:find("\r\n42\r\n", 1, true))
    assert.truthy(all:find("exit 7", 1, true))
  end)

  it("matches stdout and stderr apart without a tty", function()
    local out, err = {}, {}
    local s <close> = session.exec(client, box,
      { "sh", "-c", "read a; echo out:$a; echo err:$a >&2; read b; echo more:$b >&2; exit 2" },
      { stdin = true, stdout = function(c) out[#out + 1] = c end,
        stderr = function(c) err[#err + 1] = c end })
    s:send("one\n")
    -- stderr is matched on its own: stdout's text never satisfies it
    assert.same({ 1, "", "one" }, { s:expect("err:(%w+)\n", { stream = "stderr", timeout = 10 }) })
    assert.same({ 1, "", "one" }, { s:expect("out:(%w+)\n", { timeout = 10 }) })
    assert.same({ nil, "timeout" }, { s:expect("more", { timeout = 0.3 }) })
    s:send("two\n")
    assert.same({ 1, "", "more:two" }, { s:expect("more:%w+", { stream = "stderr" }) })
    assert.same({ nil, "eof" }, { s:expect("never") })
    assert.same({ nil, "exit", 2 }, { s:wait() })
    assert.equal("out:one\n", table.concat(out))
    assert.equal("err:one\nmore:two\n", table.concat(err))
    assert.equal("\n", s:buffer("stderr"))
  end)

  it("close_stdin half-closes: the process sees EOF and its output still arrives", function()
    local s <close> = session.exec(client, box, { "sh", "-c", "wc -c; sleep 0.3; echo after" },
      { stdin = true, stdout = false })
    s:send("abc")
    s:send("defg\n")
    s:close_stdin()
    s:close_stdin()                                        -- idempotent
    assert.same({ 1, "", "8" }, { s:expect("(%d+)\n", { timeout = 10 }) })
    assert.same({ 1, "", "after\n" }, { s:expect("after\n") })
    assert.same({ true, "exit", 0 }, { s:wait() })
  end)

  it("keeps memory bounded: a big send steps the session until the container has read enough", function()
    local s <close> = session.exec(client, box, { "sh", "-c", "sleep 1; wc -c" },
      { stdin = true, stdout = false })
    local t0 = core.now()
    s:send(string.rep("x", 8 * 1024 * 1024))
    -- nothing reads for a second: send could not return before
    assert.is_true(core.now() - t0 >= 900, "send returned after " .. (core.now() - t0) .. " ms")
    assert.is_true(s:_queued() <= session.SEND_BOUND)
    s:close_stdin()
    assert.same({ 1, "", "8388608" }, { s:expect("(%d+)\n", { timeout = 20 }) })
    assert.same({ true, "exit", 0 }, { s:wait() })
  end)

  it("times out, leaves the text unmatched, and ends with eof", function()
    local s <close> = session.exec(client, box, { "sh", "-c", "printf 'partial line'; sleep 1" },
      { expect = true, stdout = false })
    local t0 = core.now()
    assert.same({ nil, "timeout" }, { s:expect("line\n", { timeout = 0.4 }) })
    local took = core.now() - t0
    assert.is_true(took >= 400 and took < 900, "took " .. took .. " ms")
    assert.equal("partial line", s:buffer())
    assert.same({ nil, "eof" }, { s:expect("line\n", { timeout = 10 }) })
    assert.equal("partial line", s:buffer())
    assert.same({ true, "exit", 0 }, { s:wait() })
  end)

  it("attach sessions (run) with stdin = true: a tty shell in a new container", function()
    local id = create{ command = { "sh" }, tty = true, stdin_open = true }
    local s <close> = session.run(client, id, { stdin = true, stdout = false })
    assert.equal(1, (s:expect(PROMPT, { plain = true, timeout = 10 })))
    -- a tty has no separate stderr; known once the container is inspected
    assert.has_error(function() s:expect("x", { stream = "stderr" }) end,
      "session:expect(): a session with a tty has no separate stderr")
    s:send("exit 4\r")
    assert.same({ nil, "exit", 4 }, { s:wait() })
  end)

  -- body(cqueues, ticks) in a cqueues controller beside a ticker that
  -- counts every 20 ms until body ends (ticks() tells the count so far);
  -- returns the count.
  local function beside_ticker(body)
    local cqueues = require("cqueues")
    local cq = cqueues.new()
    local ticks, done = 0, false
    cq:wrap(function()
      body(cqueues, function() return ticks end)
      done = true
    end)
    cq:wrap(function()
      while not done do ticks = ticks + 1; cqueues.sleep(0.02) end
    end)
    assert(cq:loop())
    return ticks
  end

  it("expect yields inside cqueues (opts.poll) while a ticker runs in the same controller", function()
    local got
    local ticks = beside_ticker(function(cqueues)
      local s = session.exec(client, box, { "sh", "-c", "sleep 0.5; echo ready" },
        { expect = true, stdout = false })
      got = select(3, s:expect("ready", { poll = cqueues.poll }))
      s:wait(cqueues.poll)
      cqueues.cancel(s:pollfd()); s:close()      -- as for any fd cqueues polled
    end)
    assert.equal("ready", got)
    assert.is_true(ticks >= 10, "ticks " .. ticks)
  end)

  it("a big send yields inside cqueues (poll) while a ticker runs in the same controller", function()
    local out = {}
    local during, took, queued
    beside_ticker(function(cqueues, ticks)
      -- nothing reads for a second: send must wait, yielding to the ticker
      local s = session.exec(client, box, { "sh", "-c", "sleep 1; wc -c" },
        { stdin = true, stdout = function(c) out[#out + 1] = c end })
      local t0, before = core.now(), ticks()
      s:send(string.rep("y", 8 * 1024 * 1024), cqueues.poll)
      took, during, queued = core.now() - t0, ticks() - before, s:_queued()
      s:close_stdin()
      assert.same({ true, "exit", 0 }, { s:wait(cqueues.poll) })
      cqueues.cancel(s:pollfd()); s:close()      -- as for any fd cqueues polled
    end)
    assert.is_true(took >= 900, "send returned after " .. took .. " ms")
    assert.is_true(queued <= session.SEND_BOUND, "queued " .. queued)
    -- about 50 ticks a second; a send that blocked the thread would allow none
    assert.is_true(during >= 10, "ticks while send waited: " .. during)
    assert.equal("8388608", table.concat(out):match("%d+"))
  end)

  it("the README's expect example runs as written", function()
    local readme = read("README.md")
    local code = readme:match("## Scripts that type.-```lua\n(.-)```")
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    finally(function() os.execute("rm -rf " .. dir) end)
    local lines = {}
    local env = setmetatable({ client = client, c = box, dockerpty = dockerpty,
      print = function(...) lines[#lines + 1] = table.concat({ tostring(select(1, ...)),
        select(2, ...) }, " ") end }, { __index = _G })
    local chunk = assert(load(code:gsub('"demo.cast"', ("%q"):format(dir .. "/demo.cast")), "README", "t", env))
    chunk()
    assert.same({ "true exit 0" }, lines)
    local _, list = parse(read(dir .. "/demo.cast"))
    assert.truthy(events(list, "o"):find("\r\n42\r\n", 1, true))
  end)

  describe("bad input", function()
    it("refuses send without stdin = true, after close_stdin and after the end", function()
      local s <close> = session.exec(client, box, "true", { stdout = false })
      assert.has_error(function() s:send("x") end,
        "session:send() needs a session opened with stdin = true")
      assert.has_error(function() s:close_stdin() end,
        "session:close_stdin() needs a session opened with stdin = true")
      assert.has_error(function() s:expect("x") end,
        "session:expect() needs a session opened with stdin = true or expect = true")
      local t <close> = session.exec(client, box, "cat", { stdin = true, stdout = false })
      t:close_stdin()
      assert.has_error(function() t:send("x") end, "session:send() after close_stdin()")
      assert.same({ true, "exit", 0 }, { t:wait() })
      local u <close> = session.exec(client, box, "true", { stdin = true, stdout = false })
      u:wait()
      assert.has_error(function() u:send("x") end, "session:send() after the session has finished")
      assert.has_error(function() u:send(42) end, "bad argument #1 to 'send' (string expected, got number)")
    end)

    it("an invalid pattern raises Lua's message naming it, before any step", function()
      local s <close> = session.exec(client, box, "true", { expect = true, stdout = false })
      assert.has_error(function() s:expect("(%d+") end,
        "bad argument #1 to 'expect' (invalid pattern '(%d+': unfinished capture)")
      assert.has_error(function() s:expect({ "ok", "[a-" }) end,
        "bad argument #1 to 'expect' (invalid pattern '[a-': malformed pattern (missing ']'))")
      assert.has_error(function() s:expect("x", { stream = "stdin" }) end,
        "bad argument #2 to 'expect' (stream \"stdout\" or \"stderr\" expected, got \"stdin\")")
      assert.is_false(s:finished())
    end)

    it("expect on stderr with a tty raises", function()
      local s <close> = session.exec(client, box, "sh", { tty = true, stdin = true, stdout = false })
      assert.has_error(function() s:expect("x", { stream = "stderr" }) end,
        "session:expect(): a session with a tty has no separate stderr")
    end)

    it("a recording to an unwritable path fails before anything is created, naming the path", function()
      local before = execs()
      local path = "/nonexistent-dir/x.cast"
      local msg = "dockerpty: cannot write the recording " .. path .. ": No such file or directory"
      local ok, e = pcall(session.exec, client, box, "true", { record = path })
      assert.is_false(ok)
      assert.same({ "usage", msg }, { e.kind, e.message })
      ok, e = pcall(dockerpty.exec_command, client, box, "true", { record = path, interactive = false })
      assert.is_false(ok)
      assert.same({ "usage", msg }, { e.kind, e.message })
      assert.equal(before, execs())
      -- dockerpty.run: before the container is created
      local function count()
        local p = assert(io.popen("docker ps -aq | wc -l"))
        local n = tonumber(p:read("a"))
        p:close()
        return n
      end
      local containers = count()
      ok, e = pcall(dockerpty.run, client, { image = IMAGE, command = "true" }, { record = path })
      assert.is_false(ok)
      assert.same({ "usage", msg }, { e.kind, e.message })
      assert.equal(containers, count())
      assert.has_error(function() session.exec(client, box, "true", { record = 42 }) end,
        "bad argument #4 to 'exec' (option 'record': path, file, function or false expected, got number)")
      assert.has_error(function() dockerpty.exec_command(client, box, "true", { stdin = true }) end,
        "bad argument #4 to 'exec_command' (option 'stdin': true is for sessions (dockerpty.session), "
        .. "a file, fd, string or false expected)")
    end)
  end)

  describe("recordings", function()
    it("records a tty session as asciicast v2 that asciinema plays back #tty", function()
      local path = tmpname()
      local s <close> = session.exec(client, box, "sh", { tty = true, stdin = true, stdout = false,
        record = path, record_input = true })
      s:expect(PROMPT, { plain = true, timeout = 10 })
      s:send("echo caf\195\169 $((40 + 2))\r")
      s:expect("42\r\n", { plain = true })
      s:expect(PROMPT, { plain = true })
      s:send("exit 3\r")
      assert.same({ nil, "exit", 3 }, { s:wait() })
      local header, list = parse(read(path))
      assert.same({ 2, 80, 24, "sh" }, { header.version, header.width, header.height, header.command })
      assert.equal("table", type(header.env))
      local last = 0
      for _, e in ipairs(list) do
        assert.is_true(e[1] >= last)
        last = e[1]
      end
      local out = events(list, "o")
      assert.truthy(out:find("café 42\r\n", 1, true))
      assert.equal("echo café $((40 + 2))\rexit 3\r", (events(list, "i")))
      -- played back: the text, accent included
      local played = asciinema_cat(path)
      assert.equal(out, played)
    end)

    it("records input only with record_input, and stderr as output without a tty", function()
      local lines = {}
      local s <close> = session.exec(client, box, { "sh", "-c", "read a; echo o:$a; sleep 0.2; echo e:$a >&2" },
        { stdin = true, stdout = false, stderr = false, record = function(l) lines[#lines + 1] = l end })
      s:send("secret\n")
      assert.same({ true, "exit", 0 }, { s:wait() })
      local _, list = parse(table.concat(lines, "\n") .. "\n")
      assert.equal("o:secret\ne:secret\n", (events(list, "o")))
      assert.equal(0, select(2, events(list, "i")))
    end)

    it("records dockerpty.run: the header's command is the container's", function()
      local path = tmpname()
      local ok, how, code, id = dockerpty.run(client, { image = IMAGE, command = { "sh", "-c", "echo out; echo err >&2" },
        host_config = { NetworkMode = "none" } }, { interactive = false, stdout = false, stderr = false,
        record = path, auto_remove = true })
      assert.same({ true, "exit", 0 }, { ok, how, code })
      assert.is_string(id)
      local header, list = parse(read(path))
      assert.equal("sh -c 'echo out; echo err >&2'", header.command)
      local out = events(list, "o")
      assert.truthy(out:find("out\n", 1, true) and out:find("err\n", 1, true))
    end)

    it("records dockerpty.start_exec in a terminal: the exec's session, its input with record_input #tty",
      function()
      local path = tmpname()
      local exec = dockerpty.exec_create(client, box, { "sh" }, true)
      local t = tmux.new{ cmd = { "lua5.4", "spec/support/attach.lua", "start_exec", exec.Id,
        ("{record = %q, record_input = true}"):format(path) }, rows = 20, cols = 70 }
      finally(function() t:kill() end)
      t:wait_for("/ #")
      t:send("echo na$((2 * 3))ve"); t:keys("Enter")
      t:wait_for("\nna6ve\n")
      t:send("exit 6"); t:keys("Enter")
      t:wait_for("%[%[RESULT nil exit 6%]%]")
      local header, list = parse(read(path))
      assert.same({ 2, 70, 20 }, { header.version, header.width, header.height })
      assert.equal("sh", header.command)   -- the exec's, from its inspect
      assert.truthy(events(list, "o"):find("\r\nna6ve\r\n", 1, true))
      -- the input also holds the terminal's answers to the shell's cursor
      -- position queries (ESC [ 6 n), which reach it as typed input does
      local typed = events(list, "i")
      assert.truthy(typed:find("echo na$((2 * 3))ve\r", 1, true), typed)
      assert.truthy(typed:find("exit 6\r", 1, true), typed)
      assert.truthy(asciinema_cat(path):find("na6ve", 1, true))
    end)

    it("records dockerpty.start and run: the header's command is what the container runs", function()
      local path = tmpname()
      local id = create{ entrypoint = { "sh", "-c" }, command = { "echo 'a b'; echo $0", "zero" } }
      local ok, how, code = dockerpty.start(client, id, { stdin = false, stdout = false, stderr = false,
        record = path })
      assert.same({ true, "exit", 0 }, { ok, how, code })
      local header, list = parse(read(path))
      assert.equal([[sh -c 'echo '\''a b'\''; echo $0' zero]], header.command)
      assert.equal("a b\nzero\n", (events(list, "o")))
      -- a command of one word (Podman's inspect repeats it as Args)
      assert.same({ true, "exit", 0 }, { dockerpty.start(client, create{ command = { "true" } },
        { stdin = false, stdout = false, stderr = false, record = path }) })
      assert.equal("true", parse(read(path)).command)
      -- dockerpty.run, before it creates the container: entrypoint and command
      ok, how, code = dockerpty.run(client, { image = IMAGE, entrypoint = { "sh", "-c" },
        command = { "exit 3" }, host_config = { NetworkMode = "none" } },
        { stdin = false, stdout = false, stderr = false, record = path, auto_remove = true })
      assert.same({ nil, "exit", 3 }, { ok, how, code })
      assert.equal("sh -c 'exit 3'", parse(read(path)).command)
    end)

    it("records session.run into a file handle, which it flushes and leaves open", function()
      local path = tmpname()
      local f = assert(io.open(path, "w"))
      finally(function() if io.type(f) == "file" then f:close() end end)
      local id = create{ command = { "sh", "-c", "echo out-caf\195\169; sleep 0.2; echo err >&2" } }
      local s <close> = session.run(client, id, { stdout = false, stderr = false, record = f })
      assert.same({ true, "exit", 0 }, { s:wait() })
      assert.equal("file", io.type(f))       -- the caller's to close
      local header, list = parse(read(path))  -- all there before the close: flushed
      assert.same({ 2, 80, 24 }, { header.version, header.width, header.height })
      assert.equal("out-caf\195\169\nerr\n", (events(list, "o")))
      assert.equal(0, select(2, events(list, "i")))
      assert.equal(0, select(2, events(list, "r")))
    end)

    it("records the blocking API in a terminal, resizes as r events #tty", function()
      local path = tmpname()
      local t = tmux.new{ cmd = { "lua5.4", "spec/support/attach.lua", "exec", box, "sh",
        ("{record = %q, record_input = true}"):format(path) }, rows = 20, cols = 70 }
      finally(function() t:kill() end)
      t:wait_for("/ #")
      t:send("echo ab$((1 + 2))cd"); t:keys("Enter")
      t:wait_for("\nab3cd\n")
      t:resize(15, 50)
      local deadline = core.now() + 5000
      while not read(path):find('"r", "50x15"', 1, true) and core.now() < deadline do core.sleep(50) end
      t:send("exit 5"); t:keys("Enter")
      t:wait_for("%[%[RESULT nil exit 5%]%]")
      local header, list = parse(read(path))
      assert.same({ 70, 20 }, { header.width, header.height })
      assert.same({ "50x15" }, { (events(list, "r")) })
      assert.truthy(events(list, "o"):find("ab3cd\r\n", 1, true))
      assert.truthy(events(list, "i"):find("exit 5\r", 1, true))
    end)
  end)
end)
