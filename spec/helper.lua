-- spec/helper.lua: loaded by busted before every spec file (see .busted).
-- Makes sure the freshly built module is the one under test: the build
-- directory comes from DP_BUILD (set by the Makefile), default ./build.
local build = os.getenv("DP_BUILD") or "build"
if build:sub(1, 1) ~= "/" then build = "./" .. build end
package.path = "./lua/?.lua;./lua/?/init.lua;./spec/?.lua;" .. package.path
package.cpath = build .. "/?.so;" .. package.cpath
