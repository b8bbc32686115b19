-- A small compute workload: recursive Fibonacci, an n-body-like float loop, a
-- string builder, a sieve, a table-heavy word count and a JSON-like serializer
-- with sorted keys. Prints results that both builds must agree on.
local N = tonumber(arg and arg[1]) or 1

local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local fibn = fib(16 + N)

local x, v = 0.0, 1.0
for i = 1, 20000 * N do local a = -x * 0.01; v = v + a * 0.01; x = x + v * 0.01 end

local limit = 10000 * N
local sieve, primes = {}, 0
for i = 2, limit do
    if not sieve[i] then primes = primes + 1; for j = i * i, limit, i do sieve[j] = true end end
end

local text = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "):rep(20 * N)
local counts = {}
for w in text:gmatch("%a+") do counts[w] = (counts[w] or 0) + 1 end

local function serialize(v, out)
    local t = type(v)
    if t == "table" then
        local keys = {}
        for k in pairs(v) do keys[#keys + 1] = k end
        table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
        out[#out + 1] = "{"
        for i, k in ipairs(keys) do
            if i > 1 then out[#out + 1] = "," end
            out[#out + 1] = string.format("%q:", tostring(k))
            serialize(v[k], out)
        end
        out[#out + 1] = "}"
    elseif t == "string" then
        out[#out + 1] = string.format("%q", v)
    else
        out[#out + 1] = tostring(v)
    end
end
local out = {}
serialize({fib = fibn, primes = primes, words = counts, x = string.format("%.6f", x), nested = {a = {b = {c = true}}}}, out)
print(table.concat(out))
print("OK compute")
