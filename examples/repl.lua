-- examples/repl.lua: dockerpty from the Lua REPL. Load it into an
-- interactive lua and take a shell in and out of a container, back to the
-- `>` prompt each time with the terminal as it was:
--
--   lua5.4 -i examples/repl.lua [CONTAINER]
--   > shell()                 -- /bin/sh in the container; `exit 3` returns nil exit 3
--   > run("ls /")             -- output captured in a string: "bin\ndev\n..."
--   > done()                  -- removes the container (if made here) and quits
--
-- With CONTAINER (running), uses that one and leaves it running. Otherwise
-- a fresh container of $DOCKERPTY_IMAGE (default dockerpty-test/busybox).
-- Globals on purpose: the REPL sees them.
-- luacheck: globals dockerpty client container shell run done
dockerpty = require("dockerpty")
client = dockerpty.client.from_env()
container = arg[1]

local made = nil
if not container then
  container = client:create_container{
    image = os.getenv("DOCKERPTY_IMAGE") or "dockerpty-test/busybox",
    command = { "sleep", "86400" }, host_config = { NetworkMode = "none" },
    labels = { ["org.dockerpty.example"] = "repl" },
  }.Id
  client:start(container)
  -- removed also when the REPL ends by Ctrl-D (lua closes its state)
  made = setmetatable({}, { __gc = function()
    pcall(client.remove_container, client, container, { force = true })
  end })
end

--- An interactive shell in the container (an exec with a tty).
function shell(cmd)
  return dockerpty.exec_command(client, container, cmd or "/bin/sh")
end

--- Run a command; returns its stdout as a string, then how and code.
function run(cmd)
  local out = {}
  local _, how, code = dockerpty.exec_command(client, container, cmd, {
    interactive = false, stdout = function(d) out[#out + 1] = d end })
  return table.concat(out), how, code
end

--- Remove what was made here and leave the REPL.
function done()
  if made then
    client:remove_container(container, { force = true })
    made = nil
  end
  os.exit(0)
end

print(("dockerpty %s: container %s; try shell(), run('uname -a'), done()"):format(
  dockerpty._VERSION, container:sub(1, 12)))
