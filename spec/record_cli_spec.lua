-- spec/record_cli_spec.lua: `--record FILE` (and `--record-input`) on the
-- command's terminal sessions: `run -it`, `exec -it`, `attach` and
-- `start -ai`, each typed at in a real terminal (tmux). Every line of the
-- recording must parse as JSON in the asciicast v2 shape (a header, then
-- `o`, `r` and, only with --record-input, `i` events), and Debian's
-- asciinema must play it back: `asciinema cat` shows the text, and
-- `asciinema play` (the README's line) ends by itself in a terminal.
local cjson = require("cjson")
local dockerpty = require("dockerpty")
local daemon = require("support.daemon")
local tmux = require("support.tmux")
local core = dockerpty.core

local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
local PROMPT = "/ #"
local ROWS, COLS = 20, 80
local shq = tmux.shquote

local client
local names, terms, dirs = {}, {}, {}
local seq = 0

local function name()
  seq = seq + 1
  local n = ("record-cli-spec-%d-%d-%d"):format(os.time() % 100000, math.random(1, 99999), seq)
  names[#names + 1] = n
  return n
end

-- A fresh directory for the recordings, removed in teardown.
local function tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. shq(dir)))
  dirs[#dirs + 1] = dir
  return dir
end

-- bin/dockerpty with `args` in a ROWS x COLS terminal, from `cwd`.
local HERE = (function()
  local p = assert(io.popen("pwd"))
  local dir = p:read("l")
  p:close()
  return dir
end)()
local function term(args, cwd)
  local argv = { "lua5.4", HERE .. "/bin/dockerpty" }
  for _, w in ipairs(args) do argv[#argv + 1] = w end
  local t = tmux.new{ cmd = argv, rows = ROWS, cols = COLS, cwd = cwd }
  terms[#terms + 1] = t
  return t
end

-- A container for exec and attach: running unless `created`.
local function background(cmd, opts)
  return daemon.background(client, name(), cmd, opts)
end

-- The recording at `path`, each line parsed (a line that is not JSON
-- fails): the header, the events, and the text of each event kind.
local function parse(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  assert.equal("\n", text:sub(-1), "the recording ends in a newline")
  local header, events = nil, {}
  local kinds = { o = {}, i = {}, r = {} }
  for line in text:gmatch("([^\n]*)\n") do
    local ok, v = pcall(cjson.decode, line)
    assert(ok, "not JSON: " .. line)
    if not header then
      header = v
      assert.matches('"timestamp": %d+[,}]', line)   -- an integer (cjson reads numbers as floats)
    else
      assert.equal("table", type(v))
      assert.equal(3, #v, line)
      assert.equal("number", type(v[1]), line)
      assert.truthy(kinds[v[2]], "an event that is not o, i or r: " .. line)
      assert.equal("string", type(v[3]), line)
      if #events > 0 then assert.is_true(v[1] >= events[#events][1], "times in order: " .. line) end
      events[#events + 1] = v
      table.insert(kinds[v[2]], v[3])
    end
  end
  for k, list in pairs(kinds) do kinds[k] = table.concat(list, k == "r" and " " or "") end
  return header, events, kinds
end

-- The header asciicast v2 defines, for a session in our terminal.
local function check_header(h, command)
  assert.equal(2, h.version)
  assert.equal(COLS, h.width)
  assert.equal(ROWS, h.height)
  assert.is_true(math.abs(h.timestamp - os.time()) < 120)
  assert.equal(command, h.command)
  assert.equal(tmux.TERM, h.env.TERM)   -- the terminal's, as tmux sets it
  for k in pairs(h) do
    assert.truthy(({ version = 1, width = 1, height = 1, timestamp = 1, command = 1, env = 1 })[k], k)
  end
end

-- What `asciinema cat` prints of the recording; it must succeed. It opens
-- /dev/tty, so it runs in a terminal too, its output into a file.
local function asciinema_cat(path)
  local out = path .. ".out"
  local t = tmux.new{ cmd = ("asciinema cat %s > %s; echo END $?; sleep 60"):format(shq(path), shq(out)),
    rows = ROWS, cols = COLS, env = { LANG = "C.UTF-8", LC_ALL = "C.UTF-8" } }
  terms[#terms + 1] = t
  local status = t:wait_for("END %d+", 20):match("END (%d+)")
  t:kill()
  local f = assert(io.open(out, "rb"))
  local text = f:read("a")
  f:close()
  assert.equal("0", status, "asciinema cat failed: " .. text)
  return text
end

-- Type a command and wait for its answer on the screen.
local function say(t, line, answer)
  t:send(line); t:keys("Enter")
  t:wait_for(answer, 10)
end

describe("--record in a terminal #docker #tty", function()
  setup(function()
    client = dockerpty.client.from_env()
  end)

  teardown(function()
    for _, t in ipairs(terms) do t:kill() end
    for _, n in ipairs(names) do pcall(client.remove_container, client, n, { force = true }) end
    for _, d in ipairs(dirs) do os.execute("rm -rf " .. shq(d)) end
    client:close()
  end)

  it("run --record F -it IMAGE sh: the prompt, what was typed and answered, a resize; no input", function()
    local cast = tmpdir() .. "/run.cast"
    local t = term({ "run", "--rm", "--record", cast, "-it", "--network", "none", IMAGE, "sh" })
    t:wait_for(PROMPT, 10)
    say(t, "echo caf$(printf '\\303\\251') $((6*7))", "\ncafé 42\n")
    t:resize(30, 100)
    -- the SIGWINCH reaches the command, which resizes the container's tty:
    -- asked again until it has (a loaded machine takes its time)
    local resized
    for _ = 1, 20 do
      t:send("stty size"); t:keys("Enter")
      resized = pcall(t.wait_for, t, "\n30 100\n", 1)
      if resized then break end
    end
    assert.is_true(resized, "the container's tty never became 30x100")
    t:send("exit 3"); t:keys("Enter")
    assert.equal(3, t:wait_exit(10))
    local h, _, kinds = parse(cast)
    check_header(h, "sh")
    assert.truthy(kinds.o:find(PROMPT, 1, true))
    assert.truthy(kinds.o:find("\r\ncafé 42\r\n", 1, true))
    assert.truthy(kinds.r:find("100x30", 1, true), "a resize event: " .. kinds.r)
    assert.equal("", kinds.i)
    local shown = asciinema_cat(cast)
    assert.truthy(shown:find("café 42", 1, true), shown)
    assert.truthy(shown:find("30 100", 1, true), shown)
  end)

  it("exec -it --record F --record-input C sh: input events hold what was typed", function()
    local n = background({ "sleep", "300" })
    local cast = tmpdir() .. "/exec.cast"
    local t = term({ "exec", "-it", "--record", cast, "--record-input", n, "sh" })
    t:wait_for(PROMPT, 10)
    say(t, "echo na$(printf '\\303\\257')ve-$((2+3))", "\nnaïve%-5\n")
    t:send("exit 4"); t:keys("Enter")
    assert.equal(4, t:wait_exit(10))
    local h, _, kinds = parse(cast)
    check_header(h, "sh")
    assert.truthy(kinds.i:find("echo na$(printf '\\303\\257')ve-$((2+3))\r", 1, true), kinds.i)
    assert.truthy(kinds.i:find("exit 4\r", 1, true), kinds.i)
    assert.truthy(kinds.o:find("\r\nnaïve-5\r\n", 1, true))
    assert.truthy(asciinema_cat(cast):find("naïve-5", 1, true))
  end)

  it("attach --record F C: the session from the attach to the container's exit", function()
    local n = background({ "/bin/sh" }, { tty = true, stdin_open = true })
    local cast = tmpdir() .. "/attach.cast"
    local t = term({ "attach", "--record", cast, n })
    core.sleep(300)
    t:keys("Enter")
    t:wait_for(PROMPT, 10)
    say(t, "echo cr$(printf '\\303\\250')me-$((3*3))", "\ncrème%-9\n")
    t:send("exit 2"); t:keys("Enter")
    assert.equal(2, t:wait_exit(10))
    local h, _, kinds = parse(cast)
    check_header(h, "/bin/sh")   -- the container's Entrypoint and Cmd (inspect)
    assert.truthy(kinds.o:find("\r\ncrème-9\r\n", 1, true))
    assert.equal("", kinds.i)
    assert.truthy(asciinema_cat(cast):find("crème-9", 1, true))
  end)

  it("start -ai --record F C: the session from the start to the container's exit", function()
    local n = background({ "/bin/sh" }, { tty = true, stdin_open = true, created = true })
    local cast = tmpdir() .. "/start.cast"
    local t = term({ "start", "-ai", "--record", cast, n })
    t:wait_for(PROMPT, 10)
    say(t, "echo \226\130\172$((40+2))", "\n€42\n")
    t:send("exit 6"); t:keys("Enter")
    assert.equal(6, t:wait_exit(10))
    local h, _, kinds = parse(cast)
    check_header(h, "/bin/sh")   -- the container's Entrypoint and Cmd (inspect)
    assert.truthy(kinds.o:find(PROMPT, 1, true))
    assert.truthy(kinds.o:find("\r\n€42\r\n", 1, true))
    assert.truthy(asciinema_cat(cast):find("€42", 1, true))
  end)

  it("the README's lines: run --record demo.cast -it IMAGE sh, then asciinema play demo.cast", function()
    local dir = tmpdir()
    local t = term({ "run", "--rm", "--record", "demo.cast", "-it", "--network", "none", IMAGE, "sh" }, dir)
    t:wait_for(PROMPT, 10)
    core.sleep(1500)   -- an idle pause, which the idle limit shortens
    say(t, "echo played-$((7*8))", "\nplayed%-56\n")
    t:send("exit"); t:keys("Enter")
    assert.equal(0, t:wait_exit(10))
    -- -i: pauses longer than 0.2 s play as 0.2 s; it ends by itself, status 0
    local p = tmux.new{ cmd = { "asciinema", "play", "-i", "0.2", "demo.cast" }, rows = ROWS, cols = COLS,
      cwd = dir, env = { LANG = "C.UTF-8", LC_ALL = "C.UTF-8" } }
    terms[#terms + 1] = p
    assert.equal(0, p:wait_exit(10))
    assert.truthy(p:screen(true):find("played-56", 1, true), p:screen(true))
  end)
end)
