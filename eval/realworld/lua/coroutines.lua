-- Coroutines: generators, a producer/consumer pipeline, yields across pcall and
-- metamethods, coroutine.close, wrap, status, isyieldable, running.
local N = tonumber(arg and arg[1]) or 1

local function gen(n)
    return coroutine.wrap(function() for i = 1, n do coroutine.yield(i) end end)
end
local sum = 0
for v in gen(1000 * N) do sum = sum + v end
assert(sum == (1000 * N) * (1000 * N + 1) // 2)

-- a pipeline of three coroutines
local function producer(n)
    return coroutine.create(function() for i = 1, n do coroutine.yield(string.format("line %d", i)) end end)
end
local function filter(src)
    return coroutine.create(function()
        while true do
            local ok, line = coroutine.resume(src)
            if not line then return end
            if tonumber(line:match("%d+")) % 3 == 0 then coroutine.yield(line:upper()) end
        end
    end)
end
local count, last = 0, nil
local f = filter(producer(300 * N))
while true do
    local ok, line = coroutine.resume(f)
    assert(ok)
    if not line then break end
    count, last = count + 1, line
end
assert(count == 100 * N and last == string.format("LINE %d", 300 * N))

-- yield across pcall (5.4 allows it)
local co = coroutine.create(function()
    local ok, v = pcall(function() local x = coroutine.yield("in pcall"); error("after " .. x) end)
    coroutine.yield(ok, v)
    return "done"
end)
assert(select(2, coroutine.resume(co)) == "in pcall")
local _, ok, v = coroutine.resume(co, "resume")
assert(ok == false and v:find("after resume"))
assert(select(2, coroutine.resume(co)) == "done" and coroutine.status(co) == "dead")

-- yield from a metamethod
local mt = {__add = function(a, b) return coroutine.yield("adding") end}
local co2 = coroutine.wrap(function() return setmetatable({}, mt) + 1 end)
assert(co2() == "adding" and co2(99) == 99)

-- close a suspended coroutine with pending to-be-closed variables
local closed = false
local co3 = coroutine.create(function()
    local x <close> = setmetatable({}, {__close = function() closed = true end})
    coroutine.yield()
end)
coroutine.resume(co3)
assert(coroutine.close(co3) and closed and coroutine.status(co3) == "dead")
assert(coroutine.isyieldable() == false and select(2, coroutine.running()) == true)

-- many coroutines alive at once
local cos = {}
for i = 1, 200 * N do
    cos[i] = coroutine.create(function(a) local b = coroutine.yield(a * 2); return a + b end)
    assert(select(2, coroutine.resume(cos[i], i)) == i * 2)
end
local total = 0
for i = 1, #cos do total = total + select(2, coroutine.resume(cos[i], 1)) end
assert(total == (200 * N) * (200 * N + 1) // 2 + 200 * N)
print(string.format("coroutines: %d filtered, sum %d", count, sum))
print("OK coroutines")
