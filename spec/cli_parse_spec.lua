-- The command's parser and its Engine API mapping, in process (issue 15):
-- flag forms as pflag takes them, `--`, combined short flags, `=` forms,
-- unknown flags and missing values, and the create request each flag
-- makes. No daemon: what reaches the daemon is compared with the docker
-- CLI's in spec/cli_spec.lua.
local cli = require("dockerpty.cli")
local errors = require("dockerpty.errors")
local util = require("dockerpty.util")

local RUN = cli.COMMANDS.run.flags
local EXEC = cli.COMMANDS.exec.flags

local function parse(flags, argv)
  return cli.parse(flags, argv, 1, "dockerpty run")
end

-- The failure parse raises: its status and message.
local function failure(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected a failure")
  assert.is_true(cli.is_failure(e), tostring(e))
  return e.status, e.message
end

local function request(argv)
  local o, args = parse(RUN, argv)
  return cli.run_request(o, args)
end

describe("cli.parse", function()
  it("takes --name N, --name=N, and stops at the first positional", function()
    local o, args = parse(RUN, { "--name", "a", "--workdir=/tmp", "img", "--name", "b" })
    assert.same({ name = "a", workdir = "/tmp" }, o)
    assert.same({ "img", "--name", "b" }, args)
  end)

  it("takes combined short flags, -eK=V, -e K=V and -e=K=V", function()
    local o, args = parse(RUN, { "-it", "-eA=1", "-e", "B=2", "-e=C=3", "-dt", "img" })
    assert.same({ interactive = true, tty = true, detach = true, env = { "A=1", "B=2", "C=3" } }, o)
    assert.same({ "img" }, args)
    -- a value flag ends a group: -ie=X is -i then -e with "=X" minus the "="
    o = parse(RUN, { "-iehello", "img" })
    assert.same({ interactive = true, env = { "hello" } }, o)
  end)

  it("stops at --, which it drops", function()
    local o, args = parse(RUN, { "-i", "--", "-t", "img" })
    assert.same({ interactive = true }, o)
    assert.same({ "-t", "img" }, args)
  end)

  it("takes booleans as --rm, --rm=false, --rm=1, -i=false, as pflag", function()
    assert.same({ rm = false }, (parse(RUN, { "--rm=false" })))
    assert.same({ rm = true }, (parse(RUN, { "--rm=1" })))
    assert.same({ rm = true }, (parse(RUN, { "--rm=T" })))
    assert.same({ interactive = false }, (parse(RUN, { "-i=false" })))
    assert.same({ ["sig-proxy"] = false, init = true }, (parse(RUN, { "--sig-proxy=False", "--init" })))
  end)

  it("keeps every value of a list flag, in order", function()
    local o = parse(RUN, { "-v", "/a", "--volume=/b:/c", "-l", "x", "--label", "y=1", "--cap-add", "A", "--cap-add=B" })
    assert.same({ "/a", "/b:/c" }, o.volume)
    assert.same({ "x", "y=1" }, o.label)
    assert.same({ "A", "B" }, o["cap-add"])
  end)

  it("refuses unknown flags with 125, naming the command's help", function()
    assert.same({ 125, "dockerpty: unknown flag: --bogus (see 'dockerpty run --help')" },
      { failure(parse, RUN, { "--bogus", "img" }) })
    assert.same({ 125, "dockerpty: unknown shorthand flag: 'z' in -iz (see 'dockerpty run --help')" },
      { failure(parse, RUN, { "-iz", "img" }) })
    -- exec has no --pull nor -v
    assert.same({ 125, "dockerpty: unknown flag: --pull (see 'dockerpty run --help')" },
      { failure(parse, EXEC, { "--pull", "never" }) })
  end)

  it("refuses a missing value, long and short", function()
    assert.same({ 125, "dockerpty: flag needs an argument: --memory (see 'dockerpty run --help')" },
      { failure(parse, RUN, { "--memory" }) })
    assert.same({ 125, "dockerpty: flag needs an argument: 'v' in -v (see 'dockerpty run --help')" },
      { failure(parse, RUN, { "-v" }) })
    assert.same({ 125, "dockerpty: flag needs an argument: 'e' in -ie (see 'dockerpty run --help')" },
      { failure(parse, RUN, { "-ie" }) })
  end)

  it("refuses a bad value when the flag is set, with docker's words", function()
    local cases = {
      { { "-m", "1q" }, 'invalid argument "1q" for "-m, --memory" flag: invalid suffix: \'q\'' },
      { { "--memory=x" }, 'invalid argument "x" for "-m, --memory" flag: invalid size: \'x\'' },
      { { "--cpus", "abc" }, 'invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number' },
      { { "--ulimit", "nofile" }, 'invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile' },
      { { "--ulimit", "nofile=2:1" }, 'invalid argument "nofile=2:1" for "--ulimit" flag: '
        .. "ulimit soft limit must be less than or equal to hard limit: 2 > 1" },
      { { "--add-host", "foo" }, 'invalid argument "foo" for "--add-host" flag: bad format for add-host: "foo"' },
      { { "--dns", "1.2.3.256" }, 'invalid argument "1.2.3.256" for "--dns" flag: '
        .. "IP address is not correctly formatted: 1.2.3.256" },
      { { "-a", "bogus" }, 'invalid argument "bogus" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR' },
      { { "--mount", "target" }, 'invalid argument "target" for "--mount" flag: '
        .. "invalid field 'target' must be a key=value pair" },
      { { "--mount", "type=tmpfs" }, 'invalid argument "type=tmpfs" for "--mount" flag: target is required' },
      { { "-l", "=x" }, 'invalid argument "=x" for "-l, --label" flag: invalid label \'=x\': empty name' },
      { { "--stop-timeout", "1.5" }, 'invalid argument "1.5" for "--stop-timeout" flag: '
        .. 'strconv.ParseInt: parsing "1.5": invalid syntax' },
      { { "--rm=maybe" }, 'invalid argument "maybe" for "--rm" flag: true or false expected' },
    }
    for _, c in ipairs(cases) do
      assert.same({ 125, "dockerpty: " .. c[2] .. " (see 'dockerpty run --help')" }, { failure(parse, RUN, c[1]) })
    end
  end)
end)

describe("cli.run_request", function()
  it("maps the flags to the Engine API fields the docker CLI sets", function()
    local req, plan = request({ "--rm", "-it", "--name", "n", "-h", "box", "-m", "64m", "--cpus", "1.5",
      "--shm-size=1g", "--read-only", "--privileged", "--init", "--ipc", "private", "--pid", "host",
      "--group-add", "10", "--dns", "192.0.2.1", "--add-host", "a=::1", "--ulimit", "nofile=1:2",
      "--stop-signal", "SIGINT", "--stop-timeout", "3", "--log-driver", "json-file", "--log-opt", "max-size=1m",
      "--tmpfs", "/run:size=1m", "--tmpfs", "/t", "--network", "none", "--platform", "linux/amd64",
      "img", "sh", "-c", "true" })
    assert.same({ pull = "missing", detach = false }, plan)
    assert.equal("img", req.image)
    assert.same({ "sh", "-c", "true" }, req.command)
    assert.is_true(req.tty)
    assert.is_true(req.stdin_open)
    assert.equal("linux/amd64", req.platform)
    assert.same({ Hostname = "box", StopSignal = "SIGINT", StopTimeout = 3 }, req.config)
    assert.same({
      AutoRemove = true, NetworkMode = "none", Memory = 64 << 20, NanoCpus = 1500000000, ShmSize = 1 << 30,
      ReadonlyRootfs = true, Privileged = true, Init = true, IpcMode = "private", PidMode = "host",
      GroupAdd = { "10" }, Dns = { "192.0.2.1" }, ExtraHosts = { "a:::1" },
      Ulimits = { { Name = "nofile", Soft = 1, Hard = 2 } },
      LogConfig = { Type = "json-file", Config = { ["max-size"] = "1m" } },
      Tmpfs = { ["/run"] = "size=1m", ["/t"] = "" },
    }, req.host_config)
  end)

  it("sends -v with a source as Binds, without one as Volumes; --mount as Mounts", function()
    local req = request({ "-v", "/h:/c:ro", "-v", "named:/n", "-v", "/anon",
      "--mount", "type=bind,src=/h,dst=/c,ro,bind-propagation=rslave",
      "--mount", "type=volume,target=/v,volume-nocopy,volume-opt=o=1",
      "--mount", "type=tmpfs,destination=/t,tmpfs-size=1k,tmpfs-mode=700", "img" })
    assert.same({ "/h:/c:ro", "named:/n" }, req.host_config.Binds)
    assert.same({ ["/anon"] = {} }, req.config.Volumes)
    assert.same({
      { Type = "bind", Source = "/h", Target = "/c", ReadOnly = true, BindOptions = { Propagation = "rslave" } },
      { Type = "volume", Target = "/v", VolumeOptions = { NoCopy = true, DriverConfig = { Options = { o = "1" } } } },
      { Type = "tmpfs", Target = "/t", TmpfsOptions = { SizeBytes = 1024, Mode = 448 } },
    }, req.host_config.Mounts)
  end)

  it("makes a bind source that starts with \".\" absolute, as docker; a name stays a name", function()
    local cwd = io.popen("pwd"):read("l")
    local req = request({ "-v", "./d/:/c:ro", "-v", "..:/p", "-v", "name:/n", "-v", "./anon",
      "--mount", "type=bind,src=.,dst=/c", "--mount", "src=name,dst=/n", "img" })
    local parent = cwd:match("^(.*)/[^/]*$")
    assert.same({ cwd .. "/d:/c:ro", (parent == "" and "/" or parent) .. ":/p", "name:/n" },
      req.host_config.Binds)
    assert.same({ ["./anon"] = {} }, req.config.Volumes)
    assert.equal(cwd, req.host_config.Mounts[1].Source)
    assert.equal("name", req.host_config.Mounts[2].Source)
    assert.equal("/a/c", cli.absolute("./b/../c/.", "/a"))
    assert.equal("/", cli.absolute("./../../..", "/a"))
    assert.equal("/x/y", cli.absolute("/x//y/", "/a"))
  end)

  it("reads --mount as CSV, lower-cases its type, and refuses options of another type, as docker", function()
    local req = request({ "--mount", 'Type=BIND,"src=/a,b",dst=/c,"ro"', "img" })
    assert.same({ { Type = "bind", Source = "/a,b", Target = "/c", ReadOnly = true } }, req.host_config.Mounts)
    local see = " (see 'dockerpty run --help')"
    assert.same({ 125, 'dockerpty: invalid argument "type=\\"bind\\",dst=/x" for "--mount" flag: parse error '
      .. 'on line 1, column 6: bare " in non-quoted-field' .. see },
      { failure(request, { "--mount", 'type="bind",dst=/x', "img" }) })
    assert.same({ 125, 'dockerpty: invalid argument "type=bind,dst=/x,volume-nocopy" for "--mount" flag: '
      .. "cannot mix 'volume-*' options with mount type 'bind'" .. see },
      { failure(request, { "--mount", "type=bind,dst=/x,volume-nocopy", "img" }) })
  end)

  it("normalizes capabilities as docker: upper case, CAP_, ALL alone", function()
    local req = request({ "--cap-add", "net_admin", "--cap-add", "CAP_SYS_TIME", "--cap-add", "net_admin",
      "--cap-drop", "all", "--cap-drop", "kill", "img" })
    assert.same({ "CAP_NET_ADMIN", "CAP_SYS_TIME" }, req.host_config.CapAdd)
    assert.same({ "ALL" }, req.host_config.CapDrop)
  end)

  it("publishes ports with ExposedPorts and PortBindings, ranges port by port", function()
    local req = request({ "-p", "8080:80", "-p", "127.0.0.1::53/udp", "-p", "90-91", "-p", "[::1]:7000-7001:70-71",
      "img" })
    assert.same({ ["80/tcp"] = {}, ["53/udp"] = {}, ["90/tcp"] = {}, ["91/tcp"] = {}, ["70/tcp"] = {},
      ["71/tcp"] = {} }, req.config.ExposedPorts)
    assert.same({
      ["80/tcp"] = { { HostIp = "", HostPort = "8080" } },
      ["53/udp"] = { { HostIp = "127.0.0.1", HostPort = "" } },
      ["90/tcp"] = { { HostIp = "", HostPort = "" } }, ["91/tcp"] = { { HostIp = "", HostPort = "" } },
      ["70/tcp"] = { { HostIp = "::1", HostPort = "7000" } }, ["71/tcp"] = { { HostIp = "::1", HostPort = "7001" } },
    }, req.host_config.PortBindings)
    assert.same({ 125, "dockerpty: invalid containerPort: abc" }, { failure(request, { "-p", "abc", "img" }) })
  end)

  it("selects streams with -a, and -d attaches none", function()
    local req, plan = request({ "-i", "-a", "STDIN", "-a", "stdout", "img" })
    assert.same({ stdin = true, stdout = true }, plan.attach)
    assert.same({ AttachStdin = true, AttachStdout = true, AttachStderr = false, StdinOnce = true }, req.config)
    -- -i attaches stdin whatever -a names, as the docker CLI does
    req = request({ "-i", "-a", "stdout", "img" })
    assert.same({ AttachStdin = true, AttachStdout = true, AttachStderr = false, StdinOnce = true }, req.config)
    req = request({ "-a", "stdout", "img" })
    assert.same({ AttachStdin = false, AttachStdout = true, AttachStderr = false, StdinOnce = false }, req.config)
    req, plan = request({ "-d", "img" })
    assert.is_true(plan.detach)
    assert.is_true(req.detach)
    assert.same({ 125, "dockerpty: conflicting options: cannot specify both --attach and --detach" },
      { failure(request, { "-d", "-a", "stdout", "img" }) })
  end)

  it("checks --pull, --restart with --rm, --pid and --security-opt as docker", function()
    assert.equal("never", select(2, request({ "--pull", "never", "img" })).pull)
    assert.same({ 125, "dockerpty: invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\"" },
      { failure(request, { "--pull", "sometimes", "img" }) })
    assert.same({ Name = "on-failure", MaximumRetryCount = 3 },
      request({ "--restart", "on-failure:3", "img" }).host_config.RestartPolicy)
    assert.same({ Name = "no", MaximumRetryCount = 0 },
      request({ "--rm", "--restart", "no", "img" }).host_config.RestartPolicy)
    assert.same({ 125, "dockerpty: conflicting options: cannot specify both --restart and --rm" },
      { failure(request, { "--rm", "--restart", "always", "img" }) })
    assert.same({ 125, "dockerpty: --pid: invalid PID mode" }, { failure(request, { "--pid", "x", "img" }) })
    assert.same({ 125, 'dockerpty: Invalid --security-opt: "bogus"' },
      { failure(request, { "--security-opt", "bogus", "img" }) })
    assert.same({ "no-new-privileges", "label=disable", "apparmor=unconfined" },
      request({ "--security-opt", "no-new-privileges", "--security-opt", "label=disable",
        "--security-opt", "apparmor:unconfined", "img" }).host_config.SecurityOpt)
  end)

  it("reads --env-file and --label-file as docker: comments, blanks, bare names", function()
    local path = os.tmpname()
    finally(function() os.remove(path) end)
    local f = assert(io.open(path, "w"))
    f:write("\239\187\191A=1\n  # comment\n\nB= spaced value \nHOME\nDP_PARSE_SPEC_UNSET\n")
    f:close()
    local req = request({ "--env-file", path, "-e", "C=3", "--label-file", path, "-l", "x", "img" })
    assert.same({ "A=1", "B= spaced value ", "HOME=" .. os.getenv("HOME"), "C=3" }, req.environment)
    assert.same({ A = "1", B = " spaced value ", x = "" }, req.labels)
    assert.same({ 125, "dockerpty: open /nonexistent/env: no such file or directory" },
      { failure(request, { "--env-file", "/nonexistent/env", "img" }) })
  end)
end)

describe("cli.platform", function()
  it("reads os[/arch[/variant]] as containerd, and sends it normalized", function()
    assert.equal("linux/amd64", cli.platform("linux/amd64"))
    assert.equal("linux/amd64", cli.platform("x86_64"))
    assert.equal("linux/arm64", cli.platform("linux/aarch64"))
    assert.equal("linux/arm/v7", cli.platform("linux/arm"))
    assert.equal("linux/arm/v6", cli.platform("linux/armel"))
    assert.equal("windows/amd64", cli.platform("Windows/AMD64"))
  end)

  it("refuses what docker refuses, in docker's words", function()
    assert.same({ 125, 'dockerpty: error parsing specified platform: "bogus": unknown operating system or '
      .. "architecture: invalid argument" }, { failure(cli.platform, "bogus") })
    assert.same({ 125, 'dockerpty: error parsing specified platform: "a/b/c/d": cannot parse platform '
      .. "specifier: invalid argument" }, { failure(cli.platform, "a/b/c/d") })
    assert.same({ 125, 'dockerpty: error parsing specified platform: "b c" is an invalid component of '
      .. '"linux/b c": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument' },
      { failure(cli.platform, "linux/b c") })
  end)
end)

describe("cli helpers", function()
  it("bytes: go-units' RAMInBytes", function()
    assert.same({ 1, 1024, 1536, 64 << 20, 1 << 30, 5 << 40, 512 * 1024 },
      { cli.bytes("1"), cli.bytes("1k"), cli.bytes("1.5KiB"), cli.bytes("64m"), cli.bytes("1G"), cli.bytes("5tb"),
        cli.bytes("512 kb") })
    assert.same({ nil, "invalid size: 'x'" }, { cli.bytes("x") })
    assert.same({ nil, "invalid suffix: 'q'" }, { cli.bytes("1q") })
  end)

  it("is_ip: IPv4 and IPv6 addresses", function()
    for _, s in ipairs({ "1.2.3.4", "::1", "::", "fe80::1", "2001:db8::8:800:200c:417a", "::ffff:1.2.3.4" }) do
      assert.is_true(cli.is_ip(s), s)
    end
    for _, s in ipairs({ "1.2.3", "1.2.3.256", "host", "1::2::3", ":::", "12345::1", "" }) do
      assert.is_false(cli.is_ip(s), s)
    end
  end)

  it("message_of: one line, no Lua position, no traceback", function()
    assert.equal("dockerpty: attempt to call a nil value (field 'x')",
      cli.message_of("lua/dockerpty/cli.lua:12: attempt to call a nil value (field 'x')\nstack traceback:\n\t[C]: in ?"))
    assert.equal("dockerpty: boom", cli.message_of("bin/dockerpty:456: boom"))
    assert.equal("dockerpty: boom", cli.message_of('[string "x"]:1: boom'))
    assert.equal("dockerpty: tcp://h:1 refused", cli.message_of("tcp://h:1 refused"))
    assert.equal("dockerpty: a b", cli.message_of(errors.new("api", "a\n b")))
    assert.equal("dockerpty: table", cli.message_of(setmetatable({}, { __tostring = function() return "table" end })))
  end)
end)

describe("cli.registry_auth", function()
  it("finds the image's registry in the config's auths, as docker: a host, else Docker Hub", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    finally(function() os.execute("rm -rf " .. dir) end)
    local f = assert(io.open(dir .. "/config.json", "w"))
    f:write('{"auths": {"https://index.docker.io/v1/": {"auth": "aHViOnB3"}, '
      .. '"https://reg.example/v1/": {"auth": "' .. util.base64("r:p") .. '"}}}')
    f:close()
    local function getenv(k) return k == "DOCKER_CONFIG" and dir or nil end
    local function decoded(image)
      local h = cli.registry_auth(image, getenv)
      return h and require("cjson").decode(util.unbase64(h, true))
    end
    assert.same({ username = "hub", password = "pw", serveraddress = "https://index.docker.io/v1/" },
      decoded("busybox"))
    assert.same(decoded("busybox"), decoded("library/busybox:1"))
    -- docker.io and index.docker.io name Docker Hub too
    assert.same(decoded("busybox"), decoded("docker.io/library/busybox"))
    assert.same(decoded("busybox"), decoded("index.docker.io/x/y"))
    assert.same({ username = "r", password = "p", serveraddress = "https://reg.example/v1/" },
      decoded("reg.example/a/b"))
    assert.is_nil(decoded("localhost:5000/x"))
  end)

  it("sends nothing for an auth that is not base64, and never raises", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    finally(function() os.execute("rm -rf " .. dir) end)
    local f = assert(io.open(dir .. "/config.json", "w"))
    f:write('{"auths": {"https://index.docker.io/v1/": {"auth": "a=b=c!"}}}')
    f:close()
    assert.is_nil(cli.registry_auth("busybox", function(k) return k == "DOCKER_CONFIG" and dir or nil end))
  end)
end)

describe("util.base64 and util.unbase64", function()
  it("round-trip every length, in both alphabets, and refuse what is not base64", function()
    for n = 0, 40 do
      local s = {}
      for i = 1, n do s[i] = string.char((i * 73 + n) % 256) end
      s = table.concat(s)
      assert.equal(s, util.unbase64(util.base64(s)))
      assert.equal(s, util.unbase64(util.base64(s, true), true))
      assert.is_nil(util.base64(s, true):find("[+/]"))
    end
    assert.equal("aGk=", util.base64("hi"))
    assert.equal("hi", util.unbase64("aGk="))
    assert.is_nil(util.unbase64("aGk"))
    assert.is_nil(util.unbase64("a=b=c!"))
  end)
end)

describe("errors.exit_status", function()
  it("gives docker run's 125, 126 and 127, and 1 for the other commands", function()
    local function api(m) return errors.new("api", m, 400) end
    assert.equal(127, errors.exit_status(api('exec: "nope": executable file not found in $PATH')))
    assert.equal(126, errors.exit_status(api("exec: /etc: permission denied")))
    assert.equal(125, errors.exit_status(api("no such image: x (404)")))
    assert.equal(125, errors.exit_status(errors.new("connection", "refused")))
    assert.equal(125, errors.exit_status("a plain error"))
    assert.equal(1, errors.exit_status(api("no such container: x"), "exec"))
    assert.equal(127, errors.exit_status(api("executable file not found"), "run"))
  end)
end)

describe("cli.main", function()
  -- main's stderr, through a temporary file
  local function main(argv)
    local saved = io.stderr
    local f = assert(io.tmpfile())
    io.stderr = f -- luacheck: ignore 122
    local ok, status = pcall(cli.main, argv)
    io.stderr = saved -- luacheck: ignore 122
    f:seek("set")
    local err = f:read("a")
    f:close()
    assert.is_true(ok, status)
    return status, err
  end

  it("never raises: a bad flag is 125 and one line", function()
    assert.same({ 125, "dockerpty: unknown flag: --bogus (see 'dockerpty run --help')\n" },
      { main({ "run", "--bogus", "img" }) })
    assert.same({ 1, "dockerpty: 'dockerpty run' requires at least 1 argument (see 'dockerpty run --help')\n" },
      { main({ "run" }) })
  end)

  it("a bad daemon address fails with 1 and one line without a Lua position, as docker", function()
    for _, cmd in ipairs({ { "run", "img" }, { "exec", "c", "true" }, { "attach", "c" } }) do
      local argv = { "-H", "bogus://x" }
      for _, w in ipairs(cmd) do argv[#argv + 1] = w end
      local status, err = main(argv)
      assert.equal(1, status)
      assert.matches("^dockerpty: [^\n]*bogus://x[^\n]*\n$", err)
      assert.is_nil(err:find("%.lua:%d+:"), err)
      assert.is_nil(err:find("dockerpty:%d+:"), err)
    end
  end)
end)
