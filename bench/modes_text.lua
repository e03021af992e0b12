--- bench/modes_text.lua: what figure 8's scripts (modes_cost.lua and
-- modes_pair.lua) share: the terminal text, made once in the container, and
-- one tty exec of `cat` over it into a local file, modes tracked or not.
local dockerpty = require("dockerpty")
local operation = require("dockerpty.operation")
local pty = require("dockerpty.pty")
local core = dockerpty.core

local M = {}

-- One line of what a shell session prints, repeated: about one ESC in 9
-- bytes. A file in the container, so that the measured command is a plain
-- cat and the remote side is not the bottleneck.
function M.make(client, container, mib, path)
  local make = ("l=$(printf '\\033[?25l\\033[1;32muser@host\\033[0m:\\033[1;34m~/src\\033[0m$ " ..
    "ls -l caf\\303\\251 cr\\303\\250me \\033[?25h\\r'); yes \"$l\" | head -c %d > %s"):format(
    mib * 1048576, path)
  assert(select(2, dockerpty.exec_command(client, container, { "sh", "-c", make },
    { stdin = false, tty = false, stdout = false })) == "exit", "cannot make the text")
end

function M.remove(client, container, path)
  dockerpty.exec_command(client, container, { "rm", "-f", path }, { stdin = false, tty = false })
end

-- One run into the file at out_path; returns its wall seconds. The local
-- side is a file, not a terminal, so that no terminal emulator's cost is
-- measured: the pump's option is set as a raw session sets it.
function M.once(client, container, path, mib, track, out_path)
  local out = assert(io.open(out_path, "w"))
  local exec = client:exec_create(container, { "cat", path }, { stdin = false, tty = true })
  local op = operation.ExecOperation.created(client, exec, { tty = true, stdin = false },
    { stdout = out, stdin = false })
  op.tracks_modes = function() return track end
  local t0 = core.now()
  local ok, how, code = pty.PseudoTerminal.new(client, op):start()
  local wall = (core.now() - t0) / 1000
  local size = out:seek("end")
  out:close()
  assert(ok and how == "exit" and code == 0, "exec failed: " .. tostring(how) .. " " .. tostring(code))
  -- the remote tty's ONLCR adds a \r to each line: at least the bytes sent
  assert(size >= mib * 1048576, ("wrong size %d"):format(size))
  return wall
end

return M
