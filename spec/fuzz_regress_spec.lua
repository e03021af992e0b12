-- spec/fuzz_regress_spec.lua: replays the fuzz corpora (spec/fuzz/corpus:
-- the seeds and every input that once made a target fail) through the Lua
-- API of dockerpty.core, with the checks of the C harnesses that the Lua
-- API can express. The input layouts are those of spec/fuzz/fuzz_*.c; the
-- pump inputs run through the same driver as fuzz_pump.c, without its
-- fault injection and small socket buffers. spec/fuzz/README.md describes
-- the targets and lists the findings.
local core = require("dockerpty.core")
local tc = require("dockerpty_test")
local driver = dofile("spec/fuzz/pump_driver.lua")

local CORPUS = "spec/fuzz/corpus"

local function corpus(target)
  local files = {}
  local p = assert(io.popen("ls " .. CORPUS .. "/" .. target))
  for name in p:lines() do files[#files + 1] = name end
  p:close()
  table.sort(files)
  return files
end

local function read(target, name)
  local f = assert(io.open(CORPUS .. "/" .. target .. "/" .. name, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Split `data` by chunk-size bytes (b + 1 each, in turn; 255: the rest).
local function chunks(data, sizes)
  local t, pos, i = {}, 1, 0
  while pos <= #data do
    local n = #data - pos + 1
    if #sizes > 0 then
      local b = sizes:byte(i % #sizes + 1)
      if b ~= 255 and b + 1 < n then n = b + 1 end
    end
    i = i + 1
    t[#t + 1] = data:sub(pos, pos + n - 1)
    pos = pos + n
  end
  return t
end

local function frame(kind, payload)
  return string.char(kind, 0, 0, 0) .. string.pack(">I4", #payload) .. payload
end

describe("fuzz corpus F1 (demux)", function()
  local files = corpus("demux")

  it("holds seeds", function()
    assert.is_true(#files >= 10)
  end)

  for _, name in ipairs(files) do
    it("decodes " .. name .. " as the reference decoder does", function()
      local input = read("demux", name)
      local k = math.min(input:byte(1) % 16, #input - 1)
      local sizes, stream = input:sub(2, 1 + k), input:sub(2 + k)
      local want_out, want_err, ending, msg = driver.demux(stream)
      local d = core.demux()
      local out, err, emsg, ename = {}, {}, nil, nil
      for _, c in ipairs(chunks(stream, sizes)) do
        local pieces, m, n, partial = d:feed(c)
        if pieces == nil then pieces = partial end
        for _, p in ipairs(pieces) do
          assert.is_true(#p[2] > 0 and #p[2] <= #c)
          if p[1] == 1 then out[#out + 1] = p[2] else err[#err + 1] = p[2] end
        end
        if m then
          if emsg then assert.same({ emsg, ename }, { m, n }) end   -- sticky
          emsg, ename = m, n
        end
      end
      assert.is_true(want_out == table.concat(out), "stdout")
      assert.is_true(want_err == table.concat(err), "stderr")
      if ending == "protocol" or ending == "daemon" then
        assert.same({ msg, ending }, { emsg, ename })
      else
        assert.is_nil(emsg)
        local ok, text = d:eof()
        if ending == "ok" then
          assert.is_true(ok)
        else
          assert.equal("truncated " .. ending, text)
        end
      end
    end)
  end
end)

describe("fuzz corpus F2 (httphead)", function()
  for _, name in ipairs(corpus("httphead")) do
    it("parses " .. name .. " the same with or without the bytes after the head", function()
      local input = read("httphead", name)
      local status, reason, headers, n = tc.parse_head(input)
      if status == nil then
        assert.same({ "malformed response head", "protocol" }, { reason, headers })
        assert.is_nil(tc.parse_head(input .. "\r\n\r\n"))
      elseif status == 0 then
        assert.is_nil(reason)
        assert.is_true(#input < 16384)
      else
        assert.is_true(status >= 100 and status <= 999 and n <= #input)
        assert.equal("\n", input:sub(n, n))
        assert.same({ status, reason, headers, n }, { tc.parse_head(input:sub(1, n)) })
        assert.equal(0, tc.parse_head(input:sub(1, n - 1)))
        for k, v in pairs(headers) do
          assert.equal(k:lower(), k)
          assert.is_nil(v:find("^[ \t]") or v:find("[ \t]$") or v:find("[\r\n]"))
        end
      end
    end)
  end
end)

describe("fuzz corpus F7 (httpcodec)", function()
  -- Feed the answer in pieces; the outcome, and the body unless it failed.
  local function decode(flags, pieces)
    local d = core.http_decoder{ head = flags & 1 == 1, max = flags & 2 == 2 and 64 or nil }
    local body, r = {}, { "more" }
    for _, p in ipairs(pieces) do
      local done, piece, name = d:feed(p)
      if done == nil then r = { "error", piece, name }; break end
      body[#body + 1] = piece
      if done then r = { "done" }; break end
    end
    if r[1] == "more" and flags & 4 == 4 then
      local ok, msg, name = d:eof()
      r = ok and { "done" } or { "error", msg, name }
    end
    if r[1] ~= "error" then r[#r + 1] = table.concat(body) end
    r[#r + 1] = (d:head())
    return r
  end

  local files = corpus("httpcodec")

  it("holds seeds", function()
    assert.is_true(#files >= 10)
  end)

  for _, name in ipairs(files) do
    it("decodes " .. name .. " the same however it is split", function()
      local input = read("httpcodec", name)
      if #input < 2 then return end
      local flags, k = input:byte(1), input:byte(2) % 16
      local sizes, answer = input:sub(3, 2 + k), input:sub(3 + k)
      local whole = decode(flags, { answer })
      assert.same(whole, decode(flags, chunks(answer, sizes)))
      assert.same(whole, decode(flags, chunks(answer, "\0")))
    end)
  end
end)

describe("fuzz corpus F3 (escape)", function()
  for _, name in ipairs(corpus("escape")) do
    it("forwards " .. name .. " minus the detach sequence, in any chunking", function()
      local input = read("escape", name)
      local nkeys = math.min(input:byte(1) % 33, #input - 1)
      local keys = input:sub(2, 1 + nkeys)
      local rest = input:sub(2 + nkeys)
      local k = math.min(#rest > 0 and rest:byte(1) % 16 or 0, math.max(#rest - 1, 0))
      local sizes, data = rest:sub(2, 1 + k), rest:sub(2 + k)
      local want, will_detach = driver.escape(keys, data)
      local e = core.escape(keys)
      local out, detached = {}, false
      for _, c in ipairs(chunks(data, sizes)) do
        local fwd, det = e:filter(c)
        if detached then assert.equal("", fwd) end
        out[#out + 1] = fwd
        detached = det
      end
      if not detached then out[#out + 1] = e:flush() end
      assert.equal(will_detach and #keys > 0, detached)
      assert.is_true(want == table.concat(out))
      if detached then
        assert.equal(keys, data:sub(#want + 1, #want + #keys))
      else
        assert.equal(data, table.concat(out))
      end
    end)
  end
end)

describe("fuzz corpus F4 (keys)", function()
  for _, name in ipairs(corpus("keys")) do
    it("parses " .. name .. " to bytes that spell back, or names the bad item", function()
      local spec = read("keys", name):sub(3)
      local keys, msg, kind = core.parse_keys(spec)
      if keys then
        assert.is_true(#keys >= 1 and #keys <= 32 and not keys:find(",", 1, true))
        local items = {}
        for i = 1, #keys do
          local b = keys:byte(i)
          items[i] = b < 32 and ("ctrl-" .. ("@abcdefghijklmnopqrstuvwxyz[\\]^_"):sub(b + 1, b + 1))
            or b == 127 and "DEL" or keys:sub(i, i)
        end
        assert.equal(keys, core.parse_keys(table.concat(items, ",")))
      else
        assert.equal("invalid", kind)
        assert.equal("invalid detach keys: ", msg:sub(1, 21))
      end
    end)
  end
end)

describe("fuzz corpus F6 (vtmodes)", function()
  local files = corpus("vtmodes")

  it("holds seeds", function()
    assert.is_true(#files >= 10)
  end)

  for _, name in ipairs(files) do
    it("tracks " .. name .. " the same in any chunking, and its undo turns every mode off", function()
      local input = read("vtmodes", name)
      local k = math.min(input:byte(1) % 16, #input - 1)
      local sizes, output = input:sub(2, 1 + k), input:sub(2 + k)
      local whole = core.vtmodes():feed(output)
      local vt = core.vtmodes()
      for _, c in ipairs(chunks(output, sizes)) do vt:feed(c) end
      assert.same(whole:modes(), vt:modes())
      local undo = vt:undo()
      assert.equal(whole:undo(), undo)
      assert.is_true(#undo <= 128)
      assert.equal(vt:dirty(), undo ~= "")
      assert.equal(#vt:modes() > 0, vt:dirty())
      vt:feed(undo)
      assert.same({}, vt:modes())
      assert.equal("", vt:undo())
    end)
  end
end)

describe("fuzz corpus F5 (pump)", function()
  local sock = os.tmpname()
  os.remove(sock)
  sock = sock .. ".sock"
  teardown(function() os.remove(sock) end)

  for _, name in ipairs(corpus("pump")) do
    it("pumps " .. name .. " with the reference output and status", function()
      driver.run(core, read("pump", name), { socket = sock, strict = true })
    end)
  end

  -- Finding F5-1 (spec/fuzz/README.md): a pump that stopped on a stream
  -- error dropped the output its slow sink still held. Now it writes it all
  -- before it counts as finished.
  it("stops on a daemon error and still writes all the stdout read before it (F5-1)", function()
    local a, b = tc.socketpair()
    local oa, ob = tc.socketpair()
    finally(function() for _, fd in ipairs({ a, b, oa, ob }) do tc.close(fd) end end)
    core.nonblock(oa, true)
    core.nonblock(ob, true)
    -- Fill the stdout socket so the pump has to buffer.
    local filler = 0
    while true do
      local w = core.write(oa, string.rep("f", 65536))
      if not w then break end
      filler = filler + w
    end
    local payload = string.rep("0123456789", 3000)
    assert(core.write(b, frame(1, payload) .. frame(3, "boom\n")))
    tc.shutdown(b)
    -- One read takes the payload and the error frame: the payload goes to
    -- the pending buffer of the full sink, then the error stops the pump.
    local p = core.pump{ from = a, to = oa, demux = true, bound = 65536, bufsize = 65536 }
    local lp = core.loop():add(p)
    for _ = 1, 100 do
      lp:run(0)
      if p:status() ~= "running" then break end
    end
    assert.same({ nil, "boom", "daemon" }, { p:status() })
    local got = {}
    for _ = 1, 100 do
      lp:run(0)
      local s = core.read(ob, 65536)
      if not s then break end
      got[#got + 1] = s
    end
    local out = table.concat(got):sub(filler + 1)
    assert.equal(payload, out)
  end)

  -- Finding F5-1 on the stdin side: bytes typed before the detach keys
  -- that the full connection did not take yet were dropped at the detach.
  it("detaches after writing every byte typed before the keys (F5-1)", function()
    local a, b = tc.socketpair()
    local kr, kw = tc.socketpair()
    finally(function() for _, fd in ipairs({ a, b, kr, kw }) do tc.close(fd) end end)
    core.nonblock(a, true)
    core.nonblock(b, true)
    local filler = 0
    while true do
      local w = core.write(a, string.rep("f", 65536))
      if not w then break end
      filler = filler + w
    end
    local typed = "echo typed before detach\n"
    assert(core.write(kw, typed .. "\16\17ignored"))
    local p = core.pump{ from = kr, to = a, detach_keys = "\16\17", bufsize = 4096, bound = 4096 }
    local lp = core.loop():add(p)
    local got = {}
    for _ = 1, 200 do
      lp:run(0)
      local s = core.read(b, 65536)
      while s do
        got[#got + 1] = s
        s = core.read(b, 65536)
      end
      if #table.concat(got) >= filler and p:status() ~= "running" and lp:run(0) == "done" then break end
    end
    assert.equal("detached", p:status())
    local sent = table.concat(got):sub(filler + 1)
    assert.equal(typed, sent)
  end)
end)
