-- Docker contexts (issue 13): contexts made by the docker CLI itself in a
-- private DOCKER_CONFIG (never ~/.docker), resolved by the library as the
-- docker CLI resolves them: each rule side by side with `docker`, whose
-- "Cannot connect to the Docker daemon at X" names the endpoint it chose
-- (the contexts of the rule specs point at distinct absent sockets). Then
-- contexts that reach the rig: over TLS with the store's certificates, and
-- over ssh.
local dockerpty = require("dockerpty")
local context = require("dockerpty.context")
local tmux = require("support.tmux")
local core = dockerpty.core

local shq = tmux.shquote
local IMAGE = os.getenv("DOCKERPTY_TEST_IMAGE") or "dockerpty-test/busybox"

local function sh(line)
  local errf = os.tmpname()
  local p = assert(io.popen(("%s 2>%s </dev/null"):format(line, errf), "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  local f = assert(io.open(errf, "rb"))
  local err = f:read("a")
  f:close()
  os.remove(errf)
  return { out = out, err = err, code = code }
end

local cfg        -- the private DOCKER_CONFIG of this file
local gone       -- a directory without sockets: contexts point into it

-- "VAR=value ..." words for env, from a table.
local function envwords(vars)
  local keys, w = {}, {}
  for k in pairs(vars) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do w[#w + 1] = shq(k .. "=" .. vars[k]) end
  return table.concat(w, " ")
end

-- The docker CLI with only these variables (and PATH), in our DOCKER_CONFIG.
local function docker(vars, args)
  local v = { DOCKER_CONFIG = cfg }
  for k, x in pairs(vars or {}) do v[k] = x end
  return sh(("env -i PATH=%s %s docker %s"):format(shq(os.getenv("PATH")), envwords(v), args))
end

-- The endpoint the docker CLI picks under vars and flags, from its error.
local function docker_where(vars, flags)
  local r = docker(vars, (flags or "") .. " version --format '{{.Server.Version}}'")
  return r.err:match("Cannot connect to the Docker daemon at (%S-)%. ") or r.err
end

local function getenv_of(vars)
  local v = { DOCKER_CONFIG = cfg }
  for k, x in pairs(vars or {}) do v[k] = x end
  return function(k) return v[k] end
end

local function our_where(vars, opts)
  return dockerpty.client.from_env(getenv_of(vars), opts):where()
end

local function create(name, docker_ep)
  local r = docker({}, ("context create %s --docker %s"):format(shq(name), shq(docker_ep)))
  assert.equal(0, r.code, r.err)
end

local function use(name)
  local r = docker({}, "context use " .. shq(name))
  assert.equal(0, r.code, r.err)
end

setup(function()
  cfg = os.tmpname()
  os.remove(cfg)
  assert(os.execute("mkdir -p " .. shq(cfg)))
  gone = cfg .. "/gone"
  create("ctx-a", ("host=unix://%s/a.sock"):format(gone))
  create("ctx-b", ("host=unix://%s/b.sock"):format(gone))
  create("ctx-c", ("host=unix://%s/c.sock"):format(gone))
end)

teardown(function()
  if cfg then os.execute("rm -rf " .. shq(cfg)) end
end)

before_each(function()
  -- no current context unless a test sets one
  os.remove(cfg .. "/config.json")
end)

local function sock(name) return ("unix://%s/%s.sock"):format(gone, name) end

describe("dockerpty.context #docker", function()
  it("finds a context where the docker CLI stores it: the sha256 of its name", function()
    for _, s in ipairs({ "", "a", "abc", ("x"):rep(55), ("y"):rep(56), ("z"):rep(64), ("w"):rep(200) }) do
      local r = sh("sh -c " .. shq(("printf '%%s' %s | sha256sum"):format(shq(s))))
      assert.equal(r.out:match("^%x+"), core.sha256(s))
    end
    local meta = io.open(("%s/contexts/meta/%s/meta.json"):format(cfg, core.sha256("ctx-a")))
    assert.truthy(meta, "docker context create wrote no meta.json where expected")
    meta:close()
    assert.same({ name = "ctx-a", host = sock("a") }, context.load("ctx-a", getenv_of()))
  end)

  it("uses the default endpoint without any context setting", function()
    assert.equal(docker_where({}), our_where({}))
    assert.equal("unix:///var/run/docker.sock", our_where({}))
  end)

  it("uses currentContext of config.json (docker context use)", function()
    use("ctx-a")
    assert.equal(sock("a"), docker_where({}))
    assert.equal(sock("a"), our_where({}))
  end)

  it("prefers DOCKER_CONTEXT to currentContext", function()
    use("ctx-a")
    local vars = { DOCKER_CONTEXT = "ctx-b" }
    assert.equal(sock("b"), docker_where(vars))
    assert.equal(sock("b"), our_where(vars))
  end)

  it("prefers DOCKER_HOST to DOCKER_CONTEXT and currentContext", function()
    use("ctx-a")
    local vars = { DOCKER_CONTEXT = "ctx-b", DOCKER_HOST = sock("host") }
    assert.equal(sock("host"), docker_where(vars))
    assert.equal(sock("host"), our_where(vars))
  end)

  it("prefers an explicit context (--context) to DOCKER_HOST and DOCKER_CONTEXT", function()
    use("ctx-a")
    local vars = { DOCKER_CONTEXT = "ctx-b", DOCKER_HOST = sock("host") }
    assert.equal(sock("c"), docker_where(vars, "--context ctx-c"))
    assert.equal(sock("c"), our_where(vars, { context = "ctx-c" }))
    assert.equal(sock("c"), docker_where(vars, "-c ctx-c"))
  end)

  it("prefers an explicit host (-H) to every context setting", function()
    use("ctx-a")
    local vars = { DOCKER_CONTEXT = "ctx-b" }
    assert.equal(sock("h"), docker_where(vars, "-H " .. sock("h")))
    assert.equal(sock("h"), our_where(vars, { host = sock("h") }))
  end)

  it("refuses a host and a context together, as docker does", function()
    local r = docker({}, ("-H %s --context ctx-a version"):format(sock("h")))
    assert.truthy(r.err:find("conflicting options: cannot specify both", 1, true), r.err)
    assert.has_error(function() dockerpty.client.from_env(getenv_of(), { host = sock("h"), context = "ctx-a" }) end,
      "bad argument #2 to 'from_env' (conflicting options: cannot specify both 'host' and 'context')")
    assert.has_error(function() dockerpty.client.new{ host = sock("h"), context = "ctx-a" } end,
      "bad argument #1 to 'new' (conflicting options: cannot specify both 'host' and 'context')")
  end)

  it("takes \"default\" for the default endpoint, from every setting", function()
    use("ctx-a")
    assert.equal(docker_where({}, "--context default"), our_where({}, { context = "default" }))
    assert.equal("unix:///var/run/docker.sock", our_where({}, { context = "default" }))
    local vars = { DOCKER_CONTEXT = "default" }
    assert.equal(docker_where(vars), our_where(vars))
    vars = { DOCKER_HOST = sock("env") }
    assert.equal(sock("env"), docker_where(vars, "--context default"))
    assert.equal(sock("env"), our_where(vars, { context = "default" }))
  end)

  it("names an unknown context, from the option, DOCKER_CONTEXT or config.json, and never falls back", function()
    local function ours(vars, opts)
      local ok, e = pcall(dockerpty.client.from_env, getenv_of(vars), opts)
      assert.is_false(ok)
      return e
    end
    local meta = ("%s/contexts/meta/%s/meta.json"):format(cfg, core.sha256("nope"))
    local e = ours({}, { context = "nope" })
    assert.equal("usage", e.kind)
    assert.equal(('dockerpty: context "nope" not found (%s: No such file or directory)'):format(meta), e.message)
    assert.truthy(docker({}, "--context nope version").err:find('context "nope"', 1, true))
    e = ours({ DOCKER_CONTEXT = "nope" })
    assert.truthy(e.message:find('context "nope" not found', 1, true), e.message)
    assert.truthy(docker({ DOCKER_CONTEXT = "nope" }, "version").err:find('context "nope"', 1, true))
    local f = assert(io.open(cfg .. "/config.json", "w"))
    f:write('{"currentContext": "nope2"}')
    f:close()
    e = ours({})
    assert.truthy(e.message:find('context "nope2" not found', 1, true), e.message)
    assert.truthy(docker({}, "version").err:find('context "nope2"', 1, true))
    -- the command: one line naming it, status 125
    local r = sh(("env -u DOCKER_HOST DOCKER_CONFIG=%s DOCKER_CONTEXT=nope LUA_PATH=%s LUA_CPATH=%s " ..
      "lua5.4 bin/dockerpty exec x true"):format(shq(cfg), shq(package.path), shq(package.cpath)))
    assert.equal(125, r.code)
    assert.equal(('dockerpty: context "nope" not found (%s: No such file or directory)\n'):format(meta), r.err)
  end)

  it("honours client.new{ context = } (the store of the process's DOCKER_CONFIG)", function()
    local prog = os.tmpname()
    local f = assert(io.open(prog, "w"))
    f:write([[
local client = require("dockerpty.client")
print(client.new{ context = "ctx-b" }:where())
print(client.new{ context = "default" }:where())
print(select(2, pcall(client.new, { context = "nope" })).kind)
]])
    f:close()
    local r = sh(("env DOCKER_CONFIG=%s LUA_PATH=%s LUA_CPATH=%s lua5.4 %s"):format(shq(cfg),
      shq(package.path), shq(package.cpath), prog))
    os.remove(prog)
    assert.equal(sock("b") .. "\nunix:///var/run/docker.sock\nusage\n", r.out, r.err)
  end)
end)

describe("contexts that reach the rig #docker", function()
  it("speaks TLS with the certificates in the store, as docker --context does", function()
    local host, certs = os.getenv("DOCKERPTY_TLS_HOST"), os.getenv("DOCKERPTY_TLS_CERTS")
    assert.is_string(host, "the rig exports DOCKERPTY_TLS_HOST")
    create("tls", ("host=%s,ca=%s/ca.pem,cert=%s/cert.pem,key=%s/key.pem"):format(host, certs, certs, certs))
    local c = dockerpty.client.from_env(getenv_of(), { context = "tls" })
    local opened = { c }
    -- one finally per test (a second call replaces the first)
    finally(function() for _, x in ipairs(opened) do x:close() end end)
    local dir = ("%s/contexts/tls/%s/docker"):format(cfg, core.sha256("tls"))
    assert.same({ ca = dir .. "/ca.pem", cert = dir .. "/cert.pem", key = dir .. "/key.pem", verify = true },
      c._ep.tls)
    assert.equal("OK", c:ping())
    local theirs = docker({}, "--context tls version --format '{{.Server.Version}}'")
    assert.equal(0, theirs.code, theirs.err)
    assert.equal(theirs.out:match("[^\n]+"), c:version().Version)
    -- the store's copy is what counts: the originals are not read
    assert.is_nil(c._ep.tls.ca:find(certs, 1, true))
    -- skip-tls-verify: no CA, no verification, the client certificate still sent
    create("tls-skip", ("host=%s,cert=%s/cert.pem,key=%s/key.pem,skip-tls-verify=true"):format(host, certs, certs))
    local s = dockerpty.client.from_env(getenv_of(), { context = "tls-skip" })
    opened[#opened + 1] = s
    assert.is_false(s._ep.tls.verify)
    assert.equal("OK", s:ping())
    -- DOCKER_TLS_VERIFY and DOCKER_CERT_PATH belong to the default context only
    local bad = os.getenv("DOCKERPTY_TLS_BADCA")
    local e = dockerpty.client.from_env(getenv_of({ DOCKER_TLS_VERIFY = "1", DOCKER_CERT_PATH = bad }),
      { context = "tls" })
    opened[#opened + 1] = e
    assert.equal("OK", e:ping())
  end)

  it("reaches the daemon over an ssh context, with the exit code", function()
    local host = os.getenv("DOCKERPTY_SSH_HOST")
    assert.is_string(host, "the rig exports DOCKERPTY_SSH_HOST")
    create("remote", "host=" .. host)
    local r = sh(("env -u LD_PRELOAD docker run -d --network none %s sleep 600"):format(IMAGE))
    local id = r.out:match("%x+")
    local c = dockerpty.client.from_env(getenv_of({ DOCKER_CONTEXT = "remote" }))
    finally(function()
      c:close()
      sh("env -u LD_PRELOAD docker rm -f " .. id)
    end)
    assert.equal(host, c:where())
    assert.equal("remote", c.context)
    local ok, how, code = dockerpty.exec_command(c, id, "sh -c 'exit 6'",
      { interactive = false, stdout = function() end })
    assert.same({ nil, "exit", 6 }, { ok, how, code })
    local theirs = docker({ DOCKER_CONTEXT = "remote" }, ("exec %s sh -c 'exit 6'"):format(id))
    assert.equal(6, theirs.code)
  end)
end)

describe("the command's --context and -c #docker", function()
  local DP = ("env LUA_PATH=%s LUA_CPATH=%s lua5.4 bin/dockerpty"):format(shq(package.path),
    shq(package.cpath))

  -- ours with only these variables (and PATH), in this file's DOCKER_CONFIG
  local function ours(vars, args)
    -- (make SANITIZE=1: the lua5.4 shim needs its preload list)
    local v = { DOCKER_CONFIG = cfg, DP_SAN_PRELOAD = os.getenv("DP_SAN_PRELOAD") }
    for k, x in pairs(vars or {}) do v[k] = x end
    return sh(("env -i PATH=%s %s %s %s"):format(shq(os.getenv("PATH")), envwords(v), DP, args))
  end

  it("runs in the context it names, as `docker --context` does", function()
    create("rig", "host=" .. os.getenv("DOCKER_HOST"))
    local args = ("run --rm --network none %s sh -c 'echo in-rig; exit 3'"):format(IMAGE)
    for _, flag in ipairs({ "--context rig", "-c rig", "--context=rig" }) do
      local theirs = docker({}, flag .. " " .. args)
      local r = ours({}, flag .. " " .. args)
      -- (on Podman the docker CLI's run --rm exits 0 whatever the code)
      local want = os.getenv("DOCKERPTY_ENGINE") == "podman" and 0 or 3
      assert.same({ "in-rig\n", want }, { theirs.out, theirs.code })
      assert.same({ "in-rig\n", "", 3 }, { r.out, r.err, r.code }, flag)
    end
  end)

  it("names an unknown context and exits 125; -H with --context is refused", function()
    local r = ours({}, "--context nosuch run --rm " .. IMAGE .. " true")
    assert.equal(125, r.code)
    assert.matches('^dockerpty: context "nosuch" not found %(', r.err)
    local theirs = docker({}, "--context nosuch run --rm " .. IMAGE .. " true")
    assert.matches('context "nosuch"', theirs.err)   -- docker: 1 and its own words
    r = ours({}, "-H unix:///nonexistent --context rig run --rm " .. IMAGE .. " true")
    assert.same({ 1, "dockerpty: conflicting options: cannot specify both --host and --context\n" },
      { r.code, r.err })
    theirs = docker({}, "-H unix:///nonexistent --context rig run --rm " .. IMAGE .. " true")
    assert.matches("cannot specify both", theirs.err)
  end)
end)
