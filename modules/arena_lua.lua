-- arena_lua: the co-op arena of src_game/sim.c (the built-in mode `arena`) written as a game
-- module (docs/modules.md): waves of monsters enter at the arena's edges and chase the
-- nearest living player; players move (speed-checked), attack in range with a cooldown and
-- drink potions. Everyone wins when the last wave is cleared, loses when all are dead; the
-- time limit ends it as a draw. It is the yardstick of the Lua runtime's cost against the C
-- arena, so a tick allocates only what it sends: one string per event record and one
-- concatenation per op, through buffers made once in M.init.
--
-- Every payload is little-endian string.pack data; f = float32, I4/i4 = (un)signed 32-bit,
-- I8 = unsigned 64-bit (user ids), B = byte. Players are named by user id, monsters by an id
-- unique in the match (1, 2, ...; never reused).
--
-- Client -> server (MATCH_DATA_SEND). A payload of the wrong size is refused (REFUSED, 5).
--   1 MOVE      <ff   x, y            move toward (x, y): clamped to the arena and to
--                                     player_speed * elapsed * speed_tolerance + move_slack
--                                     (elapsed at most move_window_ms), as sim_move does
--   2 ATTACK    <I4   monster_id      hit a live monster within attack_range, off cooldown
--   3 USE_ITEM  <I4   item            1 = potion: heals potion_heal, capped at player_hp
--
-- Server -> client (MATCH_DATA, sender 0). Each op carries one or more fixed-size records,
-- concatenated (count = #data / record size); at most 4096 bytes per message, so a busy tick
-- may send an op more than once. Within a tick ops go out in the order of their codes.
--   100 RULES           <I4I4I4fffffI4fI4i4i4I4i4ffi4I4 (76 B) on tick 1 and every
--                       100 ticks (5 s): tick_ms, time_limit_ms, waves, arena_w, arena_h,
--                       player_speed, speed_tolerance, move_slack, move_window_ms,
--                       attack_range, attack_cooldown_ms, attack_damage, player_hp,
--                       potions, potion_heal, monster_speed, monster_range,
--                       monster_damage, monster_cooldown_ms
--   101 MONSTER_SPAWN   <I4I4ffi4   (20 B) id, wave, x, y, hp
--   102 MONSTER_MOVE    <I4ff       (12 B) id, x, y
--   103 MONSTER_ATTACK  <I4I8i4     (16 B) monster id, target user id, damage
--   104 PLAYER_DAMAGED  <I8I4i4i4   (20 B) user id, monster id, damage, hp left
--   105 MONSTER_DAMAGED <I4I8i4i4   (20 B) monster id, attacker user id, damage, hp left
--   106 MONSTER_DIED    <I4I8       (12 B) monster id, killer user id
--   107 PLAYER_DIED     <I8I4       (12 B) user id, monster id
--   108 PLAYER_MOVED    <I8ffB      (17 B) user id, x, y, clamped (0/1)
--   109 ITEM_USED       <I8I4i4i4I4 (24 B) user id, item, healed, hp, potions left
--   110 WAVE_STARTED    <I4I4       (8 B)  wave (1-based), monsters in it
--   111 WAVE_CLEARED    <I4I4       (8 B)  wave, score bonus to each living player
--   112 PLAYER_STATE    <I8ffi4BI4I4I4 (33 B) user id, x, y, hp, alive, potions, kills,
--                       score: on tick 1 for everyone, then for players whose hp, potions,
--                       kills, score or life changed
--   113 REFUSED         <I4i4       (8 B)  to the sender only: the client op refused and why
--                       (-1 dead, -2 over, -4 bad value/size, -5 out of range, -6 cooldown,
--                       -7 no such monster, -8 no item left; the codes of src_game/sim.h)
--
-- The end: ctx.finish with every player's score and outcome ("win" when the last wave is
-- cleared, "loss" when everyone died, "draw" at the time limit, "loss" for a player who
-- left), stats {kills, alive} per player (match_players.stats) and a summary such as
-- "win: 5/5 waves cleared, 70 kills in 61.2 s".

local pack, unpack, concat = string.pack, string.unpack, table.concat
local sqrt, floor = math.sqrt, math.floor

local M = {
    min_players = 1,
    max_players = 4,
}

-- The arena's rules: sim_config_default() in src_game/sim.c.
local C = {
    tick_ms = 50, waves = 5, wave_base_monsters = 3, wave_growth = 2, wave_gap_ms = 3000,
    spawn_per_tick = 2, max_monsters = 512, arena_w = 100.0, arena_h = 100.0,
    player_speed = 8.0, speed_tolerance = 1.5, move_slack = 0.05, move_window_ms = 500,
    attack_range = 3.0, attack_cooldown_ms = 500, attack_damage = 25, player_hp = 100,
    potions = 3, potion_heal = 40, monster_speed = 4.0, monster_hp = 50, monster_damage = 8,
    monster_range = 1.5, monster_cooldown_ms = 1000, score_kill = 100, score_wave = 250,
}

-- Op codes (see the table above).
local OP_MOVE, OP_ATTACK, OP_USE_ITEM = 1, 2, 3
local OP_RULES, OP_SPAWN, OP_MMOVE, OP_MATTACK, OP_PDAMAGED = 100, 101, 102, 103, 104
local OP_MDAMAGED, OP_MDIED, OP_PDIED, OP_PMOVED, OP_ITEM = 105, 106, 107, 108, 109
local OP_WAVE_STARTED, OP_WAVE_CLEARED, OP_PSTATE, OP_REFUSED = 110, 111, 112, 113
local OUT_FIRST, OUT_LAST = 101, 112 -- the batched broadcast ops
local REC_SIZE = {
    [101] = 20, [102] = 12, [103] = 16, [104] = 20, [105] = 20, [106] = 12,
    [107] = 12, [108] = 17, [109] = 24, [110] = 8, [111] = 8, [112] = 33,
}
local MSG_MAX = 4096
local ITEM_POTION = 1
local E_DEAD, E_OVER, E_BAD_VALUE, E_RANGE = -1, -2, -4, -5
local E_COOLDOWN, E_NO_TARGET, E_NO_ITEM = -6, -7, -8

local function clamp(v, lo, hi)
    if v < lo then return lo elseif v > hi then return hi end
    return v
end

-- ---- output: one reusable buffer per broadcast op

local function new_out()
    local out = {}
    for op = OUT_FIRST, OUT_LAST do
        out[op] = { n = 0, max = floor(MSG_MAX / REC_SIZE[op]) }
    end
    return out
end

local function flush_op(ctx, buf, op)
    if buf.n > 0 then
        ctx.broadcast(op, concat(buf, "", 1, buf.n))
        buf.n = 0
    end
end

local function emit(s, op, rec)
    local buf = s.out[op]
    if buf.n == buf.max then flush_op(s.ctx, buf, op) end
    local n = buf.n + 1
    buf[n] = rec
    buf.n = n
end

local function player_state_rec(p)
    return pack("<I8ffi4BI4I4I4", p.user_id, p.x, p.y, p.hp, p.alive and 1 or 0, p.potions,
        p.kills, p.score)
end

local function flush(s)
    local dirty = s.dirty
    for i = 1, dirty.n do
        local p = dirty[i]
        p.dirty = false
        emit(s, OP_PSTATE, player_state_rec(p))
    end
    dirty.n = 0
    local ctx, out = s.ctx, s.out
    for op = OUT_FIRST, OUT_LAST do flush_op(ctx, out[op], op) end
end

local function touch(s, p)
    if not p.dirty then
        p.dirty = true
        local d = s.dirty
        d.n = d.n + 1
        d[d.n] = p
    end
end

-- ---- module callbacks

function M.init(ctx, params)
    local s = {
        ctx = ctx,
        time_limit_ms = params.time_limit_ms or 180000,
        ticks = 0, now = 0, over = false, outcome = nil,
        players = {}, by_uid = {}, nplayers = 0,
        mons = {}, nmons = 0, mon_by_id = {}, next_mon_id = 1,
        wave = 0, waves_cleared = 0, pending = 0, wave_active = false,
        next_wave_ms = C.wave_gap_ms,
        out = new_out(), dirty = { n = 0 }, kills = 0,
    }
    s.rules = pack("<I4I4I4fffffI4fI4i4i4I4i4ffi4I4", C.tick_ms, s.time_limit_ms, C.waves,
        C.arena_w, C.arena_h, C.player_speed, C.speed_tolerance, C.move_slack,
        C.move_window_ms, C.attack_range, C.attack_cooldown_ms, C.attack_damage, C.player_hp,
        C.potions, C.potion_heal, C.monster_speed, C.monster_range, C.monster_damage,
        C.monster_cooldown_ms)
    return s, floor(1000 / C.tick_ms)
end

-- Spawn spots: a grid of up to 4 columns, 3 units apart, centred (sim_new). The grid is laid
-- out again as players join, so it is centred for the final count.
local function place_players(s)
    local n = s.nplayers
    local cols, rows = n < 4 and n or 4, (n + 3) // 4
    for i = 0, n - 1 do
        local p = s.players[i + 1]
        p.x = clamp(C.arena_w / 2 + ((i % 4) - (cols - 1) / 2) * 3.0, 0, C.arena_w)
        p.y = clamp(C.arena_h / 2 + ((i // 4) - (rows - 1) / 2) * 3.0, 0, C.arena_h)
        p.ref_x, p.ref_y = p.x, p.y
    end
end

function M.join(ctx, s, player)
    if s.by_uid[player.user_id] then return s end
    local p = {
        user_id = player.user_id, name = player.name, index = s.nplayers,
        x = 0.0, y = 0.0, ref_x = 0.0, ref_y = 0.0, ref_ms = 0, pos_ms = 0,
        hp = C.player_hp, alive = true, left = false, potions = C.potions,
        kills = 0, score = 0, next_attack_ms = 0, dirty = false,
    }
    s.nplayers = s.nplayers + 1
    s.players[s.nplayers] = p
    s.by_uid[p.user_id] = p
    place_players(s)
    return s
end

function M.leave(ctx, s, player, reason)
    local p = s.by_uid[player.user_id]
    if p and not p.left then
        p.left, p.alive = true, false
        touch(s, p)
    end
    return s
end

-- ---- inputs (applied at the current time, before the tick, as the C daemon does)

local function refuse(s, p, op, code)
    s.ctx.broadcast(OP_REFUSED, pack("<I4i4", op, code), { p.user_id })
end

local function do_move(s, p, data)
    if #data ~= 8 then return refuse(s, p, OP_MOVE, E_BAD_VALUE) end
    local x, y = unpack("<ff", data)
    if x ~= x or y ~= y or x == math.huge or x == -math.huge or y == math.huge
        or y == -math.huge then
        return refuse(s, p, OP_MOVE, E_BAD_VALUE)
    end
    local now, clamped = s.now, 0
    local tx, ty = clamp(x, 0, C.arena_w), clamp(y, 0, C.arena_h)
    if tx ~= x or ty ~= y then clamped = 1 end
    if p.pos_ms < now then
        p.ref_x, p.ref_y, p.ref_ms = p.x, p.y, p.pos_ms
    end
    local elapsed = now - p.ref_ms
    if elapsed > C.move_window_ms then elapsed = C.move_window_ms end
    local allowed = C.player_speed * (elapsed / 1000) * C.speed_tolerance + C.move_slack
    local dx, dy = tx - p.ref_x, ty - p.ref_y
    local d = sqrt(dx * dx + dy * dy)
    if d > allowed then
        local k = allowed / d
        tx = clamp(p.ref_x + dx * k, 0, C.arena_w)
        ty = clamp(p.ref_y + dy * k, 0, C.arena_h)
        clamped = 1
    end
    p.x, p.y, p.pos_ms = tx, ty, now
    emit(s, OP_PMOVED, pack("<I8ffB", p.user_id, tx, ty, clamped))
end

-- Index of the live monster with this id in s.mons (ordered by id), or nil.
local function mon_index(s, id)
    local mons, lo, hi = s.mons, 1, s.nmons
    while lo <= hi do
        local mid = (lo + hi) // 2
        local mid_id = mons[mid].id
        if mid_id == id then return mid end
        if mid_id < id then lo = mid + 1 else hi = mid - 1 end
    end
    return nil
end

local function do_attack(s, p, data)
    if #data ~= 4 then return refuse(s, p, OP_ATTACK, E_BAD_VALUE) end
    local id = unpack("<I4", data)
    local m = s.mon_by_id[id]
    if not m then return refuse(s, p, OP_ATTACK, E_NO_TARGET) end
    local dx, dy, r = m.x - p.x, m.y - p.y, C.attack_range
    if dx * dx + dy * dy > r * r then return refuse(s, p, OP_ATTACK, E_RANGE) end
    if s.now < p.next_attack_ms then return refuse(s, p, OP_ATTACK, E_COOLDOWN) end
    p.next_attack_ms = s.now + C.attack_cooldown_ms
    local dmg = C.attack_damage < m.hp and C.attack_damage or m.hp
    m.hp = m.hp - dmg
    emit(s, OP_MDAMAGED, pack("<I4I8i4i4", id, p.user_id, dmg, m.hp))
    if m.hp <= 0 then
        emit(s, OP_MDIED, pack("<I4I8", id, p.user_id))
        p.kills = p.kills + 1
        p.score = p.score + C.score_kill
        s.kills = s.kills + 1
        touch(s, p)
        table.remove(s.mons, mon_index(s, id))
        s.nmons = s.nmons - 1
        s.mon_by_id[id] = nil
    end
end

local function do_use_item(s, p, data)
    if #data ~= 4 then return refuse(s, p, OP_USE_ITEM, E_BAD_VALUE) end
    local item = unpack("<I4", data)
    if item ~= ITEM_POTION or p.potions == 0 then
        return refuse(s, p, OP_USE_ITEM, E_NO_ITEM)
    end
    p.potions = p.potions - 1
    local room = C.player_hp - p.hp
    local heal = C.potion_heal < room and C.potion_heal or room
    p.hp = p.hp + heal
    touch(s, p)
    emit(s, OP_ITEM, pack("<I8I4i4i4I4", p.user_id, item, heal, p.hp, p.potions))
end

local ACTIONS = { [OP_MOVE] = do_move, [OP_ATTACK] = do_attack, [OP_USE_ITEM] = do_use_item }

local function apply_input(s, msg)
    local p = s.by_uid[msg.sender]
    if not p or p.left then return end
    local action = ACTIONS[msg.op]
    if not action then return refuse(s, p, msg.op, E_BAD_VALUE) end
    if s.over then return refuse(s, p, msg.op, E_OVER) end
    if not p.alive then return refuse(s, p, msg.op, E_DEAD) end
    action(s, p, msg.data)
end

-- ---- the tick (sim_tick)

local function spawn_monster(s)
    local r, t = s.ctx.random(), s.ctx.random()
    local edge = floor(r * 4)
    local x, y
    if edge == 0 then x, y = t * C.arena_w, 0.0
    elseif edge == 1 then x, y = C.arena_w, t * C.arena_h
    elseif edge == 2 then x, y = t * C.arena_w, C.arena_h
    else x, y = 0.0, t * C.arena_h end
    local m = { id = s.next_mon_id, x = x, y = y, hp = C.monster_hp, wave = s.wave,
                next_attack_ms = s.now }
    s.next_mon_id = m.id + 1
    s.nmons = s.nmons + 1
    s.mons[s.nmons] = m
    s.mon_by_id[m.id] = m
    emit(s, OP_SPAWN, pack("<I4I4ffi4", m.id, s.wave, x, y, m.hp))
end

local function waves_step(s)
    if not s.wave_active and s.wave < C.waves and s.now >= s.next_wave_ms then
        s.wave = s.wave + 1
        s.wave_active = true
        s.pending = (C.wave_base_monsters + C.wave_growth * (s.wave - 1)) * s.nplayers
        emit(s, OP_WAVE_STARTED, pack("<I4I4", s.wave, s.pending))
    end
    local n = 0
    while n < C.spawn_per_tick and s.pending > 0 and s.nmons < C.max_monsters do
        s.pending = s.pending - 1
        spawn_monster(s)
        n = n + 1
    end
end

local MONSTER_RANGE2 = C.monster_range * C.monster_range
local MONSTER_STOP = C.monster_range * 0.9 -- close in to a little inside the range
local MONSTER_STEP = C.monster_speed * (C.tick_ms / 1000)
local MONSTER_COOLDOWN, MONSTER_DAMAGE = C.monster_cooldown_ms, C.monster_damage
local ARENA_W, ARENA_H = C.arena_w, C.arena_h

local function monster_attack(s, m, p)
    m.next_attack_ms = s.now + MONSTER_COOLDOWN
    local dmg = MONSTER_DAMAGE < p.hp and MONSTER_DAMAGE or p.hp
    emit(s, OP_MATTACK, pack("<I4I8i4", m.id, p.user_id, dmg))
    if dmg <= 0 then return end
    p.hp = p.hp - dmg
    touch(s, p)
    emit(s, OP_PDAMAGED, pack("<I8I4i4i4", p.user_id, m.id, dmg, p.hp))
    if p.hp <= 0 then
        p.alive = false
        emit(s, OP_PDIED, pack("<I8I4", p.user_id, m.id))
    end
end

-- Every monster chases the nearest living player (ties: the first joined) and attacks it when
-- in range and off cooldown (sim.c's monster_step). The hot loop of the module: constants are
-- upvalues and the nearest-player search is inline.
local function monsters_step(s)
    local players, np, mons, now = s.players, s.nplayers, s.mons, s.now
    for i = 1, s.nmons do
        local m = mons[i]
        local mx, my = m.x, m.y
        local p, d2 = nil, 0
        for k = 1, np do
            local q = players[k]
            if q.alive then
                local dx, dy = q.x - mx, q.y - my
                local e = dx * dx + dy * dy
                if not p or e < d2 then p, d2 = q, e end
            end
        end
        if p then
            if d2 > MONSTER_RANGE2 then
                local d = sqrt(d2)
                local mv = d - MONSTER_STOP
                if MONSTER_STEP < mv then mv = MONSTER_STEP end
                if mv > 0 then
                    local nx = mx + (p.x - mx) / d * mv
                    local ny = my + (p.y - my) / d * mv
                    if nx < 0 then nx = 0 elseif nx > ARENA_W then nx = ARENA_W end
                    if ny < 0 then ny = 0 elseif ny > ARENA_H then ny = ARENA_H end
                    if nx ~= mx or ny ~= my then
                        m.x, m.y, mx, my = nx, ny, nx, ny
                        emit(s, OP_MMOVE, pack("<I4ff", m.id, nx, ny))
                    end
                end
                local dx, dy = p.x - mx, p.y - my
                d2 = dx * dx + dy * dy
            end
            if d2 <= MONSTER_RANGE2 and now >= m.next_attack_ms then monster_attack(s, m, p) end
        end
    end
end

local function anyone_alive(s)
    for i = 1, s.nplayers do
        if s.players[i].alive then return true end
    end
    return false
end

local OUTCOME_OF = { win = "win", loss = "loss", timeout = "draw" }

local function finish(s)
    local results, o = {}, OUTCOME_OF[s.outcome]
    for i = 1, s.nplayers do
        local p = s.players[i]
        results[i] = { user_id = p.user_id, score = p.score,
                       outcome = p.left and "loss" or o,
                       stats = { kills = p.kills, alive = p.alive } }
    end
    local summary = string.format("%s: %d/%d waves cleared, %d kills in %.1f s", s.outcome,
        s.waves_cleared, C.waves, s.kills, s.now / 1000)
    s.ctx.finish({ players = results, summary = summary })
end

local function tick(s)
    s.ticks = s.ticks + 1
    s.now = s.ticks * C.tick_ms
    waves_step(s)
    monsters_step(s)

    if s.wave_active and s.pending == 0 and s.nmons == 0 then
        s.wave_active = false
        s.waves_cleared = s.waves_cleared + 1
        for i = 1, s.nplayers do
            local p = s.players[i]
            if p.alive then
                p.score = p.score + C.score_wave
                touch(s, p)
            end
        end
        emit(s, OP_WAVE_CLEARED, pack("<I4I4", s.wave, C.score_wave))
        s.next_wave_ms = s.now + C.wave_gap_ms
    end

    if s.waves_cleared == C.waves then s.outcome = "win"
    elseif not anyone_alive(s) then s.outcome = "loss"
    elseif s.now >= s.time_limit_ms then s.outcome = "timeout" end
end

function M.loop(ctx, s, tick_no, messages)
    if s.over then return s end
    if s.ticks == 0 then
        ctx.broadcast(OP_RULES, s.rules)
        for i = 1, s.nplayers do touch(s, s.players[i]) end
    elseif s.ticks % 100 == 0 then
        ctx.broadcast(OP_RULES, s.rules)
    end
    for i = 1, #messages do apply_input(s, messages[i]) end
    tick(s)
    flush(s)
    if s.outcome then
        s.over = true
        finish(s)
    end
    return s
end

function M.terminate(ctx, s, reason)
    ctx.log("info", "arena_lua stopped: " .. tostring(reason) .. " at wave " .. s.wave)
    return s
end

return M
