-- spec/support/tls.lua: endpoints of the daemons the #docker specs use, from
-- the variables spec/support/engine exports: DOCKER_HOST (unix:// or tcp://)
-- and the TLS endpoint DOCKERPTY_TLS_HOST with client files in
-- DOCKERPTY_TLS_CERTS and an unrelated CA in DOCKERPTY_TLS_BADCA. A missing
-- variable is an error (the spec fails, it is not skipped).
local M = {}

--- The value of an environment variable; raises when unset or empty.
function M.need(name)
  local v = os.getenv(name)
  if v == nil or v == "" then
    error(name .. " is not set: run the #docker specs through spec/support/engine (make test)", 2)
  end
  return v
end

--- Endpoint options for core.connect/core.http from DOCKER_HOST (and
-- DOCKERPTY_TRANSPORT=libcurl, as `make test TRANSPORT=libcurl` sets it).
function M.plain()
  local host = M.need("DOCKER_HOST")
  local path = host:match("^unix://(/.+)$")
  local tr = os.getenv("DOCKERPTY_TRANSPORT")
  if path then return { socket = path, transport = (tr ~= "" and tr) or nil } end
  local hp = host:match("^tcp://([^/]+)/?$")
  assert(hp, "DOCKER_HOST: unix:// or tcp:// expected, got " .. host)
  return { url = "http://" .. hp }
end

--- Endpoint options for the TLS daemon. `ca_dir` and `client_dir` default
-- to DOCKERPTY_TLS_CERTS; client_dir false: no client certificate.
function M.endpoint(ca_dir, client_dir)
  local hp = M.need("DOCKERPTY_TLS_HOST"):match("^tcp://([^/]+)/?$")
  assert(hp, "DOCKERPTY_TLS_HOST: tcp://host:port expected")
  local certs = M.need("DOCKERPTY_TLS_CERTS")
  ca_dir = ca_dir or certs
  if client_dir == nil then client_dir = certs end
  local tls = { ca = ca_dir .. "/ca.pem" }
  if client_dir then
    tls.cert, tls.key = client_dir .. "/cert.pem", client_dir .. "/key.pem"
  end
  return { url = "https://" .. hp, tls = tls }
end

--- The test image (busybox).
function M.image()
  local v = os.getenv("DOCKERPTY_TEST_IMAGE")
  return (v and v ~= "") and v or "dockerpty-test/busybox"
end

--- Split a multiplexed stream into { [1] = stdout, [2] = stderr, rest = bytes }.
function M.demux(s)
  local out, i = { [0] = "", [1] = "", [2] = "" }, 1
  while i + 7 <= #s do
    local kind, len = s:byte(i), string.unpack(">I4", s, i + 4)
    if i + 8 + len - 1 > #s then break end
    out[kind] = (out[kind] or "") .. s:sub(i + 8, i + 7 + len)
    i = i + 8 + len
  end
  out.rest = s:sub(i)
  return out
end

return M
