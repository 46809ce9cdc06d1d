// Compiled by `npm run typecheck` only: the declarations match a typical use.
import { Client, ClusterError, PacketType } from '../src/node.js';

async function demo(): Promise<number> {
  const c = new Client(['ws://127.0.0.1:7002/', 'tcp://127.0.0.1:7000'], { requestTimeoutMs: 5000 });
  await c.connect();
  const r = await c.login('alice', 'password-123');
  c.on('roomUpdate', (u) => console.log(u.event, u.room?.name));
  c.on('gameOver', (g) => console.log(g.outcome, g.results.length));
  const room = await c.createRoom({ name: 'x', maxPlayers: 2, mode: 'arena' });
  try {
    await c.joinRoom(Number(room.roomId));
  } catch (e) {
    if (e instanceof ClusterError && e.codeName === 'ROOM_FULL') return 0;
  }
  c.sendMatchData(1, 'hi');
  await c.request(PacketType.ECHO_REQUEST, { target: 1 });
  return Number(r.userId);
}
void demo;
