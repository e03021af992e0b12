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

-- {======================================================
-- Sentences of REST requests (Http:request, client.lua)
-- =======================================================

--- The error object of a REST request that failed in the core
-- (`Http:request`'s `nil, message, NAME`). A timeout (name "timeout")
-- says which request got no answer from the daemon in time; any other
-- failure is the core's detail ("empty reply from server", "malformed
-- chunk size", libcurl's text) after the daemon's address. (A request that
-- reached no daemon, `Http:unreached()`, is `connect_failure`'s.)
-- @tparam string method
-- @tparam string path
-- @tparam string where the daemon, as `Client:where` names it
-- @tparam string msg
-- @tparam string name
-- @treturn Error
-- @usage error(errors.request_failure("GET", "/_ping", c:where(), msg, name), 0)
function M.request_failure(method, path, where, msg, name)
  if name == "timeout" then
    return M.new("timeout", ("%s %s: no answer from %s in time"):format(method, path, where), nil,
      { name = name })
  end
  return M.new(M.kind_of(name), where .. ": " .. tostring(msg), nil, { name = name })
end

-- }======================================================

--- The docker CLI's exit status for an error (an error object or any
-- other value) from `command`: `docker run` (the default) exits 127 when
-- the daemon could not find the command, 126 when it could not invoke it,
-- else 125; the other commands exit 1, and so does a failed write to our
-- own stdout or stderr.
-- @tparam any e
-- @tparam[opt] string command "run" (default), "exec", "attach", "start"...
-- @treturn integer
-- @usage os.exit(errors.exit_status(e))
function M.exit_status(e, command)
  -- our own output failing (a reader gone, a full disk): 1, as docker's
  if M.is(e) and e.kind == "io" then return 1 end
  if command ~= nil and command ~= "run" and command ~= "create" then return 1 end
  if not M.is(e) or e.kind ~= "api" then return 125 end
  local m = tostring(e.message)
  for _, s in ipairs({ "executable file not found", "no such file or directory",
      "system cannot find the file specified" }) do
    if m:find(s, 1, true) then return 127 end
  end
  if m:find("permission denied", 1, true) or m:find("is a directory", 1, true) then
    return 126
  end
  return 125
end

-- {======================================================================
-- Failures to reach the daemon. The core's transports (core.connect and a
-- Conn's send and read_head) return `nil, reason, NAME` without a sentence
-- for the user: the reason names what went wrong in a few words ("Connection
-- refused", "cannot run ssh: No such file or directory", for an ssh child
-- that ended its last stderr line), NAME is an errno name, a CURLE_ name,
-- "timeout", "ssh" (the child ended the stream before an answer) or
-- "libcurl" (it cannot be loaded: the reason says why). The docker CLI's
-- sentence is written here.

--- The sentence for a failure to reach the daemon at `where`:
-- "cannot connect to the Docker daemon at <where>: <reason>", and for a
-- connect timeout (NAME "timeout" with `timeout_ms`) the reason "connection
-- timed out after <timeout_ms> ms". A "libcurl" failure is its own reason.
-- @tparam string where the endpoint's name ("unix:///run/docker.sock")
-- @tparam string reason the core's message
-- @tparam string name the core's NAME
-- @tparam[opt] integer timeout_ms the connect timeout that ran out
-- @treturn string
-- @usage errors.connect_message("tcp://h:2375", "Connection refused", "ECONNREFUSED")
function M.connect_message(where, reason, name, timeout_ms)
  if name == "libcurl" then return tostring(reason) end
  if name == "timeout" and timeout_ms then
    reason = ("connection timed out after %d ms"):format(timeout_ms)
  end
  return ("cannot connect to the Docker daemon at %s: %s"):format(where, tostring(reason))
end

--- Raise the error object of a failure to reach the daemon (kind
-- "connection", or "timeout"; `name` the core's NAME).
-- @usage if not conn then errors.connect_failure(c:where(), msg, name, 10000) end
function M.connect_failure(where, reason, name, timeout_ms)
  M.raise(M.kind_of(name), M.connect_message(where, reason, name, timeout_ms), nil, { name = name })
end

-- }======================================================================

return M
