-- spec/rig_spec.lua: the test rig itself (spec/support/engine). Checks that
-- the daemon, the busybox image and the TLS endpoint it exports work through
-- the docker CLI and curl, so that a failing #docker spec elsewhere points
-- at dockerpty, not at the rig. The TLS endpoint is the real-daemon target of
-- the TLS specs (verification, key files).

local function shq(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function need(name)
  local v = os.getenv(name)
  assert(v and v ~= "", name .. " is not set: run the specs through spec/support/engine (make test)")
  return v
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Runs a shell command with no stdin; returns its stdout, stderr and exit code.
-- Under `make SANITIZE=1` LD_PRELOAD holds libasan, meant for lua5.4 only:
-- curl hangs with it, so the command runs without.
local function run(cmd)
  local out, err = os.tmpname(), os.tmpname()
  local _, how, code = os.execute("unset LD_PRELOAD; " .. cmd .. " </dev/null >" .. out .. " 2>" .. err)
  local o, e = slurp(out), slurp(err)
  os.remove(out)
  os.remove(err)
  assert.equal("exit", how, "killed by signal " .. tostring(code) .. ": " .. cmd)
  return o, e, code
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- A container name unique to this run, removed by the caller's finally.
local function container_name()
  return ("dockerpty-rig-%x-%x"):format(os.time(), math.random(1 << 30))
end

local function remove_container(name)
  run("docker rm -f " .. shq(name))
end

-- docker CLI options for the TLS endpoint: CA from `ca`, client pair from `client`.
local function tls_docker(ca, client)
  return ("docker --tlsverify --tlscacert %s --tlscert %s --tlskey %s -H %s"):format(
    shq(ca .. "/ca.pem"), shq(client .. "/cert.pem"), shq(client .. "/key.pem"),
    shq(need("DOCKERPTY_TLS_HOST")))
end

describe("spec/support/engine #docker", function()
  it("exports the daemon, the image and the TLS files", function()
    assert.truthy(need("DOCKER_HOST"):match("^%a+://."))
    assert.truthy(({ private = true, reused = true })[need("DOCKERPTY_RIG")])
    assert.equal("dockerpty-test/busybox", need("DOCKERPTY_TEST_IMAGE"))
    assert.truthy(need("DOCKERPTY_TLS_HOST"):match("^tcp://127%.0%.0%.1:%d+$"))
    for _, dir in ipairs({ need("DOCKERPTY_TLS_CERTS"), need("DOCKERPTY_TLS_BADCA") }) do
      for _, file in ipairs({ "ca.pem", "cert.pem", "key.pem" }) do
        assert.is_true(exists(dir .. "/" .. file), dir .. "/" .. file .. " is missing")
      end
    end
  end)

  it("runs a container and keeps its stdout, stderr and exit status apart", function()
    local name = container_name()
    finally(function() remove_container(name) end)
    -- no --rm: Podman answers the CLI's wait for the removal with status 0
    local out, err, code = run(("docker run --name %s --network none %s sh -c %s"):format(
      shq(name), shq(need("DOCKERPTY_TEST_IMAGE")), shq("echo hello; echo err >&2; exit 3")))
    assert.equal("hello\n", out)
    assert.equal("err\n", err)
    assert.equal(3, code)
  end)

  -- An image found on a reused daemon is kept as it is: when the next two
  -- fail there, remove it (docker rmi dockerpty-test/busybox) and the engine
  -- imports its own.
  it("has busybox applets linked on PATH, and the users root and nobody", function()
    local name = container_name()
    finally(function() remove_container(name) end)
    local script = [[
      for a in ls stty wc cat; do p=$(which $a) && echo "$p -> $(readlink -f "$p")"; done
      printf 'a\nb\n' | wc -l
      echo hi | cat
      id -u root
      id -u nobody
    ]]
    local out, err, code = run(("docker run --rm --name %s --network none %s sh -c %s"):format(
      shq(name), shq(need("DOCKERPTY_TEST_IMAGE")), shq(script)))
    assert.equal("", err)
    assert.equal(0, code)
    assert.truthy(out:match("^/s?bin/ls %-> /bin/busybox\n/s?bin/stty %-> /bin/busybox\n"
      .. "/[%w/]*bin/wc %-> /bin/busybox\n/s?bin/cat %-> /bin/busybox\n2\nhi\n0\n99\n$"), out)
  end)

  it("has a /tmp everyone can write to (mode 1777)", function()
    local name = container_name()
    finally(function() remove_container(name) end)
    local out, _, code = run(("docker run --rm --name %s --network none %s stat -c %%a /tmp"):format(
      shq(name), shq(need("DOCKERPTY_TEST_IMAGE"))))
    assert.equal(0, code)
    assert.equal("1777\n", out)
  end)

  it("starts an applet as the container's command, without a shell", function()
    local name = container_name()
    finally(function() remove_container(name) end)
    local out, _, code = run(("docker run --rm --name %s --network none %s ls -d /home /tmp"):format(
      shq(name), shq(need("DOCKERPTY_TEST_IMAGE"))))
    assert.equal(0, code)
    assert.equal("/home\n/tmp\n", out)
  end)

  it("gives stty a terminal under -t", function()
    local name = container_name()
    finally(function() remove_container(name) end)
    local out, _, code = run(("docker run --rm -t --name %s --network none %s sh -c %s"):format(
      shq(name), shq(need("DOCKERPTY_TEST_IMAGE")), shq("stty cols 77 rows 11; stty size")))
    assert.equal(0, code)
    assert.equal("11 77\r\n", out)
  end)

  it("serves the TLS endpoint to the exported client certificate, with the image", function()
    local certs = need("DOCKERPTY_TLS_CERTS")
    local out, err, code = run(tls_docker(certs, certs) .. " version --format '{{.Server.Version}}'")
    assert.equal("", err)
    assert.equal(0, code)
    assert.truthy(out:match("^%d+%.%d+"), out)
    out, err, code = run(tls_docker(certs, certs) .. " image inspect --format '{{.Id}}' "
      .. shq(need("DOCKERPTY_TEST_IMAGE")))
    assert.equal("", err)
    assert.equal(0, code)
    assert.truthy(out:match("^sha256:%x+\n$"), out)
  end)

  it("answers curl over TLS as 127.0.0.1 and as localhost", function()
    local certs = need("DOCKERPTY_TLS_CERTS")
    local port = need("DOCKERPTY_TLS_HOST"):match(":(%d+)$")
    for _, host in ipairs({ "127.0.0.1", "localhost" }) do
      local out, err, code = run(("curl -sS --max-time 10 --cacert %s --cert %s --key %s https://%s:%s/_ping")
        :format(shq(certs .. "/ca.pem"), shq(certs .. "/cert.pem"), shq(certs .. "/key.pem"), host, port))
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal("OK", out)
    end
  end)

  it("refuses a client certificate signed by the other CA", function()
    local docker = tls_docker(need("DOCKERPTY_TLS_CERTS"), need("DOCKERPTY_TLS_BADCA"))
    local _, err, code = run(docker .. " version")
    assert.not_equal(0, code)
    assert.truthy(err:find("tls: ", 1, true), err)
  end)

  it("has a daemon certificate that the other CA does not verify", function()
    local docker = tls_docker(need("DOCKERPTY_TLS_BADCA"), need("DOCKERPTY_TLS_CERTS"))
    local _, err, code = run(docker .. " version")
    assert.not_equal(0, code)
    assert.truthy(err:find("certificate signed by unknown authority", 1, true), err)
  end)

  it("refuses a client without a certificate", function()
    local port = need("DOCKERPTY_TLS_HOST"):match(":(%d+)$")
    local out, _, code = run(("curl -s --max-time 10 --cacert %s https://127.0.0.1:%s/_ping"):format(
      shq(need("DOCKERPTY_TLS_CERTS") .. "/ca.pem"), port))
    assert.not_equal(0, code)
    assert.equal("", out)
  end)
end)
