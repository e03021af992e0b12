-- examples/luv_fanout.lua: twenty execs at once in a luv (libuv) loop: each
-- session's pollfd() in a uv.new_poll, a timer for its timeout(), and a
-- ticker in the same loop that keeps ticking while the sessions run.
--
--   lua5.4 examples/luv_fanout.lua [CONTAINER]
--
-- With CONTAINER (running), runs the execs there; else in a fresh container
-- of $DOCKERPTY_IMAGE (default dockerpty-test/busybox), removed at the end.
local uv = require("luv")
local dockerpty = require("dockerpty")

local client = dockerpty.client.from_env()
local container = arg[1]
local made = false
if not container then
  container = client:create_container{
    image = os.getenv("DOCKERPTY_IMAGE") or "dockerpty-test/busybox",
    command = { "sleep", "3600" }, host_config = { NetworkMode = "none" },
    labels = { ["org.dockerpty.example"] = "luv_fanout" },
  }.Id
  client:start(container)
  made = true
end

local N = 20
local outs, results, ticks, running = {}, {}, 0, N

-- Drive one session from luv: step when its fd is readable or its timer fires.
local function drive(i, s)
  local poll = uv.new_poll(s:pollfd())
  local timer = uv.new_timer()
  local function kick()
    if s:step() then
      poll:stop(); poll:close(); timer:close()
      results[i] = { s:result() }
      s:close()
      running = running - 1
      return
    end
    timer:stop()
    local t = s:timeout()
    if t then timer:start(math.ceil(t * 1000), 0, kick) end
  end
  poll:start("r", kick)
  timer:start(0, 0, kick)
end

for i = 1, N do
  local out = {}
  outs[i] = out
  drive(i, dockerpty.session.exec(client, container,
    { "sh", "-c", "sleep 0.3; echo exec $0; exit $0", tostring(i) },
    { stdout = function(data) out[#out + 1] = data end }))
end

local ticker = uv.new_timer()
ticker:start(10, 10, function()
  ticks = ticks + 1
  if running == 0 then ticker:stop(); ticker:close() end
end)

uv.run()
for i = 1, N do
  io.write(("%2d %s %s %s %s"):format(i, tostring(results[i][1]), results[i][2], results[i][3],
    table.concat(outs[i])))
end
print(("ticks while the sessions ran: %s"):format(ticks >= 20 and "20 or more" or tostring(ticks)))

if made then client:remove_container(container, { force = true }) end
