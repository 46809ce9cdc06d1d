// ECHO round trip (target: game daemon) from the JS library in Node over ws, wss and tcp,
// against the C bot over TCP, one request in flight, in the same run on the same cluster.
// Prints a table (p50/p99 ms and the ratio to the C bot). Run by bench/js_echo.sh.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, Cluster, REPO } from '../clients/js/test/harness.js';
import { Client } from '../clients/js/src/node.js';

const N = Number(process.env.ECHO_COUNT ?? 5000);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function jsEcho(url, tls) {
  const c = new Client(url, { pingIntervalMs: 0, autoReconnect: false, wsOptions: tls, tls });
  await c.connect();
  const payload = new Uint8Array(32);
  for (let i = 0; i < 200; i++) await c.echo('game', payload); // warm-up
  const t = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await c.echo('game', payload);
    t.push(performance.now() - t0);
  }
  c.close();
  t.sort((a, b) => a - b);
  return { p50: pct(t, 50), p99: pct(t, 99) };
}

function botEcho(port, dir) {
  const out = join(dir, 'bot.json');
  execFileSync(BIN.bot, ['--scenario', 'echo', '--gateway', `127.0.0.1:${port}`, '--bots', '1', '--count', String(N + 200),
    '--target', 'game', '--payload', '32', '--rate', '0', '--quiet', '--json', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  const j = JSON.parse(readFileSync(out, 'utf8'));
  const r = j.latency_ms ?? j.latency;
  if (!r || r.p50 == null || r.p99 == null) throw new Error(`no latency p50/p99 in the bot's JSON: ${JSON.stringify(j)}`);
  return { p50: r.p50, p99: r.p99 };
}

const cl = await Cluster.start('jsecho', { ws: true, gateways: 1, lobbies: 1, games: 1, tls: { cert: process.env.CERT, key: process.env.KEY } });
try {
  const g = cl.gateways[0];
  const tls = { ca: readFileSync(process.env.CERT) };
  const rows = { 'C bot, tcp': [], 'JS (Node), tcp': [], 'JS (Node), ws': [], 'JS (Node), wss': [] };
  for (let r = 0; r < ROUNDS; r++) { // interleaved rounds: load on the shared machine hits each alike
    rows['C bot, tcp'].push(botEcho(g.port, cl.dir));
    rows['JS (Node), tcp'].push(await jsEcho(g.tcpUrl));
    rows['JS (Node), ws'].push(await jsEcho(g.wsUrl));
    rows['JS (Node), wss'].push(await jsEcho(g.wssUrl, tls));
  }
  const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = rows['C bot, tcp'];
  const b50 = med(base.map((x) => x.p50));
  const b99 = med(base.map((x) => x.p99));
  console.log(`ECHO round trip to the game daemon, 1 request in flight, ${N} requests x ${ROUNDS} rounds (median of rounds)`);
  console.log('| client, transport | p50 ms | p99 ms | p50 vs C bot | p99 vs C bot |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [name, rs] of Object.entries(rows)) {
    const p50 = med(rs.map((x) => x.p50));
    const p99 = med(rs.map((x) => x.p99));
    console.log(`| ${name} | ${p50.toFixed(3)} | ${p99.toFixed(3)} | ${(p50 / b50).toFixed(2)}x | ${(p99 / b99).toFixed(2)}x |`);
  }
} finally {
  await cl.stop();
}
void REPO;
