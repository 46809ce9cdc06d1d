// Types of @cluster/client. Messages are the classes generated from proto/cluster.proto
// (gen/cluster.d.ts, made by `npm run proto`); fields are camelCase (user_id -> userId) and
// 64-bit ids are numbers.
import { cluster } from '../gen/cluster.js';

export import pb = cluster;
export const PacketType: typeof cluster.PacketType;
export const ErrorCode: typeof cluster.ErrorCode;
export const EchoTarget: typeof cluster.EchoTarget;
export const RoomStatus: typeof cluster.RoomStatus;
export const MatchOutcome: typeof cluster.MatchOutcome;
export function typeName(type: number): string | undefined;
export function errorName(code: number): string | undefined;
export function messageOf(type: number): { encode(m: object): { finish(): Uint8Array }; decode(b: Uint8Array): unknown } | undefined;
export function eventName(type: number): string;

export const HEADER_SIZE: 10;
export const DEFAULT_MAX_FRAME: number;
export interface Frame { type: number; seq: number; payload: Uint8Array }
export function encodeFrame(type: number, seq: number, payload?: Uint8Array): Uint8Array;
export class FrameError extends Error { codeName: string }
export class FrameDecoder {
  constructor(maxFrame?: number);
  readonly pending: number;
  push(chunk: Uint8Array | ArrayBuffer): Frame[];
}

/** A failed request or a broken connection. */
export class ClusterError extends Error {
  /** ErrorCode of the server's ERROR_RESPONSE (or the closest one, -1 when none fits). */
  code: number;
  /** Its name, or the client's own DISCONNECTED, NOT_CONNECTED, CLOSED, PROTOCOL. */
  codeName: string;
  serverMessage: string;
  requestType: number;
  requestTypeName?: string;
  /** True when produced by the client (no ERROR_RESPONSE was received). */
  local: boolean;
  constructor(code: number, message?: string, opts?: { codeName?: string; requestType?: number; local?: boolean });
  static local(codeName: string, message?: string, requestType?: number): ClusterError;
}

export class Emitter {
  on(event: string, fn: (...args: any[]) => void): this;
  off(event: string, fn: (...args: any[]) => void): this;
  once(event: string, fn: (...args: any[]) => void): this;
  next<T = any>(event: string, timeoutMs?: number): Promise<T>;
  emit(event: string, ...args: any[]): boolean;
}

export interface ClientOptions {
  requestTimeoutMs?: number;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  autoReconnect?: boolean;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  maxReconnectAttempts?: number;
  resumeRetries?: number;
  maxFrame?: number;
  WebSocket?: unknown;
  wsOptions?: object;
  tls?: object;
  transports?: Record<string, (url: string, handlers: object, opts: ClientOptions) => { send(b: Uint8Array): void; close(): void; messageBased: boolean }>;
}
export interface RequestOptions { timeoutMs?: number }
export interface Reconnected { resumed: boolean; room: cluster.IRoomState | null; snapshot: cluster.GameSnapshotResponse | null }

export const PUSH_TYPES: readonly number[];

export class Client extends Emitter {
  constructor(urls: string | string[], options?: ClientOptions);
  readonly url: string;
  state: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';
  token: string | null;
  userId: number;
  username: string;
  room: cluster.IRoomState | null;
  match: { matchId: number; mode: string; start: cluster.MatchStart } | null;
  latencyMs: number | null;
  connect(): Promise<void>;
  close(): void;
  request<T = unknown>(type: number, message?: object, options?: RequestOptions): Promise<T>;
  sendOneWay(type: number, message?: object): number;
  ping(options?: RequestOptions): Promise<number>;
  echo(target?: 'lobby' | 'game' | number, payload?: string | Uint8Array, options?: RequestOptions): Promise<cluster.EchoResponse>;
  register(username: string, password: string): Promise<cluster.RegisterResponse>;
  login(username: string, password: string): Promise<cluster.LoginResponse>;
  resume(token: string): Promise<cluster.ResumeResponse>;
  logout(): Promise<cluster.LogoutResponse>;
  createRoom(o: { name: string; maxPlayers?: number; mode?: string }): Promise<cluster.RoomState>;
  listRooms(o?: { page?: number; pageSize?: number }): Promise<cluster.GetRoomListResponse>;
  joinRoom(roomId: number): Promise<cluster.RoomState>;
  leaveRoom(): Promise<cluster.LeaveRoomResponse>;
  setReady(ready?: boolean): Promise<cluster.RoomState>;
  startGame(): Promise<cluster.StartGameResponse>;
  chat(text: string): Promise<cluster.RoomChatResponse>;
  quickMatch(mode?: string): Promise<cluster.QuickMatchResponse>;
  cancelQuickMatch(): Promise<cluster.QuickMatchCancelResponse>;
  matchHistory(o?: { page?: number; pageSize?: number }): Promise<cluster.GetMatchHistoryResponse>;
  snapshot(): Promise<cluster.GameSnapshotResponse>;
  move(x: number, y: number): Promise<cluster.PlayerPositionResponse>;
  attack(monsterId: number): Promise<cluster.PlayerAttackResponse>;
  useItem(item: number): Promise<cluster.PlayerUseItemResponse>;
  usePotion(): Promise<cluster.PlayerUseItemResponse>;
  sendMatchData(opCode: number, data?: string | Uint8Array): number;

  on(event: 'open', fn: () => void): this;
  on(event: 'close', fn: (reason: string) => void): this;
  on(event: 'reconnecting', fn: (r: { attempt: number; delayMs: number; url: string }) => void): this;
  on(event: 'reconnected', fn: (r: Reconnected) => void): this;
  on(event: 'resumeFailed' | 'protocolError' | 'serverError', fn: (e: ClusterError) => void): this;
  on(event: 'latency', fn: (ms: number) => void): this;
  on(event: 'push', fn: (p: { type: number; name: string; message: unknown }) => void): this;
  on(event: 'kicked', fn: (m: cluster.Kicked) => void): this;
  on(event: 'serverClosing', fn: (m: cluster.ServerClosing) => void): this;
  on(event: 'roomUpdate', fn: (m: cluster.RoomUpdate) => void): this;
  on(event: 'roomChatMessage', fn: (m: cluster.RoomChatMessage) => void): this;
  on(event: 'gameStarting', fn: (m: cluster.GameStarting) => void): this;
  on(event: 'matchStart', fn: (m: cluster.MatchStart) => void): this;
  on(event: 'gameStateUpdate', fn: (m: cluster.GameStateUpdate) => void): this;
  on(event: 'gameOver', fn: (m: cluster.GameOver) => void): this;
  on(event: 'matchAborted', fn: (m: cluster.MatchAborted) => void): this;
  on(event: 'matchData', fn: (m: cluster.MatchData) => void): this;
  on(event: string, fn: (...args: any[]) => void): this;
}

export interface Vec { x: number; y: number }
export interface ArenaPlayer { userId: number; username: string; pos: Vec; hp: number; alive: boolean; potions: number; kills: number; score: number }
export interface ArenaMonster { id: number; pos: Vec; hp: number }
export class ArenaState {
  constructor(start: cluster.IMatchStart);
  matchId: number; mode: string; tickMs: number; timeLimitMs: number; width: number; height: number;
  rules: cluster.IMatchRules | null; tick: number; wave: number;
  players: Map<number, ArenaPlayer>;
  monsters: Map<number, ArenaMonster>;
  applyUpdate(u: cluster.IGameStateUpdate): cluster.IGameStateUpdate;
  applySnapshot(s: cluster.IGameSnapshotResponse): void;
  applyAttack(r: cluster.IPlayerAttackResponse): void;
  nearestMonster(pos: Vec): ArenaMonster | null;
  monsterAt(pos: Vec, radius: number): ArenaMonster | null;
}
export function stepToward(from: Vec, to: Vec, rules: { playerSpeed: number; moveWindowMs?: number }, dtMs: number): Vec;

export const TAG_OP: { MOVE: 1; RULES: 100; POSITIONS: 101; TAGGED: 102; SCORES: 103; REFUSED: 104 };
export interface TagPlayer { userId: number; x: number; y: number; score: number; it: boolean; left: boolean }
/** The example module `tag`'s match, from its MATCH_DATA messages. */
export class TagState {
  rules: { tickMs: number; timeLimitMs: number; fieldW: number; fieldH: number; runnerSpeed: number; itSpeed: number;
    speedTolerance: number; moveSlack: number; tagRange: number; moveWindowMs: number; freezeMs: number } | null;
  players: Map<number, TagPlayer>;
  itId: number;
  tags: number;
  refused: { op: number; code: number }[];
  apply(m: { opCode: number; data: Uint8Array }): boolean;
  static move(x: number, y: number): Uint8Array;
}
