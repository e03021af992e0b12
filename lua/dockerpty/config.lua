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

-- Paths already warned about: each bad file is reported once per process.
local warned = {}

local function warn_once(path, msg, warn)
  if warned[path] then return end
  warned[path] = true
  if warn == nil then
    io.stderr:write(msg, "\n")
  elseif warn then
    warn(msg)
  end
end

-- What is wrong with a decoded config, or nil: it must be an object, and
-- the settings read from it must have their types.
local function bad_shape(t)
  if t == cjson.null then return nil end
  if type(t) ~= "table" or (next(t) ~= nil and #t > 0) then
    return ("%s where an object was expected"):format(type(t) == "table" and "an array" or "a " .. type(t))
  end
  if t.detachKeys ~= nil and type(t.detachKeys) ~= "string" then
    return ("detachKeys: string expected, got %s"):format(
      t.detachKeys == cjson.null and "null" or type(t.detachKeys))
  end
  return nil
end

--- The decoded config, or an empty table when absent. A file that cannot
-- be read, is not JSON or has a setting of the wrong type is ignored with
-- a warning (docker's words, once per process and path) on stderr, or
-- through `warn` (a function, or false for none).
-- @usage local cfg = config.load()
function M.load(getenv, warn)
  local path = M.path(getenv)
  if not path then return {} end
  local f, err, code = io.open(path, "rb")
  if not f then
    if code ~= 2 then   -- ENOENT: no config, nothing to say
      -- "PATH: Permission denied" -> docker's "open PATH: permission denied"
      local why = tostring(err):gsub(": (%u)(%l[^:]*)$", function(a, b) return ": " .. a:lower() .. b end)
      warn_once(path, ("WARNING: Error loading config file: open %s"):format(why), warn)
    end
    return {}
  end
  local s, rerr = f:read("a")
  f:close()
  if not s then
    local why = tostring(rerr):gsub("^(%u)(%l)", function(a, b) return a:lower() .. b end)
    warn_once(path, ("WARNING: Error parsing config file (%s): read %s: %s"):format(path, path, why), warn)
    return {}
  end
  if s:find("^%s*$") then return {} end   -- empty: as docker, no settings and no warning
  local ok, t = pcall(cjson.decode, s)
  local why = not ok and tostring(t):gsub("^.-:%d+: ", "") or bad_shape(t)
  if why then
    warn_once(path, ("WARNING: Error parsing config file (%s): %s"):format(path, why), warn)
    return {}
  end
  return type(t) == "table" and t or {}
end

--- The detach keys in force: the option, else the config's, else the
-- default. `warn` as for `load`. An option "" (no detaching) is kept; an
-- empty `detachKeys` in the config counts as absent, as in the docker CLI.
-- @usage config.detach_keys(nil) --> "ctrl-p,ctrl-q"
function M.detach_keys(option, getenv, warn)
  if option ~= nil then return option end
  local keys = M.load(getenv, warn).detachKeys
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
