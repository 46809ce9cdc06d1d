// Client: one session with the cluster over one transport at a time. Requests are matched to
// responses by seq (with a timeout), pushes (seq 0) are emitted as typed events, a keep-alive
// PING measures latency and detects a dead connection, and an unexpected close reconnects with
// capped exponential backoff and RESUMEs the session (and the match) with the login token.
import { ClusterError } from './errors.js';
import { Emitter } from './emitter.js';
import { DEFAULT_MAX_FRAME, FrameDecoder, FrameError, encodeFrame } from './frame.js';
import { EchoTarget, PacketType as T, RoomStatus, eventName, messageOf, pb, typeName } from './proto.js';
import { openWebSocket } from './transport_ws.js';

/** The server -> client pushes (seq 0) the client understands; any other is refused. */
export const PUSH_TYPES = Object.freeze([
  T.KICKED, T.SERVER_CLOSING, T.ROOM_UPDATE, T.ROOM_CHAT_MESSAGE, T.GAME_STARTING,
  T.MATCH_START, T.GAME_STATE_UPDATE, T.GAME_OVER, T.MATCH_ABORTED, T.MATCH_DATA,
]);
const PUSHES = new Set(PUSH_TYPES);

const DEFAULTS = {
  requestTimeoutMs: 10000,
  pingIntervalMs: 5000,
  pingTimeoutMs: 5000,
  autoReconnect: true,
  reconnectBaseMs: 200,
  reconnectMaxMs: 5000,
  maxReconnectAttempts: Infinity,
  resumeRetries: 5, // RESUME answered SERVICE_UNAVAILABLE/TIMEOUT: asked again this many times
  maxFrame: DEFAULT_MAX_FRAME,
  oneWayErrorWindow: 256,
};

const now = () => (globalThis.performance ? globalThis.performance.now() : Date.now());

/**
 * new Client(urls, options): urls is one URL or a list (reconnects go round the list).
 * Schemes: ws://, wss:// (browsers and Node), tcp://, tls:// (Node: see ./node.js).
 * options: the DEFAULTS above, plus `WebSocket` (class), `transports` ({scheme: open}),
 * `wsOptions` (handed to the WebSocket constructor in Node, e.g. {ca} or {rejectUnauthorized}).
 *
 * Events: open, close(reason), reconnecting({attempt, delayMs}), reconnected({resumed, room,
 * snapshot}), resumeFailed(error), latency(ms), protocolError(ClusterError),
 * serverError(ClusterError: an ERROR_RESPONSE nobody waits for, e.g. a refused MATCH_DATA_SEND),
 * push({type, name, message}) and one event per push type: kicked, serverClosing, roomUpdate,
 * roomChatMessage, gameStarting, matchStart, gameStateUpdate, gameOver, matchAborted, matchData.
 */
export class Client extends Emitter {
  constructor(urls, options = {}) {
    super();
    this.urls = Array.isArray(urls) ? [...urls] : [urls];
    if (!this.urls.length) throw new Error('no URL');
    this.opts = { ...DEFAULTS, ...options };
    this.transports = { ws: openWs, wss: openWs, ...(options.transports ?? {}) };
    this.state = 'idle'; // idle, connecting, open, reconnecting, closed
    this.token = null;
    this.userId = 0;
    this.username = '';
    this.room = null;
    this.match = null; // {matchId, mode, start} between MATCH_START and GAME_OVER/MATCH_ABORTED
    this.latencyMs = null;
    this.urlIndex = 0;
    this._seq = 0;
    this._pending = new Map();
    this._oneWay = new Map();
    this._conn = null;
    this._userClosed = false;
    this._kicked = false;
    this._attempt = 0;
    this._nextDelay = null;
    this._timers = new Set();
    this._readyWaiters = [];
    this._pingTimer = null;
  }

  get url() {
    return this.urls[this.urlIndex % this.urls.length];
  }

  /** Opens the connection; resolves once it is open (rejects on failure, no retry). */
  connect() {
    if (this.state === 'open') return Promise.resolve();
    this._userClosed = false;
    this._kicked = false;
    this.state = 'connecting';
    return this._open().then(() => this._ready());
  }

  /** Closes for good: no reconnect; requests in flight reject with CLOSED. */
  close() {
    this._userClosed = true;
    this.state = 'closed';
    for (const t of this._timers) clearTimeout(t);
    this._timers.clear();
    this._stopPing();
    const c = this._conn;
    this._conn = null;
    c?.close();
    this._failPending(ClusterError.local('CLOSED', 'client closed'));
    this._flushWaiters(ClusterError.local('CLOSED', 'client closed'));
  }

  // ---------------------------------------------------------------- transport

  _open() {
    const url = this.url;
    const scheme = url.slice(0, url.indexOf(':'));
    const open = this.transports[scheme];
    if (!open) return Promise.reject(new Error(`no transport for ${scheme}:// here`));
    return new Promise((resolve, reject) => {
      let opened = false;
      const decoder = new FrameDecoder(this.opts.maxFrame);
      let conn = null;
      const handlers = {
        onOpen: () => {
          opened = true;
          resolve();
        },
        onData: (bytes) => {
          if (this._conn === conn) this._onBytes(conn, decoder, bytes);
        },
        onError: (e) => this._protocolError(ClusterError.local('PROTOCOL', e.message)),
        onClose: (reason) => {
          if (!opened) reject(new Error(`connect ${url}: ${reason}`));
          if (this._conn === conn) this._onClosed(reason);
        },
      };
      try {
        conn = open(url, handlers, this.opts);
      } catch (e) {
        e.synchronous = true; // no onClose follows: the caller retries itself
        reject(e);
        return;
      }
      this._conn = conn;
    });
  }

  _ready() {
    this.state = 'open';
    this._attempt = 0;
    this._startPing();
    this._flushWaiters(null);
    this.emit('open');
  }

  _onBytes(conn, decoder, bytes) {
    let frames;
    try {
      frames = decoder.push(bytes);
      if (conn.messageBased && (frames.length !== 1 || decoder.pending))
        throw new FrameError('PROTOCOL', 'a WebSocket message must carry exactly one frame');
    } catch (e) {
      // the stream can't be trusted any more: report, drop the connection (reconnect applies)
      this._protocolError(ClusterError.local(e.codeName ?? 'PROTOCOL', e.message));
      conn.close();
      return;
    }
    for (const f of frames) this._onFrame(f);
  }

  _onClosed(reason) {
    this._conn = null;
    this._stopPing();
    const wasOpen = this.state === 'open';
    this._failPending(ClusterError.local('DISCONNECTED', reason));
    if (this._userClosed) return;
    this.emit('close', reason);
    if (this.opts.autoReconnect && !this._kicked && (wasOpen || this.state === 'reconnecting')) {
      this._scheduleReconnect();
    } else {
      this.state = 'closed';
      this._flushWaiters(ClusterError.local('DISCONNECTED', reason));
    }
  }

  _scheduleReconnect() {
    this.state = 'reconnecting';
    const attempt = ++this._attempt;
    if (attempt > this.opts.maxReconnectAttempts) {
      this.state = 'closed';
      this._flushWaiters(ClusterError.local('DISCONNECTED', 'gave up reconnecting'));
      this.emit('close', 'gave up reconnecting');
      return;
    }
    let delay = this._nextDelay;
    this._nextDelay = null;
    if (delay == null) {
      const cap = Math.min(this.opts.reconnectMaxMs, this.opts.reconnectBaseMs * 2 ** (attempt - 1));
      delay = Math.round(cap / 2 + (Math.random() * cap) / 2); // jitter: a restarted gateway isn't stormed
    }
    if (attempt > 1) this.urlIndex++; // the last address failed: try the next one
    this.emit('reconnecting', { attempt, delayMs: delay, url: this.url });
    this._later(delay, () => this._reconnect());
  }

  async _reconnect() {
    if (this._userClosed) return;
    try {
      await this._open();
    } catch (e) {
      // a failed attempt's onClose already scheduled the next one; a synchronous failure did not
      if (e.synchronous && !this._userClosed && this.state === 'reconnecting') this._scheduleReconnect();
      return;
    }
    let resumed = false;
    let snapshot = null;
    if (this.token) {
      try {
        const r = await this._resumeRetrying();
        resumed = true;
        this.room = r.room ?? null;
        if (this.match && this.room?.status === RoomStatus.IN_GAME && this.match.mode === 'arena')
          snapshot = await this._request(T.GAME_SNAPSHOT_REQUEST, {}, {}, true).catch(() => null);
        else if (this.match && this.room?.status !== RoomStatus.IN_GAME) this.match = null;
      } catch (e) {
        if (e.codeName === 'DISCONNECTED') return; // closed again: _onClosed rescheduled
        this.token = null;
        this.emit('resumeFailed', e);
      }
    }
    this._ready();
    this.emit('reconnected', { resumed, room: this.room, snapshot });
  }

  /**
   * RESUME on the new connection. A gateway that has just restarted may not be linked to a
   * lobby yet (SERVICE_UNAVAILABLE) or the lobby may be slow (TIMEOUT): the session is still
   * alive, so ask again a few times before giving the token up.
   */
  async _resumeRetrying() {
    for (let i = 0; ; i++) {
      try {
        return await this._request(T.RESUME_REQUEST, { token: this.token }, {}, true);
      } catch (e) {
        const transient = e.codeName === 'SERVICE_UNAVAILABLE' || e.codeName === 'TIMEOUT';
        if (!transient || i >= this.opts.resumeRetries) throw e;
        const conn = this._conn;
        await new Promise((res) => this._later(Math.min(this.opts.reconnectMaxMs, this.opts.reconnectBaseMs * 2 ** i), res));
        // closed meanwhile (by the user or the network): the reconnect path owns what follows
        if (this._userClosed || this._conn !== conn) throw ClusterError.local('DISCONNECTED', 'closed while resuming');
      }
    }
  }

  _later(ms, fn) {
    const t = setTimeout(() => {
      this._timers.delete(t);
      fn();
    }, ms);
    this._timers.add(t);
    return t;
  }

  _flushWaiters(err) {
    const w = this._readyWaiters;
    this._readyWaiters = [];
    for (const x of w) err ? x.reject(err) : x.resolve();
  }

  _whenReady(timeoutMs) {
    if (this.state === 'open') return Promise.resolve();
    if (this.state !== 'reconnecting' && this.state !== 'connecting')
      return Promise.reject(ClusterError.local('NOT_CONNECTED', `client is ${this.state}`));
    return new Promise((resolve, reject) => {
      const w = { resolve, reject };
      const t = setTimeout(() => {
        this._readyWaiters = this._readyWaiters.filter((x) => x !== w);
        reject(ClusterError.local('TIMEOUT', 'not reconnected in time'));
      }, timeoutMs);
      w.resolve = () => (clearTimeout(t), resolve());
      w.reject = (e) => (clearTimeout(t), reject(e));
      this._readyWaiters.push(w);
    });
  }

  // ---------------------------------------------------------------- frames

  _nextSeq() {
    this._seq = (this._seq + 1) >>> 0 || 1;
    return this._seq;
  }

  _sendFrame(type, seq, message) {
    const Msg = messageOf(type);
    const payload = Msg.encode(Msg.fromObject(message ?? {})).finish();
    this._conn.send(encodeFrame(type, seq, payload));
  }

  _onFrame({ type, seq, payload }) {
    if (seq !== 0 && this._pending.has(seq)) return this._onResponse(seq, type, payload);
    if (seq !== 0 && type === T.ERROR_RESPONSE && this._oneWay.has(seq)) {
      const reqType = this._oneWay.get(seq);
      this._oneWay.delete(seq);
      return this._serverError(payload, reqType);
    }
    if (seq !== 0) {
      // a response nobody waits for (its request timed out): dropped, as documented
      if (type === T.ERROR_RESPONSE) this._serverError(payload, 0);
      return undefined;
    }
    if (type === T.ERROR_RESPONSE) return this._serverError(payload, 0);
    if (!PUSHES.has(type)) {
      return this._protocolError(
        ClusterError.local('UNKNOWN_PACKET', `push of unknown type ${type}${typeName(type) ? ' ' + typeName(type) : ''}`),
      );
    }
    let msg;
    try {
      msg = messageOf(type).decode(payload);
    } catch (e) {
      return this._protocolError(ClusterError.local('PROTOCOL', `bad ${typeName(type)} payload: ${e.message}`));
    }
    this._track(type, msg);
    this.emit(eventName(type), msg);
    this.emit('push', { type, name: typeName(type), message: msg });
    return undefined;
  }

  /** Follows the session's room and match from the pushes. */
  _track(type, msg) {
    switch (type) {
      case T.ROOM_UPDATE:
        this.room = msg.event === 'deleted' || (msg.event === 'left' && msg.actorId === this.userId) ? null : msg.room;
        break;
      case T.MATCH_START:
        this.match = { matchId: msg.matchId, mode: msg.mode || 'arena', start: msg };
        break;
      case T.GAME_OVER:
      case T.MATCH_ABORTED:
        this.match = null;
        break;
      case T.KICKED:
        this._kicked = true;
        this.token = null;
        break;
      case T.SERVER_CLOSING:
        this._nextDelay = msg.reconnectAfterMs || 0;
        this.urlIndex++; // this gateway is going away: the next address first
        break;
      default:
    }
  }

  _serverError(payload, requestType) {
    let e;
    try {
      const m = pb.ErrorResponse.decode(payload);
      e = new ClusterError(m.code, m.message, { requestType: m.requestType || requestType });
    } catch (err) {
      e = ClusterError.local('PROTOCOL', `bad ERROR_RESPONSE: ${err.message}`);
    }
    this.emit('serverError', e);
  }

  _protocolError(e) {
    this.emit('protocolError', e);
  }

  _onResponse(seq, type, payload) {
    const p = this._pending.get(seq);
    this._pending.delete(seq);
    clearTimeout(p.timer);
    try {
      if (type === T.ERROR_RESPONSE) {
        const m = pb.ErrorResponse.decode(payload);
        p.reject(new ClusterError(m.code, m.message, { requestType: m.requestType || p.type }));
        return;
      }
      const Msg = messageOf(type);
      if (!Msg) throw new Error(`response of unknown type ${type}`);
      p.resolve(Msg.decode(payload));
    } catch (e) {
      p.reject(ClusterError.local('PROTOCOL', e.message, p.type));
    }
  }

  _failPending(err) {
    for (const [, p] of this._pending) {
      clearTimeout(p.timer);
      p.reject(new ClusterError(err.code, err.serverMessage, { codeName: err.codeName, requestType: p.type, local: true }));
    }
    this._pending.clear();
    this._oneWay.clear();
  }

  _request(type, message, { timeoutMs } = {}, internal = false) {
    const ms = timeoutMs ?? this.opts.requestTimeoutMs;
    if (!this._conn || (!internal && this.state !== 'open'))
      return Promise.reject(ClusterError.local('NOT_CONNECTED', `client is ${this.state}`, type));
    return new Promise((resolve, reject) => {
      const seq = this._nextSeq();
      const timer = setTimeout(() => {
        this._pending.delete(seq);
        reject(ClusterError.local('TIMEOUT', `no response to ${typeName(type)} within ${ms} ms`, type));
      }, ms);
      this._pending.set(seq, { type, resolve, reject, timer });
      try {
        this._sendFrame(type, seq, message);
      } catch (e) {
        clearTimeout(timer);
        this._pending.delete(seq);
        reject(e instanceof ClusterError ? e : ClusterError.local('BAD_REQUEST', e.message, type));
      }
    });
  }

  // ---------------------------------------------------------------- public requests

  /**
   * Sends a request of `type` (a PacketType number) with a plain-object message and resolves
   * with the decoded response message; rejects with a ClusterError (the server's code, or a
   * local TIMEOUT/DISCONNECTED/NOT_CONNECTED). While reconnecting, it waits for the session
   * to be back within its timeout.
   */
  async request(type, message = {}, options = {}) {
    const ms = options.timeoutMs ?? this.opts.requestTimeoutMs;
    const t0 = now();
    if (this.state !== 'open') await this._whenReady(ms);
    return this._request(type, message, { timeoutMs: Math.max(1, ms - (now() - t0)) });
  }

  /**
   * Sends a one-way message (MATCH_DATA_SEND): nothing comes back on success; a refusal
   * arrives as a `serverError` event carrying the ClusterError (requestType MATCH_DATA_SEND).
   */
  sendOneWay(type, message = {}) {
    if (this.state !== 'open' || !this._conn) throw ClusterError.local('NOT_CONNECTED', `client is ${this.state}`, type);
    const seq = this._nextSeq();
    this._oneWay.set(seq, type);
    if (this._oneWay.size > this.opts.oneWayErrorWindow) this._oneWay.delete(this._oneWay.keys().next().value);
    this._sendFrame(type, seq, message);
    return seq;
  }

  /** PING round trip in ms (also updates latencyMs and emits latency). */
  async ping(options) {
    const t0 = now();
    await this.request(T.PING_REQUEST, { clientTime: Date.now() }, options);
    const rtt = now() - t0;
    this.latencyMs = rtt;
    this.emit('latency', rtt);
    return rtt;
  }

  _startPing() {
    this._stopPing();
    if (!this.opts.pingIntervalMs) return;
    this._pingTimer = setInterval(() => {
      if (this.state !== 'open') return;
      this.ping({ timeoutMs: this.opts.pingTimeoutMs }).catch((e) => {
        // no PONG in time: the connection is dead even if the socket says otherwise
        if (e.codeName === 'TIMEOUT' && this.state === 'open') this._conn?.close();
      });
    }, this.opts.pingIntervalMs);
    this._pingTimer.unref?.();
  }

  _stopPing() {
    if (this._pingTimer) clearInterval(this._pingTimer);
    this._pingTimer = null;
  }

  /** ECHO through a lobby or game daemon; payload a string or bytes. */
  echo(target = 'lobby', payload = new Uint8Array(0), options) {
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
    const t = typeof target === 'number' ? target : EchoTarget[String(target).toUpperCase()];
    return this.request(T.ECHO_REQUEST, { target: t, payload: bytes }, options);
  }

  // accounts

  register(username, password) {
    return this.request(T.REGISTER_REQUEST, { username, password });
  }

  async login(username, password) {
    const r = await this.request(T.LOGIN_REQUEST, { username, password });
    this._session(r);
    this.token = r.token;
    return r;
  }

  /** RESUME with a token from an earlier login (e.g. kept in sessionStorage across a reload). */
  async resume(token) {
    const r = await this.request(T.RESUME_REQUEST, { token });
    this._session(r);
    this.token = token;
    return r;
  }

  async logout() {
    const r = await this.request(T.LOGOUT_REQUEST, {});
    this.token = null;
    this.room = null;
    return r;
  }

  _session(r) {
    this.userId = r.userId;
    this.username = r.username;
    this.room = r.room ?? null;
  }

  // rooms

  async createRoom({ name, maxPlayers = 0, mode = '' } = {}) {
    const r = await this.request(T.CREATE_ROOM_REQUEST, { name, maxPlayers, mode });
    this.room = r.room;
    return r.room;
  }

  listRooms({ page = 0, pageSize = 0 } = {}) {
    return this.request(T.GET_ROOM_LIST_REQUEST, { page, pageSize });
  }

  async joinRoom(roomId) {
    const r = await this.request(T.JOIN_ROOM_REQUEST, { roomId });
    this.room = r.room;
    return r.room;
  }

  async leaveRoom() {
    const r = await this.request(T.LEAVE_ROOM_REQUEST, {});
    this.room = null;
    return r;
  }

  async setReady(ready = true) {
    const r = await this.request(T.PREPARE_GAME_REQUEST, { ready });
    this.room = r.room;
    return r.room;
  }

  startGame() {
    return this.request(T.START_GAME_REQUEST, {});
  }

  chat(text) {
    return this.request(T.ROOM_CHAT_REQUEST, { text });
  }

  quickMatch(mode = '') {
    return this.request(T.QUICK_MATCH_REQUEST, { mode });
  }

  cancelQuickMatch() {
    return this.request(T.QUICK_MATCH_CANCEL_REQUEST, {});
  }

  matchHistory({ page = 0, pageSize = 0 } = {}) {
    return this.request(T.GET_MATCH_HISTORY_REQUEST, { page, pageSize });
  }

  // matches (the arena's packets, and MATCH_DATA for modules)

  snapshot() {
    return this.request(T.GAME_SNAPSHOT_REQUEST, {});
  }

  move(x, y) {
    return this.request(T.PLAYER_POSITION_UPDATE, { pos: { x, y } });
  }

  attack(monsterId) {
    return this.request(T.PLAYER_ATTACK_MONSTER, { monsterId });
  }

  useItem(item) {
    return this.request(T.PLAYER_USE_ITEM, { item });
  }

  usePotion() {
    return this.useItem(1);
  }

  /** MATCH_DATA_SEND to the match's module: op an integer, data a string or bytes. */
  sendMatchData(opCode, data = new Uint8Array(0)) {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    return this.sendOneWay(T.MATCH_DATA_SEND, { opCode, data: bytes });
  }
}

function openWs(url, h, opts) {
  return openWebSocket(url, h, opts.WebSocket ?? globalThis.WebSocket, opts.wsOptions);
}
