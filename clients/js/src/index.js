// @cluster/client: the browser entry (WebSocket transports). Node adds TCP/TLS and the `ws`
// package through ./node.js.
export { ArenaState, stepToward } from './arena.js';
export { TAG_OP, TagState } from './tag.js';
export { Client, PUSH_TYPES } from './client.js';
export { ClusterError } from './errors.js';
export { Emitter } from './emitter.js';
export { DEFAULT_MAX_FRAME, FrameDecoder, FrameError, HEADER_SIZE, encodeFrame } from './frame.js';
export {
  EchoTarget, ErrorCode, MatchOutcome, PacketType, RoomStatus, errorName, eventName, messageOf, pb, typeName,
} from './proto.js';
