-- Closures, varargs, integers and floats, bitwise operators, goto, the string
-- library (format, patterns, pack), utf8, table functions, math. Deterministic:
-- prints nothing that depends on addresses, time or hash order.
local N = tonumber(arg and arg[1]) or 1
local checks = 0
local function check(c, what) checks = checks + 1; assert(c, what) end

-- closures and upvalues
local function counter() local n = 0; return function(k) n = n + (k or 1); return n end end
local c1, c2 = counter(), counter()
for i = 1, 100 * N do c1(); c2(2) end
check(c1() == 100 * N + 1 and c2(0) == 200 * N, "closures")

-- varargs
local function pack2(...) return select('#', ...), {...} end
local n, t = pack2(1, nil, 3, nil)
check(n == 4 and t[3] == 3, "varargs")
check(select(-1, 1, 2, 3) == 3, "select negative")
check(table.unpack({1, 2, 3}, 2) == 2, "unpack")

-- integers, floats, conversions
check(math.maxinteger + 1 == math.mininteger, "wraparound")
check(7 // 2 == 3 and -7 // 2 == -4 and 7 % -3 == -2, "integer division")
check(3 / 2 == 1.5 and math.type(3 // 1) == "integer" and math.type(3 / 1) == "float", "float division")
check(0x10 == 16 and 1e2 == 100.0 and tostring(1e100) == "1e+100", "numerals")
check(string.format("%5.2f|%d|%x|%g|%q", 3.14159, 42, 255, 0.1, "a\nb") == ' 3.14|42|ff|0.1|"a\\\nb"', "format")
check(math.tointeger(3.0) == 3 and math.tointeger(3.5) == nil, "tointeger")
check(tonumber("0x1p4") == 16.0 and tonumber("z", 36) == 35 and tonumber("  10  ") == 10, "tonumber")
check((1 << 62) >> 61 == 2 and (~0) == -1 and (5 & 3) == 1 and (5 | 3) == 7 and (5 ~ 3) == 6, "bitwise")

-- goto
do
    local i, s = 1, 0
    ::top::
    s = s + i; i = i + 1
    if i <= 10 then goto top end
    check(s == 55, "goto")
end

-- strings and patterns
local words = {}
for w in string.gmatch("the quick brown fox jumps over the lazy dog", "%a+") do words[#words + 1] = w end
check(#words == 9 and table.concat(words, ","):sub(1, 9) == "the,quick", "gmatch")
check(("hello world"):gsub("o", "0") == "hell0 w0rld", "gsub")
check(select(2, ("abcabc"):gsub("b", "%0%0")) == 2, "gsub count")
check(("key = value"):match("^(%w+)%s*=%s*(%w+)$") == "key", "match")
check(("  trim  "):match("^%s*(.-)%s*$") == "trim", "trim")
check(("%bxy"):len() == 4 and ("f(a(b)c)d"):match("%b()") == "(a(b)c)", "balanced")
check(("THE (quick) fox"):find("%((%a+)%)") == 5, "find")
check(("x"):rep(3, ",") == "x,x,x" and ("abc"):reverse() == "cba" and ("abc"):byte(2) == 98, "rep")
check(string.char(72, 105) == "Hi" and ("MiXeD"):lower() == "mixed", "char/lower")
local s = {}
for i = 1, 200 * N do s[#s + 1] = string.format("%04d", i) end
local joined = table.concat(s)
check(#joined == 800 * N and joined:sub(-4) == string.format("%04d", 200 * N), "concat")
local frontier = ("THE (quick) fox"):gsub("%f[%a]%a+", function(w) return w:upper() end)
check(frontier == "THE (QUICK) FOX", "frontier")

-- string.pack
local packed = string.pack("<i4 d z s1", -2, 1.5, "zs", "abc")
local a, b, z, s1 = string.unpack("<i4 d z s1", packed)
check(a == -2 and b == 1.5 and z == "zs" and s1 == "abc" and #packed == 4 + 8 + 3 + 4, "pack")

-- utf8
local u = utf8.char(72, 228, 8364, 128512)
check(utf8.len(u) == 4 and #u == 1 + 2 + 3 + 4, "utf8.len")
local cps = {}
for _, cp in utf8.codes(u) do cps[#cps + 1] = cp end
check(cps[4] == 128512 and utf8.codepoint(u, utf8.offset(u, 3)) == 8364, "utf8.codes")
check(utf8.len("\xff") == nil, "utf8 invalid")

-- tables
local arr = {}
for i = 1, 500 * N do arr[i] = (i * 7919) % 1009 end
table.sort(arr)
for i = 2, #arr do if arr[i - 1] > arr[i] then error("not sorted") end end
table.sort(arr, function(x, y) return x > y end)
check(arr[1] >= arr[#arr], "sort with comparator")
local m = table.move({1, 2, 3}, 1, 3, 2, {9})
check(table.concat(m, "") == "9123", "move")
table.insert(m, 1, 0); table.remove(m)
check(table.concat(m, "") == "0912", "insert/remove")
local mt = setmetatable({}, {__index = function(_, k) return k * 2 end, __len = function() return 42 end})
check(mt[21] == 42 and #mt == 42, "metamethods")
local V = {}
V.__add = function(x, y) return setmetatable({x[1] + y[1]}, V) end
V.__eq = function(x, y) return x[1] == y[1] end
V.__lt = function(x, y) return x[1] < y[1] end
V.__concat = function(x, y) return "v" .. x[1] .. "v" .. y[1] end
V.__call = function(self, k) return self[1] * k end
V.__tostring = function(self) return "V(" .. self[1] .. ")" end
local v1, v2 = setmetatable({1}, V), setmetatable({2}, V)
check((v1 + v2)[1] == 3 and v1 < v2 and v1 + v1 == v2 and v1 .. v2 == "v1v2" and v2(5) == 10, "operators")
check(tostring(v2) == "V(2)", "__tostring")

-- math
check(math.floor(-3.5) == -4 and math.ceil(-3.5) == -3 and math.abs(math.mininteger) == math.mininteger, "math")
check(math.fmod(7, 3) == 1 and math.ult(1, -1) and math.max(3, 9, 1) == 9, "math 2")
math.randomseed(42)
local r1 = math.random(1, 100)
math.randomseed(42)
check(math.random(1, 100) == r1, "seeded random")
check(string.format("%.6f", math.sin(1)) == "0.841471" and math.pi > 3.14159, "math 3")

print(string.format("basics: %d checks", checks))
print("OK basics")
