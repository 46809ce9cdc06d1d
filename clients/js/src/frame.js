// The client wire format (DESIGN.md "Client wire format"): a 10-byte header (u32 length,
// u16 type, u32 seq, big-endian) and the protobuf payload. Encoding, and an incremental
// decoder that refuses a length over its maximum before buffering a byte of the body.

export const HEADER_SIZE = 10;
export const DEFAULT_MAX_FRAME = 64 * 1024;

/** Error of the byte stream itself (the connection can't be trusted after it). */
export class FrameError extends Error {
  constructor(codeName, message) {
    super(message);
    this.name = 'FrameError';
    this.codeName = codeName;
  }
}

/** One frame: header + payload (Uint8Array). */
export function encodeFrame(type, seq, payload = new Uint8Array(0)) {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, payload.length);
  dv.setUint16(4, type);
  dv.setUint32(6, seq >>> 0);
  out.set(payload, HEADER_SIZE);
  return out;
}

/**
 * Splits a byte stream into frames. push(chunk) returns the frames completed by it,
 * each {type, seq, payload}; it throws FrameError FRAME_TOO_LARGE when a header announces
 * more than maxFrame bytes (nothing of that frame is buffered).
 */
export class FrameDecoder {
  constructor(maxFrame = DEFAULT_MAX_FRAME) {
    this.maxFrame = maxFrame;
    this.buf = new Uint8Array(0);
  }

  /** Bytes held of an incomplete frame. */
  get pending() {
    return this.buf.length;
  }

  push(chunk) {
    let buf = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
    if (this.buf.length) {
      const joined = new Uint8Array(this.buf.length + buf.length);
      joined.set(this.buf);
      joined.set(buf, this.buf.length);
      buf = joined;
    }
    const frames = [];
    let off = 0;
    while (buf.length - off >= HEADER_SIZE) {
      const dv = new DataView(buf.buffer, buf.byteOffset + off, HEADER_SIZE);
      const len = dv.getUint32(0);
      if (len > this.maxFrame) {
        this.buf = new Uint8Array(0);
        throw new FrameError('FRAME_TOO_LARGE', `frame of ${len} bytes over the maximum ${this.maxFrame}`);
      }
      if (buf.length - off < HEADER_SIZE + len) break;
      const type = dv.getUint16(4);
      const seq = dv.getUint32(6);
      // a copy: the caller may keep it while the stream's buffers are reused
      const payload = buf.slice(off + HEADER_SIZE, off + HEADER_SIZE + len);
      frames.push({ type, seq, payload });
      off += HEADER_SIZE + len;
    }
    this.buf = off === buf.length ? new Uint8Array(0) : buf.slice(off);
    return frames;
  }
}
