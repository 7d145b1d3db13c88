/**
 * `/metrics`, `/healthz` and `/readyz` on a plain HTTP port, for roles that
 * serve nothing else (the room shard).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from '../metrics/index.js';

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

export async function startOpsServer(
  host: string,
  port: number,
  registry: Registry,
  ready: () => boolean,
): Promise<OpsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET') {
      response.writeHead(405, { 'content-type': 'application/json' });
      response.end(
        '{"error":{"code":"method_not_allowed","message":"GET only"}}',
      );
      return;
    }

    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"ok":true}');
    } else if (path === '/readyz') {
      const ok = ready();
      response.writeHead(ok ? 200 : 503, {
        'content-type': 'application/json',
      });
      response.end(JSON.stringify({ ready: ok }));
    } else if (path === '/metrics') {
      void registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': registry.contentType });
          response.end(text);
        },
        () => {
          response.writeHead(500).end();
        },
      );
    } else {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"error":{"code":"not_found","message":"no such path"}}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
