-- spec/fuzz/seeds.lua: writes the seed corpora spec/fuzz/corpus/<target>/
-- for stream framing, detach keys and data integrity (each file named
-- after what it holds). Run from the repository root: lua5.4 spec/fuzz/seeds.lua
-- The corpora are committed; `make fuzz` works on copies and never adds to
-- them. Input layouts are described in each harness (spec/fuzz/*.c).
local dir = arg[1] or "spec/fuzz/corpus"

local function frame(kind, payload, pad)
  return string.char(kind) .. (pad or "\0\0\0") .. string.pack(">I4", #payload) .. payload
end

local function cyclic(n)
  local t = {}
  for i = 0, n - 1 do t[#t + 1] = string.char(i % 256) end
  return table.concat(t)
end

local function write(target, name, data)
  os.execute("mkdir -p " .. dir .. "/" .. target)
  local f = assert(io.open(dir .. "/" .. target .. "/" .. name, "wb"))
  f:write(data)
  f:close()
end

-- F1 demux: byte 0 = number of chunk sizes (% 16), the sizes (b + 1), the stream.
local function demux(name, stream, sizes)
  sizes = sizes or ""
  write("demux", name, string.char(#sizes) .. sizes .. stream)
end
local two = frame(1, "hello\n") .. frame(2, "oops\n")
demux("c10-split-4-4", two, "\3\3\4")
demux("c10-split-2-6", two, "\1\5")
demux("c10-one-byte", two, "\0")
demux("c11-large-frame", frame(1, cyclic(32 * 1024 + 9)) .. frame(2, "x"), "\255\7")
demux("c13-all-bytes", frame(1, cyclic(512)) .. frame(2, cyclic(256):reverse()), "\99\12")
demux("c63-unknown-type", frame(1, "ok") .. "Invalid input\n", "\5")
demux("c64-systemerr", frame(1, "before") .. frame(3, "error from daemon\r\n") .. frame(1, "after"))
demux("c64-systemerr-long", frame(3, string.rep("e", 1500) .. "\n\n"), "\200")
demux("c65-stdin-is-stdout", frame(0, "zero") .. frame(1, "one"))
demux("c66-short-header", frame(1, "a") .. "\1\2\3")
demux("c67-truncated-payload", frame(1, "abc") .. string.char(2, 0, 0, 0, 0, 0, 0, 10) .. "12345")
demux("c68-oversized-length", string.char(1, 0, 0, 0, 255, 255, 255, 255) .. "some bytes", "\1")
demux("c69-zero-length", frame(1, "") .. frame(2, "") .. frame(1, "x") .. frame(3, ""))
demux("c70-padding", frame(1, "pad", "\1\2\3") .. frame(2, "ding", "\255\255\255"))
do
  local f = io.open("spec/fixtures/frames_stdout_stderr.bin", "rb")
  if f then demux("fixture-frames", f:read("a"), "\16\1\2\250"); f:close() end
end

-- F2 httphead: the bytes read from the connection so far.
local UPGRADE = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n" ..
  "Connection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: 1.41\r\n\r\n"
write("httphead", "c7-upgrade-raw", (UPGRADE:gsub("multiplexed", "raw")))
write("httphead", "c8-head-and-frame", UPGRADE .. frame(1, "hello"))
write("httphead", "c9-bare-lf", "HTTP/1.1 101 UPGRADED\nContent-Type: application/vnd.docker.raw-stream\n" ..
  "Connection: Upgrade\nUpgrade: tcp\n\n")
write("httphead", "c9-partial", "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\n")
write("httphead", "error-404", "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n" ..
  "Content-Length: 29\r\n\r\n{\"message\":\"No such exec\"}\n")
write("httphead", "error-409-chunked", "HTTP/1.0 409 Conflict\r\nTransfer-Encoding: chunked\r\n" ..
  "Server: Docker/24.0 (linux)\r\n\r\n1f\r\n")
write("httphead", "no-reason", "HTTP/1.1 200\r\nX-Empty:\r\nX-Tabs:\t v \t\r\n\r\n")
write("httphead", "obs-fold", "HTTP/1.1 200 OK\r\nX-A: 1\r\n continued\r\n\r\n")
write("httphead", "not-http", "SSH-2.0-OpenSSH_9.2\r\n")
write("httphead", "many-fields", "HTTP/1.1 200 OK\r\n" .. string.rep("X-F: v\r\n", 70) .. "\r\n")

-- F3 escape: byte 0 = key count (% 33), keys, chunk-size count (% 16),
-- sizes (b + 1), the typed input.
local function escape(name, keys, sizes, input)
  write("escape", name, string.char(#keys) .. keys .. string.char(#sizes) .. sizes .. input)
end
escape("c14-abc-replay", "abc", "\0", "aba\n")
escape("c45-ctrl-p-ctrl-q", "\16\17", "", "ls -l\n\16\17ignored")
escape("c49-split-across-reads", "\16\17", "\0\1", "echo hi\16\17")
escape("c49-partial-then-mismatch", "\16\17", "\1", "\16a\16\16\17")
escape("c49-repeated-prefix", "\16\17", "", "\16a\16\17")
escape("c49-four-keys", "\1\2\3\4", "\2\0", "x\1\2\3y\1\2\3\4z")
escape("c49-self-overlap", "aab", "\0", "aaab aab")
escape("held-at-eof", "\16\17", "\4", "typed\16")
escape("no-keys", "", "\7", cyclic(300))
escape("max-keys", string.rep("k", 32), "\31", string.rep("k", 31) .. "x" .. string.rep("k", 33))

-- F4 keys: output room byte, error size byte, the spec.
local function keys(name, spec, room, errlen)
  write("keys", name, string.char(room or 31, errlen or 127) .. spec)
end
keys("c45-default", "ctrl-p,ctrl-q")
keys("c46-ctrl-a-a", "ctrl-a,a")
keys("c47-mixed", "ctrl-@,ctrl-[,~,ctrl-o")
keys("c47-del-plus", "DEL,+")
keys("c47-shift-b", "shift-b")
keys("c47-empty-item", "ctrl-p,,ctrl-q")
keys("c47-trailing-comma", "ctrl-p,")
keys("c47-ctrl-only", "ctrl-")
keys("upper", "ctrl-P,CTRL-q")
keys("too-many", string.rep("a,", 40) .. "a", 3)
keys("short-error", "this-is-not-a-key", 31, 8)
keys("punct", "ctrl-\\,ctrl-],ctrl-^,ctrl-_,\255,\0")

-- F5 pump: see the layout in spec/fuzz/pump_driver.lua.
local function pump(name, flags, stream, keyboard, faults, schedule, bufsize, bound, dkeys)
  dkeys = dkeys or "\16\17"
  bound = bound or 65535
  local head = string.char(flags, bufsize or 0) .. string.pack(">I2", bound) ..
    string.char(#dkeys - 1) .. (dkeys .. "\0\0\0\0"):sub(1, 4)
  write("pump", name, head .. string.pack(">I2", #stream) .. stream ..
    string.pack(">I2", #keyboard) .. keyboard .. string.char(#faults) .. faults .. schedule)
end
local out = frame(1, "hello\n") .. frame(2, "oops\n") .. frame(1, cyclic(3000)) .. frame(2, cyclic(700))
pump("socketpair-plain", 0, out, "", "", "\3\200\5\240\1")
pump("c8-conn-head-and-frame", 1, out, "", "", "\20\1\2")
pump("conn-stderr-function", 3, out, "", "", "\130\230")
pump("c14-stdin-replay", 4, out, "aba\nab\16x\16\17after", "", "\195\3\196\200\198\240\255", 0, nil, "abc")
pump("c45-detach-cancels-output", 5, out .. frame(1, cyclic(4000)), "ls\n\16\17", "", "\1\196\2\3\4")
pump("backpressure-small-buffers", 8, frame(1, cyclic(20000)) .. frame(2, cyclic(9000)), "", "",
  "\191\191\240\240\224\191", 0, 1)
pump("faults-eintr-eagain-short", 4 + 8, out, "typing\16 more", "\0\170\200\230\0\255\161\193\225",
  "\3\200\5\230\240\1\2\3\253\130", 5, 300)
pump("c63-protocol-error", 0, frame(1, "ok") .. "Invalid input\n" .. frame(1, "never"), "", "", "\5\5")
pump("c64-daemon-error-slow-stdout", 8, frame(1, cyclic(30000)) .. frame(3, "boom\n"), "", "",
  "\191\240", 0, 100)
pump("c66-truncated-header", 2, frame(1, "a") .. "\1\2\3", "", "", "")
pump("c67-truncated-payload", 1, frame(2, "abc") .. string.char(1, 0, 0, 0, 0, 0, 0, 10) .. "12345",
  "", "", "\4")
pump("signals", 2 + 16, frame(2, cyclic(5000)) .. frame(1, "x"), "", "", "\1\1\1\240\240")
-- A sink that fails for good (flag 32; the fault bytes: sink and errno, then
-- the bytes it takes): EPIPE in the middle of a stdout frame, ENOSPC in a
-- stderr frame under small buffers, EIO on the first write with a stdin
-- pump, EPIPE before a daemon error.
pump("sink-epipe-mid-frame", 32, out, "", "\0\4\1", "\3\200\5\240\1")
pump("sink-enospc-stderr-small", 32 + 8, out, "", "\3\0\10", "\191\240\224\1")
pump("sink-eio-first-write-stdin", 32 + 4, out, "typing\16 more", "\4\0\0", "\195\3\240\255")
pump("sink-epipe-before-daemon-error", 32 + 8, frame(1, cyclic(30000)) .. frame(3, "boom\n"), "", "\0\50\0",
  "\191\240", 0, 100)

-- F6 vtmodes: chunk-size count (% 16), sizes (b + 1), the program's output.
local function vtmodes(name, sizes, output)
  write("vtmodes", name, string.char(#sizes) .. sizes .. output)
end
local E = "\27"
vtmodes("fullscreen-vi", "\3\0\7", E .. "[?1049h" .. E .. "[22;0;0t" .. E .. "[?1h" .. E .. "=" .. E .. "[H" ..
  E .. "[2J" .. E .. "[?25l~\r\n~\r\n" .. E .. "[7m-- INSERT --" .. E .. "[m" .. E .. "[?25h")
vtmodes("htop-mouse", "\5\1", E .. "[?1049h" .. E .. "[?1000;1006h" .. E .. "[?1002h" .. E .. "[?25l" ..
  E .. "[1;31;44mCPU" .. E .. "[38;5;0m" .. E .. "[48;2;1;2;3m")
vtmodes("every-mode-set", "\255", E .. "[?1003h" .. E .. "[?1002h" .. E .. "[?1000h" .. E .. "[?9h" ..
  E .. "[?1006h" .. E .. "[?1015h" .. E .. "[?1005h" .. E .. "[?1004h" .. E .. "[?2004h" .. E .. "=" ..
  E .. "[?1h" .. E .. "[?25l" .. E .. "[4:3m" .. E .. "[?47h")
vtmodes("set-then-reset", "\0", E .. "[?1049;1000;2004h" .. E .. "[1m" .. E .. "[?1049;1000;2004l" .. E .. "[0m")
vtmodes("full-reset", "\2", E .. "[?1049h" .. E .. "[?1003h" .. E .. "c" .. E .. "[?2004h")
vtmodes("malformed", "\1", E .. "[?1049 h" .. E .. "[1?25l" .. E .. "[>1049h" .. E .. "[?1049\24h" ..
  E .. "[?10" .. E .. "[?25l" .. E .. " =" .. E .. "\n=" .. E .. "[?10\r\n49h")
vtmodes("long-params", "\200\255", E .. "[?" .. string.rep("7;", 3000) .. "1049h" .. E .. "[" ..
  string.rep("9", 500) .. "m" .. E .. "[?" .. string.rep("0", 400) .. "2004h")
vtmodes("osc-and-dcs", "\9", E .. "]0;title " .. E .. "[?1049h\7" .. E .. "Ptmux;" .. E .. E .. "[?1000h" ..
  E .. "\\" .. E .. "[?1004h")
vtmodes("sgr-colours", "\4", E .. "[38;5;0;0m" .. E .. "[38:2::1:2:3m" .. E .. "[39m" .. E .. "[58;2;9;9;9m" ..
  E .. "[4:0;59;1m" .. E .. "[22m" .. E .. "[5;7;53m")
vtmodes("plain-text", "\30", cyclic(512):gsub("\27", "."))

-- F7 httpcodec: flags (1 HEAD, 2 body limit 64, 4 EOF after), chunk-size
-- count (% 16), sizes (b + 1), the bytes of the answer.
local function httpcodec(name, flags, sizes, answer)
  write("httpcodec", name, string.char(flags, #sizes) .. sizes .. answer)
end
httpcodec("length", 0, "\3\0", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" ..
  "Content-Length: 16\r\n\r\n{\"Id\":\"abc123\"}\nHTTP/1.1 200 OK\r\n")
httpcodec("chunked-ext-trailer", 0, "\0", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" ..
  "5;name=\"x\"\r\nhello\r\nA ; e\r\n, chunked!\r\n0\r\nX-Trailer: 1\r\nX-B: 2\r\n\r\nNEXT")
httpcodec("chunked-bare-lf", 0, "\1\2", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n")
httpcodec("continue-then-201", 0, "\6", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n" ..
  "Content-Length: 2\r\n\r\n{}")
httpcodec("until-eof", 4, "\9", "HTTP/1.0 200 OK\r\n\r\nup to the end")
httpcodec("cut-length", 4, "", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
httpcodec("empty", 4, "", "")
httpcodec("head-request", 1, "", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nApi-Version: 1.41\r\n\r\n")
httpcodec("no-content", 0, "", "HTTP/1.1 204 No Content\r\n\r\nrest")
httpcodec("upgrade", 0, "\4", "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" ..
  frame(1, "stream"))
httpcodec("bad-size", 0, "", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n")
httpcodec("bad-length", 0, "", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n")
httpcodec("two-lengths", 0, "", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc")
httpcodec("over-limit-chunk", 2, "\1", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" ..
  "41\r\n" .. string.rep("x", 65) .. "\r\n0\r\n\r\n")
httpcodec("over-limit-length", 2, "", "HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n")
httpcodec("huge-size", 0, "", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n")
httpcodec("long-head", 0, "\255", "HTTP/1.1 200 OK\r\n" .. string.rep("X-Long: " .. string.rep("y", 390) ..
  "\r\n", 50))

-- Failing inputs found by fuzzing, minimised (spec/fuzz/README.md "Findings").
-- F5-1: stdout held by a slow sink is dropped when an unknown stream type stops the pump.
pump("finding-f5-1-protocol-slow-stdout", 8, frame(1, cyclic(20000)) .. "Invalid input", "", "", "", 0, 2)
-- F5-1: typed bytes held by a full connection are dropped at the detach keys.
pump("finding-f5-1-detach-full-connection", 4 + 8, frame(1, "x"), "echo typed before detach\16\17",
  "\0\200", "\223", 0, 1)
