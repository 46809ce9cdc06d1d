// A real cluster for the JS tests, started the way tests/integration/harness.c does it:
// redis-server and PostgreSQL (scripts/pg.sh: as the postgres user in a folder it owns when
// run as root) on free loopback ports, then the project's built gatewayd/lobbyd/gamed with a
// unique REDIS_PREFIX, each logging to a file in a temporary folder removed at the end
// (KEEP_TEST_DIR=1 keeps it). Binaries come from CLUSTER_BUILD_DIR (default: <repo>/build).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '../src/node.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BUILD = process.env.CLUSTER_BUILD_DIR ?? join(REPO, 'build');
export const BIN = {
  gatewayd: join(BUILD, 'src_gateway', 'gatewayd'),
  lobbyd: join(BUILD, 'src_lobby', 'lobbyd'),
  gamed: join(BUILD, 'src_game', 'gamed'),
  bot: join(BUILD, 'src_bot', 'bot'),
  clusterctl: join(BUILD, 'src_ctl', 'clusterctl'),
};
const SECRET = 'js-test-secret-0123456789abcdef';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const live = new Set(); // every child still running, killed on exit whatever happens
const killAll = () => {
  for (const c of live) {
    try {
      process.kill(-c.pid, 'SIGCONT');
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
};
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => {
    killAll();
    process.exit(1);
  });

function canBind(port) {
  return new Promise((res) => {
    const s = net.createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

/** The lowest port of the kernel's ephemeral range (where `listen(0)` ports come from). */
function ephemeralLow() {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return low > 11000 ? low : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A free loopback TCP port below the kernel's ephemeral range. The daemons the tests start
 * with LISTEN_ADDR 127.0.0.1:0 get their ports from that range, so none of them can take a
 * port handed out here before its owner binds it (a lobby once took a gateway's ws port so).
 */
export async function freePort() {
  const low = ephemeralLow();
  for (let i = 0; i < 500; i++) {
    const port = 10000 + Math.floor(Math.random() * (low - 10000));
    if (await canBind(port)) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

/** Polls fn until it returns a truthy value; throws `what` after timeoutMs. */
export async function waitFor(what, fn, timeoutMs = 15000, stepMs = 50) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

function canConnect(port) {
  return new Promise((res) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });
}

/** One command to redis (RESP): resolves with the raw reply text. */
export function redisCommand(port, ...args) {
  return new Promise((res, rej) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let out = '';
    s.on('data', (d) => {
      out += d.toString();
      s.end();
    });
    s.on('end', () => res(out));
    s.on('error', rej);
    s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
  });
}

/** Whether a binary's --help names variable (WS_LISTEN_ADDR: the gateway has WebSocket). */
export function binSupports(bin, variable) {
  try {
    return execFileSync(bin, ['--help'], { encoding: 'utf8' }).includes(variable);
  } catch (e) {
    return String(e.stdout ?? '').includes(variable);
  }
}

export const gatewaySupports = (variable) => binSupports(BIN.gatewayd, variable);

/** The running cluster: .gateways [{proc, port, wsPort, id}], .lobbies, .games, stop(). */
export class Cluster {
  static async start(name, opts = {}) {
    const c = new Cluster(name, opts);
    try {
      await c._start();
    } catch (e) {
      c.dumpLogs();
      await c.stop();
      throw e;
    }
    return c;
  }

  constructor(name, opts) {
    this.name = name;
    this.opts = opts;
    this.dir = mkdtempSync(join(tmpdir(), `cluster-jstest-${name}-`));
    this.prefix = `js${process.pid}-${name}:`;
    this.procs = [];
    this.gateways = [];
    this.lobbies = [];
    this.games = [];
    this.ws = opts.ws ?? gatewaySupports('WS_LISTEN_ADDR');
  }

  async _start() {
    this.redisPort = await freePort();
    this.redis = this._spawnRaw('/usr/bin/redis-server', 'redis', [
      '--port', String(this.redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir,
    ]);
    await waitFor('redis-server', async () => (await redisCommand(this.redisPort, 'PING').catch(() => '')).startsWith('+PONG'));
    this.pgPort = await freePort();
    const { stdout } = await promisify(execFile)(join(REPO, 'scripts', 'pg.sh'), ['start', join(this.dir, 'pg'), String(this.pgPort)]);
    this.pgUsed = true;
    this.databaseUrl = stdout.trim().split('\n').pop();
    const { lobbies = 1, games = 1, gateways = 1 } = this.opts;
    for (let i = 0; i < lobbies; i++) this.addLobby();
    for (let i = 0; i < games; i++) this.addGame();
    for (let i = 0; i < gateways; i++) await this.addGateway();
    for (const p of [...this.lobbies, ...this.games]) await waitFor(`${p.name} registered`, () => p.serverId());
    await this.waitLinks();
  }

  _env(extra) {
    return {
      PATH: process.env.PATH,
      REDIS_URL: `redis://127.0.0.1:${this.redisPort}`,
      REDIS_PREFIX: this.prefix,
      CLUSTER_SECRET: SECRET,
      LOG_LEVEL: 'debug',
      LISTEN_ADDR: '127.0.0.1:0',
      GATEWAY_WORKERS: '1', // one gateway process per gateway here
      ...extra,
    };
  }

  _spawnRaw(bin, name, args) {
    const log = join(this.dir, `${name}.log`);
    const child = spawn('sh', ['-c', 'exec "$0" "$@" >>"$LOGFILE" 2>&1', bin, ...args], {
      env: { ...process.env, LOGFILE: log },
      detached: true,
      stdio: 'ignore',
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    return child;
  }

  _proc(bin, name, env) {
    const p = new DaemonProc(this, bin, name, this._env(env));
    this.procs.push(p);
    return p;
  }

  addLobby(env = {}) {
    const p = this._proc(BIN.lobbyd, `lobbyd${this.lobbies.length + 1}`, {
      DATABASE_URL: this.databaseUrl, HASH_OPSLIMIT: '1', HASH_MEMLIMIT_KIB: '8192', ...(this.opts.lobbyEnv ?? {}), ...env,
    });
    this.lobbies.push(p);
    return p;
  }

  addGame(env = {}) {
    const p = this._proc(BIN.gamed, `gamed${this.games.length + 1}`, {
      DATABASE_URL: this.databaseUrl, ...(this.opts.gameEnv ?? {}), ...env,
    });
    this.games.push(p);
    return p;
  }

  async addGateway(env = {}) {
    const port = await freePort();
    const wsPort = this.ws ? await freePort() : 0;
    const e = { LISTEN_ADDR: `127.0.0.1:${port}`, RATE_LIMIT: '100000', RATE_BURST: '100000', ...(this.opts.gatewayEnv ?? {}), ...env };
    if (wsPort) e.WS_LISTEN_ADDR = `127.0.0.1:${wsPort}`;
    const wssPort = this.opts.tls ? await freePort() : 0; // opts.tls: {cert, key} PEM files
    if (wssPort) Object.assign(e, { WSS_LISTEN_ADDR: `127.0.0.1:${wssPort}`, TLS_CERT_FILE: this.opts.tls.cert, TLS_KEY_FILE: this.opts.tls.key });
    const p = this._proc(BIN.gatewayd, `gatewayd${this.gateways.length + 1}`, e);
    const g = { proc: p, port, wsPort, wssPort, wssUrl: wssPort ? `wss://127.0.0.1:${wssPort}/` : null, tcpUrl: `tcp://127.0.0.1:${port}`, wsUrl: wsPort ? `ws://127.0.0.1:${wsPort}/` : null };
    g.url = g.wsUrl ?? g.tcpUrl;
    this.gateways.push(g);
    await waitFor(`${p.name} listening on ${port}`, () => canConnect(port));
    if (wsPort) await waitFor(`${p.name} WebSocket on ${wsPort}`, () => canConnect(wsPort));
    await waitFor(`${p.name} registered`, () => p.serverId());
    g.id = p.serverId();
    return g;
  }

  /** Restarts a gateway on the same ports (after kill(sig) and its exit). */
  async restartGateway(g, sig = 'SIGKILL') {
    await g.proc.kill(sig);
    g.proc.start();
    await waitFor(`${g.proc.name} listening again`, () => canConnect(g.port));
    if (g.wsPort) await waitFor(`${g.proc.name} WebSocket again`, () => canConnect(g.wsPort));
  }

  /** ECHO through every gateway until every lobby and game daemon has answered through it. */
  async waitLinks() {
    for (const g of this.gateways) {
      const c = new Client(g.tcpUrl, { autoReconnect: false, pingIntervalMs: 0 });
      await c.connect();
      try {
        for (const [target, procs] of [['lobby', this.lobbies], ['game', this.games]]) {
          const want = new Set(procs.map((p) => p.serverId()));
          await waitFor(`${g.proc.name} linked to every ${target} daemon`, async () => {
            const r = await c.echo(target, 'x', { timeoutMs: 2000 }).catch(() => null);
            if (r) want.delete(r.serverId);
            return want.size === 0;
          }, 20000, 20);
        }
      } finally {
        c.close();
      }
    }
  }

  dumpLogs(lines = 30) {
    for (const p of this.procs) {
      const t = p.logText().trimEnd().split('\n').slice(-lines).join('\n');
      console.error(`---- last lines of ${p.name} ----\n${t}`);
    }
  }

  async stop() {
    for (const p of this.procs) {
      p.signal('SIGCONT');
      await p.kill('SIGKILL');
    }
    if (this.redis) {
      try {
        process.kill(-this.redis.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (this.pgUsed) {
      this.pgUsed = false;
      await promisify(execFile)(join(REPO, 'scripts', 'pg.sh'), ['stop', join(this.dir, 'pg')]).catch((e) =>
        console.error('pg.sh stop failed', e.message),
      );
    }
    if (!process.env.KEEP_TEST_DIR) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A daemon: started through sh so its stdout and stderr append to its log file. */
class DaemonProc {
  constructor(cluster, bin, name, env) {
    this.cluster = cluster;
    this.bin = bin;
    this.name = name;
    this.env = env;
    this.log = join(cluster.dir, `${name}.log`);
    this.start();
  }

  start() {
    this.child = spawn('sh', ['-c', 'exec "$0" >>"$LOGFILE" 2>&1', this.bin], {
      env: { ...this.env, LOGFILE: this.log },
      detached: true,
      stdio: 'ignore',
    });
    const child = this.child;
    live.add(child);
    this.exited = new Promise((res) => child.once('exit', (code, sig) => (live.delete(child), res({ code, sig }))));
  }

  /** Sends sig (SIGSTOP and SIGCONT too); does not wait. */
  signal(sig) {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(this.child.pid, sig);
      } catch {
        /* already gone */
      }
    }
  }

  /** Sends sig and resolves with {code, sig} once the process exited. */
  kill(sig = 'SIGKILL') {
    this.signal(sig);
    return this.exited;
  }

  /** Registry id logged at registration ("event=registry_registered ... id=N"), 0 if none yet. */
  serverId() {
    const m = [...this.logText().matchAll(/event=registry_registered\b.*? id=(\d+)/g)];
    return m.length ? Number(m[m.length - 1][1]) : 0;
  }

  logText() {
    return existsSync(this.log) ? readFileSync(this.log, 'utf8') : '';
  }
}

const clients = new Set();

/** A new Client, closed by closeClients() (a failed test leaves no socket behind). */
export function client(url, opts = {}) {
  const c = new Client(url, { requestTimeoutMs: 8000, ...opts });
  clients.add(c);
  return c;
}

export function closeClients() {
  for (const c of clients) c.close();
  clients.clear();
}

/** A registered, logged-in client on url (a fresh unique user). */
let userSeq = 0;
export async function player(url, opts = {}) {
  const c = client(url, opts);
  await c.connect();
  const username = `${opts.namePrefix ?? 'p'}${process.pid % 10000}_${++userSeq}`;
  const password = 'password-123';
  await c.register(username, password);
  await c.login(username, password);
  c.password = password;
  return c;
}
