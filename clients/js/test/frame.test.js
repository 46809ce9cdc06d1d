// Pure parts: the frame codec, the type -> message mapping, ClusterError, ArenaState.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ArenaState, ClusterError, ErrorCode, FrameDecoder, PUSH_TYPES, PacketType, encodeFrame, eventName, messageOf, pb, stepToward,
} from '../src/index.js';

test('a frame round-trips through every split of its bytes', () => {
  const payload = pb.EchoRequest.encode({ target: 1, payload: new Uint8Array([1, 2, 3]) }).finish();
  const a = encodeFrame(PacketType.ECHO_REQUEST, 7, payload);
  const b = encodeFrame(PacketType.PING_REQUEST, 0xffffffff, new Uint8Array(0));
  const bytes = new Uint8Array([...a, ...b]);
  assert.deepEqual([...a.slice(0, 10)], [0, 0, 0, payload.length, 0, 4, 0, 0, 0, 7]);
  for (let i = 0; i <= bytes.length; i++) {
    const d = new FrameDecoder();
    const frames = [...d.push(bytes.slice(0, i)), ...d.push(bytes.slice(i))];
    assert.equal(frames.length, 2, `split at ${i}`);
    assert.equal(frames[0].type, PacketType.ECHO_REQUEST);
    assert.equal(frames[0].seq, 7);
    assert.deepEqual(pb.EchoRequest.decode(frames[0].payload).payload, new Uint8Array([1, 2, 3]));
    assert.equal(frames[1].seq, 0xffffffff);
    assert.equal(frames[1].payload.length, 0);
    assert.equal(d.pending, 0);
  }
});

test('a header announcing more than the maximum is refused before its body arrives', () => {
  const d = new FrameDecoder(100);
  const hdr = new Uint8Array(10);
  new DataView(hdr.buffer).setUint32(0, 101);
  assert.throws(() => d.push(hdr), (e) => e.codeName === 'FRAME_TOO_LARGE');
  assert.equal(d.pending, 0);
  // exactly the maximum is fine
  const ok = encodeFrame(5, 1, new Uint8Array(100));
  assert.equal(new FrameDecoder(100).push(ok).length, 1);
  // a 4 GiB length never allocates
  const huge = new Uint8Array(10).fill(0xff);
  assert.throws(() => new FrameDecoder().push(huge), (e) => e.codeName === 'FRAME_TOO_LARGE');
});

test('every packet type has its message, and pushes have event names', () => {
  for (const [name, n] of Object.entries(PacketType)) {
    if (n === 0) continue;
    assert.ok(messageOf(n), `no message for ${name}`);
  }
  assert.equal(messageOf(PacketType.LOGIN_REQUEST), pb.LoginRequest);
  assert.equal(messageOf(60000), undefined);
  assert.deepEqual(PUSH_TYPES.map(eventName), [
    'kicked', 'serverClosing', 'roomUpdate', 'roomChatMessage', 'gameStarting',
    'matchStart', 'gameStateUpdate', 'gameOver', 'matchAborted', 'matchData',
  ]);
});

test('ClusterError carries the code, its name and the request type', () => {
  const e = new ClusterError(ErrorCode.ROOM_FULL, 'room is full', { requestType: PacketType.JOIN_ROOM_REQUEST });
  assert.equal(e.code, 31);
  assert.equal(e.codeName, 'ROOM_FULL');
  assert.equal(e.requestTypeName, 'JOIN_ROOM_REQUEST');
  assert.equal(e.local, false);
  assert.match(e.message, /ROOM_FULL: room is full/);
  const l = ClusterError.local('DISCONNECTED', 'gone');
  assert.equal(l.code, -1);
  assert.equal(l.local, true);
  assert.equal(ClusterError.local('TIMEOUT', 'x').code, ErrorCode.TIMEOUT);
});

test('ArenaState follows spawns, moves, deaths, damage and snapshots', () => {
  const a = new ArenaState({
    matchId: 9, tickMs: 50, arenaW: 100, arenaH: 50,
    players: [{ userId: 1, username: 'ann', pos: { x: 1, y: 1 }, hp: 100, alive: true, potions: 2 }],
  });
  a.applyUpdate({ tick: 1, wave: 1, spawns: [{ id: 5, pos: { x: 10, y: 10 }, hp: 30 }, { id: 6, pos: { x: 90, y: 40 }, hp: 30 }] });
  a.applyUpdate({ tick: 2, moves: [{ id: 5, pos: { x: 3, y: 1 } }], playerMoves: [{ userId: 1, pos: { x: 2, y: 1 } }],
    damaged: [{ userId: 1, damage: 100, hp: 0, died: true }] });
  assert.equal(a.nearestMonster(a.players.get(1).pos).id, 5);
  assert.equal(a.monsterAt({ x: 3, y: 2 }, 2).id, 5);
  assert.equal(a.monsterAt({ x: 50, y: 25 }, 2), null);
  assert.equal(a.players.get(1).alive, false);
  a.applyUpdate({ tick: 3, monsterDeaths: [{ id: 5, killerUserId: 1 }] });
  assert.deepEqual([...a.monsters.keys()], [6]);
  a.applySnapshot({ tick: 40, wave: 2, players: [{ userId: 1, username: 'ann', pos: { x: 7, y: 7 }, hp: 80, alive: true }], monsters: [] });
  assert.equal(a.monsters.size, 0);
  assert.equal(a.players.get(1).hp, 80);
  const s = stepToward({ x: 0, y: 0 }, { x: 100, y: 0 }, { playerSpeed: 10, moveWindowMs: 500 }, 1000);
  assert.deepEqual(s, { x: 5, y: 0 });
});

test('TagState decodes the tag module\'s records and refuses torn ones', async () => {
  const { TagState, TAG_OP } = await import('../src/index.js');
  const t = new TagState();
  const rules = new DataView(new ArrayBuffer(44));
  rules.setUint32(0, 50, true);
  rules.setFloat32(8, 40, true);
  rules.setFloat32(32, 1.5, true);
  assert.ok(t.apply({ opCode: TAG_OP.RULES, data: new Uint8Array(rules.buffer) }));
  assert.equal(t.rules.fieldW, 40);
  assert.equal(t.rules.tagRange, 1.5);
  const pos = new DataView(new ArrayBuffer(34));
  pos.setBigUint64(0, 7n, true); pos.setFloat32(8, 1.5, true); pos.setFloat32(12, 2.5, true);
  pos.setBigUint64(17, 9n, true); pos.setFloat32(25, 3, true);
  t.apply({ opCode: TAG_OP.POSITIONS, data: new Uint8Array(pos.buffer) });
  assert.deepEqual([t.players.get(7).x, t.players.get(7).y, t.players.get(9).x], [1.5, 2.5, 3]);
  const tag = new DataView(new ArrayBuffer(16));
  tag.setBigUint64(0, 7n, true); tag.setBigUint64(8, 9n, true);
  t.apply({ opCode: TAG_OP.TAGGED, data: new Uint8Array(tag.buffer) });
  assert.equal(t.itId, 9);
  assert.equal(t.tags, 1);
  assert.ok(t.players.get(9).it && !t.players.get(7).it);
  assert.throws(() => t.apply({ opCode: TAG_OP.POSITIONS, data: new Uint8Array(16) }), RangeError);
  assert.throws(() => t.apply({ opCode: TAG_OP.RULES, data: new Uint8Array(43) }), RangeError);
  assert.equal(t.apply({ opCode: 999, data: new Uint8Array(3) }), false);
  assert.deepEqual([...TagState.move(1, 2)], [0, 0, 128, 63, 0, 0, 0, 64]);
});
