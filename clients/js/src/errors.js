// ClusterError: what a failed request or a broken connection rejects with.
import { ErrorCode, errorName, typeName } from './proto.js';

/**
 * code: the ErrorCode number from the server's ERROR_RESPONSE (or the closest one for a
 * client-side failure, -1 when none fits); codeName: its name, or one of the client's own
 * DISCONNECTED, NOT_CONNECTED, CLOSED, PROTOCOL; requestType: the packet type that failed;
 * local: true when the client produced it (no ERROR_RESPONSE was received).
 */
export class ClusterError extends Error {
  constructor(code, message, { codeName, requestType = 0, local = false } = {}) {
    const name = codeName ?? errorName(code) ?? `ERROR_${code}`;
    super(message ? `${name}: ${message}` : name);
    this.name = 'ClusterError';
    this.code = code;
    this.codeName = name;
    this.serverMessage = message ?? '';
    this.requestType = requestType;
    this.requestTypeName = typeName(requestType);
    this.local = local;
  }

  static local(codeName, message, requestType = 0) {
    const code = typeof ErrorCode[codeName] === 'number' ? ErrorCode[codeName] : -1;
    return new ClusterError(code, message, { codeName, requestType, local: true });
  }
}
