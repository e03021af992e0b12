-- spec/support/attach.lua: the program the #tty specs run inside tmux. It
-- attaches the terminal through the library and prints how the session
-- ended and whether the terminal came back byte for byte:
--
--   lua5.4 spec/support/attach.lua run CONTAINER [OPTS]
--   lua5.4 spec/support/attach.lua exec CONTAINER COMMAND [OPTS]
--   lua5.4 spec/support/attach.lua start_exec EXEC_ID [OPTS]
--   lua5.4 spec/support/attach.lua create_exec CONTAINER COMMAND [OPTS]   (exec_create, interactive)
--
-- OPTS is a Lua table constructor, e.g. '{logs = true}'. Output, after the
-- session: "[[RESULT <ok> <how> <code>]]" and "[[TERMIOS same|differ]]", or
-- "[[ERROR <message>]]" when the call raised.
local dockerpty = require("dockerpty")
local core = dockerpty.core
local tc = require("dockerpty_test")

local mode, target = arg[1], arg[2]
local command, optstr
if mode == "exec" or mode == "create_exec" then
  command, optstr = arg[3], arg[4]
else
  optstr = arg[3]
end
-- (io is there for an output function: `{stdout = function(s) io.stdout:write(s) end}`)
local opts = optstr and assert(load("return " .. optstr, "opts", "t", { io = io, error = error }))() or nil

local before = core.isatty(io.stdin) and tc.tcgetattr(io.stdin) or nil
local nonblock_before = core.nonblock(io.stdin)
local client = dockerpty.client.from_env()

local ok, a, b, c = pcall(function()
  if mode == "run" then
    return dockerpty.start(client, target, opts)
  elseif mode == "exec" then
    return dockerpty.exec_command(client, target, command, opts)
  elseif mode == "start_exec" then
    return dockerpty.start_exec(client, target, opts)
  elseif mode == "create_exec" then
    local exec = dockerpty.exec_create(client, target, command, true)
    return dockerpty.start_exec(client, exec, opts)
  end
  error("unknown mode " .. tostring(mode))
end)

local after = core.isatty(io.stdin) and tc.tcgetattr(io.stdin) or nil
io.stdout:write("\r\n")
if ok then
  io.stdout:write(("[[RESULT %s %s %s]]\n"):format(tostring(a), tostring(b), tostring(c)))
else
  io.stdout:write(("[[ERROR %s]]\n"):format(tostring(a)))
end
io.stdout:write(("[[TERMIOS %s]]\n"):format((before == after and core.nonblock(io.stdin) == nonblock_before)
  and "same" or "differ"))
io.stdout:flush()
-- tmux may scroll the first line away when the pane dies on a full screen:
-- DP_ATTACH_HOLD=ms keeps the program alive a little after its report.
local hold = tonumber(os.getenv("DP_ATTACH_HOLD") or "")
if hold then core.sleep(hold) end
-- a stop signal ended the session: die of it, as a command does (the
-- library itself never re-raises into its host)
if not ok and dockerpty.errors.is(a) and a.kind == "interrupted" then
  core.raise_default(a.signal)
end
