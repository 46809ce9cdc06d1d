// clusterctl web against a real cluster: the registry and /metrics endpoints the cluster page
// polls, its files, bad requests, and the token: refused to start beyond loopback without
// CONSOLE_TOKEN; with one, every request without it (or with a wrong one) gets 401.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BIN, Cluster, freePort, waitFor } from './harness.js';

let cl;
let staticDir;
const webs = [];
before(async () => {
  cl = await Cluster.start('console', { gateways: 1, lobbies: 1, games: 1 });
  staticDir = mkdtempSync(join(tmpdir(), 'console-static-'));
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>page</title>');
});
after(async () => {
  for (const w of webs) w.kill('SIGKILL');
  rmSync(staticDir, { recursive: true, force: true });
  await cl?.stop();
});

const ctlArgs = () => ['--redis-url', `redis://127.0.0.1:${cl.redisPort}`, '--prefix', cl.prefix, 'web', '--static', staticDir];

async function startWeb(listen, env = {}) {
  const w = spawn(BIN.clusterctl, [...ctlArgs(), '--listen', listen], { env: { ...process.env, ...env }, stdio: 'ignore' });
  webs.push(w);
  const port = listen.split(':')[1];
  await waitFor('clusterctl web listening', () => fetch(`http://127.0.0.1:${port}/api/servers`).then(() => true, () => false));
  return `http://127.0.0.1:${port}`;
}

test('loopback: the registry, each daemon\'s /metrics, the page, and bad requests', async () => {
  const base = await startWeb(`127.0.0.1:${await freePort()}`, { CONSOLE_TOKEN: '' });
  const servers = await (await fetch(`${base}/api/servers`)).json();
  assert.deepEqual(servers.map((s) => s.type).sort(), ['game', 'gateway', 'lobby']);
  const gw = servers.find((s) => s.type === 'gateway');
  assert.equal(gw.id, cl.gateways[0].proc.serverId());
  assert.equal(gw.status_name, 'smooth');
  assert.ok(gw.heartbeat_age_ms >= 0 && gw.heartbeat_age_ms < 5000);
  // the daemon publishes its /metrics snapshot every 500 ms: the first may predate its gauges
  const text = await waitFor('the game daemon\'s gauges in /metrics', async () => {
    const m = await fetch(`${base}/api/metrics?server=game:${cl.games[0].serverId()}`);
    assert.equal(m.status, 200);
    const t = await m.text();
    return /^cluster_link_up\{/m.test(t) && t;
  }, 10000, 200);
  assert.match(text, /^cluster_game_matches_running /m);
  assert.match(text, /^cluster_link_up\{peer_type="gateway"/m);
  assert.equal((await fetch(`${base}/api/metrics?server=game:9999`)).status, 404);
  assert.equal((await fetch(`${base}/api/metrics?server=nonsense`)).status, 400);
  assert.equal((await fetch(`${base}/api/metrics`)).status, 400);
  assert.match(await (await fetch(`${base}/`)).text(), /<title>page<\/title>/);
  assert.equal((await fetch(`${base}/..%2f..%2fetc%2fpasswd`)).status, 404);
  assert.equal((await fetch(`${base}/.hidden`)).status, 404);
  assert.equal((await fetch(`${base}/api/servers`, { method: 'POST' })).status, 405);
});

test('beyond loopback: no CONSOLE_TOKEN, no start; with one, 401 without it', async () => {
  const port = await freePort();
  const r = spawnSync(BIN.clusterctl, [...ctlArgs(), '--listen', `0.0.0.0:${port}`], { env: { ...process.env, CONSOLE_TOKEN: '' }, encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /CONSOLE_TOKEN/);
  const short = spawnSync(BIN.clusterctl, [...ctlArgs(), '--listen', `0.0.0.0:${port}`], { env: { ...process.env, CONSOLE_TOKEN: 'short' }, encoding: 'utf8', timeout: 10000 });
  assert.equal(short.status, 2);
  const token = 'console-token-0123456789';
  const base = await startWeb(`0.0.0.0:${port}`, { CONSOLE_TOKEN: token });
  for (const path of ['/', '/api/servers', `/api/metrics?server=gateway:1`]) {
    assert.equal((await fetch(`${base}${path}`)).status, 401, path);
    assert.equal((await fetch(`${base}${path}`, { headers: { Authorization: 'Bearer wrong-token-0123456789' } })).status, 401, path);
  }
  assert.equal((await fetch(`${base}/api/servers?token=${token.slice(0, -1)}`)).status, 401);
  assert.equal((await fetch(`${base}/api/servers`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
  assert.equal((await fetch(`${base}/?token=${token}`)).status, 200);
});
