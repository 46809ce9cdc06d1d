-- driver: plays MATCHES matches of a module for TICKS ticks in one VM, as gamed would (4
-- idle players each, but every player sends a MOVE every 4th tick), and prints the CPU time
-- per match-tick and the heap per match.
-- Usage: host driver.lua MODULE.lua MATCHES TICKS [PRELUDE|-] [nopack]
-- nopack: string.pack/unpack replaced by constant stubs, to compare the VMs on the module's
-- own logic alone.
local path, nmatches, nticks, prelude, nopack = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4], arg[5]
if prelude and prelude ~= "-" then dofile(prelude) end
local real_pack = string.pack
if nopack == "nopack" then
    string.pack = function() return "0123456789abcdef" end
    string.unpack = function() return 40, 60, 9 end
end
local f = assert(io.open(path, "rb"))
local src = f:read("*a")
f:close()
local sent = 0
collectgarbage("collect")
local kb0 = collectgarbage("count")
local matches = {}
for id = 1, nmatches do
    local M = assert(load(src, "=" .. path))()
    local players = {}
    for k = 1, 4 do players[k] = {user_id = id * 4 + k, name = "p" .. k} end
    local ctx = {match_id = id, mode = "bench", players = players}
    function ctx.broadcast(op, data) sent = sent + #data end
    function ctx.finish(r) ctx.done = true end
    function ctx.log() end
    local tick = 0
    function ctx.now_ms() return tick * 50 end
    function ctx.random() return math.random() end
    local s = M.init(ctx, {time_limit_ms = 3600000, players = 4, seed = id})
    for _, p in ipairs(players) do s = M.join(ctx, s, p) end
    matches[id] = {M = M, ctx = ctx, s = s, set_tick = function(t) tick = t end}
end
collectgarbage("collect")
local kb1 = collectgarbage("count")
local moves = {}
for k = 1, 4 do moves[k] = real_pack("<ff", 40 + k, 60 - k) end
local t0 = os.clock()
for t = 1, nticks do
    for id = 1, nmatches do
        local m = matches[id]
        m.set_tick(t)
        local msgs = {}
        if t % 4 == 0 then
            for k = 1, 4 do msgs[k] = {sender = id * 4 + k, op = 1, data = moves[k]} end
        end
        m.s = m.M.loop(m.ctx, m.s, t, msgs)
    end
end
local secs = os.clock() - t0
print(string.format("%s matches=%d ticks=%d us_per_match_tick=%.2f kib_per_match=%.1f out_mib=%.1f",
    _VERSION .. (jit and (" " .. jit.version) or ""), nmatches, nticks,
    secs * 1e6 / (nmatches * nticks), (kb1 - kb0) / nmatches, sent / 1048576))
