-- Errors and protected calls: pcall and xpcall, nested protected calls that
-- return before an outer one catches (Lua's luaD_rawrunprotected is one setjmp
-- site for all of them), errors from metamethods, from C functions and from
-- coroutines, error objects, tracebacks, stack overflows caught by pcall.
local N = tonumber(arg and arg[1]) or 1
local caught = 0
local function expect_error(f, pattern, ...)
    local ok, msg = pcall(f, ...)
    assert(not ok, "no error for " .. pattern)
    if type(msg) == "string" then assert(msg:find(pattern), msg .. " !~ " .. pattern) end
    caught = caught + 1
    return msg
end

expect_error(function() error("plain") end, "plain")
expect_error(function() error({code = 7}) end, "")
expect_error(function() local x = nil; return x.field end, "attempt to index a nil value")
expect_error(function() return 1 + {} end, "attempt to perform arithmetic")
expect_error(function() return #5 end, "attempt to get length")
expect_error(function() return ("x"):rep(-1) .. nil end, "attempt to concatenate")
expect_error(string.rep, "bad argument #1")
expect_error(function() return setmetatable({}, {__index = function() error("in index") end}).x end, "in index")
expect_error(function() return math.floor("x") end, "number expected")
expect_error(function() return ("x"):rep(1 << 40) end, "too large")
expect_error(function() return string.format("%d", 1.5) end, "number has no integer representation")
expect_error(load, "bad argument")
local f, err = load("return +")
assert(f == nil and err:find("unexpected symbol"), err)
caught = caught + 1

-- error objects and levels
local ok, obj = pcall(error, {code = 42})
assert(not ok and obj.code == 42)
local ok2, msg2 = pcall(function() error("at level 2", 2) end)
assert(not ok2 and msg2:find("at level 2"))

-- nested protected calls: an inner one returns normally, then an error reaches
-- the outer one (issue 17's first false positive, in Lua's own code)
for i = 1, 50 * N do
    local outer_ok, outer_msg = pcall(function()
        local inner_ok = pcall(function() return i end)
        assert(inner_ok)
        local inner2 = pcall(pcall, error, "deep")
        assert(inner2)
        error("outer " .. i)
    end)
    assert(not outer_ok and outer_msg:find("outer " .. i))
end

-- xpcall with a message handler and a traceback
local ok3, tb = xpcall(function() local t = nil; return t[1] end, debug.traceback)
assert(not ok3 and tb:find("stack traceback"))
local ok4, h = xpcall(function() error("x") end, function(m) return "handled: " .. m end)
assert(not ok4 and h:find("^handled: "))

-- errors inside coroutines
local co = coroutine.create(function() coroutine.yield(1); error("in coroutine") end)
assert(select(2, coroutine.resume(co)) == 1)
local okc, msgc = coroutine.resume(co)
assert(not okc and msgc:find("in coroutine") and coroutine.status(co) == "dead")
expect_error(coroutine.wrap(function() error("wrapped") end), "wrapped")

-- a Lua stack overflow, caught (Lua-to-Lua calls: no C recursion)
local function rec(n) return 1 + rec(n + 1) end
expect_error(rec, "stack overflow", 1)
-- a C stack overflow, caught: recursion through a metamethod and pcall nests C calls
local deep = setmetatable({}, {__index = function(t, k) return t[k + 1] end})
expect_error(function() return deep[1] end, "stack overflow")
-- string.gsub with an erroring callback
expect_error(function() return ("abc"):gsub(".", function(c) if c == "b" then error("cb " .. c) end end) end, "cb b")
-- to-be-closed variables run on error
local closed = {}
pcall(function()
    local a <close> = setmetatable({}, {__close = function(_, e) closed[#closed + 1] = e and "err" or "ok" end})
    error("with close")
end)
assert(closed[1] == "err")
-- errors in __gc are warnings, not errors
setmetatable({}, {__gc = function() error("in gc") end})
collectgarbage()
print(string.format("errors: %d caught", caught))
print("OK errors")
