// The library against a real cluster (redis-server, PostgreSQL, gatewayd, lobbyd, gamed):
// accounts, rooms, chat, quick match, history, echo, ping, the server's error codes as
// ClusterError, client-side timeouts, and RESUME on a new connection.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode, PacketType, RoomStatus } from '../src/node.js';
import { Cluster, client, closeClients, player, waitFor } from './harness.js';

let cl;
let url;
before(async () => {
  cl = await Cluster.start('lobby', { gateways: 1, lobbies: 1, games: 1 });
  url = cl.gateways[0].url;
});
after(async () => {
  closeClients();
  await cl?.stop();
});

const rejectsWith = (p, codeName) =>
  assert.rejects(p, (e) => {
    assert.equal(e.name, 'ClusterError');
    assert.equal(e.codeName, codeName, e.message);
    if (!e.local) assert.equal(e.code, ErrorCode[codeName]);
    return true;
  });

test('echo through a lobby and a game daemon, and ping', async () => {
  const c = client(url);
  await c.connect();
  const r = await c.echo('lobby', 'hello');
  assert.equal(new TextDecoder().decode(r.payload), 'hello');
  assert.equal(r.servedBy, 1);
  assert.equal(r.serverId, cl.lobbies[0].serverId());
  const g = await c.echo('game', new Uint8Array([0, 255]));
  assert.deepEqual([...g.payload], [0, 255]);
  assert.equal(g.serverId, cl.games[0].serverId());
  const rtt = await c.ping();
  assert.ok(rtt >= 0 && rtt < 5000);
  assert.equal(c.latencyMs, rtt);
  c.close();
});

test('register and login errors carry the server ErrorCode', async () => {
  const c = client(url);
  await c.connect();
  await rejectsWith(c.createRoom({ name: 'x' }), 'NOT_AUTHENTICATED');
  const name = `acct${process.pid % 10000}`;
  const reg = await c.register(name, 'password-123');
  assert.ok(reg.userId > 0);
  await rejectsWith(c.register(name, 'password-123'), 'USERNAME_TAKEN');
  await rejectsWith(c.register('a', 'password-123'), 'BAD_REQUEST');
  await rejectsWith(c.login(name, 'wrong-password'), 'INVALID_CREDENTIALS');
  const r = await c.login(name, 'password-123');
  assert.equal(r.userId, reg.userId);
  assert.equal(r.username, name);
  assert.match(r.token, /^[0-9a-f]{64}$/);
  assert.equal(c.token, r.token);
  await rejectsWith(c.login(name, 'password-123'), 'ALREADY_AUTHENTICATED');
  c.close();
});

test('rooms: create, list, join, pushes, chat, ready, leave, and their errors', async () => {
  const a = await player(url);
  const b = await player(url);
  const room = await a.createRoom({ name: 'js room', maxPlayers: 2 });
  assert.equal(room.name, 'js room');
  assert.equal(room.ownerId, a.userId);
  assert.equal(room.status, RoomStatus.WAITING);
  const list = await b.listRooms({ pageSize: 50 });
  assert.ok(list.rooms.some((r) => r.roomId === room.roomId && r.ownerName === a.username));
  await rejectsWith(b.joinRoom(987654321), 'ROOM_NOT_FOUND');
  const joinedPush = a.next('roomUpdate', 5000);
  const joined = await b.joinRoom(room.roomId);
  assert.equal(joined.members.length, 2);
  const up = await joinedPush;
  assert.equal(up.event, 'joined');
  assert.equal(up.actorId, b.userId);
  assert.equal(a.room.members.length, 2, 'the client follows its room from the pushes');

  const chatPush = a.next('roomChatMessage', 5000);
  await b.chat('<b>hi</b> & bye');
  const chat = await chatPush;
  assert.equal(chat.text, '<b>hi</b> & bye');
  assert.equal(chat.username, b.username);
  await rejectsWith(b.chat(''), 'BAD_REQUEST');

  const c = await player(url);
  await rejectsWith(c.joinRoom(room.roomId), 'ROOM_FULL');
  await rejectsWith(b.startGame(), 'NOT_ROOM_OWNER');
  const readyRoom = await b.setReady(true);
  assert.ok(readyRoom.members.find((m) => m.userId === b.userId).ready);
  await rejectsWith(a.startGame(), 'NOT_ALL_READY');
  const leftPush = a.next('roomUpdate', 5000);
  await b.leaveRoom();
  assert.equal(b.room, null);
  assert.equal((await leftPush).event, 'left');
  await rejectsWith(b.leaveRoom(), 'NOT_IN_ROOM');
  for (const x of [a, b, c]) x.close();
});

test('quick match queue, cancel, and an empty history', async () => {
  const a = await player(url);
  const q = await a.quickMatch();
  assert.equal(typeof q.queued, 'number');
  await rejectsWith(a.quickMatch(), 'ALREADY_QUEUED');
  await a.cancelQuickMatch();
  await rejectsWith(a.cancelQuickMatch(), 'NOT_QUEUED');
  const h = await a.matchHistory();
  assert.deepEqual(h.matches, []);
  a.close();
});

test('RESUME on a new connection with the token; a bad token is INVALID_TOKEN', async () => {
  const a = await player(url);
  const room = await a.createRoom({ name: 'resume room', maxPlayers: 4 });
  const b = client(url);
  await b.connect();
  await rejectsWith(b.resume('00'.repeat(32)), 'INVALID_TOKEN');
  const r = await b.resume(a.token);
  assert.equal(r.userId, a.userId);
  assert.equal(r.room.roomId, room.roomId);
  assert.equal(b.userId, a.userId);
  a.close();
  b.close();
});

test('a backend that does not answer: local TIMEOUT, then the client carries on', async () => {
  const a = await player(url);
  cl.lobbies[0].signal('SIGSTOP');
  try {
    await rejectsWith(a.request(PacketType.GET_ROOM_LIST_REQUEST, {}, { timeoutMs: 300 }), 'TIMEOUT');
  } finally {
    cl.lobbies[0].signal('SIGCONT');
  }
  // the gateway may have dropped the silent link meanwhile: back within a few seconds
  const list = await waitFor('the lobby answering again', () => a.listRooms().catch(() => null), 15000, 200);
  assert.ok(Array.isArray(list.rooms));
  a.close();
});

test('an oversized request: FRAME_TOO_LARGE over TCP, close 1009 over WebSocket; the client survives', async () => {
  const c = client(cl.gateways[0].tcpUrl, { autoReconnect: false });
  await c.connect();
  const closed = c.next('close', 5000);
  await rejectsWith(c.echo('lobby', new Uint8Array(70 * 1024)), 'FRAME_TOO_LARGE');
  await closed;
  assert.equal(c.state, 'closed');
  await rejectsWith(c.ping(), 'NOT_CONNECTED');
  if (!cl.gateways[0].wsUrl) return;
  const w = client(cl.gateways[0].wsUrl, { autoReconnect: false });
  await w.connect();
  await assert.rejects(w.echo('lobby', new Uint8Array(70 * 1024)), (e) => e.codeName === 'DISCONNECTED' && /1009/.test(e.message));
  assert.equal(w.state, 'closed');
});
