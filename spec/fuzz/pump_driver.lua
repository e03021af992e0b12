-- spec/fuzz/pump_driver.lua: fuzz target F5, the end-to-end pump, written
-- against the Lua API of dockerpty.core. A scripted fake daemon writes a
-- multiplexed stream into the pump's source in chunks the input chooses,
-- runs the loop one poll round at a time (loop:run(0)), and reads the sinks
-- slowly or fast; optionally a stdin pump with detach keys runs the other
-- way, linked so that a detach cancels the output pump. At the end the
-- delivered bytes and statuses are checked against plain reference
-- decoders. Used by spec/fuzz/fuzz_pump.c (with fault injection and small
-- socket buffers) and by spec/fuzz_regress_spec.lua (plain).
--
-- Input layout (missing bytes read as 0):
--   1      flags: 1 connection source (else a socketpair fd), 2 stderr to a
--          function (else an fd), 4 stdin pump with detach keys, 8 small
--          socket buffers (fuzzer only), 16 the stderr function raises a
--          forwarded SIGUSR1 (with 2), 32 a sink fails for good (fuzzer
--          only): the first three fault bytes choose the sink and the errno
--          (b % 6: stdout or stderr, EPIPE, ENOSPC or EIO) and how many
--          bytes it takes first (16 bits), so mostly mid-frame
--   2      read buffer: 1024 + b * 64 bytes
--   3-4    bound: 1 + big-endian 16 bits
--   5      detach keys: b % 4 + 1 bytes from 6..9
--   10-11  stream length S (big-endian), then S bytes of stream
--   then   keyboard length K (2 bytes), K bytes; fault length F (1 byte), F
--          fault bytes (fuzzer only); the rest is the schedule.
-- Schedule bytes: 0-127 write b + 1 stream bytes; 128-191 write (b - 127) *
-- 512; 192-223 type b - 191 keyboard bytes; 224-239 read (b - 223) KiB
-- from the sinks; 240-251 one poll round; 252-255 close the keyboard. Only
-- the first 512 are used (each costs a poll round; this keeps a run fast).
local M = {}
local tc = require("dockerpty_test")

local HEAD = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n" ..
  "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"

function M.decode(input)
  local function b(i) return input:byte(i) or 0 end
  local function u16(i) return (b(i) << 8) | b(i + 1) end
  local c = {
    conn = b(1) & 1 ~= 0,
    errfunc = b(1) & 2 ~= 0,
    stdin = b(1) & 4 ~= 0,
    small = b(1) & 8 ~= 0,
    signal = b(1) & 16 ~= 0 and b(1) & 2 ~= 0,
    sinkfail = b(1) & 32 ~= 0,
    bufsize = 1024 + b(2) * 64,
    bound = 1 + u16(3),
  }
  c.keys = input:sub(6, 5 + b(5) % 4 + 1)
  if #c.keys == 0 then c.keys = "\16\17" end
  local pos = 12
  c.stream = input:sub(pos, pos + u16(10) - 1)
  pos = pos + #c.stream
  c.keyboard = input:sub(pos + 2, pos + 1 + u16(pos))
  pos = pos + 2 + #c.keyboard
  c.faults = input:sub(pos + 1, pos + b(pos))
  pos = pos + 1 + #c.faults
  c.schedule = input:sub(pos, pos + 511)
  return c
end

-- The reference demuxer: the whole stream at once. Returns stdout, stderr
-- and the ending: "ok", "header", "payload" (truncated at EOF), or
-- "protocol"/"daemon" with the message.
function M.demux(data)
  local out, err, pos = {}, {}, 1
  while pos <= #data do
    if #data - pos + 1 < 8 then return table.concat(out), table.concat(err), "header" end
    local kind = data:byte(pos)
    local len = string.unpack(">I4", data, pos + 4)
    local payload = data:sub(pos + 8, pos + 7 + len)
    if kind > 3 then
      return table.concat(out), table.concat(err), "protocol", "unrecognized stream type " .. kind
    elseif kind == 3 then
      if #payload < len then return table.concat(out), table.concat(err), "payload" end
      local text = payload:sub(1, 1024):gsub("[\r\n]+$", "")
      return table.concat(out), table.concat(err), "daemon", text
    end
    local t = kind == 2 and err or out
    t[#t + 1] = payload
    if #payload < len then return table.concat(out), table.concat(err), "payload" end
    pos = pos + 8 + len
  end
  return table.concat(out), table.concat(err), "ok"
end

-- What a failing sink (flag 32) ends with: the pump's status message and
-- name for each errno tune.fail gives.
local FAILS = {
  { "EPIPE", "Broken pipe" },
  { "ENOSPC", "No space left on device" },
  { "EIO", "Input/output error" },
}

-- The sink that fails: its number (1 stdout, 2 stderr; a function sink
-- cannot fail), fd, errno name, message and byte budget, or nil.
local function sink_failure(c, oa, ea)
  if not c.sinkfail then return nil end
  local function b(i) return c.faults:byte(i) or 0 end
  local k = (b(1) % 2 == 1 and ea) and 2 or 1
  local f = FAILS[(b(1) // 2) % 3 + 1]
  return { k = k, fd = k == 2 and ea or oa, name = f[1], msg = f[2], n = (b(2) << 8) | b(3) }
end

-- The reference escape proxy (docker's): a byte that breaks a partial
-- match releases it and is looked at again. Returns the forwarded bytes
-- and whether the keys were seen.
function M.escape(keys, data)
  local out, m = {}, 0
  for i = 1, #data do
    local c = data:sub(i, i)
    if m > 0 and c ~= keys:sub(m + 1, m + 1) then
      out[#out + 1] = keys:sub(1, m)
      m = 0
    end
    if c == keys:sub(m + 1, m + 1) then
      m = m + 1
      if m == #keys then return table.concat(out), true end
    else
      out[#out + 1] = c
    end
  end
  out[#out + 1] = keys:sub(1, m)
  return table.concat(out), false
end

local function check(cond, fmt, ...)
  if not cond then error(string.format(fmt, ...), 2) end
end

local function is_prefix(p, s) return s:sub(1, #p) == p end

-- The listening socket of the fake daemon, made once per process.
-- (the listener is in the specs' own module, spec/support/testcore.c)
local listener = {}
local function listen(path)
  if listener.path ~= path then
    os.remove(path)
    listener.fd = assert(tc.listen_unix(path))
    listener.path = path
  end
  return listener.fd
end

-- Run one input. opts: socket (path for the connection source; without it
-- the source is always a socketpair), strict (no byte may be lost when a
-- pump stops) and tune (fuzzer primitives: sndbuf(fd), inject(fd),
-- faults(s), reset()). Raises on a failed check.
function M.run(core, input, opts)
  opts = opts or {}
  local c = M.decode(input)
  local tune = opts.tune
  local fds, objs = {}, {}
  local function fd(x) fds[#fds + 1] = x; return x end
  local function cleanup()
    for _, o in ipairs(objs) do o:close() end
    for _, x in ipairs(fds) do tc.close(x) end
    if tune then tune.reset() end
  end
  local ok, err = pcall(function()
    local want_out, want_err, ending, msg = M.demux(c.stream)

    -- The source and the daemon's end of it.
    local src, dfd
    if c.conn and opts.socket then
      local lfd = listen(opts.socket)
      local conn = assert(core.connect{ socket = opts.socket })
      objs[#objs + 1] = conn
      dfd = fd(assert(tc.accept(lfd, 5000)))
      src = conn
    else
      local a, b = tc.socketpair()
      fd(a); dfd = fd(b)
      src = a
    end
    core.nonblock(dfd, true)
    -- Sinks: the user's stdout and stderr, read by us at our own pace.
    local oa, ob = tc.socketpair()
    fd(oa); fd(ob)
    core.nonblock(ob, true)
    local ea, eb, errsink
    local got_err, nraised, nsig = {}, 0, 0
    if c.errfunc then
      errsink = function(s)
        got_err[#got_err + 1] = s
        if c.signal then
          nraised = nraised + 1
          tc.kill(tc.getpid(), "USR1")
        end
      end
    else
      ea, eb = tc.socketpair()
      fd(ea); fd(eb)
      core.nonblock(eb, true)
      errsink = ea
    end
    local sf = tune and sink_failure(c, oa, ea)
    if tune then
      tune.faults(c.faults)
      if sf then tune.fail(sf.fd, sf.n, sf.name) end
      if src ~= dfd and type(src) == "number" then tune.inject(src) end
      tune.inject(oa)
      if ea then tune.inject(ea) end
      if c.small then
        tune.sndbuf(oa)
        if ea then tune.sndbuf(ea) end
      end
    end

    local pout = core.pump{ from = src, to = oa, err = errsink, demux = true,
                            bound = c.bound, bufsize = c.bufsize }
    objs[#objs + 1] = pout
    local lp = core.loop():add(pout)
    if c.signal then lp:signals(nil, { "USR1" }, function() nsig = nsig + 1 end) end
    local pin, kr, kw
    if c.stdin then
      kr, kw = tc.socketpair()
      fd(kr); fd(kw)
      core.nonblock(kw, true)
      if tune then tune.inject(kr) end
      pin = core.pump{ from = kr, to = src, detach_keys = c.keys, on_eof = "shutdown",
                       bufsize = c.bufsize, bound = c.bound }
      objs[#objs + 1] = pin
      pin:link(pout)
      lp:add(pin)
    end

    local got_out, got_in = {}, {}
    local function drain(budget)
      local function one(sfd, into)
        local left = budget
        while left > 0 do
          local s = core.read(sfd, math.min(left, 16384))
          if not s then break end
          into[#into + 1] = s
          left = left - #s
        end
      end
      one(ob, got_out)
      if eb then one(eb, got_err) end
    end
    local function read_daemon()
      while true do
        local s = core.read(dfd, 4096)
        if not s then break end
        got_in[#got_in + 1] = s
      end
    end
    local function round()
      local how = lp:run(0)
      check(how == "timeout" or how == "done", "loop:run(0) returned %s", tostring(how))
      read_daemon()
      return how
    end
    local function active(p)
      local st = p:status()
      return st == "running" or st == "flushing"
    end

    -- The stream, written in the chunks the schedule asks for, while the
    -- output pump still reads. A write that cannot go on (the pump is held
    -- back by full sinks) reads the sinks and runs a round.
    local spos, kpos = 1, 1
    local function send(n)
      local stalls = 0
      local stop = math.min(#c.stream, spos + n - 1)
      while spos <= stop and pout:status() == "running" do
        local w = core.write(dfd, c.stream:sub(spos, stop))
        if not w or w == 0 then
          stalls = stalls + 1
          check(stalls < 10000, "stream writes stalled at byte %d", spos)
          drain(math.huge)
          round()
        else
          spos = spos + w
        end
      end
    end
    local function type_keys(n)
      if not kw then return end
      local w = core.write(kw, c.keyboard:sub(kpos, kpos + n - 1))
      kpos = kpos + (w or 0)
    end
    local function close_keyboard()
      if not kw then return end
      for j = #fds, 1, -1 do
        if fds[j] == kw then table.remove(fds, j) end
      end
      tc.close(kw)
      kw = nil
    end

    local schedule, i = c.schedule, 1
    if c.conn and opts.socket then
      -- The upgrade head and the first chunk in one write: what
      -- read_head reads past the head stays in the connection's pre-buffer.
      local op, lead = schedule:byte(1) or 255, 0
      if op < 128 then lead = op + 1 elseif op < 192 then lead = (op - 127) * 512 end
      if lead > 0 then i = 2 end
      local first = HEAD .. c.stream:sub(1, lead)
      local w = core.write(dfd, first)
      check(w == #first, "upgrade head: wrote %s of %d bytes", tostring(w), #first)
      spos = spos + math.min(lead, #c.stream)
      local status, reason = src:read_head(5000)
      check(status == 101, "read_head: %s %s", tostring(status), tostring(reason))
    end
    if tune and c.small then tune.sndbuf(dfd) end
    while i <= #schedule and spos <= #c.stream do
      local op = schedule:byte(i)
      i = i + 1
      if op < 128 then send(op + 1)
      elseif op < 192 then send((op - 127) * 512)
      elseif op < 224 then type_keys(op - 191)
      elseif op < 240 then drain((op - 223) * 1024)
      elseif op >= 252 then close_keyboard()
      end -- 240-251: a poll round only
      round()
    end
    -- The rest, then EOF on both.
    send(#c.stream)
    tc.shutdown(dfd)
    while kw and kpos <= #c.keyboard and active(pin) do
      type_keys(#c.keyboard)
      round()
    end
    close_keyboard()
    -- Until the loop has nothing left to wait for (every pump waits).
    local rounds = 0
    repeat
      rounds = rounds + 1
      check(rounds < 100000, "pumps did not finish: %s %s", pout:status(), pin and pin:status() or "")
      drain(math.huge)
    until round() == "done"
    drain(math.huge)
    read_daemon()

    -- Checks. The keyboard may have been closed before all of it was typed.
    local want_in, will_detach = M.escape(c.keys, c.keyboard:sub(1, kpos - 1))
    local out, errs, ins = table.concat(got_out), table.concat(got_err), table.concat(got_in)
    local st, emsg, ename = pout:status()
    local stats = pout:stats()
    local detached = pin and pin:status() == "detached"
    local capmax = c.bufsize + 2 * math.max(65536, 2 * (c.bound + c.bufsize))
    check(stats.capacity <= capmax, "capacity %d above %d", stats.capacity, capmax)
    -- A pump that stops (stream error, detach) drops what its sinks still
    -- hold: at most bound + one read per sink (finding F5-1 in
    -- spec/fuzz/README.md). opts.strict demands nothing lost.
    local function delivered(got, want, what)
      if opts.strict then
        check(got == want, "%s: %d bytes, want %d (%s)", what, #got, #want, ending)
      else
        check(is_prefix(got, want), "%s: %d bytes, not a prefix of the %d wanted (%s)",
              what, #got, #want, ending)
        check(#want - #got <= c.bound + c.bufsize + 32, "%s: %d bytes lost (%s)", what,
              #want - #got, ending)
      end
    end
    if pin then
      local ps = pin:stats()
      local function pstat() return ("stdin pump %s, in %d out %d pending %d"):format(
        pin:status(), ps.bytes_in, ps.bytes_out, ps.pending) end
      check(detached == will_detach, "stdin pump: %s, reference detached: %s (%s)", pin:status(),
            tostring(will_detach), pstat())
      if detached then
        delivered(ins, want_in, "stdin before the detach keys")
      else
        check(pin:status() == "done", "stdin pump ended %s", pin:status())
        check(ins == want_in, "stdin: the daemon got %q, want %q (%s)", ins, want_in, pstat())
      end
    end
    -- A sink that failed took its bytes whole and in order, and the pump
    -- ended with the write's error at once (unless a stream error or a
    -- detach ended it first); the other sink got a prefix of its part.
    local sf_want = sf and (sf.k == 1 and want_out or want_err)
    if sf and #sf_want > sf.n and not (detached and st == "cancelled") then
      local got, other = out, errs
      local owant = want_err
      if sf.k == 2 then got, other, owant = errs, out, want_out end
      check(got == sf_want:sub(1, sf.n), "failing sink %d: %d bytes, want %d", sf.k, #got, sf.n)
      check(is_prefix(other, owant), "the other sink got no prefix of its part")
      if ename == sf.name then
        check(st == nil and emsg == sf.msg and stats.failed_sink == sf.k,
              "status %s %q %s failed_sink %s, want %q", st, tostring(emsg), tostring(ename),
              tostring(stats.failed_sink), sf.msg)
      else
        check(st == nil and (ending == "protocol" or ending == "daemon") and ename == ending,
              "sink %d never failed: status %s %s %s (%s)", sf.k, st, tostring(emsg), tostring(ename), ending)
      end
      return
    end
    if detached and st == "cancelled" then
      check(is_prefix(out, want_out), "stdout after detach is not a prefix")
      check(is_prefix(errs, want_err), "stderr after detach is not a prefix")
      return
    end
    if ending == "protocol" or ending == "daemon" then
      check(st == nil and emsg == msg and ename == ending,
            "status %s %q %s, want error %q %s", st, tostring(emsg), tostring(ename), msg, ending)
      delivered(out, want_out, "stdout before the error")
      delivered(errs, want_err, "stderr before the error")
    else
      check(out == want_out, "stdout: %d bytes, want %d (%s)", #out, #want_out, ending)
      check(errs == want_err, "stderr: %d bytes, want %d (%s)", #errs, #want_err, ending)
      check(st == "done", "status %s %s, want done", st, tostring(emsg))
      check(stats.truncated == (ending ~= "ok" and ending or nil), "truncated %s, want %s",
            tostring(stats.truncated), ending)
      check(stats.bytes_in == #c.stream, "bytes_in %d, want %d", stats.bytes_in, #c.stream)
      check(stats.bytes_out == #want_out + #want_err, "bytes_out %d", stats.bytes_out)
    end
    check(nsig <= nraised, "%d signals handled, %d raised", nsig, nraised)
  end)
  cleanup()
  if not ok then error(err, 0) end
end

return M
