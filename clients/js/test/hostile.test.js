// Bad input from a server: the library refuses an oversized frame, an unknown push type, a
// malformed payload and a WebSocket message that is not exactly one frame, without crashing.
// The "server" is a raw socket that writes hostile bytes (no cluster can be made to send them).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { FrameDecoder, PacketType, encodeFrame, pb } from '../src/node.js';
import { client, closeClients } from './harness.js';

after(closeClients);

/** A TCP server that answers every frame with respond(frame, socket). */
function rawServer(respond) {
  return new Promise((res) => {
    const srv = net.createServer((s) => {
      const d = new FrameDecoder();
      s.on('data', (b) => d.push(b).forEach((f) => respond(f, s)));
      s.on('error', () => {});
    });
    srv.listen(0, '127.0.0.1', () => res(srv));
  });
}

const pong = (f) => encodeFrame(PacketType.PING_RESPONSE, f.seq, pb.PingResponse.encode({ clientTime: 1 }).finish());

test('an oversized frame from the server: protocolError, requests rejected, connection dropped', async () => {
  const srv = await rawServer((f, s) => {
    const hdr = new Uint8Array(10);
    new DataView(hdr.buffer).setUint32(0, 64 * 1024 + 1);
    new DataView(hdr.buffer).setUint16(4, PacketType.PING_RESPONSE);
    new DataView(hdr.buffer).setUint32(6, f.seq);
    s.write(hdr);
  });
  const c = client(`tcp://127.0.0.1:${srv.address().port}`, { autoReconnect: false, pingIntervalMs: 0 });
  await c.connect();
  const perr = c.next('protocolError', 5000);
  await assert.rejects(c.ping(), (e) => e.codeName === 'DISCONNECTED');
  assert.equal((await perr).codeName, 'FRAME_TOO_LARGE');
  assert.equal(c.state, 'closed');
  srv.close();
});

test('an unknown push type and a malformed push are reported and skipped; the session goes on', async () => {
  const srv = await rawServer((f, s) => {
    s.write(encodeFrame(999, 0, new Uint8Array([1, 2, 3])));
    s.write(encodeFrame(PacketType.PING_RESPONSE, 0, new Uint8Array(0))); // a response type as a push
    s.write(encodeFrame(PacketType.ROOM_UPDATE, 0, new Uint8Array([0x0a, 0xff]))); // truncated field
    s.write(pong(f));
  });
  const c = client(`tcp://127.0.0.1:${srv.address().port}`, { autoReconnect: false, pingIntervalMs: 0 });
  await c.connect();
  const seen = [];
  c.on('protocolError', (e) => seen.push(e.codeName));
  let pushes = 0;
  c.on('push', () => pushes++);
  const rtt = await c.ping();
  assert.ok(rtt >= 0);
  assert.deepEqual(seen, ['UNKNOWN_PACKET', 'UNKNOWN_PACKET', 'PROTOCOL']);
  assert.equal(pushes, 0);
  assert.equal(c.state, 'open');
  c.close();
  srv.close();
});

test('a WebSocket message with two frames, or half of one, is a protocol error', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  let mode = 'two';
  wss.on('connection', (ws) =>
    ws.on('message', (m) => {
      const [f] = new FrameDecoder().push(new Uint8Array(m));
      const p = pong(f);
      if (mode === 'two') ws.send(Buffer.concat([p, p]));
      else if (mode === 'half') ws.send(p.slice(0, 5));
      else ws.send(p);
    }),
  );
  const url = `ws://127.0.0.1:${wss.address().port}/`;
  for (mode of ['two', 'half']) {
    const c = client(url, { autoReconnect: false, pingIntervalMs: 0, requestTimeoutMs: 2000 });
    await c.connect();
    const perr = c.next('protocolError', 5000);
    await assert.rejects(c.ping(), (e) => ['DISCONNECTED', 'TIMEOUT'].includes(e.codeName));
    assert.equal((await perr).codeName, 'PROTOCOL', mode);
  }
  mode = 'one';
  const ok = client(url, { autoReconnect: false, pingIntervalMs: 0 });
  await ok.connect();
  assert.ok((await ok.ping()) >= 0);
  ok.close();
  wss.close();
});

test('a server that stops answering PING is dropped by the keep-alive and reconnected', async () => {
  let answer = false;
  let conns = 0;
  const srv = await rawServer((f, s) => answer && s.write(pong(f)));
  srv.on('connection', () => conns++);
  const c = client(`tcp://127.0.0.1:${srv.address().port}`, { pingIntervalMs: 200, pingTimeoutMs: 300, reconnectBaseMs: 50 });
  await c.connect();
  const closed = c.next('close', 5000);
  await closed;
  answer = true;
  await c.next('reconnected', 5000);
  assert.equal(conns, 2);
  assert.ok((await c.ping()) >= 0);
  c.close();
  srv.close();
});
