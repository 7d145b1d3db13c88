/**
 * A free loopback port, for processes that must all ask for the same port
 * number (SO_REUSEPORT) or for a Redis of the run's own.
 */
import { createServer, type AddressInfo } from 'node:net';

/** A port the kernel says is free now (a race, but a short one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
