-- examples/exec_capture.lua: run a command in a running container and
-- capture its output in Lua strings, stdout and stderr apart (no tty).
--
--   lua5.4 examples/exec_capture.lua [CONTAINER]
--
-- With CONTAINER (running), runs the command there; else in a fresh
-- container of $DOCKERPTY_IMAGE (default dockerpty-test/busybox), removed
-- at the end.
local dockerpty = require("dockerpty")

local client = dockerpty.client.from_env()
local container = arg[1]
local made = false
if not container then
  container = client:create_container{
    image = os.getenv("DOCKERPTY_IMAGE") or "dockerpty-test/busybox",
    command = { "sleep", "3600" }, host_config = { NetworkMode = "none" },
    labels = { ["org.dockerpty.example"] = "exec_capture" },
  }.Id
  client:start(container)
  made = true
end

-- Output goes to functions instead of files: each call gets a chunk.
local out, err = {}, {}
local ok, how, code = dockerpty.exec_command(client, container,
  { "sh", "-c", "uname -s; echo 'to stderr' >&2; exit 3" }, {
    interactive = false,                          -- no stdin
    stdout = function(data) out[#out + 1] = data end,
    stderr = function(data) err[#err + 1] = data end,
  })
local stdout, stderr = table.concat(out), table.concat(err)

-- %q, with newlines shown as \n
local function show(s) return (("%q"):format(s):gsub("\\\n", "\\n")) end
print("stdout " .. show(stdout))        --> stdout "Linux\n"
print("stderr " .. show(stderr))        --> stderr "to stderr\n"
print(ok, how, code)                    --> nil  exit  3

if made then client:remove_container(container, { force = true }) end
