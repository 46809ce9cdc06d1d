// TagState: a client's view of a match of the example module `tag` (modules/tag.lua in the
// game modules work), built from its MATCH_DATA messages. Payloads are little-endian
// string.pack records: RULES (100), POSITIONS (101), TAGGED (102), SCORES (103), REFUSED (104);
// the client sends MOVE (1) <ff x, y>. Pure data, no I/O.

export const TAG_OP = Object.freeze({ MOVE: 1, RULES: 100, POSITIONS: 101, TAGGED: 102, SCORES: 103, REFUSED: 104 });
const u64 = (dv, o) => Number(dv.getBigUint64(o, true));

export class TagState {
  constructor() {
    this.rules = null;
    this.players = new Map(); // userId -> {userId, x, y, score, it, left}
    this.itId = 0;
    this.tags = 0;
    this.refused = [];
  }

  _p(uid) {
    if (!this.players.has(uid)) this.players.set(uid, { userId: uid, x: 0, y: 0, score: 0, it: false, left: false });
    return this.players.get(uid);
  }

  /** Applies one MatchData ({opCode, data, senderId}); returns false for a message it does not know. */
  apply(m) {
    const b = m.data instanceof Uint8Array ? m.data : new Uint8Array(m.data ?? []);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const each = (size, fn) => {
      if (b.length % size) throw new RangeError(`op ${m.opCode}: ${b.length} bytes is not a whole number of ${size}-byte records`);
      for (let o = 0; o < b.length; o += size) fn(o);
    };
    switch (m.opCode) {
      case TAG_OP.RULES:
        if (b.length !== 44) throw new RangeError(`RULES of ${b.length} bytes`);
        this.rules = {
          tickMs: dv.getUint32(0, true), timeLimitMs: dv.getUint32(4, true), fieldW: dv.getFloat32(8, true),
          fieldH: dv.getFloat32(12, true), runnerSpeed: dv.getFloat32(16, true), itSpeed: dv.getFloat32(20, true),
          speedTolerance: dv.getFloat32(24, true), moveSlack: dv.getFloat32(28, true), tagRange: dv.getFloat32(32, true),
          moveWindowMs: dv.getUint32(36, true), freezeMs: dv.getUint32(40, true),
        };
        return true;
      case TAG_OP.POSITIONS:
        each(17, (o) => Object.assign(this._p(u64(dv, o)), { x: dv.getFloat32(o + 8, true), y: dv.getFloat32(o + 12, true) }));
        return true;
      case TAG_OP.TAGGED:
        each(16, (o) => {
          if (u64(dv, o)) this.tags++;
          this.itId = u64(dv, o + 8);
          for (const p of this.players.values()) p.it = p.userId === this.itId;
          this._p(this.itId).it = true;
        });
        return true;
      case TAG_OP.SCORES:
        each(13, (o) => {
          const flags = dv.getUint8(o + 12);
          Object.assign(this._p(u64(dv, o)), { score: dv.getUint32(o + 8, true), it: !!(flags & 1), left: !!(flags & 2) });
        });
        return true;
      case TAG_OP.REFUSED:
        each(8, (o) => this.refused.push({ op: dv.getUint32(o, true), code: dv.getInt32(o + 4, true) }));
        return true;
      default:
        return false;
    }
  }

  /** The MOVE payload toward (x, y). */
  static move(x, y) {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setFloat32(0, x, true);
    dv.setFloat32(4, y, true);
    return b;
  }
}
