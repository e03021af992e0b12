--- Non-blocking requests to the daemon, for the session engine: each one a
-- small state machine on a connection of its own (send the request, read
-- the head, read the body) whose `step` moves it as far as it can without
-- waiting. A hijacked request (attach, exec start) ends with its head and
-- hands over the connection. See docs/design.md, "The session engine".
-- @module dockerpty.request
local core = require("dockerpty.core")
local cjson = require("cjson")
local errors = require("dockerpty.errors")
local clientlib = require("dockerpty.client")

local M = {}

local Request = {}
Request.__index = Request
M.Request = Request

local BODY_MAX = 64 * 1024 * 1024

--- Start a request: connects now (a unix socket connects at once), sends
-- and reads in later steps.
-- @tparam Client client
-- @tparam string method
-- @tparam string path the API path without the version ("/containers/x/json")
-- @tparam[opt] table opts `query`, `json` (a table sent as the JSON body),
-- `hijack` (true: the connection is upgraded and handed over),
-- `timeout` (ms; default the client's), `what` (for messages), `raw`
-- (the path as is: no API version in front, for `/_ping`)
-- @treturn Request
-- @usage local r = request.new(client, "GET", "/containers/web/json")
function M.new(client, method, path, opts)
  opts = opts or {}
  local body, headers = nil, {}
  if opts.json ~= nil then
    body = cjson.encode(opts.json)
    headers[1] = "Content-Type: application/json"
  end
  if opts.hijack then
    headers[#headers + 1] = "Connection: Upgrade"
    headers[#headers + 1] = "Upgrade: tcp"
    if not body then headers[#headers + 1] = "Content-Type: text/plain" end
  else
    headers[#headers + 1] = "Connection: close"
  end
  local full = opts.raw and path or client:_path(path, opts.query)
  local self = setmetatable({
    client = client, method = method, path = path, full = full,
    hijack = opts.hijack, what = opts.what or (method .. " " .. path),
    out = clientlib.request_text(method, full, headers, body), sent = 0,
    state = "send", parts = {}, got = 0,
    deadline = core.now() + (opts.timeout or client._timeout),
  }, Request)
  self.conn = client:_connect()
  return self
end

--- The fd to wait on, and for what ("w" while sending, else "r").
-- @usage lp:watch(r:fd(), r:events())
function Request:fd()
  return self.conn:getfd()
end

function Request:events()
  return self.state == "send" and "w" or "r"
end

--- Milliseconds (core.now) by which the request must be answered.
function Request:due()
  return self.deadline
end

function Request:_fail(kind, msg, name)
  self:close()
  errors.raise(kind, ("%s %s at %s: %s"):format(self.method, self.path, self.client:where(), msg),
    nil, { name = name })
end

function Request:_send()
  local n, msg, name, sent = self.conn:send(self.sent > 0 and self.out:sub(self.sent + 1) or self.out, 0)
  if n then
    self.state = "head"
    return true
  end
  self.sent = self.sent + (sent or 0)
  if name ~= "timeout" then self:_fail(errors.kind_of(name), msg, name) end
  return false
end

-- How the body ends: its length, chunked, or the connection's end.
function Request:_framing()
  local h = self.headers
  if (h["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
    self.chunked = true
  elseif h["content-length"] then
    self.length = tonumber(h["content-length"])
  end
  if self.status == 204 or self.status == 304 or self.method == "HEAD" or self.length == 0 then
    self.state = "done"
  else
    self.state = "body"
  end
end

function Request:_head()
  local status, reason, hdrs = self.conn:read_head(0)
  if not status then
    if hdrs == "timeout" then return false end
    self:_fail(errors.kind_of(hdrs), reason, hdrs)
  end
  self.status, self.headers = status, hdrs
  if self.hijack and (status == 101 or status == 200) then
    self.state = "done"
    return true
  end
  self:_framing()
  return true
end

-- Whether the body collected so far is complete.
function Request:_complete()
  if self.length then return self.got >= self.length end
  if self.chunked then
    local body = clientlib.dechunk(table.concat(self.parts))
    if body then self.body = body end
    return body ~= nil
  end
  return false
end

function Request:_body()
  while true do
    -- what is left of a known length, else a piece big enough for JSON
    local want = self.length and math.max(1, math.min(65536, self.length - self.got)) or 16384
    local s, msg, name = self.conn:recv(want, 0)
    if s then
      self.parts[#self.parts + 1] = s
      self.got = self.got + #s
      if self.got > BODY_MAX then self:_fail("protocol", "answer too large", "protocol") end
      if self:_complete() then self.state = "done"; return true end
    elseif name == "timeout" then
      return false
    elseif name == "closed" then
      if self.length or (self.chunked and not self:_complete()) then
        self:_fail("connection", "the connection closed before the answer was complete", "closed")
      end
      self.state = "done"
      return true
    else
      self:_fail(errors.kind_of(name), msg, name)
    end
  end
end

--- Move the request as far as it can go without blocking.
-- @treturn boolean true once the answer is complete (or the hijack done)
-- @raise an error object (`kind` "connection", "timeout", ...) on failure
-- @usage while not r:step() do core.poll_fd(r:fd(), r:events(), 1) end
function Request:step()
  while self.state ~= "done" do
    local moved
    if self.state == "send" then moved = self:_send()
    elseif self.state == "head" then moved = self:_head()
    else moved = self:_body() end
    if not moved then
      if core.now() >= self.deadline then
        self:_fail("timeout", "no answer in time", "timeout")
      end
      return false
    end
  end
  if not self.body then
    self.body = self.length and table.concat(self.parts):sub(1, self.length) or table.concat(self.parts)
  end
  return true
end

--- The answer as `dockerpty.client` decodes a JSON request's: the decoded
-- body (or true); raises the API error on an unexpected status.
-- @tparam[opt] table expect statuses that are success (default: below 300)
-- @usage local info = r:json()
function Request:json(expect)
  self:close()
  return (self.client:_decode(self.method, self.path, self.status, self.headers, self.body, expect))
end

--- The hijacked connection, after a 101 or 200; raises the API error for
-- any other status.
-- @treturn dockerpty.Conn
function Request:take_conn()
  if self.status == 101 or self.status == 200 then
    local conn = self.conn
    self.conn = nil
    return conn
  end
  self:close()
  clientlib._api_error(self.status, self.body, self.what, self.full)
end

--- Drop the connection (idempotent).
function Request:close()
  if self.conn then self.conn:close() end
end

return M
