-- Read as `lua -` from standard input (the interpreter's other way to get a chunk).
local t = {}
for i = 1, 6 do t[#t + 1] = i * 7 end
print("from stdin " .. t[6])
