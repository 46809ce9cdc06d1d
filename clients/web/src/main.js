// The browser client: accounts, rooms, chat, quick match, the arena on a canvas, results and
// history, through @cluster/client over WebSocket. Every name and text from the server goes
// into the page through textContent (never innerHTML), so nothing a player types is markup.
import { ArenaState, Client, MatchOutcome, RoomStatus, TAG_OP, TagState, stepToward } from '../../js/src/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const defaultGw = params.get('gw') || `ws://${location.hostname || '127.0.0.1'}:7002/`;
const TOKEN_KEY = 'cluster.token';
const GW_KEY = 'cluster.gw';
const MATCH_KEY = 'cluster.match';

let client = null;
let arena = null;
let tag = null; // a match of the example module tag: its view from MATCH_DATA
let walkTo = null;
let busy = false;
let lastMove = 0;

/** A DOM element with text (escaped by construction) and optional class. */
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = el('tr');
  for (const c of cells) {
    const td = el('td');
    if (c instanceof Node) td.append(c);
    else td.textContent = String(c);
    tr.append(td);
  }
  return tr;
}

function show(view) {
  for (const v of ['login-view', 'lobby-view', 'match-view', 'over-view']) $(v).hidden = v !== view;
}

function banner(text) {
  $('banner').hidden = !text;
  $('banner').textContent = text || '';
}

function log(id, text) {
  const box = $(id);
  box.append(el('div', text));
  box.scrollTop = box.scrollHeight;
}

function fail(e) {
  banner(`${e.codeName ?? 'error'}: ${e.serverMessage || e.message}`);
  setTimeout(() => banner(''), 4000);
}

const act = (fn) => () => Promise.resolve().then(fn).catch(fail);

// ------------------------------------------------------------------ connection

async function connect() {
  const url = $('gw').value.trim() || defaultGw;
  sessionStorage.setItem(GW_KEY, url);
  if (client && client.url === url && client.state === 'open') return client;
  client?.close();
  client = new Client(url, { pingIntervalMs: 2000 });
  wire(client);
  await client.connect();
  return client;
}

function wire(c) {
  c.on('open', () => {
    $('conn').textContent = 'online';
    $('conn').className = 'conn ok';
  });
  c.on('close', (why) => {
    $('conn').textContent = 'offline';
    $('conn').className = 'conn';
    if (c.token) banner(`connection lost (${why}): reconnecting…`);
  });
  c.on('reconnecting', (r) => banner(`connection lost: reconnecting (attempt ${r.attempt})…`));
  c.on('reconnected', onReconnected);
  c.on('resumeFailed', (e) => {
    sessionStorage.removeItem(TOKEN_KEY);
    banner(`session could not be resumed (${e.codeName}): log in again`);
    show('login-view');
  });
  c.on('latency', (ms) => ($('latency').textContent = `${ms.toFixed(1)} ms`));
  c.on('roomUpdate', (u) => renderRoom(u.room));
  c.on('roomChatMessage', (m) => log('chat-log', `${m.username}: ${m.text}`));
  c.on('gameStarting', () => log('chat-log', '* the match is starting'));
  c.on('matchStart', onMatchStart);
  c.on('gameStateUpdate', (u) => arena?.applyUpdate(u));
  c.on('matchData', (m) => {
    try {
      tag?.apply(m);
    } catch (e) {
      log('match-log', `! bad tag record: ${e.message}`);
    }
  });
  c.on('gameOver', onGameOver);
  c.on('matchAborted', (a) => {
    arena = null;
    banner(`match aborted: ${a.reason}`);
    show('lobby-view');
  });
  c.on('kicked', (k) => banner(`kicked: ${k.reason}`));
  c.on('serverClosing', () => banner('the gateway is closing: moving to another…'));
  c.on('serverError', (e) => log(arena ? 'match-log' : 'chat-log', `! ${e.codeName}: ${e.serverMessage}`));
}

function onReconnected(r) {
  if (!r.resumed) return;
  banner(`reconnected and resumed the session${r.snapshot ? ' and the match' : ''}`);
  setTimeout(() => banner(''), 4000);
  if (r.snapshot && arena) arena.applySnapshot(r.snapshot);
  if (!arena) renderRoom(r.room);
}

async function enter(resp) {
  banner('');
  sessionStorage.setItem(TOKEN_KEY, client.token);
  $('me').textContent = `${client.username} (#${client.userId})`;
  show('lobby-view');
  renderRoom(resp.room ?? null);
  await Promise.all([refreshRooms(), refreshHistory()]);
  if (resp.room?.status === RoomStatus.IN_GAME) await resumeMatch();
}

/** After a page reload in a match: rebuild the view from a snapshot. */
async function resumeMatch() {
  const saved = JSON.parse(sessionStorage.getItem(MATCH_KEY) || 'null'); // its MATCH_START
  if (saved && saved.mode && saved.mode !== 'arena') {
    // a module's match: its state comes back with its next MATCH_DATA messages
    onMatchStart(saved);
    banner('reloaded: resumed the match');
    return;
  }
  const s = await client.snapshot();
  arena = new ArenaState(saved?.matchId === s.matchId ? saved : { matchId: s.matchId, tickMs: s.tickMs, players: [] });
  arena.applySnapshot(s);
  startMatchView();
  banner('reloaded: resumed the match');
  setTimeout(() => banner(''), 4000);
}

// ------------------------------------------------------------------ lobby

async function refreshRooms() {
  const r = await client.listRooms({ pageSize: 50 });
  const body = $('rooms').tBodies[0];
  body.replaceChildren();
  for (const s of r.rooms) {
    const join = el('button', 'join');
    join.onclick = act(async () => renderRoom(await client.joinRoom(s.roomId)));
    body.append(row([s.name, s.ownerName, s.mode || 'arena', `${s.players}/${s.maxPlayers}`, join]));
  }
}

async function refreshHistory() {
  const h = await client.matchHistory({ pageSize: 10 });
  const body = $('history').tBodies[0];
  body.replaceChildren();
  for (const m of h.matches) {
    const outcome = m.me?.outcome || MatchOutcome[m.outcome] || m.outcome;
    body.append(row([m.matchId, m.mode || 'arena', outcome, m.me?.score ?? 0, m.me?.kills ?? 0, new Date(m.endedAtMs).toLocaleTimeString()]));
  }
}

function renderRoom(room) {
  $('room-view').hidden = !room;
  if (!room) return;
  $('room-title').textContent = `${room.name} (${room.mode || 'arena'}, ${room.members.length}/${room.maxPlayers})`;
  const ul = $('members');
  ul.replaceChildren();
  for (const m of room.members) {
    const flags = [m.userId === room.ownerId ? 'owner' : '', m.ready ? 'ready' : '', m.online ? '' : 'offline'].filter(Boolean);
    ul.append(el('li', `${m.username}${flags.length ? ` (${flags.join(', ')})` : ''}`, m.ready ? 'ready' : m.online ? '' : 'offline'));
  }
  const me = room.members.find((m) => m.userId === client.userId);
  $('ready').textContent = me?.ready ? 'Not ready' : 'Ready';
  $('start').disabled = room.ownerId !== client.userId;
}

// ------------------------------------------------------------------ match

function onMatchStart(start) {
  sessionStorage.setItem(MATCH_KEY, JSON.stringify(start));
  arena = new ArenaState(start);
  tag = arena.mode === 'tag' ? new TagState() : null;
  for (const p of start.players ?? []) tag?.players.set(p.userId, { userId: p.userId, username: p.username, x: 0, y: 0, score: 0, it: false, left: false });
  $('match-log').replaceChildren();
  startMatchView();
}

function startMatchView() {
  walkTo = null;
  const c = $('arena');
  if (arena.width && arena.height) c.height = Math.round((c.width * arena.height) / arena.width);
  show('match-view');
  $('match-info').textContent = `match ${arena.matchId} (${arena.mode})`;
  if (tag) c.height = c.width; // the tag field is square until its RULES say otherwise
  requestAnimationFrame(draw);
}

function onGameOver(g) {
  arena = null;
  tag = null;
  $('over-outcome').textContent = MatchOutcome[g.outcome] ?? String(g.outcome);
  $('over-summary').textContent = g.summary || `${(g.durationMs / 1000).toFixed(1)} s`;
  const body = $('results').tBodies[0];
  body.replaceChildren();
  for (const r of g.results)
    body.append(row([r.username, r.score, r.kills, r.damageDealt, r.damageTaken, r.deaths, r.outcome || '']));
  show('over-view');
}

/** World <-> canvas: the arena fits the canvas. */
function scale() {
  const c = $('arena');
  const w = arena.width || 100;
  const h = arena.height || 60;
  return Math.min(c.width / w, c.height / h);
}

function hpBar(ctx, x, y, frac, color) {
  ctx.fillStyle = '#400';
  ctx.fillRect(x - 15, y, 30, 4);
  ctx.fillStyle = color;
  ctx.fillRect(x - 15, y, 30 * Math.max(0, Math.min(1, frac)), 4);
}

function draw() {
  if (!arena) return;
  if (tag) return drawTag();
  const c = $('arena');
  const ctx = c.getContext('2d');
  const k = scale();
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.strokeStyle = '#555';
  ctx.strokeRect(0, 0, (arena.width || 100) * k, (arena.height || 60) * k);
  const maxHp = arena.rules?.playerHp || 100;
  for (const m of arena.monsters.values()) {
    const x = m.pos.x * k;
    const y = m.pos.y * k;
    ctx.fillStyle = '#c33';
    ctx.beginPath();
    ctx.arc(x, y, 9, 0, Math.PI * 2);
    ctx.fill();
    hpBar(ctx, x, y - 16, m.hp / (m.maxHp = Math.max(m.maxHp ?? 0, m.hp)), '#e66');
  }
  ctx.font = '12px system-ui';
  ctx.textAlign = 'center';
  for (const p of arena.players.values()) {
    const x = p.pos.x * k;
    const y = p.pos.y * k;
    ctx.fillStyle = p.userId === client.userId ? '#4af' : '#9c6';
    if (!p.alive) ctx.fillStyle = '#666';
    ctx.beginPath();
    ctx.arc(x, y, 8, 0, Math.PI * 2);
    ctx.fill();
    hpBar(ctx, x, y - 16, p.hp / maxHp, '#6e6');
    ctx.fillStyle = '#fff';
    ctx.fillText(p.username, x, y + 22); // canvas text is drawn, never parsed as markup
  }
  const me = arena.players.get(client.userId);
  $('my-hp').textContent = me ? `hp ${me.hp} · potions ${me.potions} · kills ${me.kills} · score ${me.score}` : '';
  requestAnimationFrame(draw);
}

/** The tag module's field: players (red: "it"), names, scores. */
function drawTag() {
  const c = $('arena');
  const ctx = c.getContext('2d');
  const w = tag.rules?.fieldW || 40;
  const h = tag.rules?.fieldH || 40;
  const k = Math.min(c.width / w, c.height / h);
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.strokeStyle = '#555';
  ctx.strokeRect(0, 0, w * k, h * k);
  ctx.font = '12px system-ui';
  ctx.textAlign = 'center';
  const names = new Map([...arena.players.values()].map((p) => [p.userId, p.username]));
  for (const p of tag.players.values()) {
    if (p.left) continue;
    ctx.fillStyle = p.it ? '#e33' : p.userId === client.userId ? '#4af' : '#9c6';
    ctx.beginPath();
    ctx.arc(p.x * k, p.y * k, 9, 0, Math.PI * 2);
    ctx.fill();
    ctx.fillStyle = '#fff';
    ctx.fillText(`${names.get(p.userId) ?? p.userId} ${p.score}`, p.x * k, p.y * k + 22);
  }
  const me = tag.players.get(client.userId);
  $('my-hp').textContent = me ? `${me.it ? 'you are IT' : 'run!'} · score ${me.score} · tags ${tag.tags}` : '';
  requestAnimationFrame(draw);
  return undefined;
}

/** Tag: walks toward walkTo with MATCH_DATA_SEND MOVE, no faster than the module's rules. */
function walkTag() {
  const me = tag.players.get(client.userId);
  if (!me || !walkTo || !tag.rules) return;
  const now = performance.now();
  const dt = lastMove ? Math.min(now - lastMove, 200) : 100;
  lastMove = now;
  const speed = me.it ? tag.rules.itSpeed : tag.rules.runnerSpeed;
  const to = stepToward(me, walkTo, { playerSpeed: speed, moveWindowMs: tag.rules.moveWindowMs }, dt);
  if (Math.hypot(to.x - me.x, to.y - me.y) < 0.01) {
    walkTo = null;
    return;
  }
  client.sendMatchData(TAG_OP.MOVE, TagState.move(to.x, to.y));
}

async function onCanvasClick(ev) {
  if (!arena) return;
  if (tag) {
    const c = $('arena');
    const r = c.getBoundingClientRect();
    const k = Math.min(c.width / (tag.rules?.fieldW || 40), c.height / (tag.rules?.fieldH || 40)) * (r.width / c.width);
    walkTo = { x: (ev.clientX - r.left) / k, y: (ev.clientY - r.top) / k };
    return;
  }
  const c = $('arena');
  const r = c.getBoundingClientRect();
  const k = scale() * (r.width / c.width);
  const pos = { x: (ev.clientX - r.left) / k, y: (ev.clientY - r.top) / k };
  const target = arena.monsterAt(pos, 14 / k); // 14 px around a monster
  if (target) {
    try {
      const a = await client.attack(target.id);
      arena.applyAttack(a);
      log('match-log', `hit monster ${a.monsterId} for ${a.damage}${a.killed ? ': killed' : ''}`);
    } catch (e) {
      log('match-log', `attack: ${e.codeName}`);
    }
  } else {
    walkTo = pos;
  }
}

/** Walks toward walkTo no faster than the rules allow (10 steps a second). */
async function walk() {
  if (!arena || !walkTo || busy || client?.state !== 'open') return;
  if (tag) return walkTag();
  const me = arena.players.get(client.userId);
  if (!me || !me.alive) return;
  const rules = arena.rules ?? { playerSpeed: 10, moveWindowMs: 500 };
  const now = performance.now();
  const dt = lastMove ? Math.min(now - lastMove, 200) : 100;
  lastMove = now;
  const to = stepToward(me.pos, walkTo, rules, dt);
  if (Math.hypot(to.x - me.pos.x, to.y - me.pos.y) < 0.01) {
    walkTo = null;
    return;
  }
  busy = true;
  try {
    const r = await client.move(to.x, to.y);
    me.pos = { x: r.pos.x, y: r.pos.y };
  } catch (e) {
    log('match-log', `move: ${e.codeName}`);
    walkTo = null;
  } finally {
    busy = false;
  }
}

// ------------------------------------------------------------------ controls

function bind() {
  $('gw').value = sessionStorage.getItem(GW_KEY) || defaultGw;
  const creds = () => [$('username').value.trim(), $('password').value];
  $('register').onclick = act(async () => {
    await connect();
    await client.register(...creds());
    banner('registered: now log in');
  });
  $('login').onclick = act(async () => {
    await connect();
    await enter(await client.login(...creds()));
  });
  $('logout').onclick = act(async () => {
    await client.logout();
    sessionStorage.removeItem(TOKEN_KEY);
    show('login-view');
  });
  $('refresh').onclick = act(refreshRooms);
  $('history-refresh').onclick = act(refreshHistory);
  $('create').onclick = act(async () => {
    const room = await client.createRoom({ name: $('room-name').value, maxPlayers: Number($('room-max').value), mode: $('room-mode').value.trim() });
    renderRoom(room);
    await refreshRooms();
  });
  $('quick').onclick = act(async () => {
    const r = await client.quickMatch($('qm-mode').value.trim());
    $('qm-status').textContent = r.queued ? `queued (${r.queued} waiting)` : 'room formed';
  });
  $('quick-cancel').onclick = act(async () => {
    await client.cancelQuickMatch();
    $('qm-status').textContent = '';
  });
  $('ready').onclick = act(async () => {
    const me = client.room?.members.find((m) => m.userId === client.userId);
    renderRoom(await client.setReady(!me?.ready));
  });
  $('start').onclick = act(() => client.startGame());
  $('leave').onclick = act(async () => {
    await client.leaveRoom();
    renderRoom(null);
    await refreshRooms();
  });
  $('chat-form').onsubmit = (ev) => {
    ev.preventDefault();
    const t = $('chat-text').value;
    $('chat-text').value = '';
    act(() => client.chat(t))();
  };
  $('back').onclick = act(async () => {
    show('lobby-view');
    renderRoom(client.room);
    await Promise.all([refreshRooms(), refreshHistory()]);
  });
  $('arena').addEventListener('click', (ev) => void onCanvasClick(ev));
  document.addEventListener('keydown', (ev) => {
    if (arena && (ev.key === 'p' || ev.key === 'P'))
      client.usePotion().then((r) => log('match-log', `potion: hp ${r.hp}, ${r.remaining} left`), (e) => log('match-log', `potion: ${e.codeName}`));
  });
  setInterval(() => void walk(), 100);
}

/** A reload keeps the session: RESUME with the token kept in sessionStorage. */
async function boot() {
  bind();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return show('login-view');
  try {
    await connect();
    await enter(await client.resume(token));
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    fail(e);
    show('login-view');
  }
  return undefined;
}

window.clusterClient = () => client; // for the browser test and the console
window.clusterArena = () => arena;
void boot();
