--- Output of many sources on one stream, a line at a time, each line
-- prefixed with its source's name as docker compose does: `name | text`,
-- names padded to one width, a colour per name when the stream is a
-- terminal. A line is written whole or not at all, so lines of different
-- sources never mix; a last line without a newline is written, with one,
-- by `flush`.
-- @module dockerpty.prefix
-- @usage
-- local w = prefix.new(io.stdout, { "web.1", "web.2" })
-- local sink = w:sink("web.1")     -- give it to a session as its stdout
-- sink("hello\nwor"); sink("ld\n") --> "web.1 | hello" and "web.1 | world"
-- w:flush()
local tty = require("dockerpty.tty")
local util = require("dockerpty.util")

local M = {}

--- The colours, in the order names take them (ANSI SGR parameters:
-- cyan, yellow, green, magenta, blue, then their bright forms).
M.COLORS = { "36", "33", "32", "35", "34", "96", "93", "92", "95", "94" }

local Writer = {}
Writer.__index = Writer
M.Writer = Writer

--- A writer to `out` for sources called `names`.
-- @tparam file|function out a file (written and flushed a line at a
-- time), or a function called with each piece of text
-- @tparam table names every name that will have a sink (for the width)
-- @tparam[opt] table opts `color` (true, false, or nil: when `out` is a
-- terminal), `prefix` (false: lines are written as they are, still
-- whole)
-- @treturn Writer
-- @usage local w = prefix.new(io.stderr, names, { color = false })
function M.new(out, names, opts)
  if io.type(out) ~= "file" and type(out) ~= "function" then
    util.argerror(1, "new", ("file or function expected, got %s"):format(
      out == nil and "no value" or type(out)))
  end
  util.check(2, "new", names, "table")
  opts = util.check(3, "new", opts, "table", true) or {}
  local color = opts.color
  if color == nil then color = tty.isatty(out) end
  local width = 0
  for _, n in ipairs(names) do
    util.check(2, "new", n, "string")
    if #n > width then width = #n end
  end
  return setmetatable({ out = out, names = names, width = width, color = color and true or false,
    plain = opts.prefix == false, _pending = {}, _order = {}, _prefix = {} }, Writer)
end

function Writer:_write(s)
  if type(self.out) == "function" then
    self.out(s)
  else
    self.out:write(s)
    self.out:flush()
  end
end

-- The prefix of a name: padded, coloured by the name's place in `names`.
function Writer:prefix_of(name)
  local p = self._prefix[name]
  if p then return p end
  if self.plain then
    p = ""
  else
    p = name .. (" "):rep(self.width - #name) .. " | "
    if self.color then
      local k = 1
      for i, n in ipairs(self.names) do
        if n == name then k = i break end
      end
      p = ("\27[%sm%s\27[0m"):format(M.COLORS[(k - 1) % #M.COLORS + 1], p)
    end
  end
  self._prefix[name] = p
  return p
end

--- Write the complete lines of `data`, keep the rest for later.
-- @tparam string name
-- @tparam string data
-- @usage w:feed("web.1", "a\nb") -- writes "web.1 | a\n", keeps "b"
function Writer:feed(name, data)
  local pending = self._pending[name]
  if pending == nil then
    self._order[#self._order + 1] = name
    pending = ""
  end
  local buf = pending .. data
  local last = buf:match(".*()\n")
  if not last then
    self._pending[name] = buf
    return
  end
  local p = self:prefix_of(name)
  local parts = {}
  for line in buf:sub(1, last):gmatch("([^\n]*)\n") do
    parts[#parts + 1] = p
    parts[#parts + 1] = line
    parts[#parts + 1] = "\n"
  end
  self._pending[name] = buf:sub(last + 1)
  self:_write(table.concat(parts))
end

--- A function sink for `name` (as a session's `stdout` or `stderr`).
-- @usage local s = session.exec(c, id, "ls", { stdout = w:sink("web.1") })
function Writer:sink(name)
  util.check(1, "sink", name, "string")
  return function(data) self:feed(name, data) end
end

--- Write the unfinished last line of `name` (of every name when nil),
-- ended with a newline.
-- @usage w:flush()
function Writer:flush(name)
  local names = name and { name } or self._order
  for _, n in ipairs(names) do
    local rest = self._pending[n]
    if rest and rest ~= "" then
      self._pending[n] = ""
      self:_write(self:prefix_of(n) .. rest .. "\n")
    end
  end
end

return M
