// ArenaState: a client's view of an arena match built from its pushes (MATCH_START,
// GAME_STATE_UPDATE) and GAME_SNAPSHOT_RESPONSE. Pure data: no I/O, used by games and tests.

const copyPos = (p) => ({ x: p?.x ?? 0, y: p?.y ?? 0 });

export class ArenaState {
  /** start: a decoded MatchStart. */
  constructor(start) {
    this.matchId = start.matchId;
    this.mode = start.mode || 'arena';
    this.tickMs = start.tickMs;
    this.timeLimitMs = start.timeLimitMs;
    this.width = start.arenaW;
    this.height = start.arenaH;
    this.rules = start.rules ?? null;
    this.tick = 0;
    this.wave = 0;
    this.players = new Map();
    this.monsters = new Map();
    for (const p of start.players ?? []) this._player(p);
  }

  _player(p) {
    const old = this.players.get(p.userId) ?? {};
    const n = {
      userId: p.userId,
      username: p.username || old.username || '',
      pos: p.pos ? copyPos(p.pos) : old.pos ?? { x: 0, y: 0 },
      hp: p.hp,
      alive: p.alive,
      potions: p.potions,
      kills: p.kills,
      score: p.score,
    };
    this.players.set(p.userId, n);
    return n;
  }

  /** Applies one GameStateUpdate; returns it. */
  applyUpdate(u) {
    this.tick = u.tick;
    if (u.wave) this.wave = u.wave;
    for (const s of u.spawns ?? []) this.monsters.set(s.id, { id: s.id, pos: copyPos(s.pos), hp: s.hp });
    for (const m of u.moves ?? []) {
      const mon = this.monsters.get(m.id);
      if (mon) mon.pos = copyPos(m.pos);
    }
    for (const d of u.monsterDeaths ?? []) this.monsters.delete(d.id);
    for (const m of u.playerMoves ?? []) {
      const p = this.players.get(m.userId);
      if (p) p.pos = copyPos(m.pos);
    }
    for (const d of u.damaged ?? []) {
      const p = this.players.get(d.userId);
      if (p) {
        p.hp = d.hp;
        if (d.died) p.alive = false;
      }
    }
    for (const p of u.players ?? []) this._player(p);
    return u;
  }

  /** Replaces the whole state with a GameSnapshotResponse (after a RESUME). */
  applySnapshot(s) {
    this.tick = s.tick;
    this.wave = s.wave;
    this.players.clear();
    for (const p of s.players ?? []) this._player(p);
    this.monsters.clear();
    for (const m of s.monsters ?? []) this.monsters.set(m.id, { id: m.id, pos: copyPos(m.pos), hp: m.hp });
  }

  /** A monster's hp after an accepted attack (PlayerAttackResponse). */
  applyAttack(r) {
    if (r.killed) this.monsters.delete(r.monsterId);
    else if (this.monsters.has(r.monsterId)) this.monsters.get(r.monsterId).hp = r.monsterHp;
  }

  /** The live monster nearest to pos, or null. */
  nearestMonster(pos) {
    let best = null;
    let bd = Infinity;
    for (const m of this.monsters.values()) {
      const d = Math.hypot(m.pos.x - pos.x, m.pos.y - pos.y);
      if (d < bd) {
        bd = d;
        best = m;
      }
    }
    return best;
  }

  /** The live monster within radius of pos nearest to it, or null (click to attack). */
  monsterAt(pos, radius) {
    const m = this.nearestMonster(pos);
    return m && Math.hypot(m.pos.x - pos.x, m.pos.y - pos.y) <= radius ? m : null;
  }
}

/** One step of a fair player toward target: at most the speed the rules allow for dtMs. */
export function stepToward(from, to, rules, dtMs) {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const d = Math.hypot(dx, dy);
  const max = rules.playerSpeed * (Math.min(dtMs, rules.moveWindowMs || dtMs) / 1000);
  if (d <= max) return { x: to.x, y: to.y };
  return { x: from.x + (dx / d) * max, y: from.y + (dy / d) * max };
}
