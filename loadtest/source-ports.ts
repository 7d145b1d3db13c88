/**
 * Source ports for the simulated viewers, chosen here instead of by the
 * kernel. A socket bound to a source address with port 0 makes the kernel
 * search that address's ports for a free one, checking each against every
 * socket bound to the same port number on any address; with hundreds of
 * thousands of loopback connections that search took most of a simulator's
 * CPU (measured with perf: `inet_bind2_bucket_match_addr_any` and
 * `inet_bhash2_conflict`), and the simulators, not the service, set the
 * connect rate. Binding an explicit port is one lookup.
 *
 * Each simulator process owns its source addresses (run.ts gives them out),
 * so it can hand the ports of each address out in turn: a port comes round
 * again only after every other port of its address, long after a closed
 * connection's TIME_WAIT. A port still held (EADDRINUSE) is skipped by the
 * caller asking again.
 */

/** The ports handed out, on every source address. */
export const FIRST_SOURCE_PORT = 10_000;
export const LAST_SOURCE_PORT = 60_999;

export class SourcePorts {
  #next = new Map<string, number>();

  /** The next port to bind on `address`. */
  next(address: string): number {
    const port = this.#next.get(address) ?? FIRST_SOURCE_PORT;
    this.#next.set(
      address,
      port >= LAST_SOURCE_PORT ? FIRST_SOURCE_PORT : port + 1,
    );
    return port;
  }
}
