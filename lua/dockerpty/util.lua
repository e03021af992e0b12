--- Small helpers: argument checks, POSIX-shell word splitting, ids.
-- @module dockerpty.util
local M = {}

--- Raise the Lua-style argument error at the caller's caller.
function M.argerror(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
end

--- Check an argument's type; `tname` may be "string|table".
function M.check(n, fname, v, tname, optional)
  if v == nil and optional then return v end
  local t = type(v)
  for want in tname:gmatch("[^|]+") do
    if t == want then return v end
    if want == "integer" and math.type(v) == "integer" then return v end
  end
  error(("bad argument #%d to '%s' (%s expected, got %s)"):format(
    n, fname, tname:gsub("|", " or "), v == nil and "no value" or t), 3)
end

--- The id of a container or exec given as a string or a table with `Id`.
function M.id_of(n, fname, v)
  if type(v) == "string" and v ~= "" then return v end
  if type(v) == "table" then
    local id = v.Id or v.id or v.ID
    if type(id) == "string" and id ~= "" then return id end
  end
  error(("bad argument #%d to '%s' (id string or table with Id expected, got %s)"):format(
    n, fname, v == "" and "empty string" or type(v)), 3)
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

--- A command as an argv table: a string is split, a table copied.
function M.argv(n, fname, cmd)
  if type(cmd) == "string" then
    local ok, words = pcall(M.split, cmd)
    if not ok then error(("bad argument #%d to '%s' (%s)"):format(n, fname, words), 3) end
    return words
  elseif type(cmd) == "table" then
    local argv = {}
    for i, w in ipairs(cmd) do
      if type(w) ~= "string" then
        error(("bad argument #%d to '%s' (command word %d is a %s)"):format(n, fname, i, type(w)), 3)
      end
      argv[i] = w
    end
    return argv
  end
  error(("bad argument #%d to '%s' (string or table expected, got %s)"):format(
    n, fname, cmd == nil and "no value" or type(cmd)), 3)
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

return M
