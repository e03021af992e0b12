local core = require("dockerpty.core")
local tc = require("dockerpty_test")

describe("dockerpty.core", function()
  it("loads and has a version", function()
    assert.is_string(core._VERSION)
    assert.matches("^%d+%.%d+%.%d+$", core._VERSION)
    assert.is_nil(core._CURL_VERSION)
    -- libcurl is loaded on demand (TCP and TLS endpoints), here by asking
    assert.matches("^libcurl/%d", core.curl_version())
    assert.is_true(tc.curl_loaded())
  end)

  it("ships no test-only primitive: they live in the specs' module dockerpty_test", function()
    for _, name in ipairs({ "_openpty", "_read", "_write", "_close", "_pipe", "_socketpair",
      "_shutdown", "getpid", "kill", "tcgetattr", "termflags", "setwinsize", "_parse_head", "curl_loaded" }) do
      assert.is_nil(core[name], name)
    end
    for _, name in ipairs({ "openpty", "pipe", "socketpair", "close", "shutdown", "getpid", "kill",
      "tcgetattr", "termflags", "setwinsize", "parse_head", "curl_loaded" }) do
      assert.is_function(tc[name], name)
    end
  end)

  it("reads and writes a file or an fd with one system call each", function()
    local r, w = tc.pipe()
    finally(function() tc.close(r); tc.close(w) end)
    assert.equal(5, core.write(w, "hello"))
    assert.equal("hel", core.read(r, 3))
    core.nonblock(r, true)
    assert.equal("lo", core.read(r))
    assert.same({ nil, "timeout", "timeout" }, { core.read(r) })
    tc.close(w)
    w = -1
    assert.same({ nil, "closed", "closed" }, { core.read(r) })
    local _, msg, name = core.write(99999, "x")
    assert.same({ "write: Bad file descriptor", "EBADF" }, { msg, name })
  end)

  it("turns Lua files and integers into fds", function()
    assert.equal(0, core.fileno(io.stdin))
    assert.equal(2, core.fileno(io.stderr))
    assert.equal(7, core.fileno(7))
    assert.has_error(function() core.fileno("x") end,
      "bad argument #1 to 'fileno' (file or fd expected, got string)")
  end)

  it("sets and restores O_NONBLOCK", function()
    local r, w = tc.pipe()
    finally(function() tc.close(r); tc.close(w) end)
    assert.is_false(core.nonblock(r))
    assert.is_false(core.nonblock(r, true))
    assert.is_true(core.nonblock(r))
    assert.is_true(core.nonblock(r, false))
    assert.is_false(core.nonblock(r))
  end)

  it("returns nil, message, NAME on OS failures (no errno after them)", function()
    assert.same({ n = 3, nil, "fcntl: Bad file descriptor", "EBADF" }, table.pack(core.nonblock(987654)))
  end)
end)
