-- examples/cqueues_fanout.lua: twenty execs at once inside a cqueues
-- controller, each in its own coroutine, while a ticker in the same
-- controller keeps ticking: a session yields to the controller
-- (s:wait(cqueues.poll)) instead of blocking it.
--
--   lua5.4 examples/cqueues_fanout.lua [CONTAINER]
--
-- With CONTAINER (running), runs the execs there; else in a fresh container
-- of $DOCKERPTY_IMAGE (default dockerpty-test/busybox), removed at the end.
local cqueues = require("cqueues")
local dockerpty = require("dockerpty")

local client = dockerpty.client.from_env()
local container = arg[1]
local made = false
if not container then
  container = client:create_container{
    image = os.getenv("DOCKERPTY_IMAGE") or "dockerpty-test/busybox",
    command = { "sleep", "3600" }, host_config = { NetworkMode = "none" },
    labels = { ["org.dockerpty.example"] = "cqueues_fanout" },
  }.Id
  client:start(container)
  made = true
end

local N = 20
local cq = cqueues.new()
local outs, results, ticks, running = {}, {}, 0, N

for i = 1, N do
  cq:wrap(function()
    local out = {}
    -- each exec sleeps a little, then answers with its number and exits with it
    local s = dockerpty.session.exec(client, container,
      { "sh", "-c", "sleep 0.3; echo exec $0; exit $0", tostring(i) },
      { stdout = function(data) out[#out + 1] = data end })
    results[i] = { s:wait(cqueues.poll) }
    outs[i] = table.concat(out)
    cqueues.cancel(s:pollfd())    -- as for any fd cqueues polled, before it is closed
    s:close()
    running = running - 1
  end)
end

cq:wrap(function()          -- the ticker: the controller stays free
  while running > 0 do
    ticks = ticks + 1
    cqueues.sleep(0.01)
  end
end)

assert(cq:loop())
for i = 1, N do
  io.write(("%2d %s %s %s %s"):format(i, tostring(results[i][1]), results[i][2], results[i][3], outs[i]))
end
print(("ticks while the sessions ran: %s"):format(ticks >= 20 and "20 or more" or tostring(ticks)))

if made then client:remove_container(container, { force = true }) end
