--- bench/bench.lua: the side-by-side benchmark (issue 6). Runs our client
-- (bench/client.lua, the library), the docker CLI and, when Debian's
-- python3-dockerpty is installed, Python dockerpty (bench/client.py)
-- against the same daemon, interleaved (A B C A B C ...), and prints one
-- Markdown report: machine, versions, and a table of medians, bests and
-- the ratios to the docker CLI, with the issue's targets. See bench/README.md.
--
--   make bench                      # through spec/support/engine (a daemon is provided)
--   lua5.4 bench/bench.lua          # against $DOCKER_HOST, with LUA_PATH/LUA_CPATH set
--
-- Environment: BENCH_QUICK=1 (small sizes, 3 repetitions), BENCH_REPS,
-- BENCH_FIGURES ("1,2,3,4,5,6,7,8,9,10"), BENCH_REGIMES ("quiet,loaded"),
-- BENCH_LOADED_FIGURES (the figures also run loaded, "1,2,3,4"),
-- BENCH_CLIENTS ("lua,docker,python,ceiling,ceiling-w"),
-- BENCH_VARIANTS (other source trees, below), BENCH_OUT_MIB, BENCH_TTY_MIB,
-- BENCH_INPUT_MIB (sizes), BENCH_OUT (also write the report there),
-- BENCH_PROBE (echo_probe binary), BENCH_CEILING (ceiling binary),
-- DOCKERPTY_TEST_IMAGE, LUA, DOCKER, PYTHON.
local core = require("dockerpty.core")

local QUICK = os.getenv("BENCH_QUICK") == "1"
local REPS = tonumber(os.getenv("BENCH_REPS") or "") or (QUICK and 3 or 7)
local MiB = 1024 * 1024
local function size_mib(name, quick, full)
  return tonumber(os.getenv(name) or "") or (QUICK and quick or full)
end
local SIZES = {                           -- MiB
  out = size_mib("BENCH_OUT_MIB", 64, 1024),
  tty = size_mib("BENCH_TTY_MIB", 16, 256),
  input = size_mib("BENCH_INPUT_MIB", 16, 256),
  ssh = size_mib("BENCH_SSH_MIB", 16, 128),  -- figure 9: through sshd and dial-stdio
}
local STARTUP_RUNS = QUICK and 3 or 10
local KEYSTROKES = QUICK and 20 or 200
local SESSIONS = QUICK and 20 or 200   -- figure 6 (issue 11: 200 execs)
local PARALLEL = 50                      -- docker exec processes at once

local HERE = (arg[0]:match("^(.*)/[^/]*$") or ".")
local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
local LUA = os.getenv("LUA") or "lua5.4"
local DOCKER = os.getenv("DOCKER") or "docker"
local PYTHON = os.getenv("PYTHON") or "/usr/bin/python3"
local PROBE = os.getenv("BENCH_PROBE") or ((os.getenv("DP_BUILD") or "build") .. "/bench/echo_probe")
local CEILING = os.getenv("BENCH_CEILING") or ((os.getenv("DP_BUILD") or "build") .. "/bench/ceiling")

-- {======================================================
-- Shell helpers
-- =======================================================

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function qv(list)
  local out = {}
  for i, s in ipairs(list) do out[i] = q(s) end
  return table.concat(out, " ")
end

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  return ok == true, how, code
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function capture(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local s = p:read("a")
  p:close()
  return (s:gsub("%s+$", ""))
end

local TMP = capture("mktemp -d /tmp/dockerpty-bench.XXXXXX")
assert(TMP ~= "", "bench: mktemp failed")

local MYPID = io.lines("/proc/self/stat", "n")()   -- this process
local T0 = core.now()
local function log(fmt, ...)
  io.stderr:write(("[bench %4ds] " .. fmt .. "\n"):format((core.now() - T0) // 1000, ...))
end

-- }======================================================

-- {======================================================
-- The clients: each turns (mode, flags, target, argv) into a command line
-- =======================================================

local CLIENTS = {
  {
    key = "lua", name = "dockerpty (Lua)",
    cmd = function(mode, flags, target, argv)
      return ("%s %s %s %s %s %s"):format(LUA, q(HERE .. "/client.lua"), mode, flags, q(target), qv(argv))
    end,
  },
  {
    key = "docker", name = "docker CLI",
    cmd = function(mode, flags, target, argv)
      if mode == "run" then
        return ("%s run --rm --network none --log-driver none %s %s %s"):format(DOCKER, flags, q(target),
          qv(argv))
      end
      return ("%s exec %s %s %s"):format(DOCKER, flags, q(target), qv(argv))
    end,
  },
  {
    key = "python", name = "Python dockerpty",
    cmd = function(mode, flags, target, argv)
      return ("%s %s %s %s %s %s"):format(PYTHON, q(HERE .. "/client.py"), mode, flags, q(target), qv(argv))
    end,
    available = function()
      return sh(PYTHON .. " -c 'import dockerpty, docker' >/dev/null 2>&1")
    end,
  },
  -- The ceiling of the daemon path (bench/ceiling.c): a minimal C client
  -- that counts the demultiplexed bytes without writing them, and one that
  -- writes them to its stdout (the pipe); streamed figures (1 to 3) and
  -- start-up (4). For input (-i) both write what the command printed.
  {
    key = "ceiling", name = "ceiling (count)", ceiling = true,
    cmd = function(mode, flags, target, argv)
      return ("%s %s %s %s %s"):format(q(CEILING), flags, mode, q(target), qv(argv))
    end,
    sink = "cat",        -- it prints the count itself
    available = function() return sh(("test -x %s"):format(q(CEILING))) end,
  },
  {
    key = "ceiling-w", name = "ceiling (write)", ceiling = true,
    cmd = function(mode, flags, target, argv)
      return ("%s -w %s %s %s %s"):format(q(CEILING), flags, mode, q(target), qv(argv))
    end,
    available = function() return sh(("test -x %s"):format(q(CEILING))) end,
  },
}

-- BENCH_VARIANTS="name=ROOT[:BUILD] ...": more Lua clients, each with the
-- library of another source tree (ROOT/lua, ROOT/BUILD/dockerpty/core.so,
-- BUILD defaulting to "build"), to measure a patch against the tree in use
-- in the same interleaved run.
local function variants()
  local list = {}
  for name, root, build in (os.getenv("BENCH_VARIANTS") or ""):gmatch("([%w_.-]+)=([^%s:]+):?(%S*)") do
    if build == "" then build = "build" end
    local env = ("env LUA_PATH=%s LUA_CPATH=%s "):format(
      q(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;"), q(root .. "/" .. build .. "/?.so;;"))
    list[#list + 1] = {
      key = "lua:" .. name, name = "Lua " .. name, variant = true,
      cmd = function(...) return env .. CLIENTS[1].cmd(...) end,
    }
  end
  return list
end

local function selected_clients()
  local want = "," .. (os.getenv("BENCH_CLIENTS") or "lua,docker,python,ceiling,ceiling-w") .. ","
  local list = {}
  for _, c in ipairs(CLIENTS) do
    if want:find("," .. c.key .. ",", 1, true) and (not c.available or c.available()) then
      list[#list + 1] = c
    end
  end
  for _, c in ipairs(variants()) do list[#list + 1] = c end
  return list
end

-- }======================================================

-- {======================================================
-- One timed command: wall, CPU (user+sys) and peak RSS of the client
-- =======================================================

-- Runs `cmdline` under GNU time and timeout, stdin from `input` (a shell
-- producer) or /dev/null, stdout into `sink` (a shell consumer writing to
-- the file given). Returns {wall=, cpu=, rss=, exit=, out=, err=}.
local function timed(cmdline, input, sink, limit)
  local stat, out, err = TMP .. "/stat", TMP .. "/out", TMP .. "/err"
  os.remove(stat)
  local line = ("%s/usr/bin/time -o %s -f '%%e %%U %%S %%M %%x' timeout -k 5 %d %s 2>%s %s > %s"):format(
    input and (input .. " | ") or "</dev/null ", stat, limit, cmdline, err,
    sink and ("| " .. sink) or "", out)
  sh(line)
  local r = { out = slurp(out) or "", err = slurp(err) or "" }
  local last
  for l in (slurp(stat) or ""):gmatch("[^\n]+") do last = l end
  local e, u, s, m, x = (last or ""):match("^([%d.]+) ([%d.]+) ([%d.]+) (%d+) (%-?%d+)$")
  if not e then
    r.exit = -1
    r.failure = "no timing (" .. tostring(last) .. ")"
    return r
  end
  r.wall, r.cpu, r.rss, r.exit = tonumber(e), tonumber(u) + tonumber(s), tonumber(m) / 1024, tonumber(x)
  if r.exit == 124 or r.exit == 137 then
    r.failure = ("hung: killed after %d s"):format(limit)
  elseif r.exit ~= 0 then
    local msg = r.err:match("([^\n]+)\n?$") or ""
    r.failure = ("exit %d %s"):format(r.exit, msg:sub(1, 80))
  end
  return r
end

-- }======================================================

-- {======================================================
-- Results
-- =======================================================

-- { regime=, figure=, case=, metric=, better="high"|"low", values={key={...}},
--   byrep={key={[rep]=v}}, fails={key={...}} }
local rows = {}
local notes = {}
local REGIME = "quiet"       -- the regime the figures now run in

local function row(figure, case, metric, better, fmt)
  local r = { regime = REGIME, figure = figure, case = case, metric = metric, better = better,
    fmt = fmt or "%.0f", values = {}, byrep = {}, fails = {}, runs = {} }
  rows[#rows + 1] = r
  return r
end

-- rep: the repetition (clients are interleaved within one): ratios pair
-- the values of the same repetition
local function add(r, key, v, rep)
  r.values[key] = r.values[key] or {}
  table.insert(r.values[key], v)
  r.byrep[key] = r.byrep[key] or {}
  r.byrep[key][rep or #r.values[key]] = v
  r.runs[key] = (r.runs[key] or 0) + 1
end

local function fail(r, key, why)
  r.fails[key] = r.fails[key] or {}
  table.insert(r.fails[key], why)
  r.runs[key] = (r.runs[key] or 0) + 1
end

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

local function range(t)
  local lo, hi
  for _, v in pairs(t) do
    if lo == nil or v < lo then lo = v end
    if hi == nil or v > hi then hi = v end
  end
  return lo, hi
end

-- }======================================================

-- {======================================================
-- The regimes: a CPU hog, the daemon's CPU
-- =======================================================

-- The loaded regime: a shell busy loop pinned (taskset) to the last core
-- for the whole of the figures run in it; killed after. It also ends by
-- itself once this process is gone (a bench stopped by ^C leaves no hog).
local HOG
local function hog_start()
  local last = (tonumber(capture("nproc")) or 1) - 1
  local loop = ("while kill -0 %d 2>/dev/null; do n=0; while [ $n -lt 20000 ]; do n=$((n+1)); done; done")
    :format(MYPID)
  HOG = tonumber(capture(("taskset -c %d sh -c %s </dev/null >/dev/null 2>&1 & echo $!")
    :format(last, q(loop))))
  assert(HOG, "bench: cannot start the CPU hog (taskset from util-linux)")
  log("loaded: CPU hog %d on core %d", HOG, last)
  return last
end

local function hog_stop()
  if HOG then sh(("kill %d 2>/dev/null"):format(HOG)) end
  HOG = nil
end

local function loadavg()
  return capture("cut -d' ' -f1-3 /proc/loadavg")
end

-- The daemon side's CPU (dockerd, its containerd, the shims and the runc
-- they start): their processes are moved into a cpuacct cgroup of ours
-- (cgroup v1), whose usage counts exited processes too (the shim of a
-- `run` is gone when its client returns), and moved back at the end.
-- Only for the rig's private dockerd (DOCKERPTY_RIG=private).
local ACCT = { why = nil }
local function acct_start()
  local rig = os.getenv("DOCKERPTY_RIG_DIR")
  if os.getenv("DOCKERPTY_RIG") ~= "private" or os.getenv("DOCKERPTY_ENGINE") == "podman" or not rig then
    ACCT.why = "not the rig's private dockerd"
    return
  end
  local root = capture("awk '$3 == \"cgroup\" && $4 ~ /(^|,)cpuacct(,|$)/ { print $2; exit }' /proc/mounts")
  local pids = {}
  for _, f in ipairs({ rig .. "/dockerd.pid", rig .. "/exec/containerd/containerd.pid" }) do
    pids[#pids + 1] = tonumber((slurp(f) or ""):match("%d+"))
  end
  for pid in capture("pgrep -f " .. q("[c]ontainerd-shim.*-address " .. rig .. "/")):gmatch("%d+") do
    pids[#pids + 1] = tonumber(pid)
  end
  local home = (slurp(("/proc/%d/cgroup"):format(pids[1] or 0)) or "")
    :match("%d+:[%w,]*cpuacct[%w,]*:([^\n]*)")
  local dir = root .. "/dockerpty-bench-" .. MYPID
  if root == "" or not pids[1] or not home or not sh("mkdir " .. q(dir) .. " 2>/dev/null") then
    ACCT.why = "no cpuacct cgroup (cgroup v1, root) for the daemon"
    return
  end
  for _, pid in ipairs(pids) do
    local f = io.open(dir .. "/cgroup.procs", "w")
    if f then f:write(tostring(pid)); f:close() end
  end
  ACCT.dir, ACCT.home = dir, (root .. home):gsub("/$", "")
end

-- nanoseconds of CPU the daemon side used so far (nil: not measured)
local function acct_ns()
  return ACCT.dir and tonumber(slurp(ACCT.dir .. "/cpuacct.usage") or "")
end

local function acct_stop()
  if not ACCT.dir then return end
  for pid in (slurp(ACCT.dir .. "/cgroup.procs") or ""):gmatch("%d+") do
    local f = io.open(ACCT.home .. "/cgroup.procs", "w")
    if f then f:write(pid); f:close() end
  end
  sh("rmdir " .. q(ACCT.dir) .. " 2>/dev/null")
  ACCT.dir = nil
end

-- }======================================================

-- {======================================================
-- Figures
-- =======================================================

-- our pid (/proc/self is the process that opens it)
local CONTAINER = ("dockerpty-bench-%d"):format(MYPID)
local clients

local function check_count(expect)
  return function(r)
    local n = tonumber(r.out:match("^%s*(%d+)%s*$") or "")
    if n ~= expect then
      return ("wrong byte count %s, expected %d"):format(tostring(n), expect)
    end
  end
end

-- One streamed case per client and repetition, interleaved; the ceiling
-- clients only with_ceiling.
local function stream_case(figure, case, mode, flags, mib, argv, input, sink, check, limit, with_ceiling)
  local r_rate = row(figure, case, "MiB/s", "high", "%.0f")
  local r_cpu = row(figure, case, "CPU s/GiB", "low", "%.2f")
  local r_rss = row(figure, case, "peak RSS MiB", "low", "%.1f")
  local r_dcpu = row(figure, case, "daemon CPU s/GiB", "low", "%.2f")
  local all = { r_rate, r_cpu, r_rss, r_dcpu }
  local target = mode == "run" and IMAGE or CONTAINER
  for rep = 1, REPS do
    for _, c in ipairs(clients) do
      if not (r_rate.skip and r_rate.skip[c.key]) and (with_ceiling or not c.ceiling) then
        local d0 = acct_ns()
        local res = timed(c.cmd(mode, flags, target, argv), input, c.sink or sink, limit)
        local d1 = acct_ns()
        local why = res.failure or check(res)
        log("fig %s %-22s %-18s rep %d: %s", figure, case, c.name, rep,
          why or ("%.2f s, %.2f CPU s, %.1f MiB, daemon %.2f CPU s"):format(res.wall, res.cpu, res.rss,
            d0 and d1 and (d1 - d0) / 1e9 or 0))
        if why then
          for _, rr in ipairs(all) do fail(rr, c.key, why) end
          -- a client that hangs hangs every time: do not wait for it again
          if why:find("^hung") then
            r_rate.skip = r_rate.skip or {}
            r_rate.skip[c.key] = true
          end
        else
          add(r_rate, c.key, mib / res.wall, rep)
          add(r_cpu, c.key, res.cpu / (mib / 1024), rep)
          add(r_rss, c.key, res.rss, rep)
          if d0 and d1 then add(r_dcpu, c.key, (d1 - d0) / 1e9 / (mib / 1024), rep) end
        end
      end
    end
  end
  if not acct_ns() then r_dcpu.placeholder = { all = ACCT.why or "not measured" } end
end

local function figure1()
  local n = SIZES.out
  local argv = { "sh", "-c", ("dd if=/dev/zero bs=1M count=%d 2>/dev/null"):format(n) }
  for _, mode in ipairs({ "run", "exec" }) do
    stream_case("1", "output non-tty " .. mode, mode, "", n, argv, nil, "wc -c", check_count(n * MiB), 600,
      true)
  end
end

local function figure2()
  local n = SIZES.tty
  local argv = { "sh", "-c", ("dd if=/dev/zero bs=1M count=%d 2>/dev/null"):format(n) }
  for _, mode in ipairs({ "run", "exec" }) do
    stream_case("2", "output tty " .. mode, mode, "-t", n, argv, nil, "wc -c", check_count(n * MiB), 600,
      true)
  end
end

local function figure3()
  local n = SIZES.input
  local input = ("head -c %d /dev/zero"):format(n * MiB)
  for _, mode in ipairs({ "run", "exec" }) do
    stream_case("3", "input " .. mode, mode, "-i", n, { "wc", "-c" }, input, nil, check_count(n * MiB),
      QUICK and 20 or 30, true)
  end
end

-- The command, bin/dockerpty, as a docker user types it: what figure 4
-- also compares with docker's own command.
local function command_line(mode, target)
  local dp = LUA .. " " .. q(HERE .. "/../bin/dockerpty")
  if mode == "run" then
    return ("%s run --rm --network none --log-driver none %s true"):format(dp, q(target))
  end
  return ("%s exec %s true"):format(dp, q(target))
end

-- One start-up: ms, or nil when the command failed.
local function startup_once(cmd)
  local t0 = core.now()
  local ok = sh(("timeout -k 5 60 %s </dev/null >/dev/null 2>%s"):format(cmd, q(TMP .. "/err")))
  return ok and core.now() - t0 or nil
end

-- Start-up: each client's `true`, and our command's; the command's row
-- pairs it with the same runs of the docker CLI.
local function figure4()
  local want_cmd = false
  for _, c in ipairs(clients) do want_cmd = want_cmd or c.key == "lua" end
  for _, mode in ipairs({ "run", "exec" }) do
    local r = row("4", "start-up " .. mode, "ms", "low", "%.0f")
    local rc = want_cmd and row("4", "start-up " .. mode .. ", the command (bin/dockerpty)", "ms", "low")
    local target = mode == "run" and IMAGE or CONTAINER
    for rep = 1, STARTUP_RUNS do
      -- the counting ceiling shows the daemon's own part of a start-up
      for _, c in ipairs(clients) do if c.key ~= "ceiling-w" then
        local ms = startup_once(c.cmd(mode, "", target, { "true" }))
        if ms then add(r, c.key, ms, rep) else fail(r, c.key, "exit status not 0") end
        if rc and c.key == "docker" and ms then add(rc, "docker", ms, rep) end
        log("fig 4 %-22s %-18s run %d: %s", r.case, c.name, rep, ms and ("%d ms"):format(ms) or "failed")
      end end
      if rc then
        local ms = startup_once(command_line(mode, target))
        if ms then add(rc, "lua", ms, rep) else fail(rc, "lua", "exit status not 0") end
        log("fig 4 %-22s %-18s run %d: %s", r.case, "bin/dockerpty", rep,
          ms and ("%d ms"):format(ms) or "failed")
      end
    end
  end
end

local function figure5()
  local r50 = row("5", "echo exec -it cat", "p50 us", "low", "%.0f")
  local r99 = row("5", "echo exec -it cat", "p99 us", "low", "%.0f")
  local probe_ok = sh(("test -x %s"):format(q(PROBE)))
  if not probe_ok then
    notes[#notes + 1] = ("figure 5 skipped: %s is not built (make bench builds it)"):format(PROBE)
    return
  end
  for rep = 1, REPS do
    for _, c in ipairs(clients) do if not c.ceiling then
      local cmd = c.cmd("exec", "-i -t", CONTAINER, { "cat" })
      local out = capture(("timeout -k 5 120 %s -n %d -- %s"):format(q(PROBE), KEYSTROKES, cmd))
      local p50, p99 = out:match("p50_us=(%d+).*p99_us=(%d+)")
      local code = out:match("exit=(%-?%d+)")
      if p50 and code == "0" then
        add(r50, c.key, tonumber(p50), rep)
        add(r99, c.key, tonumber(p99), rep)
      else
        local why = out:match("error=(.*)") or ("exit " .. tostring(code))
        fail(r50, c.key, why)
        fail(r99, c.key, why)
      end
      log("fig 5 echo %-18s rep %d: %s", c.name, rep, out)
    end end
  end
end

-- Figure 6: SESSIONS execs that each get stdin, answer on stdout and stderr
-- apart and exit 3; ours in one process (dockerpty.session), the docker
-- CLI as SESSIONS `docker exec -i` processes, PARALLEL at a time.
local MANY_CMD = { "sh", "-c", "cat; echo err >&2; exit 3" }
-- The daemon's own pace: ours, one exec after another (the wall time no
-- client's parallelism can beat by much when the daemon serialises them).
local function serial_run(r, rep)
  local t0 = core.now()
  local res = timed(("env MANY_STDIN=hi MANY_CODE=3 MANY_PARALLEL=1 ")
    .. CLIENTS[1].cmd("many", tostring(SESSIONS), CONTAINER, MANY_CMD), nil, nil, 300)
  local ms = core.now() - t0
  local why = res.failure or (res.out ~= ("ok %d hi"):format(SESSIONS) and ("answered %q"):format(res.out))
  if why then fail(r, "lua", why) else add(r, "lua", ms) end
  log("fig 6 one at a time      rep %d: %s", rep, why or ("%d ms"):format(ms))
end

-- All the CPU the machine has spent, in seconds: every process and the
-- kernel (/proc/stat's user, nice, system, irq and softirq; not idle,
-- iowait or steal). Around figure 6's spread row it sees what the
-- cpuacct cgroup does not: runc's init and the exec'd processes run in
-- the container's own cgroup.
local CLK_TCK
local function machine_cpu_s()
  CLK_TCK = CLK_TCK or tonumber(capture("getconf CLK_TCK")) or 100
  local l = (slurp("/proc/stat") or ""):match("^cpu%s[^\n]*")
  local u, n, s, _, _, irq, soft = (l or ""):match("^cpu%s+(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+)")
  return u and (u + n + s + irq + soft) / CLK_TCK
end

-- Figure 6's other containers (the first is the bench's own), removed
-- after the figure and at the end of the run.
local SPREAD = { CONTAINER, CONTAINER .. "-2", CONTAINER .. "-3", CONTAINER .. "-4" }

-- A container that sleeps, for execs: true when it runs.
local function start_sleeper(name)
  return sh(("%s run -d --name %s --network none --log-driver none %s sleep 1000000 >/dev/null"):format(
    DOCKER, q(name), q(IMAGE)))
end
local function remove_spread()
  for i = 2, #SPREAD do sh(("%s rm -f %s >/dev/null 2>&1"):format(DOCKER, q(SPREAD[i]))) end
end

-- One run of figure 6 by client c: why it failed (nil), its timed result,
-- its wall ms.
-- targets: the containers, exec k going to the k-th, round robin.
local function fig6_once(c, dir, targets)
  local why, res, ms
  if c.key == "lua" then
    -- ours: one process, one group of sessions, PARALLEL at a time as docker's
    local t0 = core.now()
    res = timed(("env MANY_STDIN=hi MANY_CODE=3 MANY_PARALLEL=%d "):format(PARALLEL)
      .. c.cmd("many", tostring(SESSIONS), table.concat(targets, ","), MANY_CMD), nil, nil, 120)
    ms = core.now() - t0
    why = res.failure or (res.out ~= ("ok %d hi"):format(SESSIONS) and ("answered %q"):format(res.out))
  elseif c.key == "docker" then
    sh(("rm -rf %s && mkdir -p %s"):format(q(dir), q(dir)))
    local cases = {}
    for k, t in ipairs(targets) do cases[k] = ("%d) %s;;"):format(k - 1, c.cmd("exec", "-i", t, MANY_CMD)) end
    local one = ("case $(({} %% %d)) in %s esac"):format(#targets, table.concat(cases, " "))
    -- "{}", never a letter: xargs -I replaces it in the temporary dir's name too
    local script = ("seq 0 %d | xargs -P %d -I {} sh -c %s"):format(SESSIONS - 1, PARALLEL,
      q(("printf hi | %s >%s/{}.out 2>%s/{}.err; echo $? >%s/{}.code"):format(one, dir, dir, dir)))
    local t0 = core.now()
    res = timed("sh -c " .. q(script), nil, nil, 300)
    ms = core.now() - t0
    local good = 0
    for i = 0, SESSIONS - 1 do
      local f = ("%s/%d"):format(dir, i)
      if slurp(f .. ".out") == "hi" and slurp(f .. ".err") == "err\n"
          and slurp(f .. ".code") == "3\n" then
        good = good + 1
      end
    end
    why = res.failure or (good ~= SESSIONS
      and ("%d of %d sessions answered right"):format(good, SESSIONS))
  end
  return why, res, ms
end

-- Figure 6's spread row is bound by CPU when its walls sit at their
-- floors: then the wall ratio follows the machine's CPU, and a client that
-- cost nothing would still leave the daemon's and the runtime's. The note
-- gives, run by run, that CPU over all of docker's run's: the lowest wall
-- ratio any client could reach on this machine (the rows beside it give
-- the walls and floors).
local function fig6_bound(free, r4m)
  local dock, bound = r4m.byrep.docker or {}, {}
  for rep, v in pairs(free) do
    if dock[rep] then bound[#bound + 1] = v / dock[rep] end
  end
  if #bound == 0 then return end
  local lo, hi = range(bound)
  notes[#notes + 1] = ("figure 6 over %d containers: the machine's CPU in ours less our client's own, "
    .. "over the machine's CPU in docker's, run by run: %.2f (%.2f-%.2f), the wall ratio a client "
    .. "costing nothing could reach where the run is bound by CPU"):format(#SPREAD, median(bound), lo, hi)
end

-- Figure 6 (issue 11): SESSIONS execs, PARALLEL at a time; beside the
-- wall, the daemon side's CPU and the floor it sets: all the CPU the run
-- took (daemon and client) spread over every core, the shortest wall
-- a CPU-bound run could have.
local function figure6()
  local case = SESSIONS .. " execs: stdin, stdout, stderr, exit code"
  local rw = row("6", case, "wall ms", "low", "%.0f")
  local rc = row("6", case, "CPU s", "low", "%.2f")
  local rr = row("6", case, "peak RSS MiB", "low", "%.1f")
  local rd = row("6", case, "daemon CPU s", "low", "%.2f")
  local rf = row("6", case, "CPU floor ms (daemon + client CPU / cores)", "low", "%.0f")
  local rs = row("6", SESSIONS .. " execs one after another (ours: the daemon's pace)", "wall ms", "low",
    "%.0f")
  rs.no_target, rd.no_target, rf.no_target = true, true, true
  -- the same execs spread over SPREAD containers, which the daemon runs
  -- side by side: what a client's parallelism gives where the daemon allows it
  local case4 = ("%d execs over %d containers, round robin"):format(SESSIONS, #SPREAD)
  local r4 = row("6", case4, "wall ms", "low", "%.0f")
  local r4m = row("6", case4, "machine CPU s (every process)", "low", "%.2f")
  local r4f = row("6", case4, "CPU floor ms (machine CPU / cores)", "low", "%.0f")
  r4m.no_target, r4f.no_target = true, true
  local free = {}   -- per rep: the machine's CPU in ours less our client's own
  for i = 2, #SPREAD do
    assert(start_sleeper(SPREAD[i]), "bench: cannot start the containers of figure 6")
  end
  local cores = tonumber(capture("nproc")) or 1
  local dir = TMP .. "/many"
  for rep = 1, REPS do
    for _, c in ipairs(clients) do
      if c.key == "lua" or c.key == "docker" then
        local m0 = machine_cpu_s()
        local why4, res4, ms4 = fig6_once(c, dir, SPREAD)
        local m1 = machine_cpu_s()
        if why4 then
          for _, r in ipairs({ r4, r4m, r4f }) do fail(r, c.key, why4) end
        else
          add(r4, c.key, ms4, rep)
          if m0 and m1 then
            add(r4m, c.key, m1 - m0, rep)
            add(r4f, c.key, (m1 - m0) * 1000 / cores, rep)
            if c.key == "lua" then free[rep] = m1 - m0 - res4.cpu end
          end
        end
        log("fig 6 %-18s rep %d, %d containers: %s", c.name, rep, #SPREAD, why4 or ("%d ms"):format(ms4))
        local d0 = acct_ns()
        local why, res, ms = fig6_once(c, dir, { CONTAINER })
        local d1 = acct_ns()
        local dcpu = d0 and d1 and (d1 - d0) / 1e9
        if why then
          for _, r in ipairs({ rw, rc, rr, rd, rf }) do fail(r, c.key, why) end
        else
          add(rw, c.key, ms, rep)
          add(rc, c.key, res.cpu, rep)
          -- the docker side's RSS is one process of many: only ours is a peak of the whole
          if c.key == "lua" then add(rr, c.key, res.rss) end
          if dcpu then
            add(rd, c.key, dcpu, rep)
            add(rf, c.key, (dcpu + res.cpu) * 1000 / cores, rep)
          end
        end
        log("fig 6 %-18s rep %d: %s", c.name, rep, why or ("%d ms, %.2f CPU s, %.1f MiB, daemon %s CPU s")
          :format(ms, res.cpu, res.rss, dcpu and ("%.2f"):format(dcpu) or "?"))
      end
    end
    serial_run(rs, rep)
  end
  remove_spread()
  fig6_bound(free, r4m)
end

-- Figure 7: what recording costs a tty stream. Ours only (the command's
-- `--record`, asciicast to a file), recording off and on in ABBA order
-- (off on, on off, ...). The text (escapes and accents, as a terminal gets
-- it) is made once in the container, a file that `cat` sends: the client
-- sets the pace, not a shell writing a line at a time (with `yes | head`
-- the stream moved at about 9 MiB/s and the client was 5% busy, so no
-- slowdown of the client could show).
local function figure7()
  local n = SIZES.tty
  local line = "\27[1;32muser@host\27[0m:~/src$ ls -l caf\195\169 cr\195\168me na\195\175ve \226\130\172 42\r"
  local text = "/tmp/dockerpty-fig7.txt"
  assert(sh(("%s exec %s sh -c %s"):format(DOCKER, q(CONTAINER),
    q(("yes %s | head -c %d > %s"):format(q(line), n * MiB, text)))), "bench: cannot make figure 7's text")
  local argv = { "cat", text }
  local lua = CLIENTS[1]
  local cast = TMP .. "/fig7.cast"
  local rows7 = {}
  for _, how in ipairs({ "off", "on" }) do
    rows7[how] = { row("7", "output tty exec, recording " .. how, "MiB/s", "high", "%.0f"),
      row("7", "output tty exec, recording " .. how, "CPU s/GiB", "low", "%.2f") }
  end
  for rep = 1, REPS do
    for _, how in ipairs(rep % 2 == 1 and { "off", "on" } or { "on", "off" }) do
      os.remove(cast)
      local flags = how == "on" and ("-t --record " .. q(cast)) or "-t"
      local res = timed(lua.cmd("exec", flags, CONTAINER, argv), nil, "wc -c", 600)
      -- the tty turns each "\n" of the output into "\r\n"
      local why = res.failure or check_count(n * MiB + n * MiB // (#line + 1))(res)
      if not why and how == "on" then
        local f = io.open(cast, "rb")
        local head = f and f:read("l")
        if f then f:close() end
        if not (head and head:find('^{"version": 2')) then why = "no recording" end
      end
      log("fig 7 recording %-3s rep %d: %s", how, rep,
        why or ("%.2f s, %.2f CPU s"):format(res.wall, res.cpu))
      local r_rate, r_cpu = rows7[how][1], rows7[how][2]
      if why then
        fail(r_rate, "lua", why); fail(r_cpu, "lua", why)
      else
        add(r_rate, "lua", n / res.wall, rep)
        add(r_cpu, "lua", res.cpu / (n / 1024), rep)
      end
    end
  end
  os.remove(cast)
  sh(("%s exec %s rm -f %s"):format(DOCKER, q(CONTAINER), text))
  -- repetition by repetition: the two runs of a pair are next to each other
  local on, off, paired = rows7.on[1].byrep.lua or {}, rows7.off[1].byrep.lua or {}, {}
  for rep = 1, REPS do
    if on[rep] and off[rep] then paired[#paired + 1] = on[rep] / off[rep] end
  end
  if #paired > 0 then
    local pm, lo, hi = median(paired), range(paired)
    notes[#notes + 1] = ("figure 7 (%d MiB of terminal text from a file, %d runs each way, ABBA): recording "
      .. "on/off MiB/s %.2f (paired run by run: %.2f, %.2f-%.2f of %d pairs; target >= 0.9: %s), "
      .. "CPU s/GiB %.2f"):format(n, REPS, median(rows7.on[1].values.lua) / median(rows7.off[1].values.lua),
      pm, lo, hi, #paired, lo >= 0.9 and "met" or pm >= 0.9 and "unsure" or "**not met**",
      median(rows7.on[2].values.lua) / median(rows7.off[2].values.lua))
  end
end

-- Figure 8: what tracking the terminal modes costs a tty stream
-- (bench/modes_cost.lua): our client only, modes not tracked and tracked,
-- interleaved in one process, MODES_REPS times; median (best) and spread.
local MODES_REPS = QUICK and 3 or 7
local function figure8()
  -- as much text as figure 2's: with a quarter of it, each run lasted about
  -- a second and the pairs ranged over +-25%, wider than what tracking costs
  local n = SIZES.tty
  -- its progress goes to our stderr, one line per run
  local p = io.popen(("%s %s %s %d %d"):format(LUA, q(HERE .. "/modes_cost.lua"), q(CONTAINER), n,
    MODES_REPS))
  local out = p:read("a")
  p:close()
  local get = load(out, "modes_cost", "t", {})
  local ok, res = pcall(get or error)
  local names = { off = "tty output, modes not tracked", on = "tty output, modes tracked" }
  local made = {}
  for _, way in ipairs({ "off", "on" }) do
    made[way] = { rate = row("8", names[way], "MiB/s", "high", "%.1f"),
      cpu = row("8", names[way], "CPU s/GiB", "low", "%.2f") }
    for _, k in ipairs({ "rate", "cpu" }) do
      if ok and type(res) == "table" then
        for _, v in ipairs(res[way][k]) do add(made[way][k], "lua", v) end
      else
        fail(made[way][k], "lua", "modes_cost.lua failed (its error is above)")
      end
    end
  end
  if ok and type(res) == "table" then
    local function spread(t)
      local lo, hi = math.huge, -math.huge
      for _, v in ipairs(t) do lo, hi = math.min(lo, v), math.max(hi, v) end
      return (hi - lo) / median(t) * 100
    end
    -- repetition by repetition (the pair ran side by side, ABBA order)
    local paired = {}
    for i, v in ipairs(res.on.rate) do paired[i] = v / res.off.rate[i] end
    local pm, lo, hi = median(paired), range(paired)
    notes[#notes + 1] = ("figure 8 (%d MiB of terminal text, one ESC in about 9 bytes, %d interleaved runs): "
      .. "tracked/not tracked MiB/s %.3f (paired run by run: %.3f, %.3f-%.3f; target >= 0.98: %s), "
      .. "CPU s/GiB %.2f; spread (max-min)/median: MiB/s %.0f%% / %.0f%%, CPU %.0f%% / %.0f%%"):format(
      n, MODES_REPS, median(res.on.rate) / median(res.off.rate), pm, lo, hi,
      lo >= 0.98 and "met" or pm >= 0.98 and "unsure" or "**not met**",
      median(res.on.cpu) / median(res.off.cpu),
      spread(res.off.rate), spread(res.on.rate), spread(res.off.cpu), spread(res.on.cpu))
  end
end

-- Figures 9 (ssh://) and 10 (Swarm services): bench/remote.lua, given
-- what it needs of this file.
local remote = dofile(HERE .. "/remote.lua")
local function remote_api()
  return {
    row = row, add = add, fail = fail, timed = timed, stream_case = stream_case, check_count = check_count,
    sh = sh, q = q, slurp = slurp, log = log, now = core.now, sleep = core.sleep,
    note = function(s) notes[#notes + 1] = s end,
    clients = function() return clients end,
    with_clients = function(list, f)
      local saved = clients
      clients = list
      local ok, err = pcall(f)
      clients = saved
      if not ok then error(err, 0) end
    end,
    CONTAINER = CONTAINER, IMAGE = IMAGE, REPS = REPS, STARTUP_RUNS = STARTUP_RUNS, SIZES = SIZES, MiB = MiB,
    TMP = TMP, HERE = HERE, LUA = LUA, DOCKER = DOCKER,
  }
end
local function figure9() remote.figure9(remote_api()) end
local function figure10() remote.figure10(remote_api()) end

-- }======================================================

-- {======================================================
-- Report
-- =======================================================

-- The issue's targets: { op, value [, regime] } on the ratio of our median
-- to the docker CLI's; "abs<" on our own values (every repetition).
local TARGETS = {
  ["1"] = { ["MiB/s"] = { { ">=", 1.0, "quiet" }, { ">=", 1.15, "loaded" } },
    ["CPU s/GiB"] = { { "<=", 0.5 } }, ["peak RSS MiB"] = { { "abs<", 4 } },
    ["daemon CPU s/GiB"] = { { "<=", 1.0 } } },
  ["2"] = { ["MiB/s"] = { { ">=", 1.05 } }, ["CPU s/GiB"] = { { "<=", 0.5 } },
    ["peak RSS MiB"] = { { "abs<", 4 } } },
  ["3"] = { ["MiB/s"] = { { ">=", 1.0 } }, ["peak RSS MiB"] = { { "abs<", 4 } } },
  ["5"] = { ["p50 us"] = { { "<=", 1.0 } } },
  ["6"] = { ["wall ms"] = { { "<=", 0.7 } }, ["CPU s"] = { { "<=", 0.05 } } },
  ["9"] = { ["MiB/s"] = { { ">=", 1.0 } }, ["ms"] = { { "<=", 1.0 } } },
}
-- ours against the ceiling that writes (non-tty output, quiet): within 5%
local CEILING_TARGET = { ">=", 0.95, "quiet" }

local function target_of(r)
  if r.no_target then return nil end
  local list = r.figure == "4" and { r.case:find("exec") and { "<=", 0.85 } or { "<=", 0.95 } }
    or (TARGETS[r.figure] and TARGETS[r.figure][r.metric]) or {}
  for _, t in ipairs(list) do
    if not t[3] or t[3] == r.regime then return t end
  end
end

local function cell(r, key)
  if r.placeholder and (r.placeholder[key] or r.placeholder.all) then
    return r.placeholder[key] or r.placeholder.all
  end
  local v, f = r.values[key] or {}, r.fails[key] or {}
  if #v == 0 and #f == 0 then return "n/a" end
  if #v == 0 then return ("FAILED: %s"):format(f[1]) end
  local lo, hi = range(v)
  local s = (r.fmt .. " (" .. r.fmt .. "-" .. r.fmt .. ")"):format(median(v), lo, hi)
  if #f > 0 then s = s .. (" [%d/%d failed: %s]"):format(#f, r.runs[key], f[1]) end
  return s
end

-- The ratio of key's values to ref's, repetition by repetition (the runs
-- of one repetition are next to each other in time): median, lowest and
-- highest. nil when a repetition failed or nothing pairs.
local function ratio(r, key, ref)
  if (r.placeholder and (r.placeholder[key] or r.placeholder.all)) or #(r.fails[key] or {}) > 0 then
    return nil
  end
  local a, b, list = r.byrep[key] or {}, r.byrep[ref] or {}, {}
  for rep, v in pairs(a) do
    if b[rep] and b[rep] ~= 0 then list[#list + 1] = v / b[rep] end
  end
  if #list == 0 then return nil end
  local lo, hi = range(list)
  return median(list), lo, hi
end

local function fmt_ratio(m, lo, hi)
  return m and ("%.2f (%.2f-%.2f)"):format(m, lo, hi) or "-"
end

-- "yes" when the whole spread meets the target, "**no**" when the median
-- misses it, "unsure" when the median meets it and the spread crosses it.
local function verdict(t, m, lo, hi)
  if not m then return "?" end
  local function ok(x) return (t[1] == ">=" and x >= t[2]) or (t[1] ~= ">=" and x <= t[2]) end
  local worst = t[1] == ">=" and lo or hi
  if ok(worst) then return "yes" end
  return ok(m) and "unsure" or "**no**"
end

local function table_of(regime, list)
  local out = {}
  local function w(s) out[#out + 1] = s end
  local head = { "fig", "case", "metric" }
  local keys, cols = {}, {}
  for _, c in ipairs(list) do
    head[#head + 1] = c.name
    keys[#keys + 1] = c.key
  end
  local has = {}
  for _, c in ipairs(list) do has[c.key] = true end
  for _, c in ipairs(list) do
    if c.key ~= "docker" and has.docker then
      cols[#cols + 1] = { c.key, "docker", (c.key == "lua" and "Lua" or c.name) .. "/docker" }
    end
  end
  if has.lua and has["ceiling-w"] then cols[#cols + 1] = { "lua", "ceiling-w", "Lua/ceiling (write)" } end
  for _, c in ipairs(list) do
    if c.variant and has.lua then cols[#cols + 1] = { c.key, "lua", c.name .. "/Lua" } end
  end
  for _, col in ipairs(cols) do head[#head + 1] = col[3] end
  head[#head + 1] = "target (Lua/docker)"
  head[#head + 1] = "met"
  w("| " .. table.concat(head, " | ") .. " |")
  w("|" .. string.rep(" --- |", #head))
  for _, r in ipairs(rows) do
    if r.regime == regime then
      local cells = { r.figure, r.case, r.metric }
      for _, k in ipairs(keys) do cells[#cells + 1] = cell(r, k) end
      local met, t = {}, target_of(r)
      for _, col in ipairs(cols) do
        local m, lo, hi = ratio(r, col[1], col[2])
        cells[#cells + 1] = fmt_ratio(m, lo, hi)
        if col[1] == "lua" and col[2] == "docker" and t and t[1] ~= "abs<" then
          met[#met + 1] = verdict(t, m, lo, hi)
        elseif col[2] == "ceiling-w" and r.metric == "MiB/s" and m and regime == CEILING_TARGET[3] then
          met[#met + 1] = "Lua/ceiling-w " .. verdict(CEILING_TARGET, m, lo, hi)
        end
      end
      -- the ceiling's own ratio against the same target: where it fails
      -- or is unsure, the daemon path itself forbids showing the target
      local function ran(k) return #(r.values[k] or {}) > 0 end
      local ck = (ran("ceiling-w") and "ceiling-w") or (ran("ceiling") and "ceiling")
      if t and t[1] ~= "abs<" and ck and has.docker then
        local m, lo, hi = ratio(r, ck, "docker")
        if m then met[#met + 1] = ("%s/docker %s"):format(ck, verdict(t, m, lo, hi)) end
      end
      if t and t[1] == "abs<" then
        local _, hi = range(r.values.lua or {})
        met[#met + 1] = hi and (hi < t[2] and "yes" or "**no**") or "?"
      end
      cells[#cells + 1] = t and (t[1] == "abs<" and ("Lua < %s"):format(t[2]) or (t[1] .. " " .. t[2])) or ""
      cells[#cells + 1] = table.concat(met, "; ")
      w("| " .. table.concat(cells, " | ") .. " |")
    end
  end
  return table.concat(out, "\n")
end

local function report(machine, elapsed, regimes)
  local out = {}
  local function w(s) out[#out + 1] = s end
  w("# dockerpty benchmark results")
  w("")
  local names = {}
  for _, c in ipairs(clients) do names[#names + 1] = c.name end
  w(("Mode: %s, %d repetitions (start-up: %d runs), interleaved %s; figures as median (min-max), "
    .. "ratios repetition by repetition as median (min-max)."):format(
    QUICK and "BENCH_QUICK=1 (smoke run: small sizes)" or "full", REPS, STARTUP_RUNS,
    table.concat(names, ", ")))
  w(("Sizes: non-tty output %d MiB, tty output %d MiB, input %d MiB; %d keystrokes; %d sessions."):format(
    SIZES.out, SIZES.tty, SIZES.input, KEYSTROKES, SESSIONS))
  w("")
  w("## Machine and versions")
  w("")
  for _, kv in ipairs(machine) do w(("- %s: %s"):format(kv[1], kv[2])) end
  w(("- run took: %.1f min"):format(elapsed / 60000))
  for _, g in ipairs(regimes) do
    w("")
    w(("## Figures, %s"):format(g.name))
    w("")
    w(("- %s; figures %s"):format(g.name == "loaded"
      and ("a CPU hog (shell busy loop) pinned to core %d for the whole of them"):format(g.core)
      or "nothing started beside the clients", g.figures))
    w(("- load average before: %s; after: %s"):format(g.before, g.after))
    w("")
    w(table_of(g.name, clients))
  end
  if #notes > 0 then
    w("")
    for _, n in ipairs(notes) do w("- " .. n) end
  end
  return table.concat(out, "\n") .. "\n"
end

local function machine_info()
  local m = {}
  local function add_kv(k, v) if v and v ~= "" then m[#m + 1] = { k, v } end end
  add_kv("date", os.date("!%Y-%m-%d %H:%M UTC"))
  add_kv("kernel", capture("uname -srm"))
  add_kv("CPU", capture("grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'") .. ", "
    .. capture("nproc") .. " cores")
  add_kv("memory", capture("awk '/MemTotal/ { printf \"%.1f GiB\", $2 / 1048576 }' /proc/meminfo"))
  add_kv("OS", capture(". /etc/os-release && echo \"$PRETTY_NAME\""))
  add_kv("docker CLI", capture(DOCKER .. " version --format "
    .. "'{{.Client.Version}} (API {{.Client.APIVersion}}, {{.Client.GoVersion}})'"))
  add_kv("dockerd", capture(DOCKER .. " version --format '{{.Server.Version}} (API {{.Server.APIVersion}}, "
    .. "{{.Server.GoVersion}})'") .. "; log driver none for run (all clients)")
  add_kv("daemon", os.getenv("DOCKER_HOST") or "default")
  add_kv("dockerpty", core._VERSION .. ", git "
    .. capture("git -C " .. q(HERE) .. " describe --always --dirty") .. ", " .. capture(LUA .. " -v"))
  add_kv("libcurl", capture("pkg-config --modversion libcurl"))
  add_kv("Python dockerpty", capture("dpkg-query -W -f '${Version}' python3-dockerpty")
    .. " (python3-docker " .. capture("dpkg-query -W -f '${Version}' python3-docker") .. ", "
    .. capture(PYTHON .. " --version") .. ")")
  add_kv("load average at start", capture("cut -d' ' -f1-3 /proc/loadavg"))
  return m
end

-- }======================================================

-- The figures of one regime; returns what the report says of it.
local function run_regime(name, figures)
  local all = { figure1, figure2, figure3, figure4, figure5, figure6, figure7, figure8, figure9, figure10 }
  local padded = "," .. figures .. ","
  local g = { name = name, figures = figures, before = loadavg() }
  local first_note = #notes + 1
  REGIME = name
  log("regime %s: figures %s, load %s", name, figures, g.before)
  if name == "loaded" then g.core = hog_start() end
  local ok, err = pcall(function()
    for i, f in ipairs(all) do
      if padded:find("," .. i .. ",", 1, true) then f() end
    end
  end)
  hog_stop()
  g.after = loadavg()
  for i = first_note, #notes do notes[i] = ("(%s) %s"):format(name, notes[i]) end
  if not ok then error(err, 0) end
  return g
end

local function main()
  clients = selected_clients()
  local figures = os.getenv("BENCH_FIGURES") or "1,2,3,4,5,6,7,8,9,10"
  local loaded_figures = "," .. (os.getenv("BENCH_LOADED_FIGURES") or "1,2,3,4") .. ","
  local machine = machine_info()
  local t0 = core.now()
  log("container %s, image %s, clients: %d", CONTAINER, IMAGE, #clients)
  -- before the exec container: its shim is started into the cgroup
  acct_start()
  if ACCT.why then log("daemon CPU not measured: %s", ACCT.why) end
  local regimes = {}
  local ok, err = pcall(function()
    assert(start_sleeper(CONTAINER), "bench: cannot start the exec container")
    for name in (os.getenv("BENCH_REGIMES") or "quiet,loaded"):gmatch("[^,%s]+") do
      assert(name == "quiet" or name == "loaded", "bench: BENCH_REGIMES: quiet, loaded or both")
      -- the loaded regime runs only the figures both lists name
      local list = figures
      if name == "loaded" then
        list = {}
        for fig in figures:gmatch("%d+") do
          if loaded_figures:find("," .. fig .. ",", 1, true) then list[#list + 1] = fig end
        end
        list = table.concat(list, ",")
      end
      if list ~= "" then regimes[#regimes + 1] = run_regime(name, list) end
    end
  end)
  hog_stop()
  sh(("%s rm -f %s >/dev/null 2>&1"):format(DOCKER, q(CONTAINER)))
  remove_spread()
  acct_stop()
  sh("rm -rf " .. q(TMP))
  if not ok then error(err, 0) end
  machine[#machine + 1] = { "load average at end", loadavg() }
  machine[#machine + 1] = { "daemon CPU", ACCT.why and ("not measured: " .. ACCT.why)
    or "dockerd, containerd, the shims and their runc (a cpuacct cgroup), per GiB the client moved" }
  local text = report(machine, core.now() - t0, regimes)
  io.stdout:write(text)
  local path = os.getenv("BENCH_OUT")
  if path and path ~= "" then
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
  end
  -- every byte count verified: a wrong count or a hang of ours fails the run
  for _, r in ipairs(rows) do
    if #(r.fails.lua or {}) > 0 then
      io.stderr:write(("bench: our client failed in %s %s: %s\n"):format(r.case, r.metric, r.fails.lua[1]))
      os.exit(1)
    end
  end
end

main()
