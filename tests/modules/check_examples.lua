-- check_examples: plays the shipped example modules (modules/arena_lua.lua, modules/tag.lua)
-- to their end under plain lua5.4, without the cluster: a ctx of its own (the API of
-- DESIGN.md "Game modules"), the sandbox's libraries only, scripted players that read the
-- broadcasts as a client would, and assertions on the ops' layouts, the refusals of bad
-- input, the results given to ctx.finish and replay from the same seed.
-- Usage: lua5.4 check_examples.lua MODULES_DIR   (exit status 0 when every check passes)

local dir = arg[1] or "modules"
local failures, checks = 0, 0

local function check(cond, what)
    checks = checks + 1
    if not cond then
        failures = failures + 1
        io.stderr:write("FAIL: " .. what .. "\n")
    end
end

-- The sandbox of DESIGN.md: base, string, table, math, utf8; no io/os/debug/require/load of
-- binary chunks.
local function sandbox()
    local env = {}
    for _, k in ipairs({ "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
        "tonumber", "tostring", "type", "xpcall", "rawequal", "rawget", "rawlen", "rawset",
        "setmetatable", "getmetatable" }) do env[k] = _G[k] end
    for _, lib in ipairs({ "string", "table", "math", "utf8" }) do
        local t = {}
        for k, v in pairs(_G[lib]) do t[k] = v end
        env[lib] = t
    end
    return env
end

local function load_module(name)
    local chunk, err = loadfile(dir .. "/" .. name .. ".lua", "t", sandbox())
    assert(chunk, err)
    return chunk()
end

-- A ctx with a seeded generator (splitmix64, as the arena's), recording what the module sends.
local function new_ctx(mode, players, seed)
    local ctx = { match_id = 1, mode = mode, players = players, sent = {}, finished = nil,
                  tick = 0, tick_ms = 50 }
    local rng = seed
    function ctx.random()
        rng = rng + 0x9E3779B97F4A7C15
        local z = rng
        z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
        z = (z ~ (z >> 27)) * 0x94D049BB133111EB
        z = z ~ (z >> 31)
        return (z >> 11) * (1.0 / 9007199254740992.0)
    end
    function ctx.broadcast(op, data, to)
        assert(math.type(op) == "integer" and type(data) == "string", "broadcast arguments")
        ctx.sent[#ctx.sent + 1] = { op = op, data = data, to = to }
    end
    function ctx.finish(results)
        assert(ctx.finished == nil, "finish called twice")
        ctx.finished = results
    end
    function ctx.log() end
    function ctx.now_ms() return ctx.tick * ctx.tick_ms end
    return ctx
end

-- Runs a match: bots(ctx, sent, tick) returns the messages of the next tick. Returns ctx and
-- the number of ticks run.
local function run(M, mode, nplayers, seed, time_limit_ms, bots)
    local players = {}
    for i = 1, nplayers do players[i] = { user_id = 1000 + i, name = "p" .. i } end
    local ctx = new_ctx(mode, players, seed)
    local s, rate = M.init(ctx, { time_limit_ms = time_limit_ms, players = nplayers,
                                  seed = seed })
    check(rate == 20, mode .. ": tick rate 20")
    for i = 1, nplayers do s = M.join(ctx, s, players[i]) end
    local messages = {}
    while not ctx.finished and ctx.tick < 2 * time_limit_ms // 50 do
        ctx.sent = {}
        s = M.loop(ctx, s, ctx.tick, messages)
        ctx.tick = ctx.tick + 1
        messages = bots(ctx, ctx.sent, ctx.tick)
    end
    return ctx, ctx.tick
end

-- ---- arena_lua

local AR_SIZE = { [100] = 76, [101] = 20, [102] = 12, [103] = 16, [104] = 20, [105] = 20,
    [106] = 12, [107] = 12, [108] = 17, [109] = 24, [110] = 8, [111] = 8, [112] = 33,
    [113] = 8 }

-- Players who chase the nearest monster, hit it when in range and drink below 40 hp. They
-- know the world only from the broadcasts.
local function arena_bots(nplayers)
    local w = { mons = {}, me = {}, told = {}, refused = {}, range = 3, speed = 8, cd = 500 }
    for i = 1, nplayers do w.me[1000 + i] = { x = 0, y = 0, hp = 100, potions = 3, next = 0 } end
    local function read(sent)
        for _, m in ipairs(sent) do
            local size = AR_SIZE[m.op]
            check(size ~= nil, "arena_lua: known op " .. m.op)
            check(#m.data % size == 0 and #m.data > 0 and #m.data <= 4096,
                  "arena_lua: op " .. m.op .. " size " .. #m.data)
            for off = 1, #m.data, size do
                if m.op == 100 then
                    w.range = string.unpack("<f", m.data, off + 36)
                    w.speed = string.unpack("<f", m.data, off + 20)
                elseif m.op == 101 or m.op == 102 then
                    local id, x, y
                    if m.op == 101 then id, _, x, y = string.unpack("<I4I4ff", m.data, off)
                    else id, x, y = string.unpack("<I4ff", m.data, off) end
                    w.mons[id] = { x = x, y = y }
                elseif m.op == 106 then
                    w.mons[string.unpack("<I4", m.data, off)] = nil
                elseif m.op == 112 then
                    local uid, x, y, hp, alive, potions, _, score =
                        string.unpack("<I8ffi4BI4I4I4", m.data, off)
                    local p = w.me[uid]
                    p.x, p.y, p.hp, p.alive, p.potions = x, y, hp, alive == 1, potions
                    w.told[uid] = score
                elseif m.op == 108 then
                    local uid, x, y = string.unpack("<I8ffB", m.data, off)
                    w.me[uid].x, w.me[uid].y = x, y
                elseif m.op == 113 then
                    local op, code = string.unpack("<I4i4", m.data, off)
                    w.refused[#w.refused + 1] = { to = m.to, op = op, code = code }
                end
            end
        end
    end
    local function act(ctx, sent, tick)
        read(sent)
        local out, now = {}, tick * 50
        for uid, p in pairs(w.me) do
            local best, bd
            for id, m in pairs(w.mons) do
                local d = math.sqrt((m.x - p.x) ^ 2 + (m.y - p.y) ^ 2)
                if not bd or d < bd or (d == bd and id < best) then best, bd = id, d end
            end
            if p.alive == false then
            elseif p.hp < 40 and p.potions > 0 then
                out[#out + 1] = { sender = uid, op = 3, data = string.pack("<I4", 1) }
                p.potions = p.potions - 1
            elseif best and bd <= w.range * 0.9 then
                if now >= p.next then
                    out[#out + 1] = { sender = uid, op = 2, data = string.pack("<I4", best) }
                    p.next = now + w.cd
                end
            elseif best then
                local m, k = w.mons[best], math.min(1, w.speed * 0.05 / bd)
                out[#out + 1] = { sender = uid, op = 1, data = string.pack("<ff",
                    p.x + (m.x - p.x) * k, p.y + (m.y - p.y) * k) }
            end
        end
        table.sort(out, function(a, b) return a.sender < b.sender end)
        return out
    end
    return w, act
end

local function digest(list)
    local h = 0
    for _, m in ipairs(list) do
        for i = 1, #m.data do h = (h * 31 + m.data:byte(i) + m.op) & 0xffffffffffff end
    end
    return h
end

-- mode's module, its player limits checked (lo-hi).
local function load_checked(mode, lo, hi)
    local M = load_module(mode)
    check(M.min_players == lo and M.max_players == hi, string.format("%s: limits %d-%d", mode, lo, hi))
    return M
end

local function check_results(mode, ctx, nplayers, told)
    local r = ctx.finished
    check(r ~= nil, mode .. ": finished")
    if not r then return end
    check(type(r.summary) == "string" and #r.summary > 0, mode .. ": summary")
    check(#r.players == nplayers, mode .. ": a result per player")
    for _, pr in ipairs(r.players) do
        check(pr.outcome == "win" or pr.outcome == "loss" or pr.outcome == "draw",
              mode .. ": outcome " .. tostring(pr.outcome))
        check(told[pr.user_id] == pr.score, mode .. ": score " .. pr.score ..
              " as told " .. tostring(told[pr.user_id]))
        check(type(pr.stats) == "table", mode .. ": stats per player")
    end
end

local function check_arena()
    local M = load_checked("arena_lua", 1, 4)
    -- Played to the end: two players clear the five waves.
    local w, bots = arena_bots(2)
    local all = {}
    local ctx, ticks = run(M, "arena_lua", 2, 42, 180000, function(c, sent, t)
        for _, m in ipairs(sent) do all[#all + 1] = m end
        return bots(c, sent, t)
    end)
    check_results("arena_lua", ctx, 2, w.told)
    local r = ctx.finished
    check(r and r.players[1].outcome == "win", "arena_lua: the bots win")
    check(r and r.summary:match("^win: 5/5 waves cleared"), "arena_lua: summary " ..
          tostring(r and r.summary))
    print(string.format("arena_lua: %d ticks, %s", ticks, r and r.summary or "?"))
    -- The same seed and inputs replay the same broadcasts.
    local all2 = {}
    local _, bots2 = arena_bots(2)
    run(M, "arena_lua", 2, 42, 180000, function(c, sent, t)
        for _, m in ipairs(sent) do all2[#all2 + 1] = m end
        return bots2(c, sent, t)
    end)
    check(#all == #all2 and digest(all) == digest(all2), "arena_lua: replay")

    -- Nobody acts: the time limit ends it as a draw (monsters do not kill everyone in 20 s).
    local ctx2 = run(M, "arena_lua", 1, 7, 20000, function() return {} end)
    check(ctx2.finished and ctx2.finished.players[1].outcome == "draw", "arena_lua: timeout draw")
    check(ctx2.tick == 400, "arena_lua: ends on the time limit's tick (" .. ctx2.tick .. ")")

    -- Bad input: each refused to its sender with its code, the match goes on.
    local bad = {
        { sender = 1001, op = 1, data = "short" },
        { sender = 1001, op = 1, data = string.pack("<ff", 0 / 0, 1) },
        { sender = 1001, op = 2, data = string.pack("<I4", 999) },
        { sender = 1001, op = 3, data = string.pack("<I4", 7) },
        { sender = 1001, op = 77, data = "" },
        { sender = 5555, op = 1, data = string.pack("<ff", 1, 1) }, -- not a player: ignored
    }
    local w3, bots3 = arena_bots(2)
    local ctx3 = run(M, "arena_lua", 2, 42, 180000, function(c, sent, t)
        local out = bots3(c, sent, t)
        if t == 5 then return bad end
        return out
    end)
    local codes = {}
    for _, f in ipairs(w3.refused) do
        check(f.to and #f.to == 1, "arena_lua: REFUSED to the sender only")
        if f.to[1] == 1001 then codes[#codes + 1] = f.op .. ":" .. f.code end
    end
    local got = table.concat(codes, ",", 1, math.min(#codes, 5))
    check(got == "1:-4,1:-4,2:-7,3:-8,77:-4", "arena_lua: refusals " .. got)
    check(ctx3.finished and ctx3.finished.players[1].outcome == "win", "arena_lua: goes on: " .. tostring(ctx3.finished and ctx3.finished.summary))
end

-- ---- tag

local function tag_bots(nplayers)
    local w = { pos = {}, it = nil, told = {}, tags = 0, refused = 0 }
    local SIZE = { [100] = 44, [101] = 17, [102] = 16, [103] = 13, [104] = 8 }
    local function read(sent)
        for _, m in ipairs(sent) do
            local size = SIZE[m.op]
            check(size and #m.data % size == 0 and #m.data > 0, "tag: op " .. m.op)
            for off = 1, #m.data, size do
                if m.op == 101 then
                    local uid, x, y = string.unpack("<I8ffB", m.data, off)
                    w.pos[uid] = { x = x, y = y }
                elseif m.op == 102 then
                    local by, it = string.unpack("<I8I8", m.data, off)
                    check(by == 0 or by == w.it, "tag: tagged by the one who was it")
                    if by ~= 0 then w.tags = w.tags + 1 end
                    w.it = it
                elseif m.op == 103 then
                    local uid, score = string.unpack("<I8I4B", m.data, off)
                    w.told[uid] = score
                elseif m.op == 104 then
                    w.refused = w.refused + 1
                end
            end
        end
    end
    -- "it" chases the nearest player; the others run from "it", sliding along the walls.
    return w, function(ctx, sent, tick)
        read(sent)
        local out, itp = {}, w.pos[w.it]
        for i = 1, nplayers do
            local uid, p = 1000 + i, w.pos[1000 + i]
            if p and itp then
                local tx, ty
                if uid == w.it then
                    local bd
                    for o, q in pairs(w.pos) do
                        local d = (q.x - p.x) ^ 2 + (q.y - p.y) ^ 2
                        if o ~= uid and (not bd or d < bd) then bd, tx, ty = d, q.x, q.y end
                    end
                else
                    tx, ty = p.x + (p.x - itp.x), p.y + (p.y - itp.y)
                    if tx < 1 or tx > 39 then tx, ty = 20, p.y + (ty > p.y and 5 or -5) end
                end
                local dx, dy = tx - p.x, ty - p.y
                local d = math.sqrt(dx * dx + dy * dy)
                local k = d > 0 and math.min(1, 0.4 / d) or 0
                out[#out + 1] = { sender = uid, op = 1,
                                  data = string.pack("<ff", p.x + dx * k, p.y + dy * k) }
            end
        end
        return out
    end
end

local function check_tag()
    local M = load_checked("tag", 2, 16)
    local w, bots = tag_bots(4)
    local ctx, ticks = run(M, "tag", 4, 99, 60000, bots)
    check_results("tag", ctx, 4, w.told)
    check(ticks == 1200, "tag: 60 s at 20 Hz (" .. ticks .. " ticks)")
    check(w.tags > 0, "tag: somebody was tagged")
    local r, wins, draws = ctx.finished, 0, 0
    if r then
        local top = 0
        for _, p in ipairs(r.players) do top = math.max(top, p.score) end
        for _, p in ipairs(r.players) do
            if p.outcome == "win" then wins = wins + 1 end
            if p.outcome == "draw" then draws = draws + 1 end
            check((p.outcome ~= "loss") == (p.score == top), "tag: top score wins")
        end
        check((wins == 1 and draws == 0) or (wins == 0 and draws > 1), "tag: one winner or a draw")
        local tags, times_it = 0, 0
        for _, p in ipairs(r.players) do
            tags, times_it = tags + p.stats.tags, times_it + p.stats.times_it
        end
        check(tags == w.tags and times_it == w.tags + 1, "tag: stats count the tags")
        check(r.summary:match("^tag: .* %d+ tags in 60.0 s$") ~= nil, "tag: summary " .. r.summary)
        print(string.format("tag: %d tags, %s", w.tags, r.summary))
    end
    -- A player who leaves loses; with one player left the match ends and that one wins.
    local ctx2 = new_ctx("tag", {}, 5)
    local s = M.init(ctx2, { time_limit_ms = 60000, players = 2, seed = 5 })
    s = M.join(ctx2, s, { user_id = 1, name = "a" })
    s = M.join(ctx2, s, { user_id = 2, name = "b" })
    s = M.loop(ctx2, s, 0, { { sender = 1, op = 9, data = "" } })
    local refused = false
    for _, m in ipairs(ctx2.sent) do
        if m.op == 104 and m.to and m.to[1] == 1 then
            refused = select(2, string.unpack("<I4i4", m.data)) == -9
        end
    end
    check(refused, "tag: unknown op refused to its sender")
    s = M.leave(ctx2, s, { user_id = 1, name = "a" }, "left")
    s = M.loop(ctx2, s, 1, {})
    local f = ctx2.finished
    check(f and f.players[1].outcome == "loss" and f.players[2].outcome == "win",
          "tag: the last player standing wins")
end

check_arena()
check_tag()
print(string.format("%d checks, %d failed", checks, failures))
os.exit(failures == 0 and 0 or 1)
