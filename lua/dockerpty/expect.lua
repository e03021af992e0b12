--- The matcher behind `Session:expect`: one buffer per stream of the text
-- received since that stream's previous match, and Lua patterns (or plain
-- strings) searched in it. No I/O: the session pushes what it reads and
-- asks for a match after each step.
--
-- Window: each buffer holds at most `window` bytes (default `M.WINDOW`,
-- 1 MiB). When more arrives unmatched, the oldest bytes are dropped, so a
-- match that would start in them is lost; `before` then begins at the
-- oldest byte kept.
--
-- Cost: a stream arriving in small pieces is not re-scanned whole for each
-- piece. Nothing is searched again until new data came (or the patterns
-- changed). A plain string, or a pattern whose matches have a bounded length
-- (no `*`, `+`, `-`, `%b` or back-reference), is searched only where a new
-- match can lie: the last bytes of the old text plus the new ones. Other
-- patterns need the whole buffer; past 16 KiB such a full search waits until
-- a quarter of the buffer is new since the previous one, or for four times
-- as long as that search took (`match` then returns the seconds to wait),
-- so searching stays a bounded share of the time and of the bytes received
-- (a match is found late by at most that wait, never missed).
-- @module dockerpty.expect
-- @usage
-- local m = expect.new()
-- m:push("stdout", "login: ")
-- local i, before = m:match({ "login: ", "Password:" }, { plain = true })  --> 1, ""
local core = require("dockerpty.core")

local M = {}

M.WINDOW = 1024 * 1024
-- A full search of a buffer up to this size is always done at once.
M.EAGER = 16 * 1024

local Matcher = {}
Matcher.__index = Matcher
Matcher.__name = "dockerpty.Matcher"
M.Matcher = Matcher

local find, sub, format = string.find, string.sub, string.format
local huge = math.huge

--[[ Pattern analysis ==================================================]]

-- The index after the set that starts at p[i] == "[", or nil and Lua's
-- message (lstrlib's classEnd: the first character after "[" or "[^" is
-- part of the set, "%" escapes the next one).
local function set_end(p, i)
  local n = #p
  i = i + 1
  if sub(p, i, i) == "^" then i = i + 1 end
  repeat
    if i > n then return nil, "malformed pattern (missing ']')" end
    local c = sub(p, i, i)
    i = i + 1
    if c == "%" and i <= n then i = i + 1 end
  until sub(p, i, i) == "]"
  return i + 1
end

-- The index after the single-character class at p[i], or nil and a message.
local function class_end(p, i)
  local c = sub(p, i, i)
  if c == "%" then
    if i == #p then return nil, "malformed pattern (ends with '%')" end
    return i + 2
  elseif c == "[" then
    return set_end(p, i)
  end
  return i + 1
end

-- What a Lua pattern can match: the longest match (math.huge when
-- unbounded) and whether it is anchored; or nil and the message Lua gives
-- for the malformation (found here up front: Lua reports some only when a
-- match reaches them).
local function analyze(p)
  local n, i, len, anchored = #p, 1, 0, false
  local open, closed, level = {}, {}, 0
  if sub(p, 1, 1) == "^" then anchored, i = true, 2 end
  while i <= n do
    local c, d = sub(p, i, i), sub(p, i + 1, i + 1)
    local j, err
    if c == "(" then
      level = level + 1
      if level > 32 then return nil, "too many captures" end
      if d == ")" then
        closed[level], i = true, i + 2
      else
        open[#open + 1], i = level, i + 1
      end
    elseif c == ")" then
      if #open == 0 then return nil, "invalid pattern capture" end
      closed[open[#open]], open[#open] = true, nil
      i = i + 1
    elseif c == "$" and i == n then
      i = i + 1
    elseif c == "%" and d == "b" then
      if i + 3 > n then return nil, "malformed pattern (missing arguments to '%b')" end
      len, i = huge, i + 4
    elseif c == "%" and d == "f" then
      if sub(p, i + 2, i + 2) ~= "[" then return nil, "missing '[' after '%f' in pattern" end
      i, err = set_end(p, i + 2)
      if not i then return nil, err end
    elseif c == "%" and find(d, "^%d$") then
      local k = tonumber(d)
      if k == 0 or not closed[k] then return nil, format("invalid capture index %%%d", k) end
      len, i = huge, i + 2
    else
      j, err = class_end(p, i)
      if not j then return nil, err end
      local q = sub(p, j, j)
      if q == "*" or q == "+" or q == "-" then
        len, i = huge, j + 1
      elseif q == "?" then
        len, i = len + 1, j + 1
      else
        len, i = len + 1, j
      end
    end
  end
  if #open > 0 then return nil, "unfinished capture" end
  return len, anchored
end

local function pattern_error(p, msg, level)
  error(format("bad argument #1 to 'expect' (invalid pattern '%s': %s)", p, msg), level + 1)
end

-- Compiled pattern lists by key, kept while in use.
local compiled = setmetatable({}, { __mode = "v" })

-- The compiled list: { key =, plain =, [i] = { pattern, longest, anchored } }.
local function compile(patterns, opts, level)
  local list = type(patterns) == "string" and { patterns } or patterns
  if type(list) ~= "table" or #list == 0 then
    error(format("bad argument #1 to 'expect' (pattern or non-empty list of patterns expected, got %s)",
      type(patterns) == "table" and "empty table" or type(patterns)), level + 1)
  end
  local plain = opts and opts.plain and true or false
  local keys = { plain and "p" or "l" }
  for i, p in ipairs(list) do
    if type(p) ~= "string" then
      error(format("bad argument #1 to 'expect' (pattern %d: string expected, got %s)", i, type(p)),
        level + 1)
    end
    keys[i + 1] = p
  end
  local key = table.concat(keys, "\0")
  local c = compiled[key]
  if c then return c end
  c = { key = key, plain = plain }
  for i, p in ipairs(list) do
    local len, anchored = #p, false
    if not plain then
      len, anchored = analyze(p)
      if not len then pattern_error(p, anchored, level + 1) end
    end
    c[i] = { p, len, anchored }
  end
  compiled[key] = c
  return c
end

--[[ Buffers ============================================================]]

-- A stream's buffer is a rope: `parts`, whose lengths at least double from
-- the last to the first, so pushing a piece copies O(log n) bytes per byte;
-- `off` bytes of parts[1] are already dropped; `size` is the length kept.
local function new_stream()
  return { parts = {}, off = 0, size = 0, scanned = 0, key = nil,
    full_size = 0, full_at = -huge, full_cost = 0, eof = false }
end

local function flatten(st)
  local parts = st.parts
  if #parts == 0 then return "" end
  if #parts == 1 and st.off == 0 then return parts[1] end
  parts[1] = sub(parts[1], st.off + 1)
  local s = table.concat(parts)
  st.parts, st.off = { s }, 0
  return s
end

-- The buffer from logical index i (1-based) to its end.
local function tail_from(st, i)
  if i <= 1 then return flatten(st) end
  local parts, need, k = st.parts, st.size - i + 1, #st.parts
  local got = 0
  while k > 1 and got + #parts[k] < need do
    got = got + #parts[k]
    k = k - 1
  end
  local pieces = { sub(parts[k], -(need - got)) }
  for x = k + 1, #parts do pieces[#pieces + 1] = parts[x] end
  return table.concat(pieces)
end

local function drop(st, n)
  st.off, st.size = st.off + n, st.size - n
  st.scanned = math.max(0, st.scanned - n)
  st.full_size = math.max(0, st.full_size - n)
  local parts = st.parts
  while parts[1] and st.off >= #parts[1] do
    st.off = st.off - #parts[1]
    table.remove(parts, 1)
  end
end

--[[ Matcher ============================================================]]

--- A matcher.
-- @tparam[opt] table opts `window` (bytes kept per stream, default
-- `M.WINDOW`), `clock` (monotonic seconds, default the core's clock) and
-- `cpu_clock` (for the cost of a search, default `os.clock`).
-- @usage local m = expect.new({ window = 4096 })
function M.new(opts)
  opts = opts or {}
  return setmetatable({
    _window = opts.window or M.WINDOW,
    _clock = opts.clock or function() return core.now() / 1000 end,
    _cpu = opts.cpu_clock or os.clock,
    _streams = {},
  }, Matcher)
end

function Matcher:_stream(name)
  local st = self._streams[name]
  if not st then
    st = new_stream()
    self._streams[name] = st
  end
  return st
end

--- Add what a stream received; `data == nil` marks its end (an output
-- sink's EOF). Beyond the window the oldest bytes are dropped.
-- @usage m:push("stdout", chunk)
function Matcher:push(stream, data)
  local st = self:_stream(stream)
  if data == nil then
    st.eof = true
    return
  end
  if data == "" then return end
  local parts = st.parts
  parts[#parts + 1] = data
  while #parts > 1 and #parts[#parts - 1] - (#parts == 2 and st.off or 0) <= #parts[#parts] do
    local last = table.remove(parts)
    if #parts == 1 then
      parts[1], st.off = sub(parts[1], st.off + 1) .. last, 0
    else
      parts[#parts] = parts[#parts] .. last
    end
  end
  st.size = st.size + #data
  if st.size > self._window then drop(st, st.size - self._window) end
end

--- The unmatched text of a stream.
-- @usage print(m:buffer("stdout"))
function Matcher:buffer(stream)
  return flatten(self:_stream(stream))
end

--- True once the stream ended (after `push(stream, nil)`).
-- @usage if m:eof("stdout") then return nil, "eof" end
function Matcher:eof(stream)
  return self:_stream(stream).eof
end

-- Run one search; Lua's errors (e.g. "pattern too complex") re-raised as
-- an argument error naming the pattern.
local function search(s, pat, init, plain, level)
  local r = table.pack(pcall(find, s, pat[1], init, plain))
  if not r[1] then
    pattern_error(pat[1], tostring(r[2]):gsub("^[^:]*:%d+: ", ""), level + 1)
  end
  return r
end

-- Whether a full search of the whole buffer should wait; then the seconds.
function Matcher:_defer(st, c, final)
  if final or st.size <= M.EAGER or st.key ~= c.key then return nil end
  if st.size - st.full_size >= st.full_size / 4 then return nil end
  local wait = st.full_at + 4 * st.full_cost - self._clock()
  if wait <= 0 then return nil end
  return wait
end

--- Search a stream for the leftmost match of any pattern (the first in the
-- list on a tie) and consume the text through its end.
-- @tparam string|table patterns a Lua pattern or a list of them
-- @tparam[opt] table opts `stream` (default "stdout"), `plain` (match
-- literally), `final` (search everything now: the session passes it at a
-- timeout)
-- @tparam[opt] integer level the error level for bad patterns, as `error`
-- counts from the caller of `match` (default 1: that caller)
-- @treturn[1] integer the index of the pattern that matched
-- @treturn[1] string the text before the match
-- @treturn[1] ... the pattern's captures, or the whole match when it has none
-- (a position capture `()` counts in the buffer as it was before the match)
-- @treturn[2] nil no match yet
-- @treturn[2] number|nil when the search was deferred: call again within
-- these seconds even if nothing new arrives
-- @usage local i, before, answer = m:match({ "(%d+) ok", "error" })
function Matcher:match(patterns, opts, level)
  level = (level or 1) + 1
  local c = compile(patterns, opts, level)
  local st = self:_stream(opts and opts.stream or "stdout")
  if st.key == c.key and st.scanned == st.size then return nil end
  local wait = self:_defer(st, c, (opts and opts.final) or st.eof)
  if wait then return nil, wait end   -- nothing searched: st.scanned stays
  local scanned = st.key == c.key and st.scanned or 0
  local full, best, bs, be = nil, nil, huge, nil   -- best: { index, find's results }
  local t0, searched_all = nil, false
  for i, pat in ipairs(c) do
    local from = (pat[3] or pat[2] == huge) and 1 or math.max(1, scanned - pat[2])
    local s, init, base
    if pat[3] and pat[2] < scanned then
      -- anchored, bounded, and already tried on more than it can match:
      -- it fails until a match consumes the text
      goto next
    elseif from <= 1 then
      if not t0 and pat[2] == huge then t0, searched_all = self._cpu(), true end
      full = full or flatten(st)
      s, init, base = full, 1, 0
    else
      s, init, base = tail_from(st, from - 1), 2, from - 2
    end
    do
      local r = search(s, pat, init, c.plain, level)
      if r[2] and r[2] + base < bs then
        bs, be, r.base = r[2] + base, r[3] + base, base
        best = { i, r }
      end
    end
    ::next::
  end
  if searched_all then
    st.full_size, st.full_at, st.full_cost = st.size, self._clock(), self._cpu() - t0
  end
  st.key = c.key
  if not best then
    st.scanned = st.size
    return nil
  end
  full = full or flatten(st)
  local r, base = best[2], best[2].base
  local before, whole = sub(full, 1, bs - 1), sub(full, bs, be)
  local out = { best[1], before }
  if r.n <= 3 then
    out[3] = whole
  else
    for k = 4, r.n do
      local v = r[k]
      out[k - 1] = type(v) == "number" and v + base or v
    end
  end
  st.parts, st.off, st.size = { sub(full, be + 1) }, 0, #full - be
  st.scanned, st.full_size = 0, 0
  return table.unpack(out, 1, math.max(3, r.n - 1))
end

return M
