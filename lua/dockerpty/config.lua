--- The docker CLI's configuration, for the settings dockerpty honours:
-- `detachKeys` from `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
-- @module dockerpty.config
local cjson = require("cjson")

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
-- @usage config.detach_keys(nil) --> "ctrl-p,ctrl-q"
function M.detach_keys(option, getenv)
  if option ~= nil then return option end
  local keys = M.load(getenv).detachKeys
  if type(keys) == "string" and keys ~= "" then return keys end
  return M.DEFAULT_DETACH_KEYS
end

return M
