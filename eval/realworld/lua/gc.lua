-- The garbage collector: weak tables, finalizers (__gc) in order, resurrection,
-- incremental and generational modes, collectgarbage options, many short strings
-- and tables, to-be-closed variables.
local N = tonumber(arg and arg[1]) or 1

local weak = setmetatable({}, {__mode = "k"})
do
    for i = 1, 100 do weak[{}] = i end
end
collectgarbage()
assert(next(weak) == nil, "weak keys collected")

local weakv = setmetatable({}, {__mode = "v"})
local keep = {}
for i = 1, 100 do local t = {i}; weakv[i] = t; if i % 10 == 0 then keep[#keep + 1] = t end end
collectgarbage()
local alive = 0
for i = 1, 100 do if weakv[i] then alive = alive + 1 end end
assert(alive == 10, "weak values: " .. alive)

-- finalizers run in reverse order of marking
local order = {}
for i = 1, 5 do setmetatable({}, {__gc = function() order[#order + 1] = i end}) end
collectgarbage()
assert(table.concat(order, ",") == "5,4,3,2,1", table.concat(order, ","))

-- resurrection
local saved
setmetatable({name = "phoenix"}, {__gc = function(o) saved = o end})
collectgarbage()
assert(saved and saved.name == "phoenix")

-- allocation churn in both collector modes
local function churn(n)
    local live = {}
    for i = 1, n do
        live[i % 64 + 1] = {i, tostring(i), {i}}
        local s = "s" .. i
        if #s == 0 then error("impossible") end
    end
    return #live
end
assert(collectgarbage("incremental") ~= nil)
assert(churn(5000 * N) == 64)
collectgarbage("generational")
assert(churn(5000 * N) == 64)
collectgarbage("incremental")
assert(collectgarbage("count") > 0 and collectgarbage("isrunning"))
collectgarbage("stop"); assert(not collectgarbage("isrunning")); collectgarbage("restart")
collectgarbage("step", 0)

-- strings are interned: equal contents, one object
local a, b = string.rep("ab", 10), ("ab"):rep(10)
assert(a == b)

-- to-be-closed variables close in reverse order
local log = {}
do
    local x <close> = setmetatable({}, {__close = function() log[#log + 1] = "x" end})
    local y <close> = setmetatable({}, {__close = function() log[#log + 1] = "y" end})
end
assert(table.concat(log) == "yx")
print("gc: weak, finalizers, resurrection, churn")
print("OK gc")
