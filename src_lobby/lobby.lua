-- lobby.lua: every room, queue and placement change the lobby makes in Redis, as one script
-- so each change is atomic (Redis runs a script alone). Loaded once (SCRIPT LOAD), called with
-- EVALSHA 0 <op> <prefix> <args...>. Keys are listed in docs/redis-keys.md.
--
-- Replies: an error reply whose text is an ErrorCode name (ROOM_FULL, ...), optionally
-- followed by a space and a message for the client, or an array:
--   { kind, ... } where a room state is
--   room_id, name, owner, max, status, match, game, mode, n,
--   then n x (uid, name, ready, online, gw, sid)

local op = ARGV[1]
local P = ARGV[2]

local function K(...)
  return P .. table.concat({...}, ':')
end

local function fail(code, message)
  if message then return redis.error_reply(code .. ' ' .. message) end
  return redis.error_reply(code)
end

-- ---- game modes (docs/modules.md): which live game daemons serve which mode

local ARENA = 'arena'

-- The modes a game daemon serves, as a set of name -> {min, max}, from its registry fields
-- `modes` (comma-separated) and `mode_limits` (`name:min-max,...`). A daemon without `modes`
-- predates game modules: it serves the arena only, for 1-4 players. A mode missing from
-- `mode_limits` gets the module defaults (1-16; the arena 1-4).
local function daemon_modes(modes, limits)
  if not modes or modes == '' then return {[ARENA] = {1, 4}} end
  local lim = {}
  for name, lo, hi in string.gmatch(limits or '', '([%w_%-]+):(%d+)%-(%d+)') do
    lim[name] = {tonumber(lo), tonumber(hi)}
  end
  local out = {}
  for name in string.gmatch(modes, '[^,]+') do
    out[name] = lim[name] or (name == ARENA and {1, 4} or {1, 16})
  end
  return out
end

-- Every healthy game daemon (fresh heartbeat, not draining, not lost since its last
-- heartbeat, not sitting out an unconfirmed placement): a list of {id =, modes =, congested =}.
local function healthy_games(now, stale_ms)
  local out = {}
  for _, id in ipairs(redis.call('LRANGE', P .. 'Server:Game', 0, -1)) do
    local h = redis.call('HMGET', P .. 'Server:Game:' .. id, 'status', 'heartbeat', 'modes',
                         'mode_limits')
    local status, hb = tonumber(h[1]), tonumber(h[2])
    -- A daemon a gateway lost (game_lost) stays out until it heartbeats again: its heartbeat
    -- is still fresh for a while after a kill -9, and its placement count was just dropped.
    local lost = tonumber(redis.call('HGET', K('placement', 'lost'), id) or '')
    if lost and hb and hb > lost then
      redis.call('HDEL', K('placement', 'lost'), id)
      lost = nil
    end
    -- A daemon that did not pick up a match placed on it (placement_confirm) sits out a while.
    local held = tonumber(redis.call('HGET', K('placement', 'unconfirmed'), id) or '')
    if held and held <= now then
      redis.call('HDEL', K('placement', 'unconfirmed'), id)
      held = nil
    end
    if status and hb and status ~= 3 and now - hb <= stale_ms and not lost and not held then
      table.insert(out, {id = id, modes = daemon_modes(h[3], h[4]), congested = status == 2})
    end
  end
  return out
end

-- The player limits of a mode over the healthy daemons serving it (the narrowest range, so
-- the room fits whichever of them places it): lo, hi; nil when none serves it. The arena is
-- built in: with no daemon up at all, it still has its limits 1-4 (START then answers
-- SERVICE_UNAVAILABLE until a daemon is up, as before modes).
local function mode_limits(mode, now, stale_ms)
  local lo, hi
  local games = healthy_games(now, stale_ms)
  for _, g in ipairs(games) do
    local l = g.modes[mode]
    if l then
      if not lo or l[1] > lo then lo = l[1] end
      if not hi or l[2] < hi then hi = l[2] end
    end
  end
  if not lo and mode == ARENA and #games == 0 then return 1, 4 end
  return lo, hi
end

-- The quick-match queue of a mode (the arena's keeps the name it had before modes).
local function queue_key(mode)
  if mode == ARENA or mode == '1' then return K('quickmatch') end
  return K('quickmatch', mode)
end

-- Takes uid out of the quick-match queue it is in (user:<uid> `queued` names the mode).
-- Returns true if it was queued.
local function unqueue(uid)
  local mode = redis.call('HGET', K('user', uid), 'queued')
  if not mode then return false end
  redis.call('HDEL', K('user', uid), 'queued')
  return redis.call('LREM', queue_key(mode), 0, uid) > 0
end

local function room_state(id, out)
  local r = redis.call('HMGET', K('room', id), 'name', 'owner', 'max', 'status', 'match', 'game',
                      'mode')
  local members = redis.call('LRANGE', K('room', id, 'members'), 0, -1)
  table.insert(out, id)
  table.insert(out, r[1] or '')
  table.insert(out, r[2] or '0')
  table.insert(out, r[3] or '0')
  table.insert(out, r[4] or '1')
  table.insert(out, r[5] or '0')
  table.insert(out, r[6] or '0')
  table.insert(out, r[7] or ARENA)
  table.insert(out, #members)
  for _, uid in ipairs(members) do
    local u = redis.call('HMGET', K('user', uid), 'name', 'online', 'gw', 'sid')
    table.insert(out, uid)
    table.insert(out, u[1] or '')
    table.insert(out, redis.call('SISMEMBER', K('room', id, 'ready'), uid))
    table.insert(out, u[2] or '0')
    table.insert(out, u[3] or '0')
    table.insert(out, u[4] or '0')
  end
  return out
end

-- The game daemons each online member's gateway has a live link to: a list of sets (id ->
-- true), one per distinct gateway, from the `linked_games` field every gateway publishes in its
-- registry entry (docs/redis-keys.md). A gateway without the field (its entry expired) adds
-- no constraint: the registry sweep deals with it.
local function linked_sets(members)
  local sets, seen = {}, {}
  for _, uid in ipairs(members) do
    local u = redis.call('HMGET', K('user', uid), 'online', 'gw')
    if u[1] == '1' and u[2] and not seen[u[2]] then
      seen[u[2]] = true
      local f = redis.call('HGET', P .. 'Server:Gateway:' .. u[2], 'linked_games')
      if f then
        local set = {}
        for gid in string.gmatch(f, '%d+') do set[gid] = true end
        table.insert(sets, set)
      end
    end
  end
  return sets
end

-- Picks, among the healthy game daemons serving `mode` that every member's gateway is linked
-- to (and not `skip`), a smooth one before a congested one, then the one with the fewest
-- matches placed on it, and counts this one.
-- Returns its id, or nil and the error to answer: UNKNOWN_MODE when healthy daemons exist but
-- none serves the mode, SERVICE_UNAVAILABLE (and a message) when none is healthy or none
-- serving it is reachable from the players' gateways.
local function place(now, stale_ms, mode, members, skip)
  local games = healthy_games(now, stale_ms)
  local sets = linked_sets(members)
  local best, best_load = nil, nil
  local serving = false
  for _, g in ipairs(games) do
    local reachable = g.id ~= skip
    for _, set in ipairs(sets) do
      if not set[g.id] then reachable = false end
    end
    if g.modes[mode] then serving = true end
    if g.modes[mode] and reachable then
      -- Smooth daemons first (status 2: the daemon says its ticks near their budget); among
      -- equals, the fewest matches placed, then the lowest id.
      local load = tonumber(redis.call('HGET', K('placement', 'Game'), g.id) or '0')
      if g.congested then load = load + 1e9 end
      if best_load == nil or load < best_load or (load == best_load and tonumber(g.id) < tonumber(best)) then
        best, best_load = g.id, load
      end
    end
  end
  if not best then
    if serving then return nil, 'SERVICE_UNAVAILABLE', 'no game server is reachable from every player\'s gateway' end
    return nil, #games > 0 and 'UNKNOWN_MODE' or 'SERVICE_UNAVAILABLE'
  end
  redis.call('HINCRBY', K('placement', 'Game'), best, 1)
  return best
end

-- Hands a placed match to its daemon: counted there, in its inbox, and in `placing` until the
-- daemon confirms the pickup (placement_confirm re-places or ends it past the bound).
local function hand_over(match, game, now)
  redis.call('SADD', K('game', game, 'matches'), match)
  redis.call('SADD', K('games', 'busy'), game)
  redis.call('RPUSH', K('game', game, 'inbox'), match)
  redis.call('ZADD', K('placing'), now, match)
end

-- Puts a waiting room in game on a placed daemon serving its mode. Returns true, or false and
-- the error code of place().
local function start_room(id, now, stale_ms)
  local mode = redis.call('HGET', K('room', id), 'mode') or ARENA
  local members = redis.call('LRANGE', K('room', id, 'members'), 0, -1)
  local game, err, message = place(now, stale_ms, mode, members)
  if not game then
    return false, err, message
  end
  -- Match ids key the records in PostgreSQL, which outlive Redis's data: when match:seq is
  -- missing (a new Redis, or one that lost its data) it restarts at now (ms) x 1000, above
  -- every id handed out before unless that was over 1,000 matches per ms on average.
  local seq = K('match', 'seq')
  if redis.call('EXISTS', seq) == 0 then
    redis.call('SET', seq, string.format('%.0f', math.floor(now) * 1000))
  end
  -- As a string: Lua's own number to string conversion (K, table.concat) writes numbers of
  -- more than 14 digits in exponent form.
  local match = string.format('%.0f', redis.call('INCR', seq))
  redis.call('HSET', K('room', id), 'status', 2, 'match', match, 'game', game)
  redis.call('ZREM', K('rooms', 'waiting'), id)
  -- The game daemon picks the match up from its inbox.
  redis.call('HSET', K('match', match), 'room', id, 'game', game,
             'players', table.concat(members, ','), 'created', now, 'mode', mode)
  hand_over(match, game, now)
  return true
end

-- The record of a match its game daemon may never write (killed, or lost by a gateway while
-- it ran): outcome 'aborted', no stats, into records:pending as record_codec.h's bytes, owner
-- 0, for any game daemon to deliver to PostgreSQL (docs/faults.md). HSETNX: a record the
-- daemon stored itself wins; the insert is idempotent, so one written by a daemon that comes
-- back later finds this one in PostgreSQL and adds nothing.
local function pending_aborted(match, now)
  local m = redis.call('HMGET', K('match', match), 'room', 'game', 'players', 'created', 'mode')
  if not m[1] then return end
  local uids, names, zeros, outs, stats = {}, {}, {}, {}, {}
  for uid in string.gmatch(m[3] or '', '%d+') do
    table.insert(uids, uid)
    local name = redis.call('HGET', K('user', uid), 'name') or 'unknown'
    table.insert(names, '"' .. (string.gsub(name, '(["\\])', '\\%1')) .. '"')
    table.insert(zeros, '0')
    table.insert(outs, '""') -- a player's outcome: '', win, loss or draw
    table.insert(stats, '"{}"')
  end
  local z = '{' .. table.concat(zeros, ',') .. '}'
  local mode = m[5]
  if not mode or mode == '' then mode = 'arena' end
  local ms = string.format('%.0f', now)
  local f = {match, m[2], m[1], m[4] or ms, ms, 'aborted', mode, '',
             '{' .. table.concat(uids, ',') .. '}', '{' .. table.concat(names, ',') .. '}',
             z, z, z, z, z, '{' .. table.concat(outs, ',') .. '}', '{' .. table.concat(stats, ',') .. '}'}
  local parts = {'rec1 0 ' .. ms .. ' ' .. #f .. '\n'}
  for _, v in ipairs(f) do table.insert(parts, #v .. '\n' .. v) end
  redis.call('HSETNX', K('records', 'pending'), match, table.concat(parts))
end

-- A match is over (or lost): its room waits again, nobody ready, and the placement count of
-- its daemon drops. Returns the room id if the room still exists, else nil.
local function end_match(match, now)
  local m = redis.call('HMGET', K('match', match), 'room', 'game')
  if not m[1] then return nil end
  redis.call('DEL', K('match', match))
  redis.call('ZREM', K('placing'), match)
  redis.call('SREM', K('game', m[2], 'matches'), match)
  if tonumber(redis.call('HGET', K('placement', 'Game'), m[2]) or '0') > 0 then
    redis.call('HINCRBY', K('placement', 'Game'), m[2], -1)
  end
  local id = m[1]
  if redis.call('HGET', K('room', id), 'match') ~= tostring(match) then return nil end
  redis.call('HSET', K('room', id), 'status', 1, 'match', 0, 'game', 0)
  redis.call('DEL', K('room', id, 'ready'))
  redis.call('ZADD', K('rooms', 'waiting'), now, id)
  -- Members who went offline (or logged out) during the match leave now that it is over.
  for _, uid in ipairs(redis.call('LRANGE', K('room', id, 'members'), 0, -1)) do
    if redis.call('HGET', K('user', uid), 'online') ~= '1' then
      redis.call('ZADD', K('pending_leave'), now, uid)
    end
  end
  return id
end

local function new_room(name, max, owner, now, mode)
  local id = redis.call('INCR', K('room', 'seq'))
  redis.call('HSET', K('room', id), 'name', name, 'owner', owner, 'max', max, 'status', 1,
             'created', now, 'match', 0, 'game', 0, 'mode', mode)
  redis.call('ZADD', K('rooms', 'waiting'), now, id)
  return id
end

-- Removes uid from its room: the owner's role passes on, the last one out deletes the room.
-- Returns room id and whether the room still exists.
local function leave_room(uid)
  local id = redis.call('HGET', K('user', uid), 'room')
  if not id then
    return nil, false
  end
  redis.call('LREM', K('room', id, 'members'), 0, uid)
  redis.call('SREM', K('room', id, 'ready'), uid)
  redis.call('HDEL', K('user', uid), 'room')
  if redis.call('LLEN', K('room', id, 'members')) == 0 then
    redis.call('DEL', K('room', id), K('room', id, 'members'), K('room', id, 'ready'))
    redis.call('ZREM', K('rooms', 'waiting'), id)
    return id, false
  end
  if redis.call('HGET', K('room', id), 'owner') == uid then
    redis.call('HSET', K('room', id), 'owner', redis.call('LINDEX', K('room', id, 'members'), 0))
  end
  return id, true
end

-- A room or queue request from a user with no known location (Redis lost its data since the
-- login: nothing says where to push) changes nothing: a match placed for such a player would
-- run without anyone hearing of it. The client is told to log in again.
if (op == 'create' or op == 'join' or op == 'quick' or op == 'start') and
   (redis.call('HGET', K('user', ARGV[3]), 'gw') or '0') == '0' then
  return fail('SESSION_LOST')
end

if op == 'create' then
  local uid, name, max, now = ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
  local mode, stale = ARGV[7], tonumber(ARGV[8])
  if redis.call('HEXISTS', K('user', uid), 'room') == 1 then return fail('ALREADY_IN_ROOM') end
  if redis.call('HEXISTS', K('user', uid), 'queued') == 1 then return fail('ALREADY_QUEUED') end
  local lo, hi = mode_limits(mode, now, stale)
  if not lo then return fail('UNKNOWN_MODE', 'no game daemon serves mode ' .. mode) end
  if max == 0 then max = hi end
  if max < lo or max > hi then
    return fail('BAD_REQUEST', string.format('max_players must be %d-%d for mode %s', lo, hi, mode))
  end
  local id = new_room(name, max, uid, now, mode)
  redis.call('RPUSH', K('room', id, 'members'), uid)
  redis.call('HSET', K('user', uid), 'room', id)
  return room_state(id, {'room'})

elseif op == 'join' then
  local uid, id = ARGV[3], ARGV[4]
  local cur = redis.call('HGET', K('user', uid), 'room')
  if cur then return fail('ALREADY_IN_ROOM') end
  if redis.call('HEXISTS', K('user', uid), 'queued') == 1 then return fail('ALREADY_QUEUED') end
  local r = redis.call('HMGET', K('room', id), 'status', 'max')
  if not r[1] then return fail('ROOM_NOT_FOUND') end
  if tonumber(r[1]) ~= 1 then return fail('ROOM_IN_GAME') end
  if redis.call('LLEN', K('room', id, 'members')) >= tonumber(r[2]) then return fail('ROOM_FULL') end
  redis.call('RPUSH', K('room', id, 'members'), uid)
  redis.call('HSET', K('user', uid), 'room', id)
  return room_state(id, {'room'})

elseif op == 'leave' then
  local uid = ARGV[3]
  local id = redis.call('HGET', K('user', uid), 'room')
  if not id then return fail('NOT_IN_ROOM') end
  if tonumber(redis.call('HGET', K('room', id), 'status')) == 2 then return fail('ROOM_IN_GAME') end
  local _, exists = leave_room(uid)
  if exists then return room_state(id, {'room'}) end
  return {'deleted', id}

elseif op == 'ready' then
  local uid, on = ARGV[3], ARGV[4]
  local id = redis.call('HGET', K('user', uid), 'room')
  if not id then return fail('NOT_IN_ROOM') end
  if tonumber(redis.call('HGET', K('room', id), 'status')) ~= 1 then return fail('ROOM_IN_GAME') end
  if on == '1' then
    redis.call('SADD', K('room', id, 'ready'), uid)
  else
    redis.call('SREM', K('room', id, 'ready'), uid)
  end
  return room_state(id, {'room'})

elseif op == 'start' then
  local uid, now, stale = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
  local id = redis.call('HGET', K('user', uid), 'room')
  if not id then return fail('NOT_IN_ROOM') end
  local r = redis.call('HMGET', K('room', id), 'owner', 'status')
  if r[1] ~= uid then return fail('NOT_ROOM_OWNER') end
  if tonumber(r[2]) ~= 1 then return fail('ROOM_IN_GAME') end
  if redis.call('SCARD', K('room', id, 'ready')) < redis.call('LLEN', K('room', id, 'members')) then
    return fail('NOT_ALL_READY')
  end
  local ok, err, message = start_room(id, now, stale)
  if not ok then
    if err == 'UNKNOWN_MODE' then
      return fail(err, 'no game daemon serves mode ' .. (redis.call('HGET', K('room', id), 'mode') or ARENA))
    end
    return fail(err, message)
  end
  return room_state(id, {'room'})

elseif op == 'quick' then
  local uid, n, now, stale = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  local mode = ARGV[7]
  if redis.call('HEXISTS', K('user', uid), 'room') == 1 then return fail('ALREADY_IN_ROOM') end
  if redis.call('HEXISTS', K('user', uid), 'queued') == 1 then return fail('ALREADY_QUEUED') end
  -- QUICK_MATCH_SIZE, clamped into the mode's limits; one queue per mode.
  local lo, hi = mode_limits(mode, now, stale)
  if not lo then return fail('UNKNOWN_MODE', 'no game daemon serves mode ' .. mode) end
  if n < lo then n = lo end
  if n > hi then n = hi end
  local queue = queue_key(mode)
  redis.call('RPUSH', queue, uid)
  redis.call('HSET', K('user', uid), 'queued', mode)
  local len = redis.call('LLEN', queue)
  if len < n then return {'queued', len} end
  local players = redis.call('LPOP', queue, n)
  local id = new_room('Quick match', n, players[1], now, mode)
  for _, p in ipairs(players) do
    redis.call('RPUSH', K('room', id, 'members'), p)
    redis.call('SADD', K('room', id, 'ready'), p)
    redis.call('HDEL', K('user', p), 'queued')
    redis.call('HSET', K('user', p), 'room', id)
  end
  -- No healthy game daemon: the room stays waiting, everyone ready; its owner can start later.
  start_room(id, now, stale)
  return room_state(id, {'room'})

elseif op == 'cancel' then
  local uid = ARGV[3]
  if not unqueue(uid) then return fail('NOT_QUEUED') end
  return {'ok'}

elseif op == 'list' then
  local page, size = tonumber(ARGV[3]), tonumber(ARGV[4])
  local ids = redis.call('ZREVRANGE', K('rooms', 'waiting'), page * size, page * size + size - 1)
  local out = {'list', redis.call('ZCARD', K('rooms', 'waiting')), #ids}
  for _, id in ipairs(ids) do
    local r = redis.call('HMGET', K('room', id), 'name', 'max', 'owner', 'mode')
    table.insert(out, id)
    table.insert(out, r[1] or '')
    table.insert(out, redis.call('LLEN', K('room', id, 'members')))
    table.insert(out, r[2] or '0')
    table.insert(out, redis.call('HGET', K('user', r[3] or '0'), 'name') or '')
    table.insert(out, r[4] or ARENA)
  end
  return out

elseif op == 'online' then
  -- A login or resume: record where the user is now; cancel a pending leave. Returns the
  -- previous location (gw, sid) for the duplicate-login kick, and the room state if any.
  -- A login brings a new token (its key in ARGV[7]): the user's older token is revoked, so a
  -- stale device can't RESUME over the new login. A resume passes an empty name (kept).
  local uid, name, gw, sid, token = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  local prev = redis.call('HMGET', K('user', uid), 'gw', 'sid', 'online', 'token', 'name')
  if name == '' then name = prev[5] or '' end
  if prev[4] and prev[4] ~= token then redis.call('DEL', prev[4]) end
  redis.call('HSET', K('user', uid), 'name', name, 'gw', gw, 'sid', sid, 'online', 1, 'token', token)
  -- Who is on which gateway, for the sweep of gateways gone from the registry (a gateway
  -- killed -9 reports no closed session).
  if prev[1] and prev[1] ~= gw then redis.call('SREM', K('gw', prev[1], 'users'), uid) end
  redis.call('SADD', K('gw', gw, 'users'), uid)
  redis.call('SADD', K('gateways', 'seen'), gw)
  -- username -> uid, for operators (clusterctl who/kick): names are unique case-insensitively
  if name ~= '' then redis.call('SET', K('username', string.lower(name)), uid) end
  redis.call('ZREM', K('pending_leave'), uid)
  local out = {'online', prev[1] or '0', prev[2] or '0', prev[3] or '0', name}
  local id = redis.call('HGET', K('user', uid), 'room')
  if id then
    -- In a running match: tell its game daemon the player's session moved, so its pushes
    -- follow at once (it reads game:<gid>:moved on every inbox poll; bounded).
    local st = redis.call('HMGET', K('room', id), 'status', 'game')
    if st[1] == '2' and st[2] and st[2] ~= '0' and (prev[1] ~= gw or prev[2] ~= sid) then
      redis.call('RPUSH', K('game', st[2], 'moved'), uid)
      redis.call('LTRIM', K('game', st[2], 'moved'), -10000, -1)
    end
    room_state(id, out)
  end
  return out

elseif op == 'offline' then
  -- The user's session closed (only if it is still the current one): mark offline, leave the
  -- quick-match queue now, and leave the room after the grace period.
  local uid, gw, sid, deadline = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
  local cur = redis.call('HMGET', K('user', uid), 'gw', 'sid')
  if cur[1] ~= gw or cur[2] ~= sid then return {'stale'} end
  redis.call('HSET', K('user', uid), 'online', 0)
  redis.call('SREM', K('gw', gw, 'users'), uid)
  unqueue(uid)
  local id = redis.call('HGET', K('user', uid), 'room')
  if not id then return {'offline'} end
  redis.call('ZADD', K('pending_leave'), deadline, uid)
  return room_state(id, {'room'})

elseif op == 'gone_gateways' then
  -- Gateways with users whose registry entry is gone (killed without reporting their
  -- sessions). The lobby drops those it still has a live link from (alive, but cut off from
  -- Redis), then calls 'sweep_gateway' for each of the others.
  local out = {'gone'}
  for _, g in ipairs(redis.call('SMEMBERS', K('gateways', 'seen'))) do
    if redis.call('EXISTS', P .. 'Server:Gateway:' .. g) == 0 then table.insert(out, g) end
  end
  return out

elseif op == 'sweep_gateway' then
  -- Every user still online through gateway ARGV[3] goes offline, as if its session had
  -- closed: out of the quick-match queue now, out of its room after the grace.
  -- Returns {'offline', uid, room id or 0, ...}.
  local g, deadline = ARGV[3], ARGV[4]
  local out = {'offline'}
  if redis.call('EXISTS', P .. 'Server:Gateway:' .. g) == 1 then return out end -- back meanwhile
  for _, uid in ipairs(redis.call('SMEMBERS', K('gw', g, 'users'))) do
    local cur = redis.call('HMGET', K('user', uid), 'gw', 'online', 'room')
    if cur[1] == g and cur[2] == '1' then
      redis.call('HSET', K('user', uid), 'online', 0)
      unqueue(uid)
      if cur[3] then redis.call('ZADD', K('pending_leave'), deadline, uid) end
      table.insert(out, uid)
      table.insert(out, cur[3] or '0')
    end
  end
  redis.call('DEL', K('gw', g, 'users'))
  redis.call('SREM', K('gateways', 'seen'), g)
  return out

elseif op == 'logout' then
  local uid = ARGV[3]
  local token = redis.call('HGET', K('user', uid), 'token')
  if token then redis.call('DEL', token) end
  redis.call('HDEL', K('user', uid), 'token')
  unqueue(uid)
  redis.call('ZREM', K('pending_leave'), uid)
  local id = redis.call('HGET', K('user', uid), 'room')
  local out = {'logout'}
  if id and tonumber(redis.call('HGET', K('room', id), 'status')) ~= 2 then
    local _, exists = leave_room(uid)
    if exists then out = room_state(id, {'room'}) end
  end
  local gw = redis.call('HGET', K('user', uid), 'gw')
  if gw then redis.call('SREM', K('gw', gw, 'users'), uid) end
  redis.call('HSET', K('user', uid), 'online', 0, 'gw', 0, 'sid', 0)
  return out

elseif op == 'expire' then
  -- Leaves the rooms of users whose grace period ended (at most 50 per call). A user whose
  -- room is in game is looked at again later (the match returns players to the room).
  -- Returns, for each room that changed and still exists, its id and the user who left, to
  -- push its state.
  local now, retry = tonumber(ARGV[3]), tonumber(ARGV[4])
  local uids = redis.call('ZRANGEBYSCORE', K('pending_leave'), '-inf', now, 'LIMIT', 0, 50)
  local out = {'expired', #uids}
  for _, uid in ipairs(uids) do
    local id = redis.call('HGET', K('user', uid), 'room')
    local offline = redis.call('HGET', K('user', uid), 'online') == '0'
    if id and offline and tonumber(redis.call('HGET', K('room', id), 'status')) == 2 then
      redis.call('ZADD', K('pending_leave'), retry, uid)
    else
      redis.call('ZREM', K('pending_leave'), uid)
      if id and offline then
        local _, exists = leave_room(uid)
        if exists then
          table.insert(out, id)
          table.insert(out, uid)
        end
      end
    end
  end
  return out

elseif op == 'match_end' then
  local match, now = ARGV[3], tonumber(ARGV[4])
  local id = end_match(match, now)
  if not id then return {'gone'} end
  return room_state(id, {'room'})

elseif op == 'game_lost' or op == 'sweep_games' then
  -- game_lost: every match of a game daemon that a gateway lost goes back to waiting.
  -- sweep_games: the same for every daemon with matches whose registry entry expired (the
  -- backstop when no gateway was there to notice).
  -- Returns {'rooms', room id, event, ...} for the rooms that changed.
  local now = tonumber(ARGV[4])
  local games = {}
  if op == 'game_lost' then
    games = {ARGV[3]}
  else
    for _, g in ipairs(redis.call('SMEMBERS', K('games', 'busy'))) do
      if redis.call('EXISTS', P .. 'Server:Game:' .. g) == 0 then table.insert(games, g) end
    end
  end
  local out = {'rooms'}
  if op == 'game_lost' then
    -- Not placed on again until it heartbeats after this (compared on its own clock).
    local hb = redis.call('HGET', P .. 'Server:Game:' .. ARGV[3], 'heartbeat')
    if hb then redis.call('HSET', K('placement', 'lost'), ARGV[3], hb) end
  end
  -- Matches the daemon reported ended (in matches:ended, not yet read by a lobby) keep their
  -- own event: a daemon that exits right after a GAME_OVER is lost before the list is read.
  local reported = {}
  for _, e in ipairs(redis.call('LRANGE', K('matches', 'ended'), 0, -1)) do
    local mid = string.match(e, '^(%d+):')
    if mid then reported[mid] = e end
  end
  for _, game in ipairs(games) do
    if op == 'sweep_games' then redis.call('HDEL', K('placement', 'lost'), game) end
    for _, match in ipairs(redis.call('SMEMBERS', K('game', game, 'matches'))) do
      local event = 'match_aborted'
      local e = reported[match]
      if e then
        redis.call('LREM', K('matches', 'ended'), 0, e)
        if not string.find(e, ':aborted', 1, true) then event = 'match_ended' end
      else
        pending_aborted(match, now)
      end
      local id = end_match(match, now)
      if id then
        table.insert(out, id)
        table.insert(out, event)
      end
    end
    redis.call('DEL', K('game', game, 'inbox'), K('game', game, 'matches'), K('game', game, 'moved'))
    redis.call('HDEL', K('placement', 'Game'), game)
    redis.call('SREM', K('games', 'busy'), game)
  end
  return out

elseif op == 'placement_confirm' then
  -- Matches placed more than confirm_ms ago that their daemon has not picked up (it is dead,
  -- stalled, not a real game daemon, or could not reach the players' gateways): each goes to
  -- another daemon, at most `retries` times, or ends. The daemon that let it wait sits out
  -- placement for hold_ms. Returns {'placing', room, match, outcome ('replaced'|'ended'),
  -- from game, to game, ...}.
  local now, confirm_ms, stale, retries, hold_ms =
    tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
  local out = {'placing'}
  local due = redis.call('ZRANGEBYSCORE', K('placing'), '-inf', now - confirm_ms, 'LIMIT', 0, 50)
  for _, match in ipairs(due) do
    redis.call('ZREM', K('placing'), match)
    local m = redis.call('HMGET', K('match', match), 'room', 'game', 'mode', 'players')
    if m[1] and redis.call('HGET', K('room', m[1]), 'match') == match then
      local old = m[2]
      redis.call('HSET', K('placement', 'unconfirmed'), old, string.format('%.0f', now + hold_ms))
      redis.call('LREM', K('game', old, 'inbox'), 0, match)
      local tries = redis.call('HINCRBY', K('match', match), 'replaced', 1)
      local game
      if tries <= retries then
        local members = {}
        for uid in string.gmatch(m[4] or '', '%d+') do table.insert(members, uid) end
        game = place(now, stale, m[3] or ARENA, members, old)
      end
      if game then
        redis.call('SREM', K('game', old, 'matches'), match)
        if tonumber(redis.call('HGET', K('placement', 'Game'), old) or '0') > 0 then
          redis.call('HINCRBY', K('placement', 'Game'), old, -1)
        end
        redis.call('HSET', K('match', match), 'game', game)
        redis.call('HSET', K('room', m[1]), 'game', game)
        hand_over(match, game, now)
        for _, v in ipairs({m[1], match, 'replaced', old, game}) do table.insert(out, v) end
      else
        -- Never started: no record (nothing was played); the room waits again.
        end_match(match, now)
        for _, v in ipairs({m[1], match, 'ended', old, '0'}) do table.insert(out, v) end
      end
    end
  end
  return out

elseif op == 'state' then
  local id = ARGV[3]
  if redis.call('EXISTS', K('room', id)) == 0 then return fail('ROOM_NOT_FOUND') end
  return room_state(id, {'room'})

elseif op == 'chat' then
  -- Where to push a chat line: the sender's room and its members' locations, if the sender
  -- is within the rate (limit lines per second).
  local uid, limit = ARGV[3], tonumber(ARGV[4])
  local id = redis.call('HGET', K('user', uid), 'room')
  if not id then return fail('NOT_IN_ROOM') end
  local n = redis.call('INCR', K('chat', uid))
  if n == 1 then redis.call('PEXPIRE', K('chat', uid), 1000) end
  if n > limit then return fail('RATE_LIMITED') end
  return room_state(id, {'room'})
end

return fail('INTERNAL')
