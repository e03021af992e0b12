--- bench/client.lua: the benchmark's client on our side, the library used
-- as a program would use it, in the shape of the docker CLI commands it is
-- compared with:
--
--   lua5.4 bench/client.lua run  [-i] [-t] IMAGE CMD...      like docker run --rm --network none
--   lua5.4 bench/client.lua exec [-i] [-t] CONTAINER CMD...  like docker exec
--   (run and exec also take --record FILE: the session recorded as asciicast, figure 7)
--   lua5.4 bench/client.lua many N CONTAINER[,...] CMD...  N execs at once in one process
--                                                          (dockerpty.session; MANY_PARALLEL:
--                                                          at most that many at once; round
--                                                          robin over the containers); prints
--                                                          "ok K" for K outputs equal to the first
--
-- `run` creates the container (network and log driver "none"), attaches, starts, waits
-- and removes it; `exec` runs CMD in a running container. stdin is attached
-- only with -i, the remote side gets a tty only with -t. The process exits
-- with the container's (or the exec's) exit code, 125 when the library
-- raised (the message goes to stderr).
local dockerpty = require("dockerpty")

local function usage()
  io.stderr:write("usage: client.lua run|exec [-i] [-t] IMAGE|CONTAINER CMD...\n")
  os.exit(2)
end

local mode = arg[1]
if mode == "many" then
  -- figure 6: N exec sessions in one Lua state and one poll loop
  local n, container = tonumber(arg[2]), arg[3]
  local cmd = table.move(arg, 4, #arg, 1, {})
  if not n or not container or #cmd == 0 then usage() end
  -- MANY_STDIN: fed to each session's stdin; MANY_CODE: the exit code all
  -- must return; stderr is read apart and must be the same for all too
  local input = os.getenv("MANY_STDIN")
  local want_code = tonumber(os.getenv("MANY_CODE") or "0")
  local client = dockerpty.client.from_env()
  -- CONTAINER may be a list, "a,b,c": session k goes to the k-th, round robin
  local targets = {}
  for t in container:gmatch("[^,]+") do targets[#targets + 1] = t end
  local outs, errs, sessions = {}, {}, {}
  for k = 1, n do
    outs[k], errs[k] = {}, {}
    sessions[k] = dockerpty.session.exec(client, targets[(k - 1) % #targets + 1], cmd, {
      stdin = input or false,
      stdout = function(s) table.insert(outs[k], s) end,
      stderr = function(s) table.insert(errs[k], s) end })
  end
  -- MANY_PARALLEL: at most that many at once (run_all's `parallel`)
  local results = dockerpty.session.run_all(sessions, { timeout = 120000,
    parallel = math.tointeger(tonumber(os.getenv("MANY_PARALLEL") or "")) })
  local good, first, first_err = 0, table.concat(outs[1]), table.concat(errs[1])
  for k = 1, n do
    if results[k].how == "exit" and (results[k].code or 0) == want_code and table.concat(outs[k]) == first
        and table.concat(errs[k]) == first_err then
      good = good + 1
    end
  end
  io.stdout:write(("ok %d %s"):format(good, first))
  client:close()
  os.exit(good == n and 0 or 1)
end
if mode ~= "run" and mode ~= "exec" then usage() end
local interactive, want_tty, record = false, false, nil
local i = 2
while arg[i] and arg[i]:sub(1, 1) == "-" do
  local flag = arg[i]
  if flag == "--record" and arg[i + 1] then record, i = arg[i + 1], i + 1
  elseif flag == "-i" then interactive = true
  elseif flag == "-t" then want_tty = true
  elseif flag == "-it" or flag == "-ti" then interactive, want_tty = true, true
  else usage() end
  i = i + 1
end
local target = arg[i]
local argv = table.move(arg, i + 1, #arg, 1, {})
if not target or #argv == 0 then usage() end

local client = dockerpty.client.from_env()
local opts = { interactive = interactive, logs = false, record = record }

local ok, a, b, c = pcall(function()
  if mode == "exec" then
    opts.tty = want_tty
    return dockerpty.exec_command(client, target, argv, opts)
  end
  local created = client:create_container{
    image = target, command = argv, tty = want_tty, stdin_open = interactive,
    host_config = { NetworkMode = "none", LogConfig = { Type = "none", Config = {} } },
  }
  local rok, r1, r2, r3 = pcall(dockerpty.start, client, created.Id, opts)
  pcall(client.remove_container, client, created.Id, { force = true })
  if not rok then error(r1, 0) end
  return r1, r2, r3
end)
client:close()
if not ok then
  io.stderr:write("client.lua: ", tostring(a), "\n")
  os.exit(125)
end
if b == "detach" then os.exit(0) end
os.exit(math.tointeger(c) or 1)
