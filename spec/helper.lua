-- spec/helper.lua: loaded by busted before every spec file (see .busted).
-- Makes sure the freshly built module is the one under test.
package.path = "./lua/?.lua;./lua/?/init.lua;./spec/?.lua;" .. package.path
package.cpath = "./build/?.so;" .. package.cpath
