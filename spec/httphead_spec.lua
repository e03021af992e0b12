-- spec/httphead_spec.lua: the HTTP/1.x response head parser (src/httphead.c)
-- through dockerpty_test.parse_head: heads split across reads, bare LF line ends,
-- bytes after the head, 101 and 200, errors after the hijack
-- (docs/protocol.md, "Attach and exec").
local tc = require("dockerpty_test")

local UPGRADE = "HTTP/1.1 101 UPGRADED\r\n" ..
  "Content-Type: application/vnd.docker.multiplexed-stream\r\n" ..
  "Connection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: 1.41\r\n\r\n"

local function malformed(s)
  local ok, msg, name = tc.parse_head(s)
  assert.is_nil(ok)
  assert.equal("malformed response head", msg)
  assert.equal("protocol", name)
end

describe("the head parser (dockerpty_test.parse_head)", function()
  it("parses a 101 UPGRADED head with lower-cased header names", function()
    local status, reason, headers, n = tc.parse_head(UPGRADE)
    assert.equal(101, status)
    assert.equal("UPGRADED", reason)
    assert.same({
      ["content-type"] = "application/vnd.docker.multiplexed-stream",
      connection = "Upgrade", upgrade = "tcp", ["api-version"] = "1.41",
    }, headers)
    assert.equal(#UPGRADE, n)
  end)

  it("returns the head length so bytes after the blank line stay with the caller", function()
    local frame = "\1\0\0\0\0\0\0\5hello"
    local status, _, _, n = tc.parse_head(UPGRADE .. frame)
    assert.equal(101, status)
    assert.equal(frame, (UPGRADE .. frame):sub(n + 1))
  end)

  it("returns 0 for every prefix of a head, then the head", function()
    for i = 0, #UPGRADE - 1 do
      assert.equal(0, tc.parse_head(UPGRADE:sub(1, i)), "prefix of " .. i .. " bytes")
    end
    assert.equal(101, (tc.parse_head(UPGRADE)))
  end)

  it("accepts bare LF line ends and a mix of LF and CRLF", function()
    local status, reason, headers, n = tc.parse_head("HTTP/1.1 200 OK\nContent-Type: text/plain\r\n\nrest")
    assert.equal(200, status)
    assert.equal("OK", reason)
    assert.same({ ["content-type"] = "text/plain" }, headers)
    assert.equal(#"HTTP/1.1 200 OK\nContent-Type: text/plain\r\n\n", n)
  end)

  it("parses a 200 OK attach answer (no upgrade)", function()
    local status, reason, headers = tc.parse_head(
      "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n")
    assert.equal(200, status)
    assert.equal("OK", reason)
    assert.equal("application/vnd.docker.raw-stream", headers["content-type"])
  end)

  it("parses a raw 404 whose text body follows", function()
    local raw = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" ..
      "No such container: x\r\n"
    local status, reason, headers, n = tc.parse_head(raw)
    assert.equal(404, status)
    assert.equal("Not Found", reason)
    assert.equal("text/plain; charset=utf-8", headers["content-type"])
    assert.equal("No such container: x\r\n", raw:sub(n + 1))
  end)

  it("accepts an empty reason, with or without the space", function()
    local status, reason = tc.parse_head("HTTP/1.1 200 \r\n\r\n")
    assert.same({ 200, "" }, { status, reason })
    status, reason = tc.parse_head("HTTP/1.0 204\r\n\r\n")
    assert.same({ 204, "" }, { status, reason })
  end)

  it("trims header values and joins repeated fields", function()
    local _, _, headers = tc.parse_head("HTTP/1.1 200 OK\r\nX-A:  one \t\r\nx-a: two\r\nX-Empty:\r\n\r\n")
    assert.same({ ["x-a"] = "one, two", ["x-empty"] = "" }, headers)
  end)

  it("accepts 64 header fields and rejects 65", function()
    local lines = {}
    for i = 1, 64 do lines[i] = ("X-H%d: v\r\n"):format(i) end
    local head = "HTTP/1.1 200 OK\r\n" .. table.concat(lines)
    assert.equal(200, (tc.parse_head(head .. "\r\n")))
    malformed(head .. "X-Too: many\r\n\r\n")
  end)

  it("rejects a head longer than 16384 bytes, complete or not", function()
    local pad = ("X-Pad: %s\r\n"):format(("a"):rep(1000))
    local head = "HTTP/1.1 200 OK\r\n" .. pad:rep(17)
    assert.equal(0, tc.parse_head(head:sub(1, 16383)))
    malformed(head)
    malformed(head .. "\r\n")
    -- exactly 16384 bytes is accepted
    local prefix, suffix = "HTTP/1.1 200 OK\r\nX-Pad: ", "\r\n\r\n"
    local exact = prefix .. ("b"):rep(16384 - #prefix - #suffix) .. suffix
    assert.equal(16384, #exact)
    assert.equal(16384, select(4, tc.parse_head(exact)))
  end)

  it("rejects garbage at once, without waiting for a line end", function()
    malformed("garbage")
    malformed("\1\0\0\0\0\0\0\5hello")
    malformed("HTTP/2 200\r\n\r\n")
    malformed("<html>")
  end)

  it("rejects bad status lines", function()
    malformed("HTTP/1.1 20 OK\r\n\r\n")
    malformed("HTTP/1.1 2000 OK\r\n\r\n")
    malformed("HTTP/1.1 099 Low\r\n\r\n")
    malformed("HTTP/1.1  200 OK\r\n\r\n")
    malformed("HTTP/1.x 200 OK\r\n\r\n")
    malformed("HTTP/1.1 200 O\0K\r\n\r\n")
  end)

  it("rejects header lines without a colon, with a space in the name or folded", function()
    malformed("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n")
    malformed("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n")
    malformed("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n")
    malformed("HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\r\n")
    malformed("HTTP/1.1 200 OK\r\nX-A: o\rne\r\n\r\n")
  end)

  it("raises on a non-string argument", function()
    assert.has_error(function() tc.parse_head(nil) end,
      "bad argument #1 to 'parse_head' (string expected, got nil)")
  end)
end)
