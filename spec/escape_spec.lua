-- spec/escape_spec.lua: detach keys (docs/protocol.md, "Detach keys"):
-- core.parse_keys() and the escape proxy core.escape(), with sequences
-- split across reads, partial matches, mismatches and repeated prefixes.
local core = require("dockerpty.core")

local CTRL_P, CTRL_Q = "\16", "\17"

-- Feed `chunks` through a new proxy for `keys`; return the forwarded bytes,
-- whether it detached, and what flush() gives at the end.
local function through(keys, chunks)
  local e = core.escape(keys)
  local out, detached = {}, false
  for _, c in ipairs(chunks) do
    local fwd, det = e:filter(c)
    out[#out + 1] = fwd
    detached = det
  end
  assert.equal(detached, e:detached())
  return table.concat(out), detached, e:flush()
end

local function bytes(s)
  local t = {}
  for i = 1, #s do t[i] = s:sub(i, i) end
  return t
end

describe("parse_keys", function()
  it("parses the docker examples", function()
    assert.equal("\16\17", core.parse_keys("ctrl-p,ctrl-q"))
    assert.equal("\0\27\126\15", core.parse_keys("ctrl-@,ctrl-[,~,ctrl-o"))
    assert.equal("\127+", core.parse_keys("DEL,+"))
  end)

  it("maps every ctrl- item", function()
    for i = 1, 26 do
      local letter = string.char(96 + i)
      assert.equal(string.char(i), core.parse_keys("ctrl-" .. letter))
      assert.equal(string.char(i), core.parse_keys("ctrl-" .. letter:upper()))
    end
    assert.equal("\0\27\28\29\30\31", core.parse_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_"))
  end)

  it("takes a single character as its byte", function()
    assert.equal("a", core.parse_keys("a"))
    assert.equal("a b-", core.parse_keys("a, ,b,-"))
    assert.equal("\255\0", core.parse_keys("\255,\0"))
  end)

  it("returns nil, message, 'invalid' naming the bad item", function()
    local cases = {
      ["shift-z"] = "invalid detach keys: shift-z",
      ["ctrl-1"] = "invalid detach keys: ctrl-1",
      ["ctrl-p,ctrl-"] = "invalid detach keys: ctrl-",
      ["ctrl-p,ctrl-qq"] = "invalid detach keys: ctrl-qq",
      ["ctrl-p, ctrl-q"] = "invalid detach keys:  ctrl-q",
      ["CTRL-p"] = "invalid detach keys: CTRL-p",
      ["del"] = "invalid detach keys: del",
      ["ab"] = "invalid detach keys: ab",
      ["ctrl-p,,ctrl-q"] = "invalid detach keys: (empty item)",
      ["ctrl-p,"] = "invalid detach keys: (empty item)",
      [","] = "invalid detach keys: (empty item)",
      [""] = "invalid detach keys: (empty)",
    }
    for spec, want in pairs(cases) do
      assert.same({ nil, want, "invalid" }, { core.parse_keys(spec) }, spec)
    end
  end)

  it("accepts 32 keys and rejects 33", function()
    assert.equal(string.rep("\1", 32), core.parse_keys(string.rep("ctrl-a", 32, ",")))
    assert.same({ nil, "invalid detach keys: more than 32 keys", "invalid" },
      { core.parse_keys(string.rep("x", 33, ",")) })
  end)

  it("raises on a bad argument", function()
    assert.has_error(function() core.parse_keys() end,
      "bad argument #1 to 'parse_keys' (string expected, got no value)")
  end)
end)

describe("escape", function()
  it("creates proxies with a named type", function()
    local e = core.escape(CTRL_P .. CTRL_Q)
    assert.matches("^dockerpty%.Escape %(0x%x+%)$", tostring(e))
    assert.is_false(e:detached())
    assert.has_error(function() core.escape(string.rep("x", 33)) end,
      "bad argument #1 to 'escape' (more than 32 keys)")
    assert.has_error(function() core.escape() end,
      "bad argument #1 to 'escape' (string expected, got no value)")
    assert.has_error(function() e:filter() end,
      "bad argument #1 to 'filter' (string expected, got no value)")
  end)

  it("forwards input without the keys unchanged", function()
    assert.same({ "hello\n", false, "" }, { through(CTRL_P .. CTRL_Q, { "hello\n" }) })
    assert.same({ "", false, "" }, { through(CTRL_P .. CTRL_Q, { "" }) })
  end)

  it("watches for nothing with empty keys", function()
    assert.same({ "\16\17x", false, "" }, { through("", { "\16\17x" }) })
  end)

  it("detaches on the sequence, forwarding only the bytes before it", function()
    assert.same({ "ls\n", true, "" }, { through(CTRL_P .. CTRL_Q, { "ls\n" .. CTRL_P .. CTRL_Q }) })
  end)

  it("drops the bytes after a match and everything later", function()
    local e = core.escape(CTRL_P .. CTRL_Q)
    assert.same({ "ab", true }, { e:filter("ab" .. CTRL_P .. CTRL_Q .. "cd") })
    assert.same({ "", true }, { e:filter("more") })
    assert.is_true(e:detached())
    assert.equal("", e:flush())
  end)

  it("holds a sequence split across calls", function()
    local e = core.escape(CTRL_P .. CTRL_Q)
    assert.same({ "x", false }, { e:filter("x" .. CTRL_P) })
    assert.same({ "", true }, { e:filter(CTRL_Q .. "y") })
  end)

  it("holds a prefix and gives it back on flush", function()
    local e = core.escape(CTRL_P .. CTRL_Q)
    assert.same({ "a", false }, { e:filter("a" .. CTRL_P) })
    assert.equal(CTRL_P, e:flush())
    assert.equal("", e:flush())
    assert.same({ CTRL_Q, false }, { e:filter(CTRL_Q) })
  end)

  it("replays a partial match on a mismatch: keys a,b,c, input aba", function()
    local keys = core.parse_keys("a,b,c")
    assert.same({ "aba\n", false, "" }, { through(keys, { "aba\n" }) })
    assert.same({ "aba\n", false, "" }, { through(keys, bytes("aba\n")) })
    assert.same({ "ab", false, "a" }, { through(keys, { "a", "b", "a" }) })
  end)

  it("lets the breaking byte start a new match (repeated prefix)", function()
    local keys = CTRL_P .. CTRL_Q
    local input = CTRL_P .. "a" .. CTRL_P .. CTRL_Q
    assert.same({ CTRL_P .. "a", true, "" }, { through(keys, { input }) })
    assert.same({ CTRL_P .. "a", true, "" }, { through(keys, bytes(input)) })
    assert.same({ CTRL_P, true, "" }, { through(keys, { CTRL_P .. CTRL_P .. CTRL_Q }) })
    assert.same({ CTRL_P .. CTRL_P, false, CTRL_P }, { through(keys, bytes(string.rep(CTRL_P, 3))) })
  end)

  it("handles one- and two-byte feeds", function()
    local keys = CTRL_P .. CTRL_Q
    local input = "abc" .. CTRL_P .. "d" .. CTRL_P .. CTRL_Q .. "zz"
    for size = 1, 2 do
      local chunks = {}
      for i = 1, #input, size do chunks[#chunks + 1] = input:sub(i, i + size - 1) end
      assert.same({ "abc" .. CTRL_P .. "d", true, "" }, { through(keys, chunks) })
    end
  end)

  it("matches four-key sequences across any split", function()
    local keys = core.parse_keys("ctrl-a,ctrl-b,ctrl-c,ctrl-d")
    local input = "x\1\2y\1\2\3z\1\2\3\4tail"
    for i = 0, #input do
      for j = i, #input do
        local chunks = { input:sub(1, i), input:sub(i + 1, j), input:sub(j + 1) }
        assert.same({ "x\1\2y\1\2\3z", true, "" }, { through(keys, chunks) }, i .. "," .. j)
      end
    end
  end)

  it("forwards every input without the sequence unchanged (property)", function()
    local seed = tonumber(os.getenv("ESCAPE_SEED")) or 49
    print(("escape_spec: random seed %d (set ESCAPE_SEED to change)"):format(seed))
    math.randomseed(seed)
    local alphabet = "abc\16\17"
    local tried = 0
    for round = 1, 3000 do
      local nkeys = math.random(1, 4)
      local k = {}
      for i = 1, nkeys do
        local c = math.random(1, #alphabet)
        k[i] = alphabet:sub(c, c)
      end
      local keys = table.concat(k)
      local t = {}
      for i = 1, math.random(0, 40) do
        local c = math.random(1, #alphabet)
        t[i] = alphabet:sub(c, c)
      end
      local input = table.concat(t)
      if not input:find(keys, 1, true) then
        tried = tried + 1
        local chunks, pos = {}, 1
        while pos <= #input do
          local n = math.random(1, 5)
          chunks[#chunks + 1] = input:sub(pos, pos + n - 1)
          pos = pos + n
        end
        local out, detached, held = through(keys, chunks)
        local ctx = ("seed %d round %d"):format(seed, round)
        assert.is_false(detached, ctx)
        assert.equal(input, out .. held, ctx)
      end
    end
    assert.is_true(tried > 1000)
  end)

  it("detaches exactly when the input ends with the sequence (property)", function()
    math.randomseed(7)
    local keys = CTRL_P .. CTRL_Q
    for _ = 1, 500 do
      local t = {}
      for i = 1, math.random(0, 30) do
        t[i] = ({ "a", CTRL_P, CTRL_Q, "\n" })[math.random(1, 4)]
      end
      local before = table.concat(t)
      local first = before:find(keys, 1, true)
      local want = first and before:sub(1, first - 1) or before
      local out, detached = through(keys, bytes(before .. keys .. "after"))
      assert.is_true(detached)
      assert.equal(want, out)
    end
  end)
end)
