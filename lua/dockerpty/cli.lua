--- dockerpty.cli: the `dockerpty` command. `docker run`, `exec`, `attach`
-- and `start -a`, spelled as the docker CLI spells them, over the library.
-- This module owns what is command-line policy only: parsing flags as
-- docker does (pflag), turning them into the Engine API fields the docker
-- CLI sets, help texts, messages and exit statuses. Creating, attaching,
-- raw mode, resize, detach, removal and exit codes are the library's.
-- @module dockerpty.cli
-- The façade's entry points without the rest of `dockerpty` (the session
-- engine, Swarm services): a command loads only what it runs.
local blocking = require("dockerpty.blocking")
local clientlib = require("dockerpty.client")
local config = require("dockerpty.config")
local core = require("dockerpty.core")
local errors = require("dockerpty.errors")
local operation = require("dockerpty.operation")
local tty = require("dockerpty.tty")
local util = require("dockerpty.util")
local cjson = require("cjson")

local M = {}

local PROG = "dockerpty"

-- {======================================================
-- Failures: one line on stderr starting with "dockerpty: ", and a status
-- =======================================================

-- A failure of the command itself, with the exit status it means.
local Fail = {}
Fail.__index = Fail

local function fail(status, message)
  error(setmetatable({ status = status, message = PROG .. ": " .. message }, Fail), 0)
end

--- Raise a failure of the command: `status` is its exit status, `message`
-- its one line (after "dockerpty: ").
-- @usage cli.fail(125, "unknown flag: --x")
M.fail = fail

--- True when v is a failure raised by the command (`status`, `message`).
function M.is_failure(v)
  return getmetatable(v) == Fail
end

-- The one-line message of any error value: never a Lua source position, a
-- traceback or a second line.
local function message_of(e)
  local m
  if getmetatable(e) == Fail or errors.is(e) then
    m = tostring(e.message)
  else
    m = tostring(e)
    m = m:match("^([^\n]*)\nstack traceback:") or m
    -- "file.lua:12: ", "bin/dockerpty:456: ", "[string \"...\"]:3: "
    repeat
      local before = m
      m = m:gsub("^[^%s:]+:%d+: ", ""):gsub('^%[string "[^"]*"%]:%d+: ', "")
    until m == before
    if m:sub(1, #PROG + 2) ~= PROG .. ": " then m = PROG .. ": " .. m end
  end
  return (m:gsub("%s*\n%s*", " "):gsub("%s+$", ""))
end
M.message_of = message_of

-- }======================================================

-- {======================================================
-- Values of flags, checked when they are set, as pflag's Set does
-- =======================================================

-- Each converter takes the text and returns the value, or nil and docker's
-- reason; the parser reports `invalid argument "TEXT" for "FLAG" flag: REASON`.

-- Sizes with binary units, as go-units' RAMInBytes: "64m", "1.5g", "512kb".
local UNITS = { k = 1 << 10, m = 1 << 20, g = 1 << 30, t = 1 << 40, p = 1 << 50 }

function M.bytes(s)
  local num, rest = s:match("^(%d+%.?%d*)(.*)$")
  if not num then return nil, ("invalid size: '%s'"):format(s) end
  local sfx = rest:lower():gsub("^%s+", ""):gsub("%s+$", "")
  local mult = 1
  if sfx ~= "" then
    local u = UNITS[sfx:sub(1, 1)]
    local tail = u and sfx:sub(2) or sfx
    if tail ~= "" and tail ~= "b" and tail ~= "ib" and tail ~= "i" then
      return nil, ("invalid suffix: '%s'"):format(sfx)
    end
    if not u and tail ~= "b" then return nil, ("invalid suffix: '%s'"):format(sfx) end
    mult = u or 1
  end
  return math.tointeger(math.floor(tonumber(num) * mult))
end

local function integer(s)
  local n = s:match("^[+-]?%d+$") and math.tointeger(tonumber(s))
  if not n then return nil, ('strconv.ParseInt: parsing "%s": invalid syntax'):format(s) end
  return n
end

-- --cpus: a decimal number of CPUs, sent as NanoCpus.
local function cpus(s)
  local int, frac = s:match("^(%d*)%.?(%d*)$")
  if not int or (int == "" and frac == "") then
    return nil, ("failed to parse %s as a rational number"):format(s)
  end
  if #frac > 9 and frac:sub(10):find("[1-9]") then return nil, "value is too precise" end
  frac = (frac .. "000000000"):sub(1, 9)
  return math.tointeger(tonumber(int ~= "" and int or "0") * 1000000000 + tonumber(frac))
end

local function ipv4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return false end
  for _, x in ipairs({ a, b, c, d }) do
    if #x > 3 or tonumber(x) > 255 then return false end
  end
  return true
end

local function is_ip(s)
  if ipv4(s) then return true end
  if not s:find(":", 1, true) or s:find("[^%x:%.]") or s:find(":::", 1, true) then return false end
  local _, doubles = s:gsub("::", "")
  if doubles > 1 then return false end
  local groups = 0
  for g in s:gmatch("[^:]+") do
    if g:find("%.") then
      if not ipv4(g) then return false end
      groups = groups + 2
    else
      if #g > 4 then return false end
      groups = groups + 1
    end
  end
  return groups == 8 or (doubles == 1 and groups < 8)
end
M.is_ip = is_ip

local function dns(s)
  if not is_ip(s) then return nil, "IP address is not correctly formatted: " .. s end
  return s
end

-- --add-host host:ip or host=ip, sent as host:ip.
local function add_host(s)
  local host, ip = s:match("^([^=]*)=(.*)$")
  if not host then host, ip = s:match("^([^:]*):(.*)$") end
  if not host or host == "" then return nil, ('bad format for add-host: "%s"'):format(s) end
  local bare = ip:match("^%[(.*)%]$") or ip
  if bare ~= "host-gateway" and not is_ip(bare) then
    return nil, ('invalid IP address in add-host: "%s"'):format(ip)
  end
  return host .. ":" .. bare
end

local function label(s)
  local k = s:match("^([^=]*)")
  if k == "" then return nil, ("invalid label '%s': empty name"):format(s) end
  return s
end

local STREAMS = { stdin = true, stdout = true, stderr = true }

local function stream(s)
  if not STREAMS[s:lower()] then return nil, "valid streams are STDIN, STDOUT and STDERR" end
  return s:lower()
end

local ULIMITS = {}
for n in ("core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime "
    .. "sigpending stack"):gmatch("%S+") do ULIMITS[n] = true end

-- --ulimit name=soft[:hard]
local function ulimit(s)
  local name, soft, hard = s:match("^([^=]*)=([^:]*):?(.*)$")
  if not name then return nil, "invalid ulimit argument: " .. s end
  if not ULIMITS[name] then return nil, "invalid ulimit type: " .. name end
  local so, err = integer(soft)
  if not so then return nil, err end
  local ha = so
  if s:find(":", #name + 2, true) then
    ha, err = integer(hard)
    if not ha then return nil, err end
  end
  if so > ha then
    return nil, ("ulimit soft limit must be less than or equal to hard limit: %d > %d"):format(so, ha)
  end
  return { Name = name, Soft = so, Hard = ha }
end

-- The working directory, as the shell's pwd gives it ($PWD when it names
-- the current directory, else getcwd): asked only for a relative source.
local function working_dir()
  local p = io.popen("pwd 2>/dev/null", "r")
  local dir = p and p:read("l")
  if p then p:close() end
  if not dir or dir:sub(1, 1) ~= "/" then fail(125, "cannot find the working directory") end
  return dir
end

--- A host path made absolute against the working directory and cleaned
-- ("." and ".." resolved lexically, no trailing slash), as docker makes a
-- bind source that starts with "." (Go's filepath.Abs).
-- @usage cli.absolute("./d/", "/home/me") --> "/home/me/d"
function M.absolute(path, cwd)
  if path:sub(1, 1) ~= "/" then path = (cwd or working_dir()) .. "/" .. path end
  local out = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      out[#out] = nil
    elseif part ~= "." then
      out[#out + 1] = part
    end
  end
  return "/" .. table.concat(out, "/")
end

-- docker takes a source that starts with "." for a host path (a name does
-- not: `-v name:/x` is a named volume).
local function host_source(src)
  if src:sub(1, 1) == "." then return M.absolute(src) end
  return src
end

-- --mount: comma-separated key=value fields, as docker's MountOpt.
local MOUNT_BOOL = { readonly = "ReadOnly", ro = "ReadOnly", ["volume-nocopy"] = "NoCopy",
  ["bind-nonrecursive"] = "NonRecursive" }

local function mount_field(m, key, value, field)
  local function opts(name)
    -- docker sends an empty DriverConfig with any volume option
    m[name] = m[name] or (name == "VolumeOptions" and { DriverConfig = {} } or {})
    return m[name]
  end
  if key == "type" then m.Type = value:lower()
  elseif key == "source" or key == "src" then m.Source = host_source(value)
  elseif key == "target" or key == "destination" or key == "dst" then m.Target = value
  elseif key == "readonly" or key == "ro" then m.ReadOnly = value
  elseif key == "consistency" then m.Consistency = value
  elseif key == "bind-propagation" then opts("BindOptions").Propagation = value
  elseif key == "bind-nonrecursive" then opts("BindOptions").NonRecursive = value
  elseif key == "volume-nocopy" then opts("VolumeOptions").NoCopy = value
  elseif key == "volume-driver" then
    opts("VolumeOptions").DriverConfig.Name = value
  elseif key == "volume-label" or key == "volume-opt" then
    local k, v = value:match("^([^=]*)=?(.*)$")
    local vo = opts("VolumeOptions")
    if key == "volume-label" then
      vo.Labels = vo.Labels or {}
      vo.Labels[k] = v
    else
      vo.DriverConfig.Options = vo.DriverConfig.Options or {}
      vo.DriverConfig.Options[k] = v
    end
  elseif key == "tmpfs-size" then
    local n, err = M.bytes(value)
    if not n then return err end
    opts("TmpfsOptions").SizeBytes = n
  elseif key == "tmpfs-mode" then
    local n = value:match("^[0-7]+$") and tonumber(value, 8)
    if not n then return ('strconv.ParseUint: parsing "%s": invalid syntax'):format(value) end
    opts("TmpfsOptions").Mode = n
  else
    return ("unexpected key '%s' in '%s'"):format(key, field)
  end
end

local BOOLS = { ["1"] = true, t = true, T = true, TRUE = true, ["true"] = true, True = true,
  ["0"] = false, f = false, F = false, FALSE = false, ["false"] = false, False = false }

-- The fields of a CSV line as Go's encoding/csv reads it (docker reads
-- --mount so): a field in double quotes may hold commas, and "" is a quote.
local function csv_fields(s)
  if s == "" then return nil, "EOF" end
  local fields, i = {}, 1
  while true do
    if s:sub(i, i) == '"' then
      local parts, j = {}, i + 1
      while true do
        local q = s:find('"', j, true)
        if not q then
          return nil, ('parse error on line 1, column %d: extraneous or missing " in quoted-field')
            :format(#s + 1)
        end
        parts[#parts + 1] = s:sub(j, q - 1)
        local after = s:sub(q + 1, q + 1)
        if after == '"' then
          parts[#parts + 1] = '"'
          j = q + 2
        elseif after == "," or after == "" then
          fields[#fields + 1] = table.concat(parts)
          i = q + 2
          if after == "" then return fields end
          break
        else
          return nil, ('parse error on line 1, column %d: extraneous or missing " in quoted-field'):format(q)
        end
      end
    else
      local stop = s:find(",", i, true) or #s + 1
      local field = s:sub(i, stop - 1)
      local bare = field:find('"', 1, true)
      if bare then
        return nil, ('parse error on line 1, column %d: bare " in non-quoted-field'):format(i + bare - 1)
      end
      fields[#fields + 1] = field
      if stop > #s then return fields end
      i = stop + 1
    end
  end
end

-- Options of one mount type with another, refused as docker does.
local MOUNT_MIX = { { "VolumeOptions", "volume" }, { "BindOptions", "bind" }, { "TmpfsOptions", "tmpfs" } }

local function mount(s)
  local m = { Type = "volume" }
  local fields, why = csv_fields(s)
  if not fields then return nil, why end
  for _, field in ipairs(fields) do
    local key, value = field:match("^([^=]*)=(.*)$")
    key = (key or field):lower()
    if not value then
      if not MOUNT_BOOL[key] then
        return nil, ("invalid field '%s' must be a key=value pair"):format(field)
      end
      value = true
    elseif MOUNT_BOOL[key] then
      local b = BOOLS[value]
      if b == nil then return nil, ("invalid value for %s: %s"):format(key, value) end
      value = b
    end
    local err = mount_field(m, key, value, field)
    if err then return nil, err end
  end
  -- docker's order of checks: the type, the target, then the mixes
  if m.Type == nil or m.Type == "" then return nil, "type is required" end
  if m.Target == nil or m.Target == "" then return nil, "target is required" end
  for _, mix in ipairs(MOUNT_MIX) do
    if m[mix[1]] and m.Type ~= mix[2] then
      return nil, ("cannot mix '%s-*' options with mount type '%s'"):format(mix[2], m.Type)
    end
  end
  return m
end

local PULL = { always = true, missing = true, never = true }

-- --platform as containerd's platforms.Parse reads it: os[/arch[/variant]]
-- or an architecture alone (for this host's OS); sent normalized.
local function set_of(words)
  local t = {}
  for w in words:gmatch("%S+") do t[w] = true end
  return t
end
local KNOWN_OS = set_of("aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd "
  .. "openbsd plan9 solaris wasip1 windows zos")
local KNOWN_ARCH = set_of("386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 "
  .. "mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm")

local function normal_arch(arch, variant)
  arch, variant = arch:lower(), (variant or ""):lower()
  if arch == "i386" then return "386", ""
  elseif arch == "x86_64" or arch == "x86-64" or arch == "amd64" then
    return "amd64", (variant == "v1" and "" or variant)
  elseif arch == "aarch64" or arch == "arm64" then
    return "arm64", ((variant == "8" or variant == "v8") and "" or variant)
  elseif arch == "armhf" then return "arm", "v7"
  elseif arch == "armel" then return "arm", "v6"
  elseif arch == "arm" then
    if variant == "" or variant == "7" then return "arm", "v7" end
    if variant:match("^[5-8]$") then return "arm", "v" .. variant end
  end
  return arch, variant
end

function M.platform(spec)
  local function bad(why, whole)
    fail(125, ("error parsing specified platform: %s: invalid argument"):format(
      whole or ('"%s": %s'):format(spec, why)))
  end
  local parts = {}
  for p in (spec .. "/"):gmatch("([^/]*)/") do parts[#parts + 1] = p end
  if #parts > 3 then bad("cannot parse platform specifier") end
  for i, p in ipairs(parts) do
    if i == 1 and not p:match("^[%w_-]+$") then
      bad(nil, ('"%s" is an invalid OS component of "%s": OSAndVersion specifier component must match '
        .. '"^([A-Za-z0-9_-]+)(?:\\\\(([A-Za-z0-9_.-]*)\\\\))?$"'):format(p, spec))
    elseif not p:match("^[%w_-]+$") then
      bad(nil, ('"%s" is an invalid component of "%s": platform specifier component must match '
        .. '"^[A-Za-z0-9_-]+$"'):format(p, spec))
    end
  end
  local os_, arch, variant
  if #parts == 1 then
    local o = parts[1]:lower():gsub("^macos$", "darwin")
    if KNOWN_OS[o] then
      os_, arch, variant = o, "amd64", ""
    else
      arch, variant = normal_arch(parts[1])
      if arch == "arm" and variant == "v7" then variant = "" end
      if not KNOWN_ARCH[arch] then bad("unknown operating system or architecture") end
      os_ = "linux"
    end
  else
    os_ = parts[1]:lower():gsub("^macos$", "darwin")
    arch, variant = normal_arch(parts[2], parts[3])
  end
  return os_ .. "/" .. arch .. (variant ~= "" and "/" .. variant or "")
end

-- }======================================================

-- {======================================================
-- Commands and their flags
-- =======================================================

local function flag(short, long, kind, help, arg, conv)
  return { short = short, long = long, kind = kind, help = help, arg = arg, conv = conv }
end

local HELP = flag(nil, "help", "bool", "Print usage")
local HELP_H = flag("h", "help", "bool", "Print usage")
local DETACH_KEYS = flag(nil, "detach-keys", "string",
  "Override the key sequence for detaching a container")
local RECORD = flag(nil, "record", "string",
  "Record the session to FILE (asciicast v2, for asciinema)", "FILE")
local RECORD_INPUT = flag(nil, "record-input", "bool", "Record what is typed too (it may hold passwords)")

local DETACH_NOTE = [[
Detach from a container with a tty: Ctrl-P Ctrl-Q, or --detach-keys, or
"detachKeys" in ~/.docker/config.json.]]

local RUN_FLAGS = {
  flag(nil, "add-host", "list", "Add a custom host-to-IP mapping (host:ip)", nil, add_host),
  flag("a", "attach", "list", "Attach to STDIN, STDOUT or STDERR", nil, stream),
  flag(nil, "cap-add", "list", "Add Linux capabilities"),
  flag(nil, "cap-drop", "list", "Drop Linux capabilities"),
  flag(nil, "cpus", "string", "Number of CPUs", "decimal", cpus),
  flag("d", "detach", "bool", "Run container in background and print container ID"),
  DETACH_KEYS,
  RECORD, RECORD_INPUT,
  flag(nil, "device", "list", "Add a host device to the container"),
  flag(nil, "dns", "list", "Set custom DNS servers", nil, dns),
  flag(nil, "entrypoint", "string", "Overwrite the default ENTRYPOINT of the image"),
  flag("e", "env", "list", "Set environment variables"),
  flag(nil, "env-file", "list", "Read in a file of environment variables"),
  flag(nil, "group-add", "list", "Add additional groups to join"),
  flag("h", "hostname", "string", "Container host name"),
  flag(nil, "init", "bool", "Run an init inside the container that forwards signals and reaps processes"),
  flag("i", "interactive", "bool", "Keep STDIN open even if not attached"),
  flag(nil, "ipc", "string", "IPC mode to use"),
  flag("l", "label", "list", "Set meta data on a container", nil, label),
  flag(nil, "label-file", "list", "Read in a line delimited file of labels"),
  flag(nil, "log-driver", "string", "Logging driver for the container"),
  flag(nil, "log-opt", "list", "Log driver options"),
  flag("m", "memory", "string", "Memory limit", "bytes", M.bytes),
  flag(nil, "mount", "list", "Attach a filesystem mount to the container", "mount", mount),
  flag(nil, "name", "string", "Assign a name to the container"),
  flag(nil, "network", "string", "Connect a container to a network", "network"),
  flag(nil, "pid", "string", "PID namespace to use"),
  flag(nil, "platform", "string", "Set platform if server is multi-platform capable"),
  flag(nil, "privileged", "bool", "Give extended privileges to this container"),
  flag("p", "publish", "list", "Publish a container's port(s) to the host"),
  flag(nil, "pull", "string", 'Pull image before running ("always", "missing", "never") (default "missing")'),
  flag(nil, "read-only", "bool", "Mount the container's root filesystem as read only"),
  flag(nil, "restart", "string", "Restart policy to apply when a container exits (default \"no\")"),
  flag(nil, "rm", "bool", "Automatically remove the container when it exits"),
  flag(nil, "security-opt", "list", "Security Options"),
  flag(nil, "shm-size", "string", "Size of /dev/shm", "bytes", M.bytes),
  flag(nil, "sig-proxy", "bool", "Proxy received signals to the process (default true)"),
  flag(nil, "stop-signal", "string", "Signal to stop the container"),
  flag(nil, "stop-timeout", "string", "Timeout (in seconds) to stop a container", "int", integer),
  flag(nil, "tmpfs", "list", "Mount a tmpfs directory"),
  flag("t", "tty", "bool", "Allocate a pseudo-TTY"),
  flag(nil, "ulimit", "list", "Ulimit options", "ulimit", ulimit),
  flag("u", "user", "string", "Username or UID (format: <name|uid>[:<group|gid>])"),
  flag("v", "volume", "list", "Bind mount a volume"),
  flag("w", "workdir", "string", "Working directory inside the container"),
  HELP,
}

local COMMANDS = {
  run = {
    usage = "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
    summary = "Create and run a new container from an image",
    min = 1,
    flags = RUN_FLAGS,
    notes = DETACH_NOTE .. [[ The container runs on and
dockerpty exits 0 (as docker run does).

Exit status: the container's; 125 when the daemon or dockerpty fails (a bad
flag, no such image, a start failure); 126 when the command cannot be
invoked; 127 when it is not found; 1 for "the input device is not a TTY"
(-it with a stdin that is not a terminal) and a missing IMAGE, as docker.]],
  },
  exec = {
    usage = "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
    summary = "Execute a command in a running container",
    min = 2,
    flags = {
      flag("d", "detach", "bool", "Detached mode: run command in the background"),
      DETACH_KEYS,
      RECORD, RECORD_INPUT,
      flag("e", "env", "list", "Set environment variables"),
      flag(nil, "env-file", "list", "Read in a file of environment variables"),
      flag("i", "interactive", "bool", "Keep STDIN open even if not attached"),
      flag(nil, "privileged", "bool", "Give extended privileges to the command"),
      flag("t", "tty", "bool", "Allocate a pseudo-TTY"),
      flag("u", "user", "string", "Username or UID (format: \"<name|uid>[:<group|gid>]\")"),
      flag("w", "workdir", "string", "Working directory inside the container"),
      HELP_H,
    },
    notes = DETACH_NOTE .. [[ The command runs on;
dockerpty prints "read escape sequence" and exits 1 (as docker exec does).

Exit status: the command's (126 or 127 when the daemon cannot start it);
1 when the daemon refuses (no such container, not running) or the input
device is not a TTY; 125 for a bad flag.]],
  },
  attach = {
    usage = "attach [OPTIONS] CONTAINER",
    summary = "Attach local standard input, output, and error streams to a running container",
    min = 1, max = 1,
    flags = {
      flag(nil, "no-stdin", "bool", "Do not attach STDIN"),
      flag(nil, "logs", "bool", "Replay the container's earlier output first (not in docker attach)"),
      DETACH_KEYS,
      RECORD, RECORD_INPUT,
      flag(nil, "sig-proxy", "bool", "Proxy all received signals to the process (default true)"),
      HELP_H,
    },
    notes = DETACH_NOTE .. [[ The container runs on;
dockerpty prints "read escape sequence" and exits 1 (as docker attach does).

Exit status: the container's; 1 when it is not running, when the daemon
refuses or the input device is not a TTY; 125 for a bad flag.]],
  },
  start = {
    usage = "start [OPTIONS] CONTAINER [CONTAINER...]",
    summary = "Start one or more stopped containers (with -a, attached to one)",
    min = 1,
    flags = {
      flag("a", "attach", "bool", "Attach STDOUT/STDERR and forward signals"),
      flag("i", "interactive", "bool", "Attach container's STDIN"),
      DETACH_KEYS,
      RECORD, RECORD_INPUT,
      HELP_H,
    },
    notes = DETACH_NOTE .. [[ The container runs on and
dockerpty exits 0 (as docker start does).

Exit status: with -a or -i the container's; 1 when the daemon refuses
(no such container, a start failure); 125 for a bad flag.]],
  },
}
M.COMMANDS = COMMANDS

local ORDER = { "attach", "exec", "run", "start" }
M.ORDER = ORDER

-- The option table, in docker's layout: sorted by long name.
local function options_text(flags)
  local rows, width = {}, 0
  local sorted = {}
  for _, f in ipairs(flags) do sorted[#sorted + 1] = f end
  table.sort(sorted, function(a, b) return a.long < b.long end)
  for _, f in ipairs(sorted) do
    local left = (f.short and ("  -%s, --%s"):format(f.short, f.long) or ("      --%s"):format(f.long))
    if f.kind ~= "bool" then left = left .. " " .. (f.arg or f.kind) end
    rows[#rows + 1] = { left, f.help }
    if #left > width then width = #left end
  end
  local out = {}
  for _, r in ipairs(rows) do
    out[#out + 1] = ("%-" .. width .. "s   %s"):format(r[1], r[2])
  end
  return table.concat(out, "\n")
end

local function command_help(name)
  local c = COMMANDS[name]
  return ("Usage:  %s %s\n\n%s\n\nOptions:\n%s\n\n%s\n"):format(PROG, c.usage, c.summary,
    options_text(c.flags), c.notes)
end

local GLOBAL_FLAGS = {
  flag("c", "context", "string", "Name of the context to use to connect to the daemon "
    .. "(overrides DOCKER_HOST and DOCKER_CONTEXT)"),
  flag("H", "host", "string", "Daemon socket to connect to (default: $DOCKER_HOST, else "
    .. "unix:///var/run/docker.sock)"),
  flag("h", "help", "bool", "Print usage"),
  flag("v", "version", "bool", "Print version information and quit"),
}
M.GLOBAL_FLAGS = GLOBAL_FLAGS

local function global_help()
  local cmds = {}
  for _, n in ipairs(ORDER) do
    cmds[#cmds + 1] = ("  %-8s %s"):format(n, COMMANDS[n].summary)
  end
  cmds[#cmds + 1] = ("  %-8s %s"):format("service", "Run a command in a Swarm service's tasks (service exec)")
  return ("Usage:  %s [OPTIONS] COMMAND\n\n"
    .. "Attach the terminal to a Docker container's pseudo-tty, as the docker CLI does\n"
    .. "(through the dockerpty Lua library). Honours DOCKER_HOST, DOCKER_TLS_VERIFY,\n"
    .. "DOCKER_CERT_PATH, DOCKER_API_VERSION and detachKeys in ~/.docker/config.json.\n\n"
    .. "Commands:\n%s\n\nGlobal Options:\n%s\n\n"
    .. "Run '%s COMMAND --help' for more information on a command.\n"):format(
    PROG, table.concat(cmds, "\n"), options_text(GLOBAL_FLAGS), PROG)
end

-- }======================================================

-- {======================================================
-- Flags, parsed as pflag does
-- =======================================================

-- Store one value of flag f, spelled `spelled` on the command line.
-- A value quoted as Go's %q quotes printable text.
local function goquote(v)
  return '"' .. v:gsub('[\\"]', "\\%0") .. '"'
end

local function set_value(values, f, v, usage)
  local name = f.short and ("-%s, --%s"):format(f.short, f.long) or "--" .. f.long
  if f.kind == "bool" then
    if type(v) == "string" then
      local b = BOOLS[v]
      if b == nil then
        usage(('invalid argument %s for "%s" flag: true or false expected'):format(goquote(v),
          "--" .. f.long))
      end
      v = b
    end
    values[f.long] = v
    return
  end
  if f.conv then
    local conv, why = f.conv(v)
    if conv == nil then usage(('invalid argument %s for "%s" flag: %s'):format(goquote(v), name, why)) end
    v = conv
  end
  if f.kind == "list" then
    values[f.long] = values[f.long] or {}
    table.insert(values[f.long], v)
  else
    values[f.long] = v
  end
end

--- Parse argv[first..] against flags, as pflag does for docker's commands.
-- Options stop at the first positional (docker's commands do not
-- intersperse) or after "--". Combined short flags (-it), -eK=V, -e K=V,
-- --name=N, --name N, --rm=false. Returns the values (by long name) and the
-- positionals; raises a usage failure (status 125) whose text names `see`.
-- @usage local o, args = cli.parse(cli.COMMANDS.run.flags, {"-it", "busybox"}, 1, "dockerpty run")
function M.parse(flags, argv, first, see)
  local by_short, by_long = {}, {}
  for _, f in ipairs(flags) do
    if f.short then by_short[f.short] = f end
    by_long[f.long] = f
  end
  local function usage(msg)
    fail(125, ("%s (see '%s --help')"):format(msg, see))
  end
  local values = {}
  local i = first or 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      i = i + 1
      break
    elseif a:sub(1, 2) == "--" then
      local name, v = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local f = by_long[name] or usage("unknown flag: --" .. name)
      if f.kind ~= "bool" and v == nil then
        i = i + 1
        v = argv[i] or usage("flag needs an argument: --" .. name)
      end
      set_value(values, f, v == nil and true or v, usage)
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local j = 2
      while j <= #a do
        local c = a:sub(j, j)
        local f = by_short[c] or usage(("unknown shorthand flag: '%s' in %s"):format(c, a))
        local rest = a:sub(j + 1)
        if f.kind == "bool" then
          if rest:sub(1, 1) == "=" then
            set_value(values, f, rest:sub(2), usage)
            break
          end
          set_value(values, f, true, usage)
        else
          if rest == "" then
            i = i + 1
            rest = argv[i] or usage(("flag needs an argument: '%s' in %s"):format(c, a))
          elseif rest:sub(1, 1) == "=" then
            rest = rest:sub(2)
          end
          set_value(values, f, rest, usage)
          break
        end
        j = j + 1
      end
    else
      break
    end
    i = i + 1
  end
  local pos = {}
  for k = i, #argv do pos[#pos + 1] = argv[k] end
  return values, pos
end

-- }======================================================

-- {======================================================
-- From flags to the Engine API's create request, as the docker CLI does
-- =======================================================

--- Read a file of KEY=VALUE lines as docker's --env-file and --label-file:
-- blank lines and lines starting with # are skipped; a bare KEY takes
-- `lookup(KEY)` when it gives a value, and is left out otherwise.
-- @usage local env = cli.read_kv_file("app.env", os.getenv)
function M.read_kv_file(path, lookup)
  local f, err = io.open(path, "rb")
  if not f then
    fail(125, (err or path):gsub("^[^:]*: No such file or directory$", "open " .. path
      .. ": no such file or directory"):gsub("^[^:]*: Permission denied$", "open " .. path
      .. ": permission denied"))
  end
  local out, n = {}, 0
  for line in f:lines() do
    n = n + 1
    if n == 1 then line = line:gsub("^\239\187\191", "") end
    line = line:gsub("^%s+", "")
    if line ~= "" and line:sub(1, 1) ~= "#" then
      local k, eq, v = line:match("^([^=]*)(=?)(.*)$")
      if k == "" then
        f:close()
        fail(125, ("no variable name on line '%s'"):format(line))
      end
      if k:find("%s") then
        f:close()
        fail(125, ("variable '%s' contains whitespaces"):format(k))
      end
      if eq == "=" then
        out[#out + 1] = k .. "=" .. v
      elseif lookup and lookup(k) then
        out[#out + 1] = k .. "=" .. lookup(k)
      end
    end
  end
  f:close()
  return out
end

-- -e as docker takes it: K=V as is; a bare K takes the local value if set
-- (and is left out when it is not). Files first, then the flags.
local function env_list(files, list)
  local out = {}
  for _, path in ipairs(files or {}) do
    for _, v in ipairs(M.read_kv_file(path, os.getenv)) do out[#out + 1] = v end
  end
  for _, v in ipairs(list or {}) do
    local k, eq = v:match("^([^=]*)(=?)")
    if k == "" then fail(125, "invalid environment variable: " .. v) end
    if eq == "" and os.getenv(k) then v = k .. "=" .. os.getenv(k) end
    out[#out + 1] = v
  end
  return #out > 0 and out or nil
end

-- Labels: files first, then -l; "K" alone is an empty value.
local function labels(files, list)
  local all = {}
  for _, path in ipairs(files or {}) do
    for _, v in ipairs(M.read_kv_file(path)) do all[#all + 1] = v end
  end
  for _, v in ipairs(list or {}) do all[#all + 1] = v end
  if #all == 0 then return nil end
  local map = {}
  for _, v in ipairs(all) do
    local k, val = v:match("^([^=]*)=?(.*)$")
    map[k] = val
  end
  return map
end

local function kv_map(list, what)
  if not list then return nil end
  local map = {}
  for _, v in ipairs(list) do
    local k, val = v:match("^([^=]+)=(.*)$")
    if not k then fail(125, ("invalid key/value pair format in %s: %s"):format(what, v)) end
    map[k] = val
  end
  return map
end

-- Capabilities as docker sends them: upper case, CAP_ prefixed, ALL alone.
local function caps(list)
  if not list then return nil end
  local out, seen = {}, {}
  for _, c in ipairs(list) do
    c = c:upper()
    if c ~= "ALL" and c:sub(1, 4) ~= "CAP_" then c = "CAP_" .. c end
    if not seen[c] then
      seen[c] = true
      out[#out + 1] = c
    end
  end
  if seen.ALL then return { "ALL" } end
  return out
end

local DEVICE_MODE = "^[rwm]+$"

local function device(s)
  local parts = {}
  for p in (s .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
  local src, dst, perm = parts[1], nil, "rwm"
  if #parts == 2 then
    if parts[2]:match(DEVICE_MODE) then perm = parts[2] else dst = parts[2] end
  elseif #parts == 3 then
    dst, perm = parts[2], parts[3]
    if not perm:match(DEVICE_MODE) then fail(125, "invalid device mode: " .. perm) end
  elseif #parts > 3 then
    fail(125, "invalid device specification: " .. s)
  end
  return { PathOnHost = src, PathInContainer = (dst and dst ~= "") and dst or src,
    CgroupPermissions = perm }
end

-- -p [ip:][hostPort:]containerPort[/proto]; ranges expand port by port.
local function port_range(s, what, spec)
  local a, b = s:match("^(%d+)%-(%d+)$")
  if not a then a = s:match("^(%d+)$"); b = a end
  if not a or tonumber(a) > 65535 or tonumber(b) < tonumber(a) then
    fail(125, ("invalid %s: %s"):format(what, spec or s))
  end
  return tonumber(a), tonumber(b)
end

local function publish(list, exposed, bindings)
  for _, spec in ipairs(list) do
    local rest, proto = spec:match("^(.-)/(%a+)$")
    rest, proto = rest or spec, proto or "tcp"
    local ip, hostp, cport
    local v6, tail = rest:match("^%[([^%]]*)%]:(.*)$")
    if v6 then ip, rest = v6, tail end
    local parts = {}
    for p in (rest .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
    if v6 then table.insert(parts, 1, ip) end
    if #parts == 1 then cport = parts[1]
    elseif #parts == 2 then hostp, cport = parts[1], parts[2]
    elseif #parts == 3 then ip, hostp, cport = parts[1], parts[2], parts[3]
    else fail(125, "invalid port format: " .. spec) end
    if cport == "" then fail(125, "no port specified: " .. spec .. "<empty>") end
    local c1, c2 = port_range(cport, "containerPort")
    local h1, h2
    if hostp and hostp ~= "" then
      h1, h2 = port_range(hostp, "hostPort")
      if h2 - h1 ~= c2 - c1 and h1 ~= h2 then
        fail(125, "invalid ranges specified for container and host Ports: " .. cport .. " and " .. hostp)
      end
    end
    for p = c1, c2 do
      local key = ("%d/%s"):format(p, proto:lower())
      exposed[key] = {}
      local hp = ""
      if h1 then hp = tostring(h1 == h2 and h1 or h1 + (p - c1)) end
      bindings[key] = bindings[key] or {}
      table.insert(bindings[key], { HostIp = ip or "", HostPort = hp })
    end
  end
end

local function restart_policy(s)
  local name, max = s:match("^([^:]*):?(.*)$")
  if name == "" then fail(125, "invalid restart policy format: no policy provided before colon") end
  local policy = { Name = name, MaximumRetryCount = 0 }
  if s:find(":", 1, true) then
    local n = max:match("^%d+$") and tonumber(max)
    if not n then fail(125, "invalid restart policy format: maximum retry count must be an integer") end
    policy.MaximumRetryCount = n
  end
  return policy
end

-- --security-opt: "no-new-privileges" or key=value (docker's "key:value"
-- legacy spelling too); seccomp=FILE sends the profile's JSON.
local function security_opts(list)
  if not list then return nil end
  local out = {}
  for _, opt in ipairs(list) do
    local k, v = opt:match("^([^=]*)=(.*)$")
    if not k then k, v = opt:match("^([^:]*):(.*)$") end
    if opt == "no-new-privileges" then
      out[#out + 1] = opt
    elseif not k then
      fail(125, ('Invalid --security-opt: "%s"'):format(opt))
    elseif k == "seccomp" and v ~= "unconfined" and v ~= "builtin" then
      local f = io.open(v, "rb")
      if not f then
        fail(125, ("opening seccomp profile (%s) failed: open %s: no such file or directory"):format(v, v))
      end
      local text = f:read("a")
      f:close()
      local ok, t = pcall(cjson.decode, text)
      if not ok then fail(125, ("compacting json for seccomp profile (%s) failed"):format(v)) end
      out[#out + 1] = "seccomp=" .. cjson.encode(t)
    else
      out[#out + 1] = k .. "=" .. v
    end
  end
  return out
end

-- The HostConfig of docker run's flags.
local function host_config(o)
  local hc = {
    AutoRemove = o.rm or nil, NetworkMode = o.network,
    Binds = nil, Mounts = o.mount, Tmpfs = nil,
    Privileged = o.privileged or nil, ReadonlyRootfs = o["read-only"] or nil,
    CapAdd = caps(o["cap-add"]), CapDrop = caps(o["cap-drop"]),
    SecurityOpt = security_opts(o["security-opt"]),
    Memory = o.memory, NanoCpus = o.cpus, ShmSize = o["shm-size"],
    Ulimits = o.ulimit, ExtraHosts = o["add-host"], Dns = o.dns,
    GroupAdd = o["group-add"], IpcMode = o.ipc, PidMode = o.pid,
  }
  if o.pid and not (o.pid == "host" or o.pid:match("^container:.+")) then
    fail(125, "--pid: invalid PID mode")
  end
  if o.init ~= nil then hc.Init = o.init end
  for _, v in ipairs(o.tmpfs or {}) do
    local path, opts = v:match("^([^:]*):?(.*)$")
    hc.Tmpfs = hc.Tmpfs or {}
    hc.Tmpfs[path] = opts
  end
  if o["log-driver"] or o["log-opt"] then
    if o["log-driver"] == "none" and o["log-opt"] then
      fail(125, "invalid logging opts for driver none")
    end
    hc.LogConfig = { Type = o["log-driver"] or "", Config = kv_map(o["log-opt"], "log-opt") }
  end
  if o.device then
    hc.Devices = {}
    for i, d in ipairs(o.device) do hc.Devices[i] = device(d) end
  end
  if o.restart then
    hc.RestartPolicy = restart_policy(o.restart)
    if o.rm and hc.RestartPolicy.Name ~= "no" then
      fail(125, "conflicting options: cannot specify both --restart and --rm")
    end
  end
  return hc
end

-- The Config fields beyond create_container's own options.
local function extra_config(o, hc)
  local c = { Hostname = o.hostname, StopSignal = o["stop-signal"], StopTimeout = o["stop-timeout"] }
  for _, v in ipairs(o.volume or {}) do
    local src, rest = v:match("^([^:]*)(:.*)$")
    if src then
      hc.Binds = hc.Binds or {}
      hc.Binds[#hc.Binds + 1] = host_source(src) .. rest
    else
      c.Volumes = c.Volumes or {}
      c.Volumes[v] = {}
    end
  end
  if o.publish then
    c.ExposedPorts, hc.PortBindings = {}, {}
    publish(o.publish, c.ExposedPorts, hc.PortBindings)
  end
  if o.attach then
    local a = {}
    for _, s in ipairs(o.attach) do a[s] = true end
    -- -i attaches stdin whatever -a names, as the docker CLI does
    c.AttachStdin = (a.stdin or o.interactive) and true or false
    c.AttachStdout, c.AttachStderr = a.stdout or false, a.stderr or false
    c.StdinOnce = o.interactive and true or false
  end
  return c
end

--- The create request and the session of `dockerpty run`'s flags.
-- @tparam table o the flags, as `parse` returns them
-- @tparam table args IMAGE [COMMAND [ARG...]]
-- @treturn table create_container's options
-- @treturn table what the command does with them: `pull`, `detach`,
-- `attach` (a set of stream names, or nil for docker's default)
-- @usage local req, how = cli.run_request(o, {"busybox", "true"})
function M.run_request(o, args)
  local pull = o.pull or "missing"
  if not PULL[pull] then
    fail(125, ("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\""):format(pull))
  end
  if o.detach and o.attach then
    fail(125, "conflicting options: cannot specify both --attach and --detach")
  end
  local hc = host_config(o)
  local extra = extra_config(o, hc)
  local req = {
    image = args[1], command = #args > 1 and { table.unpack(args, 2) } or nil,
    entrypoint = o.entrypoint and { o.entrypoint } or nil,
    stdin_open = o.interactive, tty = o.tty, detach = o.detach,
    environment = env_list(o["env-file"], o.env), working_dir = o.workdir, user = o.user, name = o.name,
    labels = labels(o["label-file"], o.label), platform = o.platform and M.platform(o.platform),
    host_config = next(hc) and hc or nil, config = next(extra) and extra or nil,
  }
  local attach
  if o.attach then
    attach = {}
    for _, s in ipairs(o.attach) do attach[s] = true end
  end
  return req, { pull = pull, detach = o.detach and true or false, attach = attach }
end

-- }======================================================

-- {======================================================
-- Pulling, as docker run does
-- =======================================================

-- docker's reference: a name without tag or digest means :latest.
local function with_tag(image)
  if image:find("@", 1, true) then return image end
  local last = image:match("[^/]*$")
  if last:find(":", 1, true) then return image end
  return image .. ":latest"
end

-- {------ registry credentials, as the docker CLI sends them ------


-- The registry of an image reference, as docker reads it: a first
-- component with a "." or ":" (or "localhost") is a host; else Docker Hub.
local HUB_KEY = "https://index.docker.io/v1/"

local function registry_of(image)
  local first = image:match("^([^/]+)/")
  if first == "docker.io" or first == "index.docker.io" then return nil end
  if first and (first:find("[.:]") or first == "localhost") then return first end
  return nil
end

--- The X-Registry-Auth header for pulling `image`, from the "auths" of
-- the CLI config (`auth`: base64 of user:password, or `identitytoken`):
-- the base64url JSON of username, password and serveraddress, as the
-- docker CLI sends it; nil when the config has none for that registry
-- (credential helpers are not read).
-- @usage local h = cli.registry_auth("localhost:5000/app", os.getenv)
function M.registry_auth(image, getenv)
  local auths = config.load(getenv, function() end).auths
  if type(auths) ~= "table" then return nil end
  local host = registry_of(image)
  local key, entry = host or HUB_KEY, auths[host or HUB_KEY]
  if not entry and host then
    -- older configs name a registry by URL: "https://host/v1/"
    for k, v in pairs(auths) do
      if type(k) == "string" and k:gsub("^%a+://", ""):match("^[^/]*") == host then key, entry = k, v end
    end
  end
  if type(entry) ~= "table" then return nil end
  local ac = { serveraddress = key }
  if type(entry.auth) == "string" and entry.auth ~= "" then
    local text = util.unbase64(entry.auth)
    if not text then return nil end   -- not base64: no credentials (docker fails there)
    ac.username, ac.password = text:match("^([^:]*):(.*)$")
    if not ac.username then return nil end
  end
  if type(entry.identitytoken) == "string" and entry.identitytoken ~= "" then
    ac.identitytoken = entry.identitytoken
  end
  if not (ac.username or ac.identitytoken) then return nil end
  return util.base64(cjson.encode(ac), true)
end

-- }------

-- One message of the pull's JSON stream on stderr, as the docker CLI shows
-- it on a stream that is not a terminal: "ID: STATUS" lines, and no
-- progress bars (a message with progress is left out).
local function show_pull_message(m)
  if m.error or m.errorDetail then
    local detail = type(m.errorDetail) == "table" and m.errorDetail.message
    errors.raise("api", tostring(m.error or detail), 500)
  end
  local pd = m.progressDetail
  if type(pd) == "table" and ((tonumber(pd.current) or 0) > 0 or (tonumber(pd.total) or 0) > 0) then
    return
  end
  local parts = {}
  if type(m.id) == "string" and m.id ~= "" then parts[#parts + 1] = m.id .. ": " end
  if type(m.stream) == "string" and m.stream ~= "" then
    parts[#parts + 1] = m.stream
  elseif m.status ~= nil then
    parts[#parts + 1] = tostring(m.status) .. "\n"
  end
  if #parts > 0 then
    io.stderr:write(table.concat(parts))
    io.stderr:flush()
  end
end

-- The pull's answer, read as it comes: each complete line of the JSON
-- stream is shown when it arrives. Returns the status and, for an error
-- answer, its body.
local function pull_stream(conn, status, hdrs, deadline, where)
  local pending, body = "", {}
  local ok, msg, name = clientlib.read_stream(conn, status, hdrs, deadline, function(piece)
    if status >= 300 then
      body[#body + 1] = piece
      return
    end
    pending = pending .. piece
    for line in pending:gmatch("([^\r\n]*)\r?\n") do
      local dok, m = pcall(cjson.decode, line)
      if dok and type(m) == "table" then show_pull_message(m) end
    end
    pending = pending:match("[^\n]*$")
  end)
  -- a pull cut off (the daemon gone, a short body) is no success
  if not ok then errors.from_core(msg, name, where) end
  return table.concat(body)
end

-- POST /images/create, as docker run's pull: on a connection of its own,
-- so that the progress shows while the daemon pulls.
local function pull(cl, image, platform)
  local ref = with_tag(image)
  local from, tag = ref:match("^(.*):([^:/]*)$")
  if ref:find("@", 1, true) then from, tag = ref, nil end
  local path = cl:api_path("/images/create", { fromImage = from, tag = tag, platform = platform })
  local headers = { ["Content-Type"] = "text/plain", ["X-Registry-Auth"] = M.registry_auth(image, os.getenv) }
  local where = ("POST /images/create at %s"):format(cl:where())
  local conn <close> = cl:connect(true)
  local ok, msg, name = conn:send(clientlib.request_text("POST", path, headers, ""), cl:request_timeout())
  if not ok then errors.from_core(msg, name, where) end
  -- the daemon answers with the pull's first message: after the registry's
  local deadline = core.now() + 3600 * 1000
  local status, reason, hdrs = conn:read_head(deadline - core.now())
  if not status then errors.from_core(reason, hdrs, where) end
  local body = pull_stream(conn, status, hdrs, deadline, where)
  if status >= 300 then
    local dok, t = pcall(cjson.decode, body)
    local m = dok and type(t) == "table" and t.message or body:gsub("%s+$", "")
    errors.raise("api", ("%s (%d)"):format(m, status), status)
  end
end

-- Pull the image first as --pull says: "always", or "missing" when the
-- daemon does not have it (with docker's line on stderr).
local function ensure_image(cl, req, policy)
  if policy == "always" then return pull(cl, req.image, req.platform) end
  if policy ~= "missing" then return end
  local ok, e = pcall(cl.json, cl, "GET", "/images/" .. req.image .. "/json")
  if ok then return end
  if not (errors.is(e) and e.status == 404) then error(e, 0) end
  io.stderr:write(("Unable to find image '%s' locally\n"):format(with_tag(req.image)))
  pull(cl, req.image, req.platform)
end

-- }======================================================

-- {======================================================
-- The commands
-- =======================================================

-- Validate the detach keys in force (flag, else config) before anything is
-- created, so a typo leaves nothing behind.
local function check_detach_keys(option)
  local spec = config.detach_keys(option)
  local ok, msg = config.parse_detach_keys(spec)
  if not ok then fail(125, msg) end
end

-- Raise a create error in docker's words: "no such image" names the image
-- with its tag.
local function create_error(e, req)
  if errors.is(e) and e.status == 404 and tostring(e.message):find("no such image", 1, true) then
    errors.raise("api", ("no such image: %s (404)"):format(with_tag(req.image)), 404, { detail = e.detail })
  end
  error(e, 0)
end

local run = {}

-- --record FILE and --record-input: the session options; --record-input
-- alone is a usage error (there is nothing to record it in).
local function record_opts(o, sopts)
  if o["record-input"] and not o.record then
    fail(125, "--record-input needs --record FILE")
  end
  sopts.record = o.record
  sopts.record_input = o["record-input"] and true or nil
  return sopts
end

-- --record records an attached session: with `detached` (-d, or start
-- without -a or -i) there is none, and the flag is refused up front.
local function check_record(o, detached, why)
  if o.record and detached then fail(125, why) end
end

function run.run(cl, o, args)
  local req, plan = M.run_request(o, args)
  check_record(o, plan.detach, "conflicting options: cannot specify both --record and --detach")
  check_detach_keys(o["detach-keys"])
  -- docker checks the terminal before creating anything, and exits 1
  if o.tty and o.interactive and not plan.detach and not tty.isatty(io.stdin) then
    fail(1, "the input device is not a TTY")
  end
  req.console_size = o.tty and tty.size(io.stdout) or nil
  local a = plan.attach
  local sopts = {
    interactive = o.interactive and true or false,
    detach_keys = o["detach-keys"], sig_proxy = o["sig-proxy"] ~= false,
    auto_remove = o.rm and true or false,
  }
  record_opts(o, sopts)
  if a and not a.stdout then sopts.stdout = false end
  if a and not a.stderr then sopts.stderr = false end
  if sopts.record then
    -- the recording before the pull: a path that cannot be written fails
    -- before anything is pulled or created (dockerpty.run takes it open)
    local ops = {}
    for k, v in pairs(sopts) do
      if k ~= "auto_remove" then ops[k] = v end
    end
    ops = operation.options("start", ops)
    sopts.record = operation.open_record(ops, blocking.create_command(req), tty.size(ops.stdout)
      or tty.size(ops.stdin))
  end
  local pulled, perr = pcall(ensure_image, cl, req, plan.pull)
  if not pulled then
    if operation.is_recorder(sopts.record) then sopts.record:close() end
    error(perr, 0)
  end
  if plan.detach then
    local ok, created = pcall(cl.create_container, cl, req)
    if not ok then create_error(created, req) end
    cl:start(created.Id)
    io.stdout:write(created.Id, "\n")
    return 0
  end
  local ok, res, how, code = pcall(blocking.run, cl, req, sopts)
  if not ok then create_error(res, req) end
  if how == "detach" then return 0 end
  return code
end

function run.exec(cl, o, args)
  check_record(o, o.detach, "conflicting options: cannot specify both --record and --detach")
  check_detach_keys(o["detach-keys"])
  local env = env_list(o["env-file"], o.env)
  if o.detach then
    cl:inspect_container(args[1])
    local e = cl:exec_create(args[1], { table.unpack(args, 2) }, {
      stdin = false, stdout = false, stderr = false, tty = o.tty and true or false,
      environment = env, workdir = o.workdir, user = o.user, privileged = o.privileged,
    })
    cl:exec_start(e.Id, { detach = true, tty = o.tty and true or false })
    return 0
  end
  local _, how, code = blocking.exec_command(cl, args[1], { table.unpack(args, 2) }, record_opts(o, {
    interactive = o.interactive and true or false, tty = o.tty and true or false,
    environment = env, workdir = o.workdir, user = o.user, privileged = o.privileged or nil,
    detach_keys = o["detach-keys"],
  }))
  if how == "detach" then fail(1, "read escape sequence") end
  return code
end

function run.attach(cl, o, args)
  check_detach_keys(o["detach-keys"])
  -- dockerpty.start would start a stopped container; docker attach refuses
  local info = cl:inspect_container(args[1])
  if not (info.State and info.State.Running) then
    fail(1, "You cannot attach to a stopped container, start it first")
  end
  local _, how, code = blocking.start(cl, args[1], record_opts(o, {
    stdin = (not o["no-stdin"]) and io.stdin or false, logs = o.logs and true or false,
    detach_keys = o["detach-keys"], sig_proxy = o["sig-proxy"] ~= false,
  }))
  if how == "detach" then fail(1, "read escape sequence") end
  return code
end

function run.start(cl, o, args)
  check_record(o, not (o.attach or o.interactive), "--record needs --attach or --interactive")
  if not (o.attach or o.interactive) then
    for _, c in ipairs(args) do
      cl:start(c)
      io.stdout:write(c, "\n")
    end
    return 0
  end
  if #args > 1 then fail(1, "you cannot start and attach multiple containers at once") end
  check_detach_keys(o["detach-keys"])
  local _, how, code = blocking.start(cl, args[1], record_opts(o, {
    interactive = o.interactive and true or false, detach_keys = o["detach-keys"],
  }))
  if how == "detach" then return 0 end
  return code
end

-- }======================================================

-- The client, as docker makes it: a bad DOCKER_HOST or DOCKER_API_VERSION
-- fails every command with 1 before anything else.
-- The client by docker's rules: -H, else --context, else DOCKER_HOST,
-- DOCKER_CONTEXT, the config's currentContext (dockerpty.context).
local function client_for(host, ctx)
  if host and ctx then
    fail(1, "conflicting options: cannot specify both --host and --context")
  end
  local ok, cl = pcall(clientlib.from_env, nil, { host = host, context = ctx })
  if not ok then
    -- an unknown context is a usage error: 125, as docker's
    fail(errors.is(cl) and cl.kind == "usage" and 125 or 1,
      (message_of(cl):gsub("^" .. PROG .. ": ", "")))
  end
  return cl
end

-- {======================================================
-- Answers for the bash completion script (completion/dockerpty.bash)
-- =======================================================

-- `dockerpty [-H HOST] __complete WHAT [ARG]`, a word a line, nothing on
-- failure (no daemon, a bad word): commands; flags CMD ("FLAG 0|1", 1 when
-- it takes a value; CMD "service": service exec's); containers
-- running|stopped|all; images; services (a Swarm manager's).
local function complete(g, what, arg)
  local out = {}
  if what == "commands" then
    for _, n in ipairs(ORDER) do out[#out + 1] = n end
    out[#out + 1] = "service"
  elseif what == "flags" then
    local flags = arg == nil and GLOBAL_FLAGS or (COMMANDS[arg] or {}).flags
      or arg == "service" and require("dockerpty.service_cli").FLAGS or {}
    for _, f in ipairs(flags) do
      local valued = f.kind == "bool" and "0" or "1"
      if f.short then out[#out + 1] = "-" .. f.short .. " " .. valued end
      out[#out + 1] = "--" .. f.long .. " " .. valued
    end
  elseif what == "containers" or what == "images" or what == "services" then
    local ok, list = pcall(function()
      local cl = client_for(g.host, g.context)
      local path = ({ images = "/images/json", services = "/services" })[what] or "/containers/json"
      local r = cl:json("GET", path, what == "containers" and { all = arg ~= "running" } or nil)
      cl:close()
      return r
    end)
    for _, item in ipairs(ok and type(list) == "table" and list or {}) do
      if what == "services" then
        local n = type(item.Spec) == "table" and item.Spec.Name
        if type(n) == "string" then out[#out + 1] = n end
      elseif what == "images" then
        for _, t in ipairs(type(item.RepoTags) == "table" and item.RepoTags or {}) do
          if t ~= "<none>:<none>" then out[#out + 1] = t end
        end
      elseif arg ~= "stopped" or item.State ~= "running" then
        local n = type(item.Names) == "table" and item.Names[1]
        if type(n) == "string" then out[#out + 1] = (n:gsub("^/", "")) end
      end
    end
  end
  if #out > 0 then io.stdout:write(table.concat(out, "\n"), "\n") end
  return 0
end

-- }======================================================

-- Parse the command line and run the command; returns the exit status or
-- raises a failure.
local function dispatch(argv)
  local g, rest = M.parse(GLOBAL_FLAGS, argv, 1, PROG)
  if g.version then
    io.stdout:write(("%s version %s\n"):format(PROG, core._VERSION))
    return 0
  end
  local name = rest[1]
  if g.help or not name then
    io.stdout:write(global_help())
    return 0
  end
  if name == "__complete" then return complete(g, rest[2], rest[3]) end
  if name == "service" then
    -- `service exec`: its own parser and messages (dockerpty.service_cli)
    local cl = client_for(g.host, g.context)
    local status = require("dockerpty.service_cli").main(table.move(rest, 2, #rest, 1, {}),
      { client = cl })
    cl:close()
    return status
  end
  local c = COMMANDS[name]
  if not c then
    fail(1, ("unknown command: %s %s (see '%s --help')"):format(PROG, name, PROG))
  end
  local see = PROG .. " " .. name
  local o, args = M.parse(c.flags, rest, 2, see)
  if o.help then
    io.stdout:write(command_help(name))
    return 0
  end
  if #args < c.min or (c.max and #args > c.max) then
    local n = c.max == c.min and tostring(c.min) or "at least " .. c.min
    fail(1, ("'%s' requires %s argument%s (see '%s --help')"):format(see, n,
      c.min == 1 and "" or "s", see))
  end
  local cl = client_for(g.host, g.context)
  local ok, status = pcall(run[name], cl, o, args)
  cl:close()
  if not ok then
    if errors.is(status) and status.kind == "interrupted" then
      -- the terminal is back as it was: now end as the signal meant (the
      -- library never does this to its host; the command does)
      io.stdout:flush()
      core.raise_default(status.signal)
    end
    if getmetatable(status) == Fail then error(status, 0) end
    error(setmetatable({ message = message_of(status), status = errors.exit_status(status, name) }, Fail), 0)
  end
  return math.tointeger(status) or 0
end

--- Run the command line `argv` (a list of strings, as `arg`): writes what
-- the command prints and one line on stderr when it fails; never raises.
-- @treturn integer the exit status
-- @usage os.exit(require("dockerpty.cli").main(arg))
function M.main(argv)
  local ok, status = xpcall(dispatch, function(e)
    if getmetatable(e) == Fail or errors.is(e) then return e end
    return tostring(e)
  end, argv or {})
  if not ok then
    io.stderr:write(message_of(status), "\n")
    status = getmetatable(status) == Fail and status.status or errors.exit_status(status)
  end
  io.stdout:flush()
  return status
end

return M
