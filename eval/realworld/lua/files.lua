-- The io and os libraries and chunks: files written, read back by lines, numbers
-- and blocks, seek, a temporary file, remove and rename with their errors,
-- load/dofile/require of files, string.dump and binary chunks, os.date with a
-- fixed time, os.getenv, io.write to stdout.
local N = tonumber(arg and arg[1]) or 1
local name = "lua-files-test.txt"
local f = assert(io.open(name, "w"))
for i = 1, 100 * N do f:write(string.format("%d\t%s\n", i, ("x"):rep(i % 17))) end
f:write(3.25, " ", 17, "\n")
assert(f:close())

local n, bytes = 0, 0
for line in io.lines(name) do n = n + 1; bytes = bytes + #line + 1 end
assert(n == 100 * N + 1)
f = assert(io.open(name, "r"))
assert(f:seek("end") == bytes)
f:seek("set", 0)
local first = f:read("l")
assert(first == "1\tx")
local num = f:read("n")
assert(num == 2)
f:seek("set", bytes - 8)
assert(f:read("a") == "3.25 17\n")
f:close()
assert(io.type(f) == "closed file")

-- append, then read numbers
f = assert(io.open(name, "a+"))
f:write("42 43\n")
f:close()
f = assert(io.open(name))
local last
for l in f:lines() do last = l end
f:close()
assert(last == "42 43")

-- rename and remove, and their errors
assert(os.rename(name, name .. ".2"))
local ok, err = os.remove(name)
assert(not ok and err:find("No such file"))
assert(os.remove(name .. ".2"))
local nf, nerr = io.open("/nonexistent/dir/file")
assert(nf == nil and nerr:find("No such file"))

-- a temporary file
local tmp = io.tmpfile()
tmp:write("temp data")
tmp:seek("set")
assert(tmp:read("a") == "temp data")
tmp:close()

-- chunks from files and strings
local mod = "lua_files_mod.lua"
f = assert(io.open(mod, "w"))
f:write("local M = {}\nfunction M.twice(x) return 2 * x end\nreturn M\n")
f:close()
assert(dofile(mod).twice(21) == 42)
package.path = "./?.lua;" .. package.path
local M = require("lua_files_mod")
assert(M.twice(4) == 8 and package.loaded.lua_files_mod == M)
local nomod, merr = pcall(require, "no_such_module_xyz")
assert(not nomod and merr:find("module 'no_such_module_xyz' not found"))
os.remove(mod)

local fn = load("local a, b = ... return a * b")
assert(fn(6, 7) == 42)
local dumped = string.dump(function(x) return x + 1 end)
assert(load(dumped, "dumped", "b")(1) == 2)
assert(select(2, load(dumped, "dumped", "t")):find("attempt to load a binary chunk"))
local env = {y = 5}
assert(load("return y", "env", "t", env)() == 5)

-- os
assert(os.date("!%Y-%m-%d %H:%M:%S", 86400 * 365) == "1971-01-01 00:00:00")
local t = os.time({year = 2020, month = 2, day = 29, hour = 12})
assert(os.date("*t", t).yday == 60)
assert(os.getenv("NO_SUCH_VARIABLE_XYZ") == nil)
assert(type(os.clock()) == "number")
io.write("files: ", n, " lines, ", bytes, " bytes\n")
print("OK files")
