-- examples/attach_shell.lua: a shell in a fresh container, in this
-- terminal, as `docker run --rm -it busybox sh` gives one: raw mode, the
-- window size followed, Ctrl-P Ctrl-Q to detach, the shell's exit code.
--
--   lua5.4 examples/attach_shell.lua [CONTAINER]
--
-- With CONTAINER, attaches to that one (starting it if it is stopped) and
-- leaves it alone afterwards. The image is $DOCKERPTY_IMAGE, else
-- dockerpty-test/busybox (the test rig's; any image with /bin/sh will do).
local dockerpty = require("dockerpty")

local client = dockerpty.client.from_env()   -- DOCKER_HOST, as the docker CLI
local container = arg[1]
local made = false
if not container then
  container = client:create_container{
    image = os.getenv("DOCKERPTY_IMAGE") or "dockerpty-test/busybox",
    command = "/bin/sh", tty = true, stdin_open = true,
    host_config = { NetworkMode = "none" },   -- no network needed here
    labels = { ["org.dockerpty.example"] = "attach_shell" },   -- tells what made it
  }.Id
  made = true
end

-- Returns when the shell exits (true|nil, "exit", code) or when you
-- detach (true, "detach"); the terminal is restored either way.
local ok, how, code = dockerpty.start(client, container)
print(("[session: %s %s %s]"):format(tostring(ok), how, tostring(code)))

if made and how == "exit" then
  client:remove_container(container)
elseif made then
  print("[the container runs on: " .. container:sub(1, 12) .. "]")
end
os.exit(how == "exit" and code or 0)
