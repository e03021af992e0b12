--- The docker CLI's configuration, for the settings dockerpty honours:
-- `detachKeys` from `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`;
-- and the detach keys in force, "" meaning no detaching at all.
-- @module dockerpty.config
local cjson = require("cjson")
local core = require("dockerpty.core")

local M = {}

M.DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"

--- Path of the CLI config file.
-- @usage print(config.path()) --> /root/.docker/config.json
function M.path(getenv)
  getenv = getenv or os.getenv
  local dir = getenv("DOCKER_CONFIG")
  if not dir or dir == "" then
    local home = getenv("HOME")
    if not home or home == "" then return nil end
    dir = home .. "/.docker"
  end
  return dir .. "/config.json"
end

--- The decoded config, or an empty table when absent or unreadable.
-- @usage local cfg = config.load()
function M.load(getenv)
  local path = M.path(getenv)
  local f = path and io.open(path, "rb")
  if not f then return {} end
  local s = f:read("a")
  f:close()
  local ok, t = pcall(cjson.decode, s)
  if ok and type(t) == "table" then return t end
  return {}
end

--- The detach keys in force: the option, else the config's, else the default.
-- An option "" (no detaching) is kept; an empty `detachKeys` in the config
-- counts as absent, as in the docker CLI.
-- @usage config.detach_keys(nil) --> "ctrl-p,ctrl-q"
function M.detach_keys(option, getenv)
  if option ~= nil then return option end
  local keys = M.load(getenv).detachKeys
  if type(keys) == "string" and keys ~= "" then return keys end
  return M.DEFAULT_DETACH_KEYS
end

--- The key bytes of a detach-key spec, "" for "" (no detaching).
-- @treturn[1] string the bytes ("\16\17"), or ""
-- @return[2] nil, "invalid detach keys: <item>", "invalid"
-- @usage local keys = assert(config.parse_detach_keys("ctrl-p,ctrl-q"))
function M.parse_detach_keys(spec)
  if spec == "" then return "" end
  return core.parse_keys(spec)
end

--- Sent to the daemon for "" (no detaching). An empty value is not "none"
-- to every daemon: Docker's takes it as ctrl-p,ctrl-q on attach and exec,
-- Podman's on exec (on attach it means none). So the daemon gets a
-- sequence nobody types instead. On attach (a query parameter): sixteen
-- 0xFF bytes, which UTF-8 input never holds. On exec create (JSON, where
-- the daemon takes ASCII only): ctrl-\ then fifteen ctrl-@; Docker's
-- daemon holds a ctrl-\ typed alone until the next key.
M.NO_DETACH_ATTACH = string.rep("\255", 16, ",")
M.NO_DETACH_EXEC = "ctrl-\\" .. string.rep(",ctrl-@", 15)

--- What to send the daemon for the detach keys in force: the spec itself,
-- or for "" what keeps the daemon from detaching.
-- @tparam string spec from `detach_keys`
-- @tparam string where "attach" (the query of attach) or "exec" (exec create)
-- @usage client:attach_socket(id, { detach_keys = config.daemon_detach_keys(spec, "attach") })
function M.daemon_detach_keys(spec, where)
  if spec ~= "" then return spec end
  return where == "exec" and M.NO_DETACH_EXEC or M.NO_DETACH_ATTACH
end

return M
