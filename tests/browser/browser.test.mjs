// The browser client in headless Chromium (Debian's chromium, driven by puppeteer-core)
// against a real cluster (2 gateways over WebSocket, a lobby, a game daemon): two players
// register, meet in a room whose name and a chat line are HTML that must stay inert, play an
// arena match to GAME_OVER seeing each other move; one reloads mid-match and resumes; the
// cluster page (clusterctl web) shows both gateways' sessions and the running match.
// Screenshots of each step go to ARTIFACTS_DIR (default tests/browser/artifacts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { BIN, Cluster, REPO, freePort, waitFor } from '../../clients/js/test/harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const ART = process.env.ARTIFACTS_DIR ?? join(here, 'artifacts');
mkdirSync(ART, { recursive: true });
const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const EVIL_ROOM = '<img src=x onerror="window.__pwned=1">';
const EVIL_CHAT = '<img src=x onerror="window.__pwned=2"><b>bold?</b>';
const children = [];
const step = (s) => console.log(`browser: ${s}`);

function serve(cmd, args, env = {}) {
  const c = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  return c;
}

async function shot(page, name) {
  await page.screenshot({ path: join(ART, `${name}.png`) });
  step(`screenshot ${name}.png`);
}

const visible = (page, id) => page.waitForFunction((i) => !document.getElementById(i).hidden, { timeout: 20000 }, id);

async function signIn(page, url, name) {
  await page.goto(url);
  await page.type('#username', name);
  await page.type('#password', 'password-123');
  await page.click('#register');
  await page.waitForFunction(() => /registered/.test(document.getElementById('banner').textContent), { timeout: 15000 });
  await page.click('#login');
  await visible(page, 'lobby-view');
}

/** One move of a page's player: attack the nearest monster when in range, else walk to it. */
async function playStep(page) {
  const target = await page.evaluate(() => {
    const a = window.clusterArena();
    const c = window.clusterClient();
    if (!a) return null;
    const me = a.players.get(c.userId);
    const m = me && me.alive && a.nearestMonster(me.pos);
    if (!m) return null;
    const canvas = document.getElementById('arena');
    const r = canvas.getBoundingClientRect();
    const k = Math.min(canvas.width / (a.width || 100), canvas.height / (a.height || 60)) * (r.width / canvas.width);
    const inRange = Math.hypot(m.pos.x - me.pos.x, m.pos.y - me.pos.y) <= (a.rules?.attackRange ?? 2) * 0.9;
    const off = inRange ? 0 : 30; // beside the monster (hit radius 14 px): a click there walks
    return { x: r.left + m.pos.x * k + off, y: r.top + m.pos.y * k };
  });
  if (target) await page.mouse.click(target.x, target.y);
}

/** A walk of a page's player: a click on the ground 8 units away (toward the arena's middle),
 * whatever the monsters are doing (an attack in range would not move it). */
async function walkStep(page) {
  const target = await page.evaluate(() => {
    const a = window.clusterArena();
    const c = window.clusterClient();
    const me = a && a.players.get(c.userId);
    if (!me || !me.alive) return null;
    const w = a.width || 100;
    const h = a.height || 60;
    const canvas = document.getElementById('arena');
    const r = canvas.getBoundingClientRect();
    const k = Math.min(canvas.width / w, canvas.height / h) * (r.width / canvas.width);
    const x = me.pos.x + (me.pos.x < w / 2 ? 8 : -8);
    return { x: r.left + x * k, y: r.top + me.pos.y * k };
  });
  if (target) await page.mouse.click(target.x, target.y);
}

const posOf = (page, userId) => page.evaluate((u) => {
  const p = window.clusterArena()?.players.get(u);
  return p ? [p.pos.x, p.pos.y] : null;
}, userId);

async function main() {
  const cl = await Cluster.start('browser', {
    ws: true, gateways: 2, lobbies: 1, games: 1,
    gameEnv: { MATCH_TIME_LIMIT_MS: '40000', MATCH_WAVES: '1', WAVE_BASE_MONSTERS: '2', WAVE_GAP_MS: '200', MONSTER_HP: '40' },
    lobbyEnv: { RESUME_GRACE_MS: '30000' },
  });
  let browser;
  try {
    const webPort = await freePort();
    serve('node', [join(REPO, 'clients/web/serve.mjs'), String(webPort)]);
    const consolePort = await freePort();
    serve(BIN.clusterctl, ['--redis-url', `redis://127.0.0.1:${cl.redisPort}`, '--prefix', cl.prefix, 'web', '--listen', `127.0.0.1:${consolePort}`]);
    await waitFor('the web servers', async () => {
      try {
        return (await fetch(`http://127.0.0.1:${webPort}/`)).ok && (await fetch(`http://127.0.0.1:${consolePort}/api/servers`)).ok;
      } catch {
        return false;
      }
    });
    browser = await puppeteer.launch({ executablePath: CHROME, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const ctxA = await browser.createBrowserContext();
    const ctxB = await browser.createBrowserContext();
    const a = await ctxA.newPage();
    const b = await ctxB.newPage();
    for (const p of [a, b]) {
      await p.setViewport({ width: 1100, height: 800 });
      p.on('pageerror', (e) => console.error('page error:', e.message));
    }
    const gameUrl = (g) => `http://127.0.0.1:${webPort}/?gw=${encodeURIComponent(g.wsUrl)}`;
    const tag = process.pid % 10000;
    await signIn(a, gameUrl(cl.gateways[0]), `alice${tag}`);
    await signIn(b, gameUrl(cl.gateways[1]), `bob${tag}`);
    step('both players registered and logged in (one per gateway)');

    await a.type('#room-name', EVIL_ROOM.slice(0, 32));
    await a.select('#room-max', '2');
    await a.click('#create');
    await visible(a, 'room-view');
    await b.click('#refresh');
    await b.waitForSelector('#rooms tbody tr button', { timeout: 10000 });
    const listed = await b.$eval('#rooms tbody tr td', (td) => td.textContent);
    assert.equal(listed, EVIL_ROOM.slice(0, 32), 'the room name is shown as text');
    await b.click('#rooms tbody tr button');
    await visible(b, 'room-view');
    await b.type('#chat-text', EVIL_CHAT);
    await b.click('#chat-form button');
    await a.waitForFunction((t) => document.getElementById('chat-log').textContent.includes(t), { timeout: 10000 }, EVIL_CHAT);
    for (const p of [a, b]) {
      assert.equal(await p.evaluate(() => document.querySelectorAll('main img, main b').length), 0, 'no markup from names or chat');
      assert.equal(await p.evaluate(() => window.__pwned), undefined, 'no script ran');
    }
    await shot(a, '1-room-and-chat');
    step('room name and chat HTML stayed inert text');

    await b.click('#ready');
    await a.waitForFunction(() => /bob\d+ \(ready\)/.test(document.getElementById('members').textContent), { timeout: 10000 });
    await a.click('#ready');
    await a.waitForFunction(() => /alice\d+ \(owner, ready\)/.test(document.getElementById('members').textContent), { timeout: 10000 });
    await a.click('#start');
    await Promise.all([visible(a, 'match-view'), visible(b, 'match-view')]);
    step('match started on both pages');
    const ids = await Promise.all([a, b].map((p) => p.evaluate(() => window.clusterClient().userId)));
    const aStart = await posOf(b, ids[0]);
    let moved = false;
    const deadline = Date.now() + 20000; // a sanitizer build on a busy machine is slow
    while (Date.now() < deadline && !moved) {
      await Promise.all([walkStep(a), playStep(b)]);
      await new Promise((r) => setTimeout(r, 200));
      const now = await posOf(b, ids[0]);
      moved = now && aStart && Math.hypot(now[0] - aStart[0], now[1] - aStart[1]) > 0.5;
    }
    if (!moved) console.error('alice at start', aStart, 'now (bob)', await posOf(b, ids[0]), 'now (alice)', await posOf(a, ids[0]),
      'log', await a.$eval('#match-log', (e) => e.textContent), 'monsters', await a.evaluate(() => window.clusterArena()?.monsters.size));
    assert.ok(moved, "bob's page saw alice move");
    await shot(a, '2-arena');

    // the cluster page: both gateways with a session each, the game daemon's running match
    const con = await (await browser.createBrowserContext()).newPage();
    await con.setViewport({ width: 1400, height: 900 });
    await con.goto(`http://127.0.0.1:${consolePort}/`);
    await con.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#servers tbody tr')];
      const gws = rows.filter((r) => r.dataset.server.startsWith('gateway:'));
      const game = rows.find((r) => r.dataset.server.startsWith('game:'));
      return gws.length === 2 && gws.every((r) => Number(r.querySelector('.sessions').textContent) >= 1) &&
        game && Number(game.querySelector('.matches').textContent) >= 1 && document.querySelectorAll('.chart canvas').length >= 4;
    }, { timeout: 20000 });
    await new Promise((r) => setTimeout(r, 6000)); // a few chart points
    await shot(con, '3-cluster-page');
    step('cluster page: 2 gateways with sessions, the running match, charts');

    await b.reload();
    await visible(b, 'match-view');
    await b.waitForFunction(() => /resumed the match/.test(document.getElementById('banner').textContent), { timeout: 15000 });
    await shot(b, '4-reloaded-and-resumed');
    step('bob reloaded mid-match and resumed');

    const over = async (p) => p.evaluate(() => !document.getElementById('over-view').hidden);
    await waitFor('GAME_OVER on both pages', async () => {
      await Promise.all([playStep(a), playStep(b)]);
      return (await over(a)) && (await over(b));
    }, 60000, 200);
    const results = await a.$$eval('#results tbody tr', (rs) => rs.map((r) => r.cells[0].textContent));
    assert.equal(results.length, 2);
    await shot(a, '5-game-over');
    await a.click('#back');
    await waitFor('the match in the history', async () => {
      await a.click('#history-refresh');
      await new Promise((r) => setTimeout(r, 300));
      return (await a.$$('#history tbody tr')).length > 0;
    }, 15000, 200);
    await shot(a, '6-history');
    step(`GAME_OVER with results for ${results.join(', ')}; history listed`);
  } catch (e) {
    cl.dumpLogs(15);
    throw e;
  } finally {
    await browser?.close();
    for (const c of children) c.kill('SIGKILL');
    await cl.stop();
  }
}

main().then(
  () => {
    console.log(`browser: PASS (screenshots in ${ART})`);
    process.exit(0);
  },
  (e) => {
    console.error('browser: FAIL', e);
    process.exit(1);
  },
);
