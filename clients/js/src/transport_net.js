// Node-only transports: tcp://host:port and tls://host:port (a byte stream of frames).
import net from 'node:net';
import tls from 'node:tls';

/** Opens tcp:// or tls://; h as in transport_ws.js. opts.tls goes to tls.connect ({ca, ...}). */
export function openNet(url, h, opts = {}) {
  const u = new URL(url);
  const port = Number(u.port);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const secure = u.protocol === 'tls:';
  const sock = secure
    ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ...(opts.tls ?? {}) })
    : net.connect({ host, port });
  sock.setNoDelay(true);
  let closed = false;
  const done = (reason) => {
    if (closed) return;
    closed = true;
    h.onClose(reason);
  };
  sock.once(secure ? 'secureConnect' : 'connect', () => h.onOpen());
  sock.on('data', (b) => h.onData(new Uint8Array(b.buffer, b.byteOffset, b.length)));
  sock.on('error', (e) => done(e.message));
  sock.on('close', () => done('connection closed'));
  return {
    messageBased: false,
    send(bytes) {
      if (!sock.destroyed) sock.write(bytes);
    },
    close() {
      sock.destroy();
      done('closed by client');
    },
  };
}
