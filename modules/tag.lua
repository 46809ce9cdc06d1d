-- tag: a real-time game module for 2-16 players (docs/modules.md). One player is "it"; when
-- "it" comes within tag_range of another player, that player becomes "it" (and may not tag
-- back for freeze_ms). Every player earns a point per tenth of a second spent not being "it".
-- At the time limit the highest score wins (a shared top score is a draw for those who share
-- it; everyone else loses). The server decides every tag: clients only send moves, checked
-- for speed like the arena's (a move may cover speed * elapsed * speed_tolerance +
-- move_slack, elapsed at most move_window_ms; "it" runs a little faster than the others).
--
-- Every payload is little-endian string.pack data; f = float32, I4/i4 = (un)signed 32-bit,
-- I8 = unsigned 64-bit (user ids), B = byte.
--
-- Client -> server (MATCH_DATA_SEND):
--   1 MOVE       <ff    x, y           move toward (x, y); clamped to the field and the speed
--
-- Server -> client (MATCH_DATA, sender 0); ops with records carry one or more of them,
-- concatenated (count = #data / record size):
--   100 RULES     <I4I4fffffffI4I4 (44 B) on tick 1 and every 100 ticks (5 s): tick_ms,
--                 time_limit_ms, field_w, field_h, runner_speed, it_speed,
--                 speed_tolerance, move_slack, tag_range, move_window_ms, freeze_ms
--   101 POSITIONS <I8ffB (17 B) per player: user id, x, y, clamped (0/1); every player on
--                 tick 1, then the players whose move was accepted this tick
--   102 TAGGED    <I8I8 (16 B) tagger's user id (0: the draw that picks the first "it" on
--                 tick 1, or a new "it" drawn because "it" left), the new "it"
--   103 SCORES    <I8I4B (13 B) per player, every 20 ticks (1 s) and on the last tick:
--                 user id, score, flags (1 = it, 2 = left the match)
--   104 REFUSED   <I4i4 (8 B) to the sender only: the op refused and why (-2 the match is
--                 over, -4 a bad value or payload size, -9 an unknown op)
--
-- The end: ctx.finish with every player's score, outcome and stats {tags, times_it}
-- (match_players.stats), and a summary such as
-- "tag: alice won with 512 points; 23 tags in 60.0 s". If fewer than two players remain,
-- the match ends at once and the one left (if any) wins.

local pack, unpack, concat = string.pack, string.unpack, table.concat
local sqrt, floor = math.sqrt, math.floor

local M = {
    min_players = 2,
    max_players = 16,
}

local C = {
    tick_ms = 50, field_w = 40.0, field_h = 40.0, runner_speed = 8.0, it_speed = 9.0,
    speed_tolerance = 1.5, move_slack = 0.05, move_window_ms = 500, tag_range = 1.5,
    freeze_ms = 1500,
}

local OP_MOVE = 1
local OP_RULES, OP_POSITIONS, OP_TAGGED, OP_SCORES, OP_REFUSED = 100, 101, 102, 103, 104
local E_OVER, E_BAD_VALUE, E_UNKNOWN_OP = -2, -4, -9
local POS_MAX = floor(4096 / 17)

local function clamp(v, lo, hi)
    if v < lo then return lo elseif v > hi then return hi end
    return v
end

function M.init(ctx, params)
    local s = {
        ctx = ctx,
        time_limit_ms = params.time_limit_ms or 180000,
        ticks = 0, now = 0, over = false,
        players = {}, by_uid = {}, n = 0, active = 0,
        it = nil, it_free_ms = 0, tags = 0,
        pos = { n = 0 }, -- this tick's POSITIONS records, reused
    }
    s.rules = pack("<I4I4fffffffI4I4", C.tick_ms, s.time_limit_ms, C.field_w, C.field_h,
        C.runner_speed, C.it_speed, C.speed_tolerance, C.move_slack, C.tag_range,
        C.move_window_ms, C.freeze_ms)
    return s, floor(1000 / C.tick_ms)
end

-- Players start evenly spaced on a circle around the centre, in the order they joined.
local function place_players(s)
    local r = math.min(C.field_w, C.field_h) * 0.35
    for i = 1, s.n do
        local p, a = s.players[i], 2 * math.pi * (i - 1) / s.n
        p.x = C.field_w / 2 + r * math.cos(a)
        p.y = C.field_h / 2 + r * math.sin(a)
        p.ref_x, p.ref_y = p.x, p.y
    end
end

function M.join(ctx, s, player)
    if s.by_uid[player.user_id] then return s end
    local p = {
        user_id = player.user_id, name = player.name, x = 0.0, y = 0.0, ref_x = 0.0,
        ref_y = 0.0, ref_ms = 0, pos_ms = 0, free_ms = 0, score = 0, left = false,
        tags = 0, times_it = 0,
    }
    s.n = s.n + 1
    s.active = s.active + 1
    s.players[s.n] = p
    s.by_uid[p.user_id] = p
    place_players(s)
    return s
end

-- A random active player other than `except` (nil if none).
local function draw_player(s, except)
    local k = s.active - ((except and not except.left) and 1 or 0)
    if k <= 0 then return nil end
    local pick = floor(s.ctx.random() * k) + 1
    for i = 1, s.n do
        local p = s.players[i]
        if not p.left and p ~= except then
            pick = pick - 1
            if pick == 0 then return p end
        end
    end
    return nil
end

local function set_it(s, tagger, p)
    if tagger then tagger.tags = tagger.tags + 1 end
    p.times_it = p.times_it + 1
    s.it = p
    s.it_free_ms = s.now + C.freeze_ms
    s.ctx.broadcast(OP_TAGGED, pack("<I8I8", tagger and tagger.user_id or 0, p.user_id))
end

function M.leave(ctx, s, player, reason)
    local p = s.by_uid[player.user_id]
    if not p or p.left then return s end
    p.left = true
    s.active = s.active - 1
    if s.it == p then
        s.it = nil
        local q = draw_player(s, p)
        if q and s.ticks > 0 then set_it(s, nil, q) else s.it = q end
    end
    return s
end

local function refuse(s, p, op, code)
    s.ctx.broadcast(OP_REFUSED, pack("<I4i4", op, code), { p.user_id })
end

local function add_position(s, p, clamped)
    local pos = s.pos
    if pos.n == POS_MAX then
        s.ctx.broadcast(OP_POSITIONS, concat(pos, "", 1, pos.n))
        pos.n = 0
    end
    pos.n = pos.n + 1
    pos[pos.n] = pack("<I8ffB", p.user_id, p.x, p.y, clamped)
end

local function do_move(s, p, data)
    if #data ~= 8 then return refuse(s, p, OP_MOVE, E_BAD_VALUE) end
    local x, y = unpack("<ff", data)
    if x ~= x or y ~= y or x == math.huge or x == -math.huge or y == math.huge
        or y == -math.huge then
        return refuse(s, p, OP_MOVE, E_BAD_VALUE)
    end
    local now, clamped = s.now, 0
    local tx, ty = clamp(x, 0, C.field_w), clamp(y, 0, C.field_h)
    if tx ~= x or ty ~= y then clamped = 1 end
    if p.pos_ms < now then p.ref_x, p.ref_y, p.ref_ms = p.x, p.y, p.pos_ms end
    local elapsed = now - p.ref_ms
    if elapsed > C.move_window_ms then elapsed = C.move_window_ms end
    local speed = (s.it == p) and C.it_speed or C.runner_speed
    local allowed = speed * (elapsed / 1000) * C.speed_tolerance + C.move_slack
    local dx, dy = tx - p.ref_x, ty - p.ref_y
    local d = sqrt(dx * dx + dy * dy)
    if d > allowed then
        local k = allowed / d
        tx = clamp(p.ref_x + dx * k, 0, C.field_w)
        ty = clamp(p.ref_y + dy * k, 0, C.field_h)
        clamped = 1
    end
    p.x, p.y, p.pos_ms = tx, ty, now
    add_position(s, p, clamped)
end

local function apply_input(s, msg)
    local p = s.by_uid[msg.sender]
    if not p or p.left then return end
    if msg.op ~= OP_MOVE then return refuse(s, p, msg.op, E_UNKNOWN_OP) end
    if s.over then return refuse(s, p, msg.op, E_OVER) end
    do_move(s, p, msg.data)
end

-- "it" tags the nearest active player within tag_range, once its freeze is over.
local function tag_step(s)
    local it = s.it
    if not it or s.now < s.it_free_ms then return end
    local best, best_d2, r2 = nil, 0, C.tag_range * C.tag_range
    for i = 1, s.n do
        local p = s.players[i]
        if p ~= it and not p.left then
            local dx, dy = p.x - it.x, p.y - it.y
            local d2 = dx * dx + dy * dy
            if d2 <= r2 and (not best or d2 < best_d2) then best, best_d2 = p, d2 end
        end
    end
    if best then
        s.tags = s.tags + 1
        set_it(s, it, best)
    end
end

local function broadcast_scores(s)
    local recs = {}
    for i = 1, s.n do
        local p = s.players[i]
        local flags = (s.it == p and 1 or 0) | (p.left and 2 or 0)
        recs[i] = pack("<I8I4B", p.user_id, p.score, flags)
    end
    s.ctx.broadcast(OP_SCORES, concat(recs))
end

local function finish(s)
    s.over = true
    broadcast_scores(s)
    local top, top_n = -1, 0
    for i = 1, s.n do
        local p = s.players[i]
        if not p.left then
            if p.score > top then top, top_n = p.score, 1
            elseif p.score == top then top_n = top_n + 1 end
        end
    end
    local results, winner = {}, nil
    for i = 1, s.n do
        local p = s.players[i]
        local outcome = "loss"
        if not p.left and p.score == top then
            outcome = top_n == 1 and "win" or "draw"
            if top_n == 1 then winner = p end
        end
        results[i] = { user_id = p.user_id, score = p.score, outcome = outcome,
                       stats = { tags = p.tags, times_it = p.times_it } }
    end
    local head = winner and string.format("%s won with %d points", winner.name, top)
        or (top_n > 1 and string.format("%d players drew with %d points", top_n, top))
        or "nobody left"
    s.ctx.finish({ players = results, summary = string.format("tag: %s; %d tags in %.1f s",
        head, s.tags, s.now / 1000) })
end

function M.loop(ctx, s, tick_no, messages)
    if s.over then return s end
    if s.ticks == 0 then
        ctx.broadcast(OP_RULES, s.rules)
        for i = 1, s.n do add_position(s, s.players[i], 0) end
        if s.active >= 2 then set_it(s, nil, draw_player(s, nil)) end
    elseif s.ticks % 100 == 0 then
        ctx.broadcast(OP_RULES, s.rules)
    end
    if s.active < 2 then
        finish(s)
        return s
    end
    for i = 1, #messages do apply_input(s, messages[i]) end

    s.ticks = s.ticks + 1
    s.now = s.ticks * C.tick_ms
    tag_step(s)
    for i = 1, s.n do
        local p = s.players[i]
        if not p.left and p ~= s.it then
            p.free_ms = p.free_ms + C.tick_ms
            p.score = p.free_ms // 100
        end
    end
    local pos = s.pos
    if pos.n > 0 then
        ctx.broadcast(OP_POSITIONS, concat(pos, "", 1, pos.n))
        pos.n = 0
    end
    if s.now >= s.time_limit_ms then
        finish(s)
    elseif s.ticks % 20 == 0 then
        broadcast_scores(s)
    end
    return s
end

function M.terminate(ctx, s, reason)
    ctx.log("info", string.format("tag stopped (%s) after %d tags", tostring(reason), s.tags))
    return s
end

return M
