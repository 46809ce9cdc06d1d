// Game modules through the library: a match of the example module `tag` (MATCH_START with
// its mode, MATCH_DATA pushes decoded by TagState, MATCH_DATA_SEND moves, a refused payload)
// and UNKNOWN_MODE. Skipped when the built gamed has no modules (no GAME_MODULES_DIR).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TAG_OP, TagState } from '../src/node.js';
import { BIN, Cluster, binSupports, closeClients, player, waitFor } from './harness.js';

const HAS_MODULES = binSupports(BIN.gamed, 'GAME_MODULES_DIR');
let cl;
before(async () => {
  if (HAS_MODULES) cl = await Cluster.start('modules', { gateways: 1, lobbies: 1, games: 1 });
});
after(async () => {
  closeClients();
  await cl?.stop();
});

test('a tag match: MATCH_DATA in both directions, decoded; a bad move is refused', { skip: !HAS_MODULES && 'gamed has no game modules' }, async () => {
  const url = cl.gateways[0].url;
  const a = await player(url);
  const b = await player(url);
  await assert.rejects(a.quickMatch('no_such_mode'), (e) => e.codeName === 'UNKNOWN_MODE');
  const room = await a.createRoom({ name: 'tag room', maxPlayers: 2, mode: 'tag' });
  assert.equal(room.mode, 'tag');
  await b.joinRoom(room.roomId);
  await b.setReady(true);
  await a.setReady(true);
  const views = [new TagState(), new TagState()];
  [a, b].forEach((c, i) => c.on('matchData', (m) => views[i].apply(m)));
  const started = a.next('matchStart', 10000);
  await a.startGame();
  const ms = await started;
  assert.equal(ms.mode, 'tag');
  await waitFor('RULES and both positions on both', () => views.every((v) => v.rules && v.players.size === 2), 10000);
  assert.ok(views[0].rules.fieldW > 0);
  const me = views[0].players.get(a.userId);
  const x0 = me.x;
  const to = { x: x0 + (me.x < views[0].rules.fieldW / 2 ? 1 : -1), y: me.y };
  a.sendMatchData(TAG_OP.MOVE, TagState.move(to.x, to.y));
  // the module clamps a move to the speed the time since the last one allows: toward, not at
  const moved = () => (views[1].players.get(a.userId)?.x ?? x0) - x0;
  await waitFor("b sees a's move", () => Math.abs(moved()) > 0.5 && Math.sign(moved()) === Math.sign(to.x - x0), 10000);
  a.sendMatchData(TAG_OP.MOVE, new Uint8Array(3));
  await waitFor('the module refuses a 3-byte MOVE', () => views[0].refused.some((r) => r.op === TAG_OP.MOVE && r.code === -4), 10000);
  await waitFor('a SCORES record', () => [...views[1].players.values()].some((p) => p.score > 0), 10000);
});
