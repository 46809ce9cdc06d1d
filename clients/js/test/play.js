// A fair arena player for the tests and the benchmark: walks toward the nearest monster no
// faster than the rules allow, attacks in range once the cooldown passed, drinks a potion
// when hp is low. Driven by the client's pushes; stops at GAME_OVER or MATCH_ABORTED.
import { ArenaState, stepToward } from '../src/node.js';

/**
 * Plays the match c is in from its MATCH_START (start) until it ends; resolves with
 * {over, aborted, state, seenMoves: Set of other user ids whose moves arrived, errors}.
 * opts.pauseWhile(): while true, the player stands still (a test's window for a restart).
 */
export function playArena(c, start, opts = {}) {
  const state = new ArenaState(start);
  const rules = start.rules;
  const seenMoves = new Set();
  const errors = [];
  let lastMove = Date.now();
  let lastAttack = 0;
  let done = false;
  const onUpdate = (u) => {
    state.applyUpdate(u);
    for (const m of u.playerMoves ?? []) if (m.userId !== c.userId) seenMoves.add(m.userId);
  };
  const onReconnected = (r) => r.snapshot && state.applySnapshot(r.snapshot);
  c.on('gameStateUpdate', onUpdate);
  c.on('reconnected', onReconnected);
  return new Promise((resolve) => {
    const finish = (over, aborted) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      c.off('gameStateUpdate', onUpdate);
      c.off('reconnected', onReconnected);
      resolve({ over, aborted, state, seenMoves, errors });
    };
    c.once('gameOver', (g) => finish(g, null));
    c.once('matchAborted', (a) => finish(null, a));
    let busy = false;
    const timer = setInterval(async () => {
      if (busy || done || c.state !== 'open' || opts.pauseWhile?.()) {
        lastMove = Date.now();
        return;
      }
      busy = true;
      try {
        await step();
      } catch (e) {
        if (!['MATCH_OVER', 'NOT_IN_GAME', 'DISCONNECTED', 'COOLDOWN', 'OUT_OF_RANGE', 'NO_TARGET', 'PLAYER_DEAD'].includes(e.codeName))
          errors.push(e);
      } finally {
        busy = false;
      }
    }, 100);
    async function step() {
      const me = state.players.get(c.userId);
      if (!me || !me.alive) return;
      if (me.hp < rules.playerHp / 3 && me.potions > 0) {
        const r = await c.usePotion();
        me.hp = r.hp;
        me.potions = r.remaining;
        return;
      }
      const target = state.nearestMonster(me.pos);
      const now = Date.now();
      if (!target) return;
      const d = Math.hypot(target.pos.x - me.pos.x, target.pos.y - me.pos.y);
      if (d <= rules.attackRange * 0.9 && now - lastAttack > rules.attackCooldownMs + 20) {
        lastAttack = now;
        state.applyAttack(await c.attack(target.id));
        return;
      }
      const to = stepToward(me.pos, target.pos, rules, now - lastMove);
      lastMove = now;
      const r = await c.move(to.x, to.y);
      me.pos = { x: r.pos.x, y: r.pos.y };
    }
  });
}
