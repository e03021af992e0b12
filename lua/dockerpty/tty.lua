--- Terminal helpers: the size of a terminal and raw mode as a resource.
-- Python dockerpty's `tty` module, over the C core.
-- @module dockerpty.tty
local core = require("dockerpty.core")

local M = {}

--- Size of the terminal behind a file or fd.
-- @treturn table|nil `{rows, cols}`, or nil when it is not a terminal
-- @usage local sz = tty.size(io.stdout) -- {24, 80}
-- @usage local size = tty.size(io.stdout) --> {24, 80}
function M.size(file)
  if file == nil or file == false or type(file) == "string" or type(file) == "function" then
    return nil
  end
  local rows, cols = core.getwinsize(file)
  if not rows or rows == 0 or cols == 0 then return nil end
  return { rows, cols }
end

--- Whether a file or fd is a terminal (false for strings, functions, false).
-- @usage if tty.isatty(io.stdin) then ... end
function M.isatty(file)
  if type(file) ~= "number" and io.type(file) ~= "file" then return false end
  return core.isatty(file)
end

local Terminal = {}
Terminal.__index = Terminal
M.Terminal = Terminal

--- A terminal whose raw mode is a resource: `start` enters raw mode (only
-- when `raw` is true and the file is a terminal), `stop` restores the
-- exact saved state; `<close>` and garbage collection restore too.
-- @tparam file|integer file usually io.stdin
-- @tparam[opt=true] boolean raw
-- @usage local t <close> = tty.Terminal.new(io.stdin, true):start()
-- @usage local t <close> = tty.Terminal.new(io.stdin, true):start()
function Terminal.new(file, raw)
  return setmetatable({ file = file, raw = raw ~= false, _state = nil }, Terminal)
end

--- Enter raw mode if asked and possible. Returns self; raises on an OS
-- failure (the terminal is left as it was).
-- @usage t:start()
function Terminal:start()
  if self.raw and not self._state and M.isatty(self.file) then
    local st, msg = core.raw(self.file)
    if not st then error("dockerpty: cannot enter raw mode: " .. msg, 2) end
    self._state = st
  end
  return self
end

--- Restore the terminal (idempotent). Returns self.
-- @usage t:stop()
function Terminal:stop()
  local st = self._state
  if st then
    self._state = nil
    st:restore()
  end
  return self
end

--- True while raw mode is on.
-- @usage print(t:israw())
function Terminal:israw()
  return self._state ~= nil
end

Terminal.__close = Terminal.stop

return M
