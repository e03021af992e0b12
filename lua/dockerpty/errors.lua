--- Error objects raised by the high-level API.
-- Each has `message` (starting with "dockerpty: "), `kind` ("connection",
-- "api", "protocol", "timeout", "usage", "io" for a failed write to a sink,
-- "interrupted" when a stop signal ended a session, with `signal` = "INT",
-- "TERM" or "HUP", "closed" for a session closed before its end) and
-- `status` (the HTTP status or nil), and prints as its message.
-- @module dockerpty.errors
local M = {}

local Error = {}
Error.__index = Error
Error.__name = "dockerpty.Error"

function Error.__tostring(e)
  return e.message
end

M.Error = Error

--- Make an error object.
-- @tparam string kind
-- @tparam string message without the "dockerpty: " prefix
-- @tparam[opt] integer status
-- @tparam[opt] table extra fields merged in (e.g. `name`, `detail`)
-- @usage local e = errors.new("api", "no such container: x (404)", 404)
function M.new(kind, message, status, extra)
  local e = setmetatable({ kind = kind, message = "dockerpty: " .. message, status = status }, Error)
  if extra then
    for k, v in pairs(extra) do e[k] = v end
  end
  return e
end

--- Raise an error object (level is irrelevant for tables).
-- @usage errors.raise("usage", "the input device is not a TTY")
function M.raise(kind, message, status, extra)
  error(M.new(kind, message, status, extra), 0)
end

--- True when v is one of our error objects.
-- @usage local ok, e = pcall(f); if errors.is(e) then print(e.kind, e.status) end
function M.is(v)
  return getmetatable(v) == Error
end

--- Kind of error for a core failure name ("timeout" or a connection error).
function M.kind_of(name)
  if name == "timeout" then return "timeout" end
  if name == "protocol" then return "protocol" end
  return "connection"
end

--- Raise from a core failure triple (nil, msg, name).
function M.from_core(msg, name, prefix)
  local text = prefix and (prefix .. ": " .. tostring(msg)) or tostring(msg)
  M.raise(M.kind_of(name), text, nil, { name = name })
end

return M
