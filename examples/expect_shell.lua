-- examples/expect_shell.lua: drive an interactive shell from a script, as
-- a person types at it: start `sh` with a tty in a container, wait for its
-- prompt, run a command, capture the answer, and leave with an exit code.
--
--   lua5.4 examples/expect_shell.lua [CONTAINER]
--
-- With CONTAINER (running), the shell runs there; else in a fresh container
-- of $DOCKERPTY_IMAGE (default dockerpty-test/busybox), removed at the end.
-- Prints the answer and the session's result; exits 0 when both are right.
local dockerpty = require("dockerpty")
local session = dockerpty.session

local client = dockerpty.client.from_env()
local container = arg[1]
local made = false
if not container then
  container = client:create_container{
    image = os.getenv("DOCKERPTY_IMAGE") or "dockerpty-test/busybox",
    command = { "sleep", "3600" }, host_config = { NetworkMode = "none" },
    labels = { ["org.dockerpty.example"] = "expect_shell" },
  }.Id
  client:start(container)
  made = true
end

-- stdin = true: the script writes the shell's stdin with send(); output
-- is kept for expect() (and, here, not printed: stdout = false).
local s <close> = session.exec(client, container, "sh", { tty = true, stdin = true, stdout = false })
assert(s:expect("# ", { plain = true, timeout = 10 }), "no prompt")
s:send("expr 6 \\* 7\r")                       -- a tty wants Enter: \r
-- the shell echoes the line first; the answer is the next line
local _, _, answer = s:expect("\r\n(%d+)\r\n", { timeout = 10 })
print("answer " .. tostring(answer))           --> answer 42
s:expect("# ", { plain = true })
s:send("exit 3\r")
local ok, how, code = s:wait()
print(ok, how, code)                           --> nil  exit  3

if made then client:remove_container(container, { force = true }) end
os.exit(answer == "42" and how == "exit" and code == 3 and 0 or 1)
