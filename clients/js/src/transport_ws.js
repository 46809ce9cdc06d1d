// WebSocket transport: one binary message carries exactly one frame (DESIGN.md "Client
// transports"). Uses the given WebSocket class (the browser's, or the `ws` package in Node).

/**
 * Opens url with WebSocketImpl; calls h.onOpen(), h.onData(Uint8Array) per message,
 * h.onClose(reason) once. Returns {send(bytes), close(), messageBased: true}.
 */
export function openWebSocket(url, h, WebSocketImpl, wsOptions) {
  if (!WebSocketImpl) throw new Error('no WebSocket implementation (Node: import from "@cluster/client/node")');
  const ws = wsOptions ? new WebSocketImpl(url, wsOptions) : new WebSocketImpl(url);
  ws.binaryType = 'arraybuffer';
  let closed = false;
  const done = (reason) => {
    if (closed) return;
    closed = true;
    h.onClose(reason);
  };
  ws.onopen = () => h.onOpen();
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') {
      h.onError?.(new Error('text message from the server'));
      return;
    }
    h.onData(new Uint8Array(ev.data));
  };
  ws.onerror = () => done('websocket error');
  ws.onclose = (ev) => done(`websocket closed (${ev.code}${ev.reason ? ' ' + ev.reason : ''})`);
  return {
    messageBased: true,
    send(bytes) {
      if (ws.readyState === 1) ws.send(bytes);
    },
    close() {
      try {
        ws.close();
      } catch {
        /* not open yet */
      }
      done('closed by client');
    },
  };
}
