-- luajit_prelude: what LuaJIT 2.1 lacks for the example modules: string.pack/unpack for the
-- little-endian formats they use (I4 i4 I8 f B), through ffi (JIT-compiled like the rest).
local ffi = require("ffi")
ffi.cdef [[ typedef union { float f; uint32_t u; int32_t i; } bench_u4; ]]
local u4 = ffi.new("bench_u4")
local char, byte, floor = string.char, string.byte, math.floor
local formats = {}
local function parse(fmt)
    local items = formats[fmt]
    if items then return items end
    items = {}
    local i = 2 -- skip '<'
    while i <= #fmt do
        local c = fmt:sub(i, i)
        if c == "I" or c == "i" then items[#items + 1] = c .. fmt:sub(i + 1, i + 1); i = i + 2
        else items[#items + 1] = c; i = i + 1 end
    end
    formats[fmt] = items
    return items
end
local function le(v, n)
    local t = {}
    for k = 1, n do t[k] = v % 256; v = floor(v / 256) end
    return char(unpack(t))
end
function string.pack(fmt, ...)
    local items, out = parse(fmt), {}
    for k = 1, #items do
        local it, v = items[k], select(k, ...)
        if it == "f" then u4.f = v; out[k] = le(tonumber(u4.u), 4)
        elseif it == "I4" then out[k] = le(v, 4)
        elseif it == "i4" then out[k] = le(v < 0 and v + 4294967296 or v, 4)
        elseif it == "I8" then out[k] = le(v, 8)
        else out[k] = char(v) end
    end
    return table.concat(out)
end
function string.unpack(fmt, s, pos)
    local items, res, p = parse(fmt), {}, pos or 1
    for k = 1, #items do
        local it = items[k]
        if it == "B" then res[k] = byte(s, p); p = p + 1
        else
            local n = it == "I8" and 8 or 4
            local v = 0
            for j = n, 1, -1 do v = v * 256 + byte(s, p + j - 1) end
            if it == "f" then u4.u = v; v = tonumber(u4.f)
            elseif it == "i4" and v >= 2147483648 then v = v - 4294967296 end
            res[k] = v
            p = p + n
        end
    end
    res[#items + 1] = p
    return unpack(res, 1, #items + 1)
end
table.unpack = table.unpack or unpack
