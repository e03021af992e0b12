-- examples/stdin_string.lua: feed a container's stdin from a Lua string
-- and collect what it prints: `sort` in a fresh container, as
-- `printf 'pear\napple\nfig\n' | docker run --rm -i busybox sort` does.
--
--   lua5.4 examples/stdin_string.lua [CONTAINER]
--
-- With CONTAINER (running), runs `sort` there as an exec instead. The image
-- is $DOCKERPTY_IMAGE, else dockerpty-test/busybox.
local dockerpty = require("dockerpty")

local client = dockerpty.client.from_env()
local input = "pear\napple\nfig\n"
local out = {}
local opts = {
  stdin = input,                                    -- a string is read to its end, then EOF
  stdout = function(data) out[#out + 1] = data end,
}

local ok, how, code
if arg[1] then
  ok, how, code = dockerpty.exec_command(client, arg[1], "sort", opts)
else
  local c = client:create_container{
    image = os.getenv("DOCKERPTY_IMAGE") or "dockerpty-test/busybox",
    command = "sort", stdin_open = true,           -- stdin_open: like docker run -i
    host_config = { NetworkMode = "none" },
    labels = { ["org.dockerpty.example"] = "stdin_string" },
  }
  -- start attaches, starts the container, sends the string, half-closes
  -- stdin so sort sees EOF, and returns the exit code
  ok, how, code = dockerpty.start(client, c, opts)
  client:remove_container(c)
end

io.write(table.concat(out))             --> apple fig pear, one a line
print(ok, how, code)                    --> true  exit  0
