// @cluster/client/node: the library for Node 18+: ws:// and wss:// through the `ws` package
// (Node 18-21 have no global WebSocket), tcp:// and tls:// through node:net and node:tls.
import WebSocket from 'ws';
import { Client as BaseClient } from './client.js';
import { openNet } from './transport_net.js';

export * from './index.js';
export { openNet };

/** Client with every transport; options as for the browser Client. */
export class Client extends BaseClient {
  constructor(urls, options = {}) {
    super(urls, {
      WebSocket,
      ...options,
      transports: { tcp: openNet, tls: openNet, ...(options.transports ?? {}) },
    });
  }
}
