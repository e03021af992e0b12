--- Session recordings in the asciicast v2 format (what `asciinema play` and
-- `asciinema cat` read): a header line, then one JSON array per event,
-- written as the session runs.
--
-- Events are `[seconds, "o", text]` (output), `[seconds, "i", text]` (input,
-- only with `record_input`, since keystrokes may hold passwords) and
-- `[seconds, "r", "COLSxROWS"]` (resize); seconds count from `open`.
-- Text is always a valid JSON string of UTF-8: a character split across two
-- chunks is held back until its last byte arrives (never split across two
-- events), each byte that is not part of valid UTF-8 becomes U+FFFD, and
-- control characters are escaped (`\u001b`).
--
-- Each event is written, and a file flushed, as it comes, so a crash leaves
-- every event up to it. Only fields asciicast v2 defines are written.
--
-- The header's `env` holds the TERM and SHELL of the recording process's
-- environment (the terminal the session is shown in), or those `info.env`
-- gives; a variable that is unset is left out, so a script run without
-- them writes `"env": {}`. No TERM is made up for a tty session: the one
-- the container's tty gets is the engine's choice (Docker gives a tty
-- process TERM=xterm unless its Env sets one, Podman puts TERM=xterm in
-- every container's Env; the library sets none), and the header is written
-- at `open`, before a session knows whether it has a tty (an attach learns
-- it from the container's inspect). The `command` is what the caller knows
-- then (the entry points: the exec's or the created container's command,
-- the inspected one for `start` and `start_exec`), else left out.
-- @module dockerpty.record
-- @usage
-- local rec <close> = record.open("demo.cast", { width = 80, height = 24, command = "sh" })
-- rec:output("$ ")
-- rec:resize(100, 30)
local core = require("dockerpty.core")
local errors = require("dockerpty.errors")
local util = require("dockerpty.util")

local M = {}

local Recorder = {}
Recorder.__index = Recorder
Recorder.__name = "dockerpty.Recorder"
M.Recorder = Recorder

local find, format, gsub, sub = string.find, string.format, string.gsub, string.sub
local cast_event = core._cast_event

--- Any bytes as a JSON string (with its quotes) of valid UTF-8: each byte
-- outside a valid sequence as U+FFFD, control characters, `"` and `\`
-- escaped (`\u001b`).
-- @usage record.json_string("a\27[0m\255") --> '"a\u001b[0m\xef\xbf\xbd"'
function M.json_string(s)
  return sub(cast_event(0, "o", s, true), #'[0.000000, "o", ' + 1, -2)
end
local json_string = M.json_string

local function shell_word(w)
  if w ~= "" and not find(w, "[^%w%%+,./:=@_-]") then return w end
  return "'" .. gsub(w, "'", [['\'']]) .. "'"
end

local function command_text(c)
  if type(c) ~= "table" then return c end
  local words = {}
  for i, w in ipairs(c) do words[i] = shell_word(tostring(w)) end
  return table.concat(words, " ")
end

local function header_line(info)
  local env = info.env or { TERM = os.getenv("TERM"), SHELL = os.getenv("SHELL") }
  local parts = {}
  for _, k in ipairs({ "TERM", "SHELL" }) do
    if type(env[k]) == "string" then
      parts[#parts + 1] = format('"%s": %s', k, json_string(env[k]))
    end
  end
  local line = format('{"version": 2, "width": %d, "height": %d, "timestamp": %d',
    info.width or 80, info.height or 24, info.timestamp or os.time())
  local command = command_text(info.command)
  if command then line = line .. ', "command": ' .. json_string(command) end
  return line .. ', "env": {' .. table.concat(parts, ", ") .. "}}"
end

-- Monotonic seconds: the core's microsecond clock when it has one, else its
-- millisecond clock.
local default_clock = core.now_us and function() return core.now_us() / 1e6 end
  or function() return core.now() / 1000 end

local function check_info(info)
  for _, k in ipairs({ "width", "height", "timestamp" }) do
    local v = info[k]
    if v ~= nil and (type(v) ~= "number" or math.tointeger(v) == nil) then
      error(format("bad argument #2 to 'open' (info.%s: integer expected, got %s)", k,
        type(v) == "number" and tostring(v) or type(v)), 3)
    end
  end
  if info.clock ~= nil and type(info.clock) ~= "function" then
    error(format("bad argument #2 to 'open' (info.clock: function expected, got %s)", type(info.clock)), 3)
  end
end

-- The output for a target (a file or a function), and whether the
-- recorder opened the file itself (and so closes it).
local function open_target(target)
  local tt = io.type(target)
  if type(target) == "string" then
    local f, err = io.open(target, "w")
    if not f then
      if sub(err, 1, #target + 2) == target .. ": " then err = sub(err, #target + 3) end
      errors.raise("usage", format("cannot write the recording %s: %s", target, err))
    end
    f:setvbuf("full")
    return f, true
  elseif tt == "file" then
    return target, false
  elseif tt == "closed file" then
    error("bad argument #1 to 'open' (attempt to use a closed file)", 3)
  elseif type(target) == "function" then
    return target, false
  end
  error(format("bad argument #1 to 'open' (path, file or function expected, got %s)",
    target == nil and "no value" or type(target)), 3)
end

--- Start a recording: write the header at once.
-- @tparam string|file|function target a path (created or truncated; a path
-- that cannot be written raises a "usage" error naming it, having created
-- nothing), an open file (flushed after each event, not closed by `close`),
-- or a function called with each line, a string without its newline: the
-- header first, then one per event.
-- @tparam[opt] table info `width` and `height` (default 80x24), `command`
-- (a string, or a list of words shown shell-quoted), `timestamp` (integer
-- seconds since the epoch, default now), `env` (a table whose TERM and SHELL
-- are recorded; default the process environment), `record_input` (default
-- false: `input` records nothing), `clock` (a function giving monotonic
-- seconds; default the core's clock).
-- @treturn Recorder
-- @usage local rec = record.open(io.stdout, { width = 80, height = 24 })
function M.open(target, info)
  util.check(2, "open", info, "table", true)
  info = info or {}
  check_info(info)
  local out, owned = open_target(target)
  local clock = info.clock or default_clock
  local self = setmetatable({
    _out = out, _owned = owned, _fn = type(out) == "function",
    _clock = clock, _start = clock(), _input = info.record_input and true or false,
    _held = {},   -- per stream: the incomplete character ending its last chunk
  }, Recorder)
  self:_line(header_line(info))
  return self
end

function Recorder:_line(line)
  if self._fn then
    self._out(line)
    return
  end
  local ok, err = self._out:write(line, "\n")
  if ok then ok, err = self._out:flush() end
  if not ok then errors.raise("io", "writing the recording: " .. tostring(err)) end
end

-- One event of a stream's bytes; a character they end in the middle of is
-- held back for the stream's next chunk (or, final, becomes U+FFFD).
function Recorder:_event(code, data, stream, final)
  local held = self._held[stream]
  if held then
    data = held .. data
    self._held[stream] = nil
  end
  local t = self._clock() - self._start
  local line, rest = cast_event(t, code, data, final)
  self._held[stream] = rest
  if line then self:_line(line) end
end

local function check_open(self, fname)
  if getmetatable(self) ~= Recorder then
    error(format("bad argument #1 to '%s' (dockerpty.Recorder expected, got %s)", fname, type(self)), 3)
  end
  if self._closed then error("attempt to use a closed recorder", 3) end
end

--- Record output. `stream` (default "stdout") keeps apart the streams whose
-- split characters are held back: without a tty, pass "stderr" for stderr,
-- which is recorded as "o" too, in arrival order. `data == nil` means the
-- stream ended (an output sink's EOF): a character it held becomes U+FFFD.
-- Empty chunks record nothing.
-- @usage rec:output(chunk)
function Recorder:output(data, stream)
  check_open(self, "output")
  stream = stream or "stdout"
  if data == nil then
    if self._held[stream] then self:_event("o", "", stream, true) end
    return
  end
  if data ~= "" then self:_event("o", data, stream) end
end

--- Whether the recording takes input (it was opened with `record_input`).
-- @usage if rec:records_input() then ... end
function Recorder:records_input()
  return self._input
end

--- Record input (what was sent to the container's stdin), only when the
-- recording was opened with `record_input`; else nothing. `nil`: stdin ended.
-- @usage rec:input("ls\r")
function Recorder:input(data)
  check_open(self, "input")
  if not self._input then return end
  if data == nil then
    if self._held.stdin then self:_event("i", "", "stdin", true) end
    return
  end
  if data ~= "" then self:_event("i", data, "stdin") end
end

--- Record a resize of the terminal to cols x rows.
-- @usage rec:resize(120, 40)
function Recorder:resize(cols, rows)
  check_open(self, "resize")
  self:_event("r", format("%dx%d", cols, rows), "resize")
end

--- A function suited as a session's output sink: called with each chunk,
-- and nil at EOF, it records the chunk as output of `stream`.
-- @usage local sink = rec:sink("stderr")
function Recorder:sink(stream)
  return function(data) return self:output(data, stream) end
end

--- End the recording: held partial characters become U+FFFD events, the
-- file is flushed, and closed when `open` opened it. Idempotent.
-- @usage rec:close()
function Recorder:close()
  if self._closed then return end
  local streams = {}
  for stream in pairs(self._held) do streams[#streams + 1] = stream end
  table.sort(streams)
  for _, stream in ipairs(streams) do self:_event(stream == "stdin" and "i" or "o", "", stream, true) end
  self._closed = true
  if self._owned then
    self._out:close()
  elseif not self._fn then
    self._out:flush()
  end
end

Recorder.__close = Recorder.close

-- Collected unclosed: a file it opened is closed (stdio flushes it); no
-- event is written and no function called from the collector.
function Recorder.__gc(self)
  if not self._closed and self._owned then
    self._closed = true
    pcall(self._out.close, self._out)
  end
end

function Recorder.__tostring(self)
  return self._closed and "dockerpty.Recorder (closed)" or format("dockerpty.Recorder (%p)", self)
end

return M
