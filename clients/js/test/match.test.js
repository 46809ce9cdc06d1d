// Whole arena matches through the library against a real cluster (2 gateways, lobby, game
// daemon): two players on different gateways meet in a room, play to GAME_OVER and see each
// other's moves; a gateway killed and restarted mid-match: the client reconnects, RESUMEs,
// gets the snapshot and plays on to GAME_OVER; SERVER_CLOSING moves a client to the other gateway.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MatchOutcome } from '../src/node.js';
import { Cluster, closeClients, player, waitFor } from './harness.js';
import { playArena } from './play.js';

const GAME_ENV = {
  TICK_MS: '50', MATCH_TIME_LIMIT_MS: '25000', MATCH_WAVES: '1', WAVE_BASE_MONSTERS: '2', WAVE_GAP_MS: '200',
  MONSTER_HP: '30', DRAIN_TIMEOUT_MS: '500',
};
let cl;
before(async () => {
  cl = await Cluster.start('match', { gateways: 2, lobbies: 1, games: 1, gameEnv: GAME_ENV });
});
after(async () => {
  closeClients();
  await cl?.stop();
});

/** a and b in one room, both ready, a starts: resolves with both MATCH_STARTs. */
async function startMatch(a, b) {
  const room = await a.createRoom({ name: 'duel', maxPlayers: 2 });
  await b.joinRoom(room.roomId);
  await b.setReady(true);
  await a.setReady(true);
  const starts = [a.next('matchStart', 10000), b.next('matchStart', 10000)];
  const starting = a.next('gameStarting', 10000);
  const s = await a.startGame();
  assert.ok(s.matchId > 0);
  assert.equal((await starting).matchId, s.matchId);
  const [ma, mb] = await Promise.all(starts);
  assert.equal(ma.matchId, s.matchId);
  assert.equal(mb.matchId, s.matchId);
  assert.equal(ma.players.length, 2);
  assert.ok(ma.rules.playerSpeed > 0, 'MATCH_START carries the rules');
  return [ma, mb];
}

test('two players on two gateways play an arena match to GAME_OVER and see each other move', async () => {
  const a = await player(cl.gateways[0].url);
  const b = await player(cl.gateways[1].url);
  const [ma, mb] = await startMatch(a, b);
  const [ra, rb] = await Promise.all([playArena(a, ma), playArena(b, mb)]);
  assert.ok(ra.over && rb.over, 'both got GAME_OVER');
  assert.equal(ra.over.matchId, ma.matchId);
  assert.ok([MatchOutcome.WIN, MatchOutcome.LOSS, MatchOutcome.TIMEOUT_REACHED].includes(ra.over.outcome));
  assert.deepEqual(ra.errors, []);
  assert.ok(ra.seenMoves.has(b.userId), 'a saw b move');
  assert.ok(rb.seenMoves.has(a.userId), 'b saw a move');
  assert.equal(a.match, null);
  // the record is written after GAME_OVER (one transaction): poll the history for it
  const rec = await waitFor('the match in the history', async () =>
    (await a.matchHistory()).matches.find((m) => m.matchId === ma.matchId), 15000, 200);
  assert.equal(rec.me.userId, a.userId);
  assert.equal(rec.outcome, ra.over.outcome);
});

test('a gateway killed mid-match: the client reconnects, RESUMEs into the match and plays on', async () => {
  const g = cl.gateways[0];
  const a = await player(g.url, { reconnectBaseMs: 100, reconnectMaxMs: 500 });
  const b = await player(cl.gateways[1].url);
  const [ma, mb] = await startMatch(a, b);
  let paused = true;
  const pa = playArena(a, ma, { pauseWhile: () => paused });
  const pb = playArena(b, mb, { pauseWhile: () => paused });
  const events = [];
  a.on('reconnecting', (r) => events.push(`reconnecting ${r.attempt}`));
  a.on('resumeFailed', (e) => events.push(`resumeFailed ${e.codeName}`));
  const reconnected = a.next('reconnected', 20000);
  await cl.restartGateway(g, 'SIGKILL');
  const r = await reconnected;
  assert.ok(events.length >= 1);
  assert.equal(r.resumed, true, `resumed (events: ${events.join(', ')})`);
  assert.equal(r.room.status, 2, 'the room is IN_GAME');
  assert.ok(r.snapshot, 'the client asked for the snapshot after RESUME');
  assert.equal(r.snapshot.matchId, ma.matchId);
  assert.ok(a.match, 'still in the match');
  const update = await a.next('gameStateUpdate', 5000);
  assert.ok(update.tick > 0, 'pushes reach the resumed connection');
  paused = false;
  const [ra, rb] = await Promise.all([pa, pb]);
  assert.ok(ra.over && rb.over, 'both got GAME_OVER after the restart');
  assert.equal(ra.over.matchId, ma.matchId);
  assert.deepEqual(ra.errors, []);
});

test('SERVER_CLOSING: the client moves to the next gateway and resumes', async () => {
  const urls = [cl.gateways[1].url, cl.gateways[0].url];
  const a = await player(urls, { reconnectBaseMs: 100 });
  const room = await a.createRoom({ name: 'moving', maxPlayers: 4 });
  const closing = a.next('serverClosing', 10000);
  const reconnected = a.next('reconnected', 20000);
  cl.gateways[1].proc.signal('SIGTERM');
  await closing;
  const r = await reconnected;
  assert.equal(r.resumed, true);
  assert.equal(r.room.roomId, room.roomId);
  assert.equal(a.url, cl.gateways[0].url);
  assert.ok((await a.echo('lobby', 'still here')).payload.length > 0);
});
