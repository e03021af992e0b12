--- A small, exact Docker Engine API client.
-- Methods are named and shaped as docker-py's low-level `APIClient`, so
-- the operations read like Python dockerpty's; any object with the same
-- methods can stand in for it. Requests go through the C core: plain HTTP
-- over a unix socket, libcurl for TCP and TLS; attach and exec hijack the
-- connection.
-- @module dockerpty.client
-- @usage
-- local client = require("dockerpty.client").from_env()
-- local c = client:create_container{ image = "busybox", command = "echo hi" }
local core = require("dockerpty.core")
local cjson = require("cjson")
local config = require("dockerpty.config")
local errors = require("dockerpty.errors")
local util = require("dockerpty.util")
local context = require("dockerpty.context")

local M = {}

--- Newest Engine API version this client speaks.
M.MAX_API_VERSION = "1.47"
--- Oldest Engine API version this client accepts.
M.MIN_API_VERSION = "1.25"

local USER_AGENT = "dockerpty/" .. core._VERSION
local DEFAULT_HOST = "unix:///var/run/docker.sock"

local Client = {}
Client.__index = Client
M.Client = Client

local function vnum(v)
  local a, b = tostring(v):match("^v?(%d+)%.(%d+)$")
  if not a then return nil end
  return tonumber(a) * 1000 + tonumber(b)
end
M._vnum = vnum

-- The host text with any userinfo taken out, for messages: a password in
-- a URL is never printed. The userinfo ends at the authority's last '@'
-- (a password may hold one, as Go's URL parser reads it), and a host
-- without a scheme (tcp, as docker takes `[user@]host[:port]`) has one too;
-- so has a `user:password@` whose password holds a '/'.
local function redact(host)
  local scheme, rest = host:match("^(%a[%w+.-]*://)(.*)$")
  if not scheme then scheme, rest = "", host end
  local authority, tail = rest:match("^([^/]*)(.*)$")
  local at = authority:match("^.*()@")
  if at then return scheme .. authority:sub(at + 1) .. tail end
  -- user:password with a '/' in the password: all before the last '@'
  at = rest:match("^[^@/]*:[^@]*()@")
  if at then return scheme .. rest:sub(at + 1) end
  return scheme .. authority .. tail
end
M._redact = redact

local function bad_host(host, why, level)
  error(("bad DOCKER_HOST '%s' (%s)"):format(redact(host), why), level or 4)
end

-- ssh://[user@]host[:port][/socket/path], as the docker CLI takes it: the
-- argv of `ssh ... docker system dial-stdio`.
local function parse_ssh(host)
  local rest = host:sub(7)
  if rest:find("[?#]") then bad_host(host, "invalid SSH URL: query parameters are not allowed") end
  local authority, path = rest:match("^([^/]*)(.*)$")
  local user, hp = authority:match("^(.*)@(.-)$")
  if not user then hp = authority end
  if user and user:find(":", 1, true) then
    bad_host(host, "invalid SSH URL: plain-text password is not supported")
  end
  local name, port = hp:match("^%[([^%]]*)%]:?(.*)$")
  if not name then name, port = hp:match("^([^:]*):?(.*)$") end
  if name == "" then bad_host(host, "invalid SSH URL: hostname is empty") end
  if port ~= "" and not port:find("^%d+$") then
    bad_host(host, ("invalid SSH URL: invalid port '%s'"):format(port))
  end
  local argv = { "ssh", "-o", "ConnectTimeout=30", "-T" }
  if user and user ~= "" then argv[#argv + 1] = "-l"; argv[#argv + 1] = user end
  if port ~= "" then argv[#argv + 1] = "-p"; argv[#argv + 1] = port end
  for _, a in ipairs({ "--", name, "docker" }) do argv[#argv + 1] = a end
  if path ~= "" and path ~= "/" then
    argv[#argv + 1] = "--host"
    argv[#argv + 1] = "unix://" .. path
  end
  argv[#argv + 1] = "system"
  argv[#argv + 1] = "dial-stdio"
  return { ssh = argv, where = host }
end

--- Parse a DOCKER_HOST value into core endpoint options.
-- @tparam string host `unix:///path`, `tcp://host[:port]`, `host[:port]`
-- (tcp, as the docker CLI takes it), `http(s)://host:port`,
-- `ssh://[user@]host[:port][/path]` or a path. A user and password in a
-- tcp URL are dropped (never sent, never printed).
-- @tparam[opt] boolean tls use https (and port 2376 by default)
-- @treturn table `{socket=, where=}`, `{url=, where=}` or `{ssh=argv, where=}`
-- @usage client.parse_host("tcp://127.0.0.1:2375")
-- --> {url = "http://127.0.0.1:2375", where = "tcp://127.0.0.1:2375"}
function M.parse_host(host, tls)
  if host:find("^ssh://") then return parse_ssh(host) end
  local path = host:match("^unix://(.+)$")
  if path then
    return { socket = path, where = host }
  end
  if host:find("^/") then
    return { socket = host, where = "unix://" .. host }
  end
  if not host:find("://", 1, true) and host ~= "" then
    host = "tcp://" .. host     -- host[:port]: tcp, as docker takes it
  end
  local hp = host:match("^tcp://([^/]*)/?$") or host:match("^https?://([^/]+)/?$")
  if hp then
    hp = hp:gsub("^.*@", "")    -- the userinfo ends at the last '@' (redact)
    if hp == "" or hp:find("^:") then hp = "localhost" .. hp end
    local port = hp:match("^%[.*%]:(.*)$") or (not hp:find("^%[") and hp:match("^[^:]*:(.*)$"))
    if port and not port:find("^%d+$") then
      bad_host(host, ("invalid port '%s'"):format(port), 4)
    end
    if not hp:find(":%d+$") and not hp:find("^%[.*%]$") then
      hp = hp .. (tls and ":2376" or ":2375")
    end
    local scheme = (tls or host:find("^https://")) and "https" or "http"
    return { url = scheme .. "://" .. hp, where = "tcp://" .. hp }
  end
  bad_host(host, "unix:///path, tcp://host:port or ssh://[user@]host expected", 4)
end

local function check_fields(fname, opts, allowed)
  for k in pairs(opts) do
    if not allowed[k] then
      util.argerror(1, fname, ("unknown option '%s'"):format(tostring(k)))
    end
  end
end

--- Make a client.
-- @tparam[opt] table opts
-- `host` (default `unix:///var/run/docker.sock`),
-- `version` ("1.41"; "auto" or nil negotiates),
-- `tls` (`{ca=, cert=, key=, verify=true}`, or true for https with the system CAs),
-- `timeout` (seconds for ordinary requests, default 60),
-- `connect_timeout` (seconds, default 10),
-- `transport` ("plain": a unix socket is spoken to directly, the default;
-- "libcurl": through libcurl as TCP and TLS always are; an `ssh://` host
-- has its own transport),
-- `context` (a docker context's name: its host and TLS material from the
-- docker CLI's store, see `dockerpty.context`; "default" is the default
-- host; not with `host`).
-- An `ssh://[user@]host[:port][/path]` host runs `ssh` from PATH with the
-- docker CLI's arguments and the remote command `docker system dial-stdio`
-- (`docker --host unix:///path system dial-stdio` with a path): REST
-- requests share one such child while keep-alive allows, each attach or
-- exec gets its own, and `close` ends and reaps them.
-- @treturn Client
-- @raise an error object (kind "usage") for an unknown context
-- @usage local c = client.new{ host = "tcp://127.0.0.1:2376",
--   tls = { ca = "ca.pem", cert = "cert.pem", key = "key.pem" } }
function M.new(opts)
  opts = util.check(1, "new", opts, "table", true) or {}
  check_fields("new", opts, { host = true, version = true, tls = true, timeout = true,
    connect_timeout = true, http = true, transport = true, context = true })
  local host = util.check(1, "new", opts.host, "string", true)
  local ctxname = util.check(1, "new", opts.context, "string", true)
  local tls = opts.tls
  if ctxname and host then
    util.argerror(1, "new", "conflicting options: cannot specify both 'host' and 'context'")
  end
  if ctxname and ctxname ~= context.DEFAULT then
    local ctx = context.load(ctxname)
    host = ctx.host
    -- TLS material applies to a tcp endpoint only, as with docker
    if tls == nil and ctx.tls and not host:find("^unix://") and not host:find("^ssh://") then
      tls = ctx.tls
    end
  end
  host = host or DEFAULT_HOST
  if tls == true then tls = {} end
  if tls ~= nil and type(tls) ~= "table" then
    util.argerror(1, "new", "field 'tls' must be a table or true")
  end
  local ep = M.parse_host(host, tls ~= nil)
  if tls and ep.ssh then
    util.argerror(1, "new", "field 'tls' cannot be used with an ssh:// host")
  end
  if tls then
    ep.tls = { ca = tls.ca, cert = tls.cert, key = tls.key, verify = tls.verify ~= false }
    if ep.url then ep.url = ep.url:gsub("^http://", "https://") end
  end
  local connect_timeout = opts.connect_timeout or 10
  ep.connect_timeout = math.floor(connect_timeout * 1000)
  local transport = util.check(1, "new", opts.transport, "string", true)
  if transport ~= nil and transport ~= "plain" and transport ~= "libcurl" then
    util.argerror(1, "new", "field 'transport' must be \"plain\" or \"libcurl\"")
  end
  -- a TCP or TLS endpoint always goes through libcurl, ssh through its own
  if transport and ep.socket then ep.transport = transport end
  local self = setmetatable({
    host = redact(host),
    context = ctxname,
    _ep = ep,
    _timeout = math.floor((opts.timeout or 60) * 1000),
    -- "v1.41" as docker accepts it: the path gets "/v1.41", never "/vv1.41"
    _version = opts.version ~= "auto" and opts.version and tostring(opts.version):gsub("^v", "") or nil,
    _http = opts.http,
  }, Client)
  if self._version and not vnum(self._version) then
    util.argerror(1, "new", "bad API version '" .. tostring(self._version) .. "'")
  end
  return self
end

-- The rest of from_env: DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for the
-- default context (env_tls), DOCKER_API_VERSION, DOCKERPTY_TRANSPORT.
local function from_env_common(getenv, opts, ctxname, env_tls)
  local verify = env_tls and getenv("DOCKER_TLS_VERIFY")
  if opts.host and opts.host:find("^ssh://") then verify = nil end
  local certs = getenv("DOCKER_CERT_PATH")
  if certs == "" then certs = nil end
  if verify and verify ~= "" then
    certs = certs or ((getenv("HOME") or "") .. "/.docker")
    opts.tls = { ca = certs .. "/ca.pem", cert = certs .. "/cert.pem", key = certs .. "/key.pem",
      verify = true }
  end
  local v = getenv("DOCKER_API_VERSION")
  if v and v ~= "" then opts.version = v end
  local tr = getenv("DOCKERPTY_TRANSPORT")
  if tr and tr ~= "" then opts.transport = tr end
  local c = M.new(opts)
  c.context = ctxname
  return c
end

--- Make a client from the environment, as the docker CLI does:
-- the context in force (`opts.context` as `--context`; else none when
-- `opts.host` or `DOCKER_HOST` is given; else `DOCKER_CONTEXT`, else
-- `currentContext` in `$DOCKER_CONFIG/config.json`), or without one
-- `DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH` (default
-- `~/.docker`); then `DOCKER_API_VERSION`, and `DOCKERPTY_TRANSPORT`
-- ("libcurl" to use libcurl for a unix socket too).
-- @tparam[opt] function getenv (default `os.getenv`), for tests; or opts
-- @tparam[opt] table opts `context` (as `--context`/`-c`), `host` (as
-- `-H`; not with `context`)
-- @treturn Client
-- @raise an error object (kind "usage") for an unknown context
-- @usage local c = require("dockerpty.client").from_env()
-- local r = require("dockerpty.client").from_env(nil, { context = "remote" })
function M.from_env(getenv, opts)
  if type(getenv) == "table" and opts == nil then getenv, opts = nil, getenv end
  opts = util.check(2, "from_env", opts, "table", true) or {}
  check_fields("from_env", opts, { context = true, host = true })
  getenv = getenv or os.getenv
  local ohost = util.check(2, "from_env", opts.host, "string", true)
  local octx = util.check(2, "from_env", opts.context, "string", true)
  if ohost and octx then
    util.argerror(2, "from_env", "conflicting options: cannot specify both 'host' and 'context'")
  end
  local name = context.resolve(octx, ohost ~= nil, getenv)
  if name ~= context.DEFAULT then
    local ctx = context.load(name, getenv)
    local copts = { host = ctx.host }
    if ctx.tls and not ctx.host:find("^unix://") and not ctx.host:find("^ssh://") then
      copts.tls = ctx.tls
    end
    return from_env_common(getenv, copts, name)
  end
  local opts2 = { host = ohost or getenv("DOCKER_HOST") }
  if opts2.host == "" then opts2.host = nil end
  return from_env_common(getenv, opts2, nil, true)
end

-- The REST handle (one per client, keeping its connection alive).
function Client:_handle()
  if not self._http then
    self._http = core.http(self._ep)
  end
  return self._http
end

--- Where the client connects, as error messages name it.
-- @treturn string e.g. "unix:///var/run/docker.sock"
-- @usage print(c:where())
function Client:where()
  return self._ep.where
end

-- Text of a daemon error body: JSON {"message": ...} or plain text.
local function daemon_message(body)
  if body == nil or body == "" then return nil end
  local ok, t = pcall(cjson.decode, body)
  if ok and type(t) == "table" and type(t.message) == "string" then
    return t.message
  end
  return (body:gsub("%s+$", ""))
end
M._daemon_message = daemon_message

local function lowerfirst(s)
  return (s:gsub("^(%u)(%l)", function(a, b) return a:lower() .. b end))
end

-- What a request path names, for a 404 worded the same on every engine:
-- "container", id or "exec", id.
local function subject_of(path)
  local id = path:match("^/v[%d.]+/containers/([^/?]+)") or path:match("^/containers/([^/?]+)")
  if id and id ~= "create" then return "container", util.urldecode(id) end
  id = path:match("^/v[%d.]+/exec/([^/?]+)") or path:match("^/exec/([^/?]+)")
  if id then return "exec", util.urldecode(id) end
  return nil
end

-- Whether a daemon's 404 text is about the container or exec itself
-- (Docker: "No such container: ID", Podman: "no container with name or ID
-- ... found: no such container"), not about something it refers to (a
-- network, an image, a volume).
local NOT_FOUND = {
  container = { "no such container", "no container with" },
  exec = { "no such exec", "no exec session" },
}

local function about(kind, msg)
  if not msg or msg == "" then return true end   -- nothing else to go by
  local low = msg:lower()
  for _, p in ipairs(NOT_FOUND[kind]) do
    if low:find(p, 1, true) then return true end
  end
  return false
end

-- Raise the API error for an HTTP status and body. A 404 about the
-- container or exec says "no such container: ID" whatever the engine's
-- wording (the daemon's own text stays in `detail`); any other error is
-- the daemon's own message ("network bogusnet not found").
local function api_error(status, body, what, path)
  local msg = daemon_message(body)
  local text
  local kind, id = subject_of(path or "")
  if status == 404 and kind == "container" and about(kind, msg) then
    text = "no such container: " .. id
  elseif status == 404 and kind == "exec" and about(kind, msg) then
    text = "no such exec instance: " .. id
  elseif msg and msg ~= "" then
    text = lowerfirst((msg:gsub("^Error: ", "")))
  else
    text = (what or "request") .. " failed"
  end
  errors.raise("api", ("%s (%d)"):format(text, status), status, { detail = msg })
end
M._api_error = api_error

-- Plain request: returns status, headers, body (raises on transport errors).
-- Failures of a kept-alive connection that the daemon closed meanwhile.
local STALE = { ECONNRESET = true, EPIPE = true, closed = true, CURLE_RECV_ERROR = true,
  CURLE_SEND_ERROR = true, CURLE_GOT_NOTHING = true }

function Client:_raw(method, path, body, headers, timeout)
  local h = self:_handle()
  local status, hdrs, rbody = h:request(method, path, headers, body, timeout or self._timeout)
  if not status and STALE[rbody] and (method == "GET" or method == "HEAD") then
    -- the kept-alive connection went stale: ask again once, on a new one
    -- (only requests that are safe to repeat)
    self:close()
    h = self:_handle()
    status, hdrs, rbody = h:request(method, path, headers, body, timeout or self._timeout)
  end
  if not status then
    if h:unreached() then errors.connect_failure(self:where(), hdrs, rbody, self._ep.connect_timeout) end
    error(errors.request_failure(method, path, self:where(), hdrs, rbody), 0)
  end
  return status, hdrs, rbody
end

--- The API version in use, negotiated once with `HEAD /_ping` (then
-- `GET /_ping`): the lower of the daemon's and ours.
-- @treturn string e.g. "1.41"
-- @usage if c:api_version() >= "1.42" then ... end
function Client:api_version()
  if self._version then return self._version end
  -- HEAD and the GET after it share one budget (the client's timeout): a
  -- daemon that accepts and never answers costs that, not twice that
  local t0 = core.now()
  local ok, status, hdrs = pcall(self._raw, self, "HEAD", "/_ping")
  if not ok and errors.is(status) and status.kind == "timeout" then error(status, 0) end
  if not ok or status ~= 200 or not hdrs["api-version"] then
    local left = self._timeout - (core.now() - t0)
    if left < 1 then
      errors.raise("timeout", ("GET /_ping: no answer from %s in time"):format(self:where()),
        nil, { name = "timeout" })
    end
    local _
    _, hdrs = self:_raw("GET", "/_ping", nil, nil, math.floor(left))
  end
  return self:_negotiate(hdrs and hdrs["api-version"])
end

-- Settle the version from the daemon's Api-Version answer (nil: ours).
function Client:_negotiate(server)
  local v = M.MAX_API_VERSION
  if server and vnum(server) then
    if vnum(server) < vnum(M.MIN_API_VERSION) then
      errors.raise("api", ("the daemon at %s speaks API %s; dockerpty needs %s or newer"):format(
        self:where(), server, M.MIN_API_VERSION))
    end
    if vnum(server) < vnum(v) then v = server end
  end
  self._version = v
  return v
end

--- True when the API version in use is at least `v`.
-- @tparam string v e.g. "1.42"
-- @usage if c:api_at_least("1.42") then ... end
function Client:api_at_least(v)
  return vnum(self:api_version()) >= vnum(v)
end

function Client:_path(path, query)
  return "/v" .. self:api_version() .. path .. util.query(query)
end

-- A JSON request; returns the decoded body (or the raw body, or true).
function Client:_json(method, path, query, body, expect, timeout)
  local headers, payload
  if body ~= nil then
    payload = cjson.encode(body)
    headers = { ["Content-Type"] = "application/json" }
  end
  local status, hdrs, rbody = self:_raw(method, self:_path(path, query), payload, headers, timeout)
  return self:_decode(method, path, status, hdrs, rbody, expect)
end

-- The answer of a JSON request: the decoded body (or the raw body, or
-- true) and the status; raises the API error for an unexpected status.
function Client:_decode(method, path, status, hdrs, rbody, expect)
  -- no redirect is followed: a 3xx is as much a failure as a 4xx
  if (expect and not expect[status]) or (not expect and status >= 300) then
    api_error(status, rbody, method .. " " .. path, path)
  end
  local ctype = hdrs["content-type"] or ""
  if rbody and rbody ~= "" and ctype:find("json", 1, true) then
    local ok, t = pcall(cjson.decode, rbody)
    if not ok then
      errors.raise("protocol", ("%s %s: malformed JSON from %s"):format(method, path, self:where()))
    end
    return t, status
  end
  return rbody ~= "" and rbody or true, status
end

--- `GET /_ping`.
-- @treturn string "OK"
-- @usage assert(c:ping() == "OK")
function Client:ping()
  local status, _, body = self:_raw("GET", "/_ping")
  if status ~= 200 then api_error(status, body, "ping") end
  return body
end

--- `GET /version`.
-- @treturn table the daemon's answer (`Version`, `ApiVersion`, `Components`...)
-- @usage print(c:version().Version)
function Client:version()
  return (self:_json("GET", "/version"))
end

local function env_list(env)
  if env == nil then return nil end
  local list = {}
  if #env > 0 then
    for i, v in ipairs(env) do list[i] = tostring(v) end
  else
    local keys = {}
    for k in pairs(env) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do list[#list + 1] = k .. "=" .. tostring(env[k]) end
  end
  return list
end

local function size_pair(fname, cs)
  if cs == nil then return nil end
  local rows, cols = cs[1] or cs.rows, cs[2] or cs.cols
  if math.type(rows) ~= "integer" or math.type(cols) ~= "integer" then
    util.argerror(1, fname, "console_size must be {rows, cols}")
  end
  return { rows, cols }
end

--- `POST /containers/create`.
-- @tparam table opts `image` (required), `command` (string, shell-split, or
-- argv table), `entrypoint`, `stdin_open`, `tty`, `environment` (list of
-- "K=V" or a map), `working_dir`, `user`, `name`, `labels`, `host_config`
-- (table sent as HostConfig, e.g. `{NetworkMode = "none", AutoRemove = true}`),
-- `console_size` ({rows, cols}, API 1.42+), `detach`, `config` (more
-- Config fields, sent as given, e.g. `{Hostname = "h", StopSignal = "SIGINT"}`),
-- `platform` ("os[/arch[/variant]]"). `stdin_open` sets
-- OpenStdin, StdinOnce and AttachStdin as `docker run -i` does.
-- @treturn table `{Id=, Warnings=}`
-- @usage local r = c:create_container{ image = "busybox", command = "sh", tty = true, stdin_open = true }
function Client:create_container(opts)
  util.check(1, "create_container", opts, "table")
  check_fields("create_container", opts, { image = true, command = true, entrypoint = true,
    stdin_open = true, tty = true, environment = true, working_dir = true, user = true,
    name = true, labels = true, host_config = true, console_size = true, detach = true,
    config = true, platform = true })
  util.check(1, "create_container", opts.image, "string")
  local body = {
    Image = opts.image,
    Tty = opts.tty and true or false,
    OpenStdin = opts.stdin_open and true or false,
    StdinOnce = (opts.stdin_open and not opts.detach) and true or false,
    AttachStdin = (opts.stdin_open and not opts.detach) and true or false,
    AttachStdout = not opts.detach,
    AttachStderr = not opts.detach,
  }
  if opts.command ~= nil then body.Cmd = util.argv(1, "create_container", opts.command) end
  if opts.entrypoint ~= nil then body.Entrypoint = util.argv(1, "create_container", opts.entrypoint) end
  body.Env = env_list(opts.environment)
  body.WorkingDir = opts.working_dir
  body.User = opts.user
  body.Labels = opts.labels
  for k, v in pairs(opts.config or {}) do body[k] = v end
  local hc = {}
  for k, v in pairs(opts.host_config or {}) do hc[k] = v end
  local cs = size_pair("create_container", opts.console_size)
  if cs and cs[1] > 0 and cs[2] > 0 and self:api_at_least("1.42") then
    hc.ConsoleSize = cs
  end
  if next(hc) then body.HostConfig = hc end
  local query = (opts.name or opts.platform) and { name = opts.name, platform = opts.platform } or nil
  local ok, r = pcall(self._json, self, "POST", "/containers/create", query, body)
  if not ok then
    if errors.is(r) and r.status == 404 and (not r.detail or r.detail:lower():find("image", 1, true)) then
      -- docker's words on every engine (Podman adds its registry's name);
      -- a 404 about something else (a network, a volume) keeps the daemon's
      errors.raise("api", ("no such image: %s (404)"):format(opts.image), 404, { detail = r.detail })
    end
    error(r, 0)
  end
  return r
end

--- `POST /containers/{id}/start`.
-- @tparam string|table container id, name, or table with `Id`
-- @treturn boolean true (also when it was already started)
-- @usage c:start(r.Id)
function Client:start(container)
  local id = util.id_of(1, "start", container)
  self:_json("POST", "/containers/" .. util.urlencode(id) .. "/start", nil, nil,
    { [204] = true, [304] = true, [200] = true })
  return true
end

--- `GET /containers/{id}/json`.
-- @tparam string|table container
-- @treturn table the inspect data (`Config`, `State`...)
-- @usage print(c:inspect_container("web").State.Running)
function Client:inspect_container(container)
  local id = util.id_of(1, "inspect_container", container)
  return (self:_json("GET", "/containers/" .. util.urlencode(id) .. "/json"))
end

--- `POST /containers/{id}/resize`.
-- @tparam string|table container
-- @tparam integer height rows
-- @tparam integer width columns
-- @usage c:resize("web", 40, 120)
function Client:resize(container, height, width)
  local id = util.id_of(1, "resize", container)
  util.check(2, "resize", height, "integer")
  util.check(3, "resize", width, "integer")
  self:_json("POST", "/containers/" .. util.urlencode(id) .. "/resize", { h = height, w = width })
  return true
end

--- `POST /containers/{id}/kill`.
-- @tparam string|table container
-- @tparam[opt] string signal e.g. "SIGINT" (default: the daemon's, SIGKILL)
-- @usage c:kill("web", "SIGTERM")
function Client:kill(container, signal)
  local id = util.id_of(1, "kill", container)
  local q = signal and { signal = tostring(signal) } or nil
  self:_json("POST", "/containers/" .. util.urlencode(id) .. "/kill", q)
  return true
end

--- `DELETE /containers/{id}`.
-- @tparam string|table container
-- @tparam[opt] table opts `v` (volumes), `force`, `link`
-- @usage c:remove_container("web", { force = true })
function Client:remove_container(container, opts)
  local id = util.id_of(1, "remove_container", container)
  opts = util.check(2, "remove_container", opts, "table", true) or {}
  local q = { v = opts.v and true or nil, force = opts.force and true or nil,
    link = opts.link and true or nil }
  self:_json("DELETE", "/containers/" .. util.urlencode(id), q)
  return true
end

--- `POST /containers/{id}/exec`.
-- @tparam string|table container
-- @tparam string|table cmd shell-split string or argv table
-- @tparam[opt] table opts `stdin`, `tty`, `stdout` and `stderr` (default
-- true), `environment`, `workdir`, `user`, `privileged`, `detach_keys`
-- (default: `detachKeys` from config.json, else ctrl-p,ctrl-q; "" for
-- none: keys nobody types are sent, as `daemon_detach_keys` gives),
-- `console_size` ({rows, cols}, with tty, API 1.42+)
-- @treturn table `{Id=}`
-- @usage local e = c:exec_create("web", "sh -c 'echo hi'", { tty = false })
function Client:exec_create(container, cmd, opts)
  local id = util.id_of(1, "exec_create", container)
  local argv = util.argv(2, "exec_create", cmd)
  opts = util.check(3, "exec_create", opts, "table", true) or {}
  check_fields("exec_create", opts, { stdin = true, tty = true, environment = true, workdir = true,
    user = true, privileged = true, detach_keys = true, console_size = true, stdout = true,
    stderr = true })
  local path, body = self:_exec_body(id, argv, opts)
  return (self:_json("POST", path, nil, body))
end

-- The path and JSON body of an exec create (opts checked by the caller).
function Client:_exec_body(id, argv, opts)
  local body = {
    AttachStdin = opts.stdin and true or false,
    AttachStdout = opts.stdout ~= false,
    AttachStderr = opts.stderr ~= false,
    Tty = opts.tty and true or false,
    Cmd = argv,
    Env = env_list(opts.environment),
    WorkingDir = opts.workdir,
    User = opts.user,
    Privileged = opts.privileged and true or false,
    -- the keys the session will watch for (docker-py defaults them the
    -- same); "" (no detaching) as every path sends it, never as "" (which
    -- the daemon takes as its default, ctrl-p,ctrl-q)
    DetachKeys = config.daemon_detach_keys(opts.detach_keys or config.detach_keys(nil), "exec"),
  }
  local cs = size_pair("exec_create", opts.console_size)
  if cs and opts.tty and cs[1] > 0 and cs[2] > 0 and self:api_at_least("1.42") then
    body.ConsoleSize = cs
  end
  return "/containers/" .. util.urlencode(id) .. "/exec", body
end

--- `GET /exec/{id}/json`.
-- @tparam string|table exec_id
-- @treturn table (`Running`, `ExitCode`, `ProcessConfig`...)
-- @usage print(c:exec_inspect(e).ExitCode)
function Client:exec_inspect(exec_id)
  local id = util.id_of(1, "exec_inspect", exec_id)
  return (self:_json("GET", "/exec/" .. util.urlencode(id) .. "/json"))
end

--- `POST /exec/{id}/resize`.
-- @tparam string|table exec_id
-- @tparam integer height
-- @tparam integer width
-- @usage c:exec_resize(e, 40, 120)
function Client:exec_resize(exec_id, height, width)
  local id = util.id_of(1, "exec_resize", exec_id)
  util.check(2, "exec_resize", height, "integer")
  util.check(3, "exec_resize", width, "integer")
  self:_json("POST", "/exec/" .. util.urlencode(id) .. "/resize", { h = height, w = width },
    nil, { [200] = true, [201] = true })
  return true
end

-- {======================================================
-- Spare connections (ssh:// only). An ssh connection is a child that
-- spends its start-up in ssh's handshake, while the spawn returns at once;
-- a caller that knows it will open connections soon (an exec's hijack
-- beside its REST requests, the requests of a session) asks for them at
-- its start, so that the handshakes run side by side instead of one after
-- the other. A spare runs ssh with BatchMode=yes: it never asks the user
-- anything (a host that wants a password gets a prompt from the ordinary
-- connection only, and the spare, failed, is passed over). Other
-- transports connect at once: nothing to gain, nothing done.
-- See docs/design.md, "Transports".
-- =======================================================

local SPARE_MAX = 16       -- spares per client
local SPARE_TTL = 30000    -- ms: an older spare is closed, not used

-- The endpoint of a spare: the same ssh command, never interactive.
function Client:_spare_ep()
  if not self._spare_ep_t then
    local ep = {}
    for k, v in pairs(self._ep) do ep[k] = v end
    local argv = { self._ep.ssh[1], "-o", "BatchMode=yes" }
    table.move(self._ep.ssh, 2, #self._ep.ssh, 4, argv)
    ep.ssh = argv
    self._spare_ep_t = ep
  end
  return self._spare_ep_t
end

--- Start opening n connections now, for the next `connect` calls (ssh://
-- hosts; a no-op on others). At most 16 wait at a time; one left unused
-- for 30 s, or at `close`, is closed.
-- @tparam integer n
-- @usage c:preconnect(2)   -- an exec's hijack and its exit inspect
function Client:preconnect(n)
  util.check(1, "preconnect", n, "integer")
  if not self._ep.ssh or self._spares_refused then return end
  local spares = self._spares or {}
  self._spares = spares
  for _ = 1, math.min(n, SPARE_MAX - #spares) do
    local conn = core.connect(self:_spare_ep())
    if not conn then return end     -- the ordinary connect will say why
    spares[#spares + 1] = { conn = conn, at = core.now() }
  end
end

-- A spare still fresh and alive (its child has not ended: nothing to read
-- on a connection no request was written to), else nil.
function Client:_take_spare()
  local spares = self._spares
  while spares and spares[1] do
    local sp = table.remove(spares, 1)
    if core.now() - sp.at < SPARE_TTL then
      local _, _, name = sp.conn:recv(1, 0)
      if name == "timeout" then return sp.conn end
    end
    sp.conn:close()
  end
end

--- Whether a failure (its NAME) on a connection `connect` gave is a spare
-- whose ssh ended before any answer, as under BatchMode on a host that
-- wants a password ("ssh" from a send or a head, ECONNABORTED from a
-- read). Then the client makes no more spares, and the caller tries once
-- more on an ordinary connection (`connect(true)`).
-- @tparam boolean|nil spare connect's second value
-- @tparam string name the failure's NAME
-- @treturn boolean
-- @usage if c:spare_lost(spare, name) then conn = c:connect(true) end
function Client:spare_lost(spare, name)
  if not spare or (name ~= "ssh" and name ~= "ECONNABORTED") then return false end
  self._spares_refused = true
  self:drop_spares()
  return true
end

--- Close the spares not taken (a caller whose plan changed).
-- @usage c:drop_spares()
function Client:drop_spares()
  for i, sp in ipairs(self._spares or {}) do
    sp.conn:close()
    self._spares[i] = nil
  end
end

-- }======================================================

--- Open a connection to the daemon (connect-only), for hijacks and waits:
-- a spare when there is one (then a second value, true), unless `fresh`.
function Client:_connect(fresh)
  local spare = not fresh and self:_take_spare()
  if spare then return spare, true end
  local conn, msg, name = core.connect(self._ep)
  if not conn then errors.connect_failure(self:where(), msg, name, self._ep.connect_timeout) end
  return conn
end

--- The bytes of a request on a connection of its own (hijacks, waits and
-- the session engine's requests), written by the core's HTTP codec
-- (`core.http_request`: Host and Content-Length are its own) with our
-- User-Agent.
-- @tparam string method
-- @tparam string path
-- @tparam table headers names to values
-- @tparam[opt] string body
-- @treturn string
-- @usage local text = client.request_text("GET", "/_ping", {})
function M.request_text(method, path, headers, body)
  local h = { ["User-Agent"] = USER_AGENT }
  for k, v in pairs(headers) do h[k] = v end
  return core.http_request(method, path, h, body)
end

--- The body of an answer whose head `conn:read_head` gave (status,
-- hdrs), framed by the core's decoder (`opts.max` bytes at most, or
-- unbounded), each piece given to `each(piece)` as it arrives, until the
-- body is complete or `deadline` (core.now() milliseconds) passes.
-- @treturn[1] boolean true: the whole body came
-- @return[2] nil, message, NAME: it was cut off (the connection ended, a
-- framing fault, the deadline); what came before went to `each`
-- @usage local ok, msg, name = client.read_stream(conn, 200, hdrs, core.now() + 5000, print)
function M.read_stream(conn, status, hdrs, deadline, each, opts)
  local d = core.http_decoder{ status = status, headers = hdrs, max = opts and opts.max }
  while not d:done() do                   -- an empty body may be done at once
    local s, msg, name = conn:recv(65536, math.max(0, deadline - core.now()))
    if not s then
      if name ~= "closed" then return nil, msg, name end
      return d:eof()                      -- true: a body up to the end
    end
    local done, piece, fname, partial = d:feed(s)
    if done == nil then
      if partial and partial ~= "" then each(partial) end
      return nil, piece, fname
    end
    if piece ~= "" then each(piece) end
  end
  return true
end

-- The body, or on a failure what came so far, within timeout_ms.
local function read_body(conn, status, hdrs, timeout_ms)
  local parts = {}
  M.read_stream(conn, status, hdrs, core.now() + timeout_ms,
    function(piece) parts[#parts + 1] = piece end, { max = 65536 })
  return table.concat(parts)
end

-- Write a request on a fresh connection and read the response head.
-- Returns conn, status, headers; raises on transport errors.
function Client:_exchange(method, path, headers, body, timeout, fresh)
  local conn, spare = self:_connect(fresh)
  local req = M.request_text(method, path, headers, body)
  local ok, msg, name = conn:send(req, timeout or self._timeout)
  if not ok then
    conn:close()
    if self:spare_lost(spare, name) then     -- once more, as without spares
      return self:_exchange(method, path, headers, body, timeout, true)
    end
    -- an ssh child that ended: "cannot connect ... ssh://h: <its last stderr line>"
    if name == "ssh" then errors.connect_failure(self:where(), msg, name) end
    errors.from_core(msg, name, ("%s %s at %s"):format(method, path, self:where()))
  end
  local status, reason, hdrs = conn:read_head(timeout or self._timeout)
  if not status then
    conn:close()
    local n = hdrs
    if self:spare_lost(spare, n) then
      return self:_exchange(method, path, headers, body, timeout, true)
    end
    if n == "ssh" then errors.connect_failure(self:where(), reason, n) end
    errors.raise(errors.kind_of(n), ("%s %s at %s: %s"):format(method, path, self:where(), reason),
      nil, { name = n })
  end
  return conn, status, hdrs
end

-- Hijack: POST with the upgrade headers; 101 or 200 hands back the conn.
function Client:_hijack(path, body, what)
  local headers = { Connection = "Upgrade", Upgrade = "tcp",
    ["Content-Type"] = body and "application/json" or "text/plain" }
  local conn, status, hdrs = self:_exchange("POST", path, headers, body)
  if status == 101 or status == 200 then
    return conn, hdrs
  end
  -- an ordinary error answer (JSON) or a raw status after the hijack (text)
  local rest = read_body(conn, status, hdrs, 5000)
  conn:close()
  api_error(status, rest, what, path)
end

--- `POST /containers/{id}/attach`, hijacked: one connection carries
-- stdin, stdout and stderr.
-- @tparam string|table container
-- @tparam[opt] table params `stdin`, `stdout`, `stderr` (default true),
-- `logs`, `stream` (default true), `detach_keys`
-- @treturn dockerpty.Conn the connection (multiplexed unless the container has a tty)
-- @treturn table the response headers
-- @usage local conn = c:attach_socket("web", { stdin = true })
function Client:attach_socket(container, params)
  local id = util.id_of(1, "attach_socket", container)
  params = util.check(2, "attach_socket", params, "table", true) or {}
  return self:_hijack(self:_path("/containers/" .. util.urlencode(id) .. "/attach",
    self:_attach_query(params)), nil, "attach to " .. id)
end

-- The query of an attach from attach_socket's params.
function Client._attach_query(_, params)
  return {
    stream = params.stream ~= false,
    stdin = params.stdin and true or false,
    stdout = params.stdout ~= false,
    stderr = params.stderr ~= false,
    logs = params.logs and true or false,
    detachKeys = params.detach_keys,
  }
end

--- `POST /exec/{id}/start`.
-- @tparam string|table exec_id
-- @tparam[opt] table opts `socket` (return the hijacked connection), `tty`,
-- `detach`, `console_size`
-- @return with `socket`: the `dockerpty.Conn` and the headers; with
-- `detach`: true; otherwise the whole raw stream as a string
-- @usage local conn = c:exec_start(e, { socket = true })
function Client:exec_start(exec_id, opts)
  local id = util.id_of(1, "exec_start", exec_id)
  opts = util.check(2, "exec_start", opts, "table", true) or {}
  local body = { Detach = opts.detach and true or false, Tty = opts.tty and true or false }
  local cs = size_pair("exec_start", opts.console_size)
  if cs and opts.tty and cs[1] > 0 and cs[2] > 0 and self:api_at_least("1.42") then
    body.ConsoleSize = cs
  end
  local path = self:_path("/exec/" .. util.urlencode(id) .. "/start")
  if opts.detach then
    self:_json("POST", "/exec/" .. util.urlencode(id) .. "/start", nil, body)
    return true
  end
  local conn, hdrs = self:_hijack(path, cjson.encode(body), "start exec " .. id)
  if opts.socket then return conn, hdrs end
  local data, msg, name = conn:read_all(-1, 1 << 30)
  conn:close()
  if not data then errors.from_core(msg, name) end
  return data
end

local Wait = {}
Wait.__index = Wait

--- Register a wait, on its own connection, before the container starts
-- (`POST /containers/{id}/wait`), so its exit cannot be missed.
-- @tparam string|table container
-- @tparam[opt] string condition "next-exit", "not-running" or "removed"
-- @treturn Wait with `:result([timeout_ms])` -> `{StatusCode=, Error=}`,
-- `:getfd()` and `:close()`
-- @usage local w = c:wait_async(id, "next-exit"); c:start(id); print(w:result().StatusCode)
function Client:wait_async(container, condition)
  local id = util.id_of(1, "wait_async", container)
  local q = condition and self:api_at_least("1.30") and { condition = condition } or nil
  local path = self:_path("/containers/" .. util.urlencode(id) .. "/wait", q)
  local conn, status, hdrs = self:_exchange("POST", path, { Connection = "close" }, nil)
  if status ~= 200 then
    local rest = read_body(conn, status, hdrs, 5000)
    conn:close()
    api_error(status, rest, "wait for " .. id, path)
  end
  return setmetatable({ _conn = conn, _id = id, _where = self:where(), _parts = {},
    _dec = core.http_decoder{ status = status, headers = hdrs, max = 1 << 20 } }, Wait)
end

--- The wait connection's fd, for a poll loop.
-- @usage local fd = w:getfd()
function Wait:getfd()
  return self._conn:getfd()
end

--- The wait's connection (a `dockerpty.Conn`), for a pump that reads the
-- answer while the session runs; hand what it reads to `feed` and tell
-- `eof` when it ends.
-- @usage local p = core.pump{ from = w:conn(), to = function(s) w:feed(s) end }
function Wait:conn()
  return self._conn
end

--- Take bytes of the answer read elsewhere (by a pump).
function Wait:feed(data)
  local done, piece, _, partial = self._dec:feed(data)
  self._parts[#self._parts + 1] = done == nil and partial or piece
end

--- Note that the answer's connection reached its end.
function Wait:eof()
  self._eof = true
  self._dec:eof()
end

--- Drop the wait (idempotent).
-- @usage w:close()
function Wait:close()
  self._conn:close()
end
Wait.__close = Wait.close
Wait.__gc = Wait.close

-- The body of the answer, or nil while it is incomplete (or was cut).
function Wait:_body()
  return self._dec:done() and table.concat(self._parts) or nil
end

--- The wait's answer.
-- @tparam[opt] integer timeout_ms (default: no limit); a timeout raises an
-- error of kind "timeout" and the wait can be asked again
-- @treturn table `{StatusCode=, Error=}`
-- @usage local code = w:result(10000).StatusCode
function Wait:result(timeout_ms)
  if self._result then return self._result end
  local body = self._body(self)
  if not body and not self._eof then
    local data, msg, name, partial = self._conn:read_all(timeout_ms or -1, 1 << 20)
    if partial and partial ~= "" then self:feed(partial) end
    if not data then
      errors.raise(errors.kind_of(name), ("waiting for container %s at %s: %s"):format(
        self._id, self._where, msg), nil, { name = name })
    end
    self:feed(data)
    self:eof()
    body = self:_body()
  end
  self._conn:close()
  if not body or body == "" then
    errors.raise("connection", ("waiting for container %s at %s: the connection closed before the answer")
      :format(self._id, self._where))
  end
  local ok, t = pcall(cjson.decode, body)
  if not ok or type(t) ~= "table" then
    errors.raise("protocol", ("waiting for container %s: malformed answer %q"):format(
      self._id, body:sub(1, 200)))
  end
  if type(t.Error) == "table" and type(t.Error.Message) == "string" and t.Error.Message ~= "" then
    errors.raise("api", ("waiting for container %s: %s"):format(self._id, t.Error.Message))
  end
  self._result = t
  return t
end

--- `POST /containers/{id}/wait`, blocking.
-- @tparam string|table container
-- @tparam[opt] string condition
-- @treturn table `{StatusCode=, Error=}`
-- @usage print(c:wait("job").StatusCode)
function Client:wait(container, condition)
  local w = self:wait_async(container, condition)
  return w:result()
end

--- Close the REST connection. The client can be used again afterwards.
-- @usage c:close()
function Client:close()
  if self._http then self._http:close(); self._http = nil end
  self:drop_spares()
end

-- {======================================================
-- For callers that make their own requests (dockerpty.session steps
-- many sessions on non-blocking requests): the client's own builders and
-- its version state, without reaching into its fields
-- =======================================================

--- Whether the API version is settled (given to `new`, or negotiated).
-- @usage if not c:version_settled() then ... end
function Client:version_settled()
  return self._version ~= nil
end

--- Settle the API version from a ping's `Api-Version` header (nil: ours).
-- Raises when the daemon is older than dockerpty needs.
-- @usage c:settle_version(r.headers["api-version"])
function Client:settle_version(header)
  return self:_negotiate(header)
end

--- The path and JSON body `exec_create` sends (opts as its, unchecked).
-- @usage local path, body = c:exec_create_request(id, { "sh" }, { tty = true })
function Client:exec_create_request(container, argv, opts)
  return self:_exec_body(container, argv, opts)
end

--- The query `attach_socket` sends for its params.
-- @usage local q = c:attach_query{ stdin = true, stream = true }
function Client:attach_query(params)
  return self:_attach_query(params)
end

-- }======================================================

-- {======================================================
-- The REST layer, for the library's other modules (request.lua,
-- service.lua, cli.lua) and for programs that need a request the client
-- has no method for
-- =======================================================

--- A JSON request: the decoded body (or the raw body, or true); raises
-- the API error (kind "api", the daemon's message, the status) for an
-- answer outside `expect` (default: any status below 300).
-- @tparam string method
-- @tparam string path without the version prefix, e.g. "/nodes"
-- @tparam[opt] table query
-- @tparam[opt] any body encoded as JSON
-- @tparam[opt] table expect `{[status] = true}`
-- @tparam[opt] integer timeout ms
-- @usage local nodes = c:json("GET", "/nodes")
Client.json = Client._json

--- A request as bytes: status, headers (lower-cased names), body; raises
-- when no answer came (a connection error object).
-- @usage local status, headers, body = c:raw("GET", c:api_path("/_ping"))
Client.raw = Client._raw

--- The versioned path of an API call, with its query.
-- @usage c:api_path("/containers/json", { all = 1 })  --> "/v1.41/containers/json?all=1"
Client.api_path = Client._path

--- Decode an answer as `json` does (for a request made elsewhere).
Client.decode = Client._decode

--- A new connection to the daemon (connect-only), as hijacks and waits use:
-- a spare of `preconnect` when there is one, unless `fresh`.
-- @tparam[opt] boolean fresh true: never a spare
-- @treturn dockerpty.Conn
-- @treturn boolean|nil true when it is a spare
Client.connect = Client._connect

--- The REST requests' timeout, in ms.
function Client:request_timeout()
  return self._timeout
end

--- The transport the client was made with (nil: the default for its host).
function Client:transport()
  return self._ep.transport
end

--- The API error for a status and body (raises).
M.api_error = api_error

-- }======================================================

return M
