// @cluster/client/node: everything of the browser entry, plus tcp:// and tls:// and `ws`.
export * from './index.js';
export function openNet(url: string, handlers: object, opts?: { tls?: object }): { send(b: Uint8Array): void; close(): void; messageBased: boolean };
