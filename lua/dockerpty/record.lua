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
-- @module dockerpty.record
-- @usage
-- local rec <close> = record.open("demo.cast", { width = 80, height = 24, command = "sh" })
-- rec:output("$ ")
-- rec:resize(100, 30)
local cjson = require("cjson")
local core = require("dockerpty.core")
local errors = require("dockerpty.errors")
local util = require("dockerpty.util")

local M = {}

local Recorder = {}
Recorder.__index = Recorder
Recorder.__name = "dockerpty.Recorder"
M.Recorder = Recorder

local byte, find, format, gsub, sub = string.byte, string.find, string.format, string.gsub, string.sub
local utf8len = utf8.len
local encode = cjson.encode
local REPLACEMENT = "\u{FFFD}"

-- Replace every byte that is not part of a valid UTF-8 sequence (overlong
-- forms, surrogates and code points past U+10FFFF included) with U+FFFD.
-- utf8.len scans in C; the loop runs only for chunks that hold bad bytes.
local function valid_utf8(s)
  if utf8len(s) then return s end
  local out, i = {}, 1
  while true do
    local ok, bad = utf8len(s, i)
    if ok then
      out[#out + 1] = sub(s, i)
      return table.concat(out)
    end
    out[#out + 1] = sub(s, i, bad - 1)
    out[#out + 1] = REPLACEMENT
    i = bad + 1
  end
end
M.valid_utf8 = valid_utf8

--- Any bytes as a JSON string (with its quotes): invalid UTF-8 replaced,
-- then escaped by lua-cjson's C encoder (control characters as `\u001b`,
-- `"`, `\`, and `/` as `\/`, which JSON allows).
-- @usage record.json_string("a\27[0m\255") --> '"a\u001b[0m\xef\xbf\xbd"'
function M.json_string(s)
  return encode(valid_utf8(s))
end
local json_string = M.json_string

-- Where the last character of s starts when it is an incomplete multi-byte
-- sequence (a lead byte with fewer continuation bytes than it announces),
-- else nil. Looks at the last three bytes at most.
local function incomplete_tail(s)
  local n = #s
  for i = n, n > 3 and n - 2 or 1, -1 do
    local b = byte(s, i)
    if b < 0x80 then return nil end
    if b >= 0xC0 then
      if b >= 0xF8 then return nil end
      local need = b >= 0xF0 and 4 or b >= 0xE0 and 3 or 2
      if n - i + 1 < need then return i end
      return nil
    end
  end
  return nil
end

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

local function default_clock()
  return core.now() / 1000
end

-- The writer for a target: a function(line, t, code, text) that writes one
-- line (without its newline) or raises; and whether close closes the file.
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
-- or a function called with each line as a string without its newline:
-- `fn(header_line)` first, then `fn(line, seconds, code, text)` per event
-- (`code` is "o", "i" or "r"; `text` the event's text, valid UTF-8).
-- @tparam[opt] table info `width` and `height` (default 80x24), `command`
-- (a string, or a list of words shown shell-quoted), `timestamp` (integer
-- seconds since the epoch, default now), `env` (a table whose TERM and SHELL
-- are recorded; default the process environment), `record_input` (default
-- false: `input` records nothing), `clock` (a function giving monotonic
-- seconds; default the core's millisecond clock).
-- @treturn Recorder
-- @usage local rec = record.open(io.stdout, { width = 80, height = 24 })
function M.open(target, info)
  util.check(2, "open", info, "table", true)
  info = info or {}
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

function Recorder:_line(line, t, code, text)
  if self._fn then
    self._out(line, t, code, text)
    return
  end
  local ok, err = self._out:write(line, "\n")
  if ok then ok, err = self._out:flush() end
  if not ok then errors.raise("io", "writing the recording: " .. tostring(err)) end
end

-- One event; text is valid UTF-8.
function Recorder:_event(code, text)
  local t = self._clock() - self._start
  if t < 0 then t = 0 end
  self:_line(format('[%.6f, "%s", %s]', t, code, encode(text)), t, code, text)
end

-- Text of a chunk of a stream, holding back a character it splits.
function Recorder:_text(data, stream)
  local held = self._held[stream]
  if held then
    data = held .. data
    self._held[stream] = nil
  end
  local cut = incomplete_tail(data)
  if cut then
    self._held[stream] = sub(data, cut)
    data = sub(data, 1, cut - 1)
  end
  return valid_utf8(data)
end

-- A held incomplete character, when its stream ends: U+FFFD per byte.
function Recorder:_drain(code, stream)
  local held = self._held[stream]
  if held then
    self._held[stream] = nil
    self:_event(code, valid_utf8(held))
  end
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
  if data == nil then return self:_drain("o", stream) end
  if data == "" then return end
  local text = self:_text(data, stream)
  if text ~= "" then self:_event("o", text) end
end

--- Record input (what was sent to the container's stdin), only when the
-- recording was opened with `record_input`; else nothing. `nil`: stdin ended.
-- @usage rec:input("ls\r")
function Recorder:input(data)
  check_open(self, "input")
  if not self._input then return end
  if data == nil then return self:_drain("i", "stdin") end
  if data == "" then return end
  local text = self:_text(data, "stdin")
  if text ~= "" then self:_event("i", text) end
end

--- Record a resize of the terminal to cols x rows.
-- @usage rec:resize(120, 40)
function Recorder:resize(cols, rows)
  check_open(self, "resize")
  self:_event("r", format("%dx%d", cols, rows))
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
  for _, stream in ipairs(streams) do self:_drain(stream == "stdin" and "i" or "o", stream) end
  self._closed = true
  if self._owned then
    self._out:close()
  elseif not self._fn then
    self._out:flush()
  end
end

Recorder.__close = Recorder.close
Recorder.__gc = function(self) pcall(Recorder.close, self) end

function Recorder.__tostring(self)
  return self._closed and "dockerpty.Recorder (closed)" or format("dockerpty.Recorder (%p)", self)
end

return M
