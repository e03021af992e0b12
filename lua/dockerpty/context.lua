--- Docker contexts, read from the docker CLI's context store, so that the
-- library reaches the daemon `docker` reaches. The store lives under
-- `$DOCKER_CONFIG` (default `~/.docker`): `contexts/meta/<sha256 of the
-- name>/meta.json` holds `Endpoints.docker.Host` and `SkipTLSVerify`, and
-- `contexts/tls/<sha256 of the name>/docker/{ca,cert,key}.pem` the TLS
-- material, used as `DOCKER_CERT_PATH` would be.
-- @module dockerpty.context
-- @usage
-- local ctx = require("dockerpty.context").load("remote")
-- print(ctx.host) --> ssh://root@build-box
local core = require("dockerpty.core")
local cjson = require("cjson")
local config = require("dockerpty.config")
local errors = require("dockerpty.errors")

local M = {}

--- The name of the context that stands for "no context": the default
-- endpoint (`DOCKER_HOST`, else the local socket).
M.DEFAULT = "default"

--- The docker CLI's configuration directory.
-- @tparam[opt] function getenv (default `os.getenv`)
-- @treturn string|nil `$DOCKER_CONFIG`, else `$HOME/.docker`; nil without either
-- @usage print(context.config_dir()) --> /root/.docker
function M.config_dir(getenv)
  local path = config.path(getenv)
  return path and path:gsub("/config%.json$", "") or nil
end

--- Which context is in force, by the docker CLI's rules: an explicit
-- name (`--context`), else the default when a host is given (`-H`) or
-- `DOCKER_HOST` is set, else `DOCKER_CONTEXT`, else `currentContext` in
-- config.json, else the default.
-- @tparam[opt] string explicit the `--context` value
-- @tparam[opt] boolean has_host true when a host option was given
-- @tparam[opt] function getenv (default `os.getenv`)
-- @treturn string the context's name ("default" for none)
-- @usage local name = context.resolve(nil, false)
function M.resolve(explicit, has_host, getenv)
  getenv = getenv or os.getenv
  if explicit and explicit ~= "" then return explicit end
  if has_host then return M.DEFAULT end
  local h = getenv("DOCKER_HOST")
  if h and h ~= "" then return M.DEFAULT end
  local env = getenv("DOCKER_CONTEXT")
  if env and env ~= "" then return env end
  local cur = config.load(getenv).currentContext
  if type(cur) == "string" and cur ~= "" then return cur end
  return M.DEFAULT
end

local function readable(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

--- Read a context from the store.
-- @tparam string name not "default"
-- @tparam[opt] function getenv (default `os.getenv`)
-- @treturn table `{name=, host=, tls=}`: `tls` is nil, or `{ca=, cert=,
-- key=, verify=}` (paths of the files present) when the store holds TLS
-- material or `SkipTLSVerify` is set
-- @raise an error object (kind "usage") naming the context when it is not
-- in the store or its metadata is malformed
-- @usage local ctx = context.load("remote")
function M.load(name, getenv)
  local dir = M.config_dir(getenv)
  if not dir then
    errors.raise("usage", ('context "%s": no docker configuration directory (%s)')
      :format(name, "neither DOCKER_CONFIG nor HOME is set"))
  end
  local id = core.sha256(name)
  local meta = ("%s/contexts/meta/%s/meta.json"):format(dir, id)
  local f, why = io.open(meta, "rb")
  if not f then
    errors.raise("usage", ('context "%s" not found (%s)'):format(name, why))
  end
  local text = f:read("a")
  f:close()
  local ok, t = pcall(cjson.decode, text)
  local ep = ok and type(t) == "table" and type(t.Endpoints) == "table" and t.Endpoints.docker
  if type(ep) ~= "table" or type(ep.Host) ~= "string" or ep.Host == "" then
    errors.raise("usage", ('context "%s": %s has no docker endpoint host'):format(name, meta))
  end
  local ctx = { name = name, host = ep.Host }
  local tlsdir = ("%s/contexts/tls/%s/docker"):format(dir, id)
  local tls = {}
  for _, k in ipairs({ "ca", "cert", "key" }) do
    local p = ("%s/%s.pem"):format(tlsdir, k)
    if readable(p) then tls[k] = p end
  end
  if next(tls) or ep.SkipTLSVerify == true then
    tls.verify = ep.SkipTLSVerify ~= true
    ctx.tls = tls
  end
  return ctx
end

return M
