--- Small helpers: argument checks, POSIX-shell word splitting, ids.
-- @module dockerpty.util
local M = {}

-- The directory of the library's modules, from this file's own source
-- ("@./lua/dockerpty/util.lua" -> "./lua/dockerpty/").
local LIBDIR = debug.getinfo(1, "S").source:match("^@(.*[/\\])util%.lua$")

local function in_library(info)
  return LIBDIR ~= nil and info ~= nil and info.source:sub(1, #LIBDIR + 1) == "@" .. LIBDIR
end

--- Raise `msg` (a "bad argument" text) at the first caller outside the
-- library, so the position names the line that misused it, however deep in
-- the library the check ran. A C function (pcall) called from outside the
-- library counts as outside: its error carries no position, as Lua's own.
-- @usage util.raise_arg("bad argument #1 to 'start' (client expected, got nil)")
function M.raise_arg(msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if info == nil then break end
    if info.what == "C" then
      if not in_library(debug.getinfo(level + 1, "S")) then break end
    elseif not in_library(info) then
      break
    end
    level = level + 1
  end
  error(msg, level)
end

--- Raise the Lua-style argument error at the caller outside the library.
function M.argerror(n, fname, msg)
  M.raise_arg(("bad argument #%d to '%s' (%s)"):format(n, fname, msg))
end

--- Check an argument's type; `tname` may be "string|table".
function M.check(n, fname, v, tname, optional)
  if v == nil and optional then return v end
  local t = type(v)
  for want in tname:gmatch("[^|]+") do
    if t == want then return v end
    if want == "integer" and math.type(v) == "integer" then return v end
  end
  M.raise_arg(("bad argument #%d to '%s' (%s expected, got %s)"):format(
    n, fname, tname:gsub("|", " or "), v == nil and "no value" or t))
end

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

--- Check that an argument is a client: a table (or object) with each of
-- the named methods, so a wrong one fails here, not deep in a session.
-- @usage util.check_client(1, "start", client, { "inspect_container", "attach_socket" })
function M.check_client(n, fname, v, methods)
  local t = type(v)
  if t ~= "table" and t ~= "userdata" then
    M.raise_arg(("bad argument #%d to '%s' (client expected, got %s)"):format(
      n, fname, v == nil and "no value" or t))
  end
  for _, m in ipairs(methods) do
    if not callable(v[m]) then
      M.raise_arg(("bad argument #%d to '%s' (client expected, got a %s without method '%s')")
        :format(n, fname, t, m))
    end
  end
  return v
end

--- The id of a container or exec given as a string or a table with `Id`.
function M.id_of(n, fname, v)
  if type(v) == "string" and v ~= "" then return v end
  if type(v) == "table" then
    local id = v.Id or v.id or v.ID
    if type(id) == "string" and id ~= "" then return id end
  end
  M.raise_arg(("bad argument #%d to '%s' (id string or table with Id expected, got %s)"):format(
    n, fname, v == "" and "empty string" or v == nil and "no value" or type(v)))
end

--- Split a command line into words as a POSIX shell does (quotes and
-- backslashes; no expansion). Raises on an unterminated quote.
-- @usage split('sh -c "echo a b"') --> {"sh", "-c", "echo a b"}
function M.split(s)
  local words, cur, i, n = {}, nil, 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c == " " or c == "\t" or c == "\n" then
      if cur then words[#words + 1] = cur; cur = nil end
    elseif c == "\\" then
      i = i + 1
      if i <= n then
        local nx = s:sub(i, i)
        if nx ~= "\n" then cur = (cur or "") .. nx end
      end
    elseif c == "'" then
      local j = s:find("'", i + 1, true)
      if not j then error("unterminated single quote in command: " .. s, 2) end
      cur = (cur or "") .. s:sub(i + 1, j - 1)
      i = j
    elseif c == '"' then
      local buf = {}
      i = i + 1
      while true do
        if i > n then error("unterminated double quote in command: " .. s, 2) end
        local d = s:sub(i, i)
        if d == '"' then break end
        if d == "\\" and i < n then
          local nx = s:sub(i + 1, i + 1)
          if nx == '"' or nx == "\\" or nx == "$" or nx == "`" then
            buf[#buf + 1] = nx; i = i + 1
          elseif nx == "\n" then
            i = i + 1
          else
            buf[#buf + 1] = d
          end
        else
          buf[#buf + 1] = d
        end
        i = i + 1
      end
      cur = (cur or "") .. table.concat(buf)
    else
      cur = (cur or "") .. c
    end
    i = i + 1
  end
  if cur then words[#words + 1] = cur end
  return words
end

--- A command as an argv table: a string is split, a table copied. An
-- empty command (no words) is refused: the daemon would get `{}`.
function M.argv(n, fname, cmd)
  local argv
  if type(cmd) == "string" then
    local ok, words = pcall(M.split, cmd)
    if not ok then M.argerror(n, fname, words) end
    argv = words
  elseif type(cmd) == "table" then
    argv = {}
    for i, w in ipairs(cmd) do
      if type(w) ~= "string" then
        M.argerror(n, fname, ("command word %d is a %s"):format(i, type(w)))
      end
      argv[i] = w
    end
  else
    M.argerror(n, fname, ("string or table expected, got %s"):format(
      cmd == nil and "no value" or type(cmd)))
  end
  if #argv == 0 then M.argerror(n, fname, "empty command") end
  return argv
end

--- Percent-encode a query value.
function M.urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

--- Decode a percent-encoded string.
function M.urldecode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- Build a query string from a table (sorted keys, booleans as 1/0).
function M.query(t)
  if not t then return "" end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if v ~= nil then
      if v == true then v = "1" elseif v == false then v = "0" end
      parts[#parts + 1] = M.urlencode(k) .. "=" .. M.urlencode(v)
    end
  end
  if #parts == 0 then return "" end
  return "?" .. table.concat(parts, "&")
end

--- Base64 (RFC 4648: the standard alphabet, or with `url` the URL one) to
-- bytes, or nil when `s` is not base64 of that alphabet (padding needed).
-- @usage util.unbase64("aGk=") --> "hi"
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
function M.unbase64(s, url)
  if url then s = s:gsub("[-_]", { ["-"] = "+", ["_"] = "/" }) end
  if #s % 4 ~= 0 or not s:find("^[%w+/]*=?=?$") then return nil end
  local bits = s:gsub("=", ""):gsub(".", function(c)
    local v = B64:find(c, 1, true) - 1
    local t = {}
    for i = 5, 0, -1 do t[#t + 1] = (v >> i) & 1 end
    return table.concat(t)
  end)
  return (bits:gsub("%d%d%d%d%d%d%d%d", function(b) return string.char(tonumber(b, 2)) end)
    :sub(1, #bits // 8))
end

--- Bytes to base64 with padding (the standard alphabet, or with `url`
-- the URL one: Go's base64.URLEncoding).
-- @usage util.base64("hi") --> "aGk="
function M.base64(s, url)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local q = {}
    for k = 3, 0, -1 do
      local v = ((n >> (6 * k)) & 63) + 1
      q[#q + 1] = B64:sub(v, v)
    end
    if not b then q[3], q[4] = "=", "=" elseif not c then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  local text = table.concat(out)
  if url then text = text:gsub("[+/]", { ["+"] = "-", ["/"] = "_" }) end
  return text
end

return M
