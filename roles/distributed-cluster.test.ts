/**
 * `roomcast cluster --edges 2 --shards 3` on a three-master Redis Cluster
 * the test starts itself: rooms spread over shards and over the cluster's
 * masters (sharded pub/sub, hash-tagged keys), viewers on both edges get
 * everything, and C4 holds across the two edges.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Fleet } from '../harness/fleet.js';
import { RoomcastProcess } from '../harness/processes.js';
import { RedisClusterServers } from '../harness/redis-servers.js';
import { TestViewer, seqViolation } from '../harness/viewer.js';
import { waitUntil } from '../harness/wait.js';

const run = promisify(execFile);

describe('distributed on Redis Cluster', () => {
  let servers: RedisClusterServers;
  let fleet: Fleet;
  let cluster: RoomcastProcess;
  const edgePorts: number[] = [];
  const viewers: TestViewer[] = [];

  async function viewer(edge: number, room: string, user: string) {
    const connected = await TestViewer.connect(
      edgePorts[edge] ?? -1,
      await fleet.token(room, user),
    );
    viewers.push(connected);
    return connected;
  }

  before(async () => {
    servers = await RedisClusterServers.start();
    fleet = new Fleet({ env: { REDIS_CLUSTER_NODES: servers.seeds } });
    cluster = new RoomcastProcess(
      ['cluster', '--edges', '2', '--shards', '3'],
      fleet.env,
    );
    fleet.processes.push(cluster);
    const listening = (role: string, count: number) =>
      waitUntil(
        () =>
          cluster.lines.filter((line) => line.msg === `${role} listening`)
            .length >= count,
        60_000,
        `${count} ${role} listening`,
      );
    await Promise.all([
      listening('admin', 1),
      listening('shard', 3),
      listening('edge', 2),
    ]);
    const port = (line: { port?: number }) => line.port ?? -1;
    fleet.adminPort = port(
      cluster.lines.find((line) => line.msg === 'admin listening') ?? {},
    );
    edgePorts.push(
      ...cluster.lines
        .filter((line) => line.msg === 'edge listening')
        .map(port),
    );
    // Listening is not ready: each process answers 503 until its Redis
    // Cluster connections and subscriptions are up.
    await Promise.all(
      [fleet.adminPort, ...edgePorts].map((ready) =>
        waitUntil(
          async () =>
            (
              await fetch(`http://127.0.0.1:${ready}/readyz`).catch(
                () => undefined,
              )
            )?.status === 200,
          60_000,
          `/readyz on port ${ready}`,
        ),
      ),
    );
  });

  after(async () => {
    await Promise.all(viewers.map((connected) => connected.close()));
    await fleet.stop();
    await servers.stop();
  });

  test('distributed cluster - rooms spread over shards and masters, viewers on both edges get everything', async () => {
    const rooms = Array.from({ length: 12 }, (_, index) => `room-${index}`);
    await Promise.all(rooms.map((room) => fleet.createRoom(room)));
    const claimedBy = () =>
      new Set(
        cluster.lines
          .filter((line) => line.msg === 'room claimed')
          .map((line) => line.pid),
      );
    await waitUntil(
      () =>
        cluster.lines.filter((line) => line.msg === 'room claimed').length >=
        rooms.length,
      15_000,
      'every room claimed',
    );
    assert.ok(claimedBy().size >= 2, 'rooms on one shard only');

    const watching = await Promise.all(
      rooms.flatMap((room) => [
        viewer(0, room, `a-${room}`),
        viewer(1, room, `b-${room}`),
      ]),
    );
    await Promise.all(
      rooms.map(async (room) => {
        await fleet.send(room, 'host', { text: room });
        await fleet.send(room, 'gift', { name: 'rose' });
      }),
    );
    for (const connected of watching) {
      await connected.waitForSeq(2, 15_000);
      assert.equal(seqViolation(connected.seqs, 1, 2), undefined);
    }

    const holding = await Promise.all(
      servers.nodes.map(async (node) => {
        const { stdout } = await run('redis-cli', [
          '-p',
          String(node.port),
          '--scan',
          '--pattern',
          `${fleet.prefix}log:*`,
        ]);
        return stdout.trim() === '' ? 0 : stdout.trim().split('\n').length;
      }),
    );
    assert.equal(
      holding.reduce((sum, count) => sum + count, 0),
      rooms.length,
    );
    assert.ok(
      holding.filter((count) => count > 0).length >= 2,
      `room streams on one master only: ${holding.join(',')}`,
    );
  });

  test('distributed cluster - C4: 10,000 host messages across two edges, once, in order, no gaps', async () => {
    await fleet.createRoom('c4');
    const watching = [
      await viewer(0, 'c4', 'c4-a'),
      await viewer(1, 'c4', 'c4-b'),
    ];
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < 10_000) {
          const n = next++;
          await fleet.send('c4', 'host', { n });
        }
      }),
    );
    for (const connected of watching) {
      await connected.waitForSeq(10_000, 60_000);
      assert.equal(seqViolation(connected.seqs, 1, 10_000), undefined);
    }
  });
});
