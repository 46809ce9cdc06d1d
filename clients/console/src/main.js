// The live cluster page: polls `clusterctl web` every second for the registry
// (/api/servers) and each daemon's Prometheus text (/api/metrics), derives rates and p99 from
// counter and histogram deltas, and draws them with uPlot. All server-provided text goes in
// through textContent.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get('token');
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const WINDOW = 120; // points kept per chart (2 minutes)
const daemons = new Map(); // "type:id" -> {prev, series, plot, card}
const errors = [];

async function get(path, as = 'json') {
  const r = await fetch(path, { headers, cache: 'no-store' });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return as === 'json' ? r.json() : r.text();
}

/** Prometheus text -> [{name, labels, value}]. */
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

const sum = (ms, name) => ms.filter((m) => m.name === name).reduce((a, m) => a + m.value, 0);
const gauge = (ms, name) => ms.find((m) => m.name === name)?.value;

/** Cumulative buckets of a histogram: [[le, count]...] sorted by le. */
function buckets(ms, name) {
  return ms
    .filter((m) => m.name === `${name}_bucket`)
    .map((m) => [m.labels.le === '+Inf' ? Infinity : Number(m.labels.le), m.value])
    .sort((a, b) => a[0] - b[0]);
}

/** p99 (seconds) of what a histogram counted between two scrapes (upper bucket bound). */
function deltaP99(now, prev, name) {
  const a = buckets(now, name);
  const b = new Map(buckets(prev, name));
  if (!a.length) return null;
  const total = a[a.length - 1][1] - (b.get(Infinity) ?? 0);
  if (total <= 0) return null;
  for (const [le, c] of a) if (c - (b.get(le) ?? 0) >= 0.99 * total) return le === Infinity ? null : le;
  return null;
}

function deltaMean(now, prev, name) {
  const n = sum(now, `${name}_count`) - sum(prev, `${name}_count`);
  return n > 0 ? (sum(now, `${name}_sum`) - sum(prev, `${name}_sum`)) / n : null;
}

const REQUESTS = { gateway: 'cluster_gateway_packets_in_total', lobby: 'cluster_backend_requests_total', game: 'cluster_backend_requests_total' };
const ERRORS = { gateway: 'cluster_gateway_errors_sent_total', lobby: 'cluster_backend_errors_sent_total', game: 'cluster_backend_errors_sent_total' };

function card(key) {
  const div = document.createElement('div');
  div.className = 'chart';
  const h = document.createElement('h3');
  h.textContent = key;
  div.append(h);
  $('charts').append(div);
  const opts = {
    width: 420, height: 180,
    scales: { x: { time: true }, ms: { auto: true } },
    axes: [{ stroke: '#aaa' }, { stroke: '#aaa', label: 'req/s' }, { side: 1, scale: 'ms', stroke: '#aaa', label: 'ms', grid: { show: false } }],
    series: [
      {},
      { label: 'requests/s', stroke: '#4af', width: 2 },
      { label: 'p99 ms', stroke: '#fa4', scale: 'ms', width: 2 },
      { label: 'tick ms (mean)', stroke: '#6c6', scale: 'ms', width: 2 },
    ],
  };
  const series = [[], [], [], []];
  return { series, plot: new uPlot(opts, series, div), div };
}

/** One scrape of one daemon: derives its chart point, link states and new errors. */
function observe(s, ms, t) {
  const key = `${s.type}:${s.id}`;
  let d = daemons.get(key);
  if (!d) daemons.set(key, (d = { ...card(key), prev: null, prevT: 0 }));
  d.seen = t;
  const info = {
    sessions: gauge(ms, 'cluster_gateway_sessions'),
    matches: gauge(ms, 'cluster_game_matches_running'),
    links: ms.filter((m) => m.name === 'cluster_link_up').map((m) => ({ peer: `${m.labels.peer_type}:${m.labels.peer_id}`, up: m.value === 1 })),
  };
  if (d.prev) {
    const dt = (t - d.prevT) / 1000;
    const rps = (sum(ms, REQUESTS[s.type]) - sum(d.prev, REQUESTS[s.type])) / dt;
    const hist = s.type === 'game' ? 'cluster_game_tick_duration_seconds' : 'cluster_pg_query_duration_seconds';
    const p99 = deltaP99(ms, d.prev, hist);
    const tick = s.type === 'game' ? deltaMean(ms, d.prev, 'cluster_game_tick_duration_seconds') : null;
    const point = [t / 1000, Math.max(0, rps), p99 == null ? null : p99 * 1000, tick == null ? null : tick * 1000];
    point.forEach((v, i) => d.series[i].push(v));
    if (d.series[0].length > WINDOW) d.series.forEach((a) => a.shift());
    d.plot.setData(d.series);
    for (const m of ms.filter((x) => x.name === ERRORS[s.type])) {
      const old = d.prev.find((x) => x.name === m.name && x.labels.code === m.labels.code)?.value ?? 0;
      if (m.value > old) errors.unshift(`${new Date(t).toLocaleTimeString()}  ${key}  ${m.labels.code} +${m.value - old}`);
    }
  }
  d.prev = ms;
  d.prevT = t;
  return info;
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  if (cls) td.className = cls;
  tr.append(td);
  return td;
}

function renderServers(rows) {
  const body = $('servers').tBodies[0];
  body.replaceChildren();
  for (const { s, info } of rows) {
    const tr = document.createElement('tr');
    tr.dataset.server = `${s.type}:${s.id}`;
    cell(tr, s.type);
    cell(tr, s.id);
    cell(tr, s.status_name, s.status_name);
    cell(tr, `${s.address}:${s.port}`);
    cell(tr, info?.sessions ?? (s.type === 'gateway' ? s.players : ''), 'sessions');
    cell(tr, s.players);
    cell(tr, info?.matches ?? (s.type === 'game' ? s.games : ''), 'matches');
    cell(tr, `${s.heartbeat_age_ms} ms`);
    const links = cell(tr, '');
    for (const l of info?.links ?? []) {
      const span = document.createElement('span');
      span.className = l.up ? 'up' : 'down';
      span.textContent = `${l.peer} ${l.up ? 'up' : 'down'}  `;
      links.append(span);
    }
    cell(tr, s.version);
    body.append(tr);
  }
  $('errors').replaceChildren(...errors.slice(0, 200).map((e) => Object.assign(document.createElement('div'), { textContent: e })));
}

async function poll() {
  const t = Date.now();
  try {
    const servers = await get('/api/servers');
    const rows = await Promise.all(servers.map(async (s) => {
      const text = s.admin ? await get(`/api/metrics?server=${s.type}:${s.id}`, 'text').catch(() => null) : null;
      return { s, info: text ? observe(s, parseMetrics(text), t) : null };
    }));
    for (const [key, d] of daemons) if (d.seen !== t) (d.div.remove(), daemons.delete(key));
    renderServers(rows);
    $('updated').textContent = `updated ${new Date(t).toLocaleTimeString()}`;
    $('status').textContent = `${servers.length} servers`;
  } catch (e) {
    $('status').textContent = `error: ${e.message}`;
  }
  setTimeout(poll, Math.max(100, 1000 - (Date.now() - t)));
}

void poll();
