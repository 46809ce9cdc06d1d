// The protocol's messages and enums, generated from proto/cluster.proto (gen/cluster.js), and
// the one mapping from a packet type to its message (LOGIN_REQUEST -> LoginRequest).
import $protobuf from 'protobufjs/minimal.js';
import { cluster } from '../gen/cluster.js';

// 64-bit ids (user, room, match) as plain numbers: every id the cluster hands out stays far
// below 2^53, and numbers are what a game's code and JSON want.
$protobuf.util.Long = null;
$protobuf.configure();

export const pb = cluster;
export const PacketType = cluster.PacketType;
export const ErrorCode = cluster.ErrorCode;
export const EchoTarget = cluster.EchoTarget;
export const RoomStatus = cluster.RoomStatus;
export const MatchOutcome = cluster.MatchOutcome;

/** Name of a packet type number ("LOGIN_REQUEST"), or undefined. */
export function typeName(type) {
  const n = PacketType[type];
  return typeof n === 'string' ? n : undefined;
}

/** Name of an error code number ("ROOM_FULL"), or undefined. */
export function errorName(code) {
  const n = ErrorCode[code];
  return typeof n === 'string' ? n : undefined;
}

const pascal = (name) =>
  name.toLowerCase().split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');

/** The generated message class of a packet type, or undefined (PACKET_NONE, unknown). */
export function messageOf(type) {
  const n = typeName(type);
  return n && n !== 'PACKET_NONE' ? cluster[pascal(n)] : undefined;
}

/** Event name of a packet type: ROOM_UPDATE -> "roomUpdate". */
export function eventName(type) {
  const p = pascal(typeName(type) ?? 'PACKET_NONE');
  return p.charAt(0).toLowerCase() + p.slice(1);
}
