--- Non-blocking requests to the daemon, for the session engine: each one a
-- small state machine on a connection of its own (send the request, read
-- the answer) whose `step` moves it as far as it can without waiting. The
-- request text and the framing of the answer are the core's HTTP codec
-- (`core.http_request`, `core.http_decoder`), as for `Http:request`. A
-- hijacked request (attach, exec start) ends with its head and hands over
-- the connection. See docs/design.md, "The session engine".
-- @module dockerpty.request
local core = require("dockerpty.core")
local cjson = require("cjson")
local errors = require("dockerpty.errors")
local clientlib = require("dockerpty.client")

local M = {}

local Request = {}
Request.__index = Request
M.Request = Request

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
    headers["Content-Type"] = "application/json"
  end
  if opts.hijack then
    headers.Connection, headers.Upgrade = "Upgrade", "tcp"
    if not body then headers["Content-Type"] = "text/plain" end
  else
    headers.Connection = "close"
  end
  local full = opts.raw and path or client:api_path(path, opts.query)
  local self = setmetatable({
    client = client, method = method, path = path, full = full,
    hijack = opts.hijack, what = opts.what or (method .. " " .. path),
    out = clientlib.request_text(method, full, headers, body), sent = 0,
    state = "send", parts = {},
    -- a hijack reads its head with Conn:read_head (no byte after it taken)
    dec = not opts.hijack and core.http_decoder{ head = method == "HEAD" } or nil,
    deadline = core.now() + (opts.timeout or client:request_timeout()),
  }, Request)
  self.conn, self.spare = client:connect()
  return self
end

-- A spare (Client:preconnect) whose ssh ended before any answer
-- (Client:spare_lost): once more on an ordinary connection, as if there
-- had been no spare. True when it starts again.
function Request:_again(name)
  if self.status or #self.parts > 0 or not self.client:spare_lost(self.spare, name) then
    return false
  end
  self.conn:close()
  self.conn, self.spare = self.client:connect(true), false
  self.sent, self.state = 0, "send"
  return true
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
    self.state = self.hijack and "head" or "read"
    return true
  end
  self.sent = self.sent + (sent or 0)
  if self:_again(name) then return true end
  if name ~= "timeout" then self:_fail(errors.kind_of(name), msg, name) end
  return false
end

-- A hijack's head; an answer other than the upgrade has a body to read.
function Request:_head()
  local status, reason, hdrs = self.conn:read_head(0)
  if not status then
    if hdrs == "timeout" then return false end
    if self:_again(hdrs) then return true end
    self:_fail(errors.kind_of(hdrs), reason, hdrs)
  end
  self.status, self.headers = status, hdrs
  if status == 101 or status == 200 then
    self.state = "done"
    return true
  end
  self.dec = core.http_decoder{ status = status, headers = hdrs }
  self.state = "read"
  return true
end

-- The answer (its head too, unless a hijack read it) through the decoder.
function Request:_read()
  while true do
    local s, msg, name = self.conn:recv(65536, 0)
    if name == "timeout" then return false end
    local ok, piece, fname
    if s then
      ok, piece, fname = self.dec:feed(s)
    elseif name == "closed" then
      ok, piece, fname = self.dec:eof()
    elseif self:_again(name) then
      return true
    else
      self:_fail(errors.kind_of(name), msg, name)
    end
    if ok == nil then self:_fail(errors.kind_of(fname), piece, fname) end
    if s then self.parts[#self.parts + 1] = piece end
    -- the status as soon as the head is in (a wait is registered then)
    if not self.status and self.dec:head() then self.status, self.headers = self.dec:head() end
    if self.dec:done() then
      self.body = table.concat(self.parts)
      self.state = "done"
      return true
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
    else moved = self:_read() end
    if not moved then
      if core.now() >= self.deadline then
        self:_fail("timeout", "no answer in time", "timeout")
      end
      return false
    end
  end
  return true
end

--- The answer as `dockerpty.client` decodes a JSON request's: the decoded
-- body (or true); raises the API error on an unexpected status.
-- @tparam[opt] table expect statuses that are success (default: below 300)
-- @usage local info = r:json()
function Request:json(expect)
  self:close()
  return (self.client:decode(self.method, self.path, self.status, self.headers, self.body, expect))
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
  clientlib.api_error(self.status, self.body, self.what, self.full)
end

--- Drop the connection (idempotent).
function Request:close()
  if self.conn then self.conn:close() end
end

return M
