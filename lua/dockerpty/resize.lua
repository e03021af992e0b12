--- The first resize of a remote tty, retried as the docker CLI does: right
-- after start the process may not have its tty yet, and the daemon refuses
-- the resize. One try, then up to `TRIES` more, the n-th after a sleep of
-- n * `STEP_MS` (10, 20 ... 100 ms: 550 ms in all); the caller warns
-- ("failed to resize tty, using default size") when none succeeded, unless
-- the session ended meanwhile (a process that exits at once cannot be
-- resized, and the docker CLI, whose retries run beside its streams, has
-- exited by then).
-- @module dockerpty.resize
local M = {}

--- Retries after the first try.
M.TRIES = 10
--- The n-th retry waits n times this long (ms).
M.STEP_MS = 10

--- Call `resize()` until it returns true, at most 1 + `tries` times,
-- waiting between tries with `sleep(ms)`; a `sleep` that returns true
-- (the session ended meanwhile) stops the retries.
-- @tparam function resize returns true on success (false, err otherwise)
-- @tparam function sleep called with the milliseconds to wait
-- @tparam[opt] integer tries default `M.TRIES`
-- @treturn boolean whether a try succeeded
-- @treturn integer the tries made
-- @return the error of the last try, when none succeeded
-- @treturn boolean true when `sleep` stopped the retries
-- @usage if not resize.retry(function() return op:try_resize(24, 80) end, core.sleep) then warn() end
function M.retry(resize, sleep, tries)
  tries = tries or M.TRIES
  local ok, err = resize()
  local n = 1
  while not ok and n <= tries do
    if sleep(n * M.STEP_MS) then return false, n, err, true end
    ok, err = resize()
    n = n + 1
  end
  if ok then return true, n end
  return false, n, err
end

return M
