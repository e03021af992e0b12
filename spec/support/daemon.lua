-- spec/support/daemon.lua: what kind of engine the specs talk to, for the
-- few answers that differ between Docker and Podman's compatible API (each
-- use says what differs).
local M = {}

local cache = {}

--- "podman" or "docker", from GET /version.
function M.engine(client)
  local key = client:where()
  if not cache[key] then
    local v = client:version()
    local name = "docker"
    for _, c in ipairs(v.Components or {}) do
      if type(c.Name) == "string" and c.Name:find("Podman", 1, true) then name = "podman" end
    end
    cache[key] = name
  end
  return cache[key]
end

function M.is_podman(client)
  return M.engine(client) == "podman"
end

--- A container named `name` running `cmd` (a list) with network none, for
-- exec and attach: started unless `opts.created`; `opts.tty`,
-- `opts.stdin_open` as create_container takes them. Returns the name.
function M.background(client, name, cmd, opts)
  opts = opts or {}
  local image = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"
  client:create_container{ image = image, command = cmd, name = name, tty = opts.tty,
    stdin_open = opts.stdin_open, host_config = { NetworkMode = "none" } }
  if not opts.created then client:start(name) end
  return name
end

return M
