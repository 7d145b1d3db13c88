import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { alive, RoomcastProcess } from '../harness/processes.js';
import { waitUntil } from '../harness/wait.js';
import { parseClusterArgs, shardPortBase } from './index.js';

test('cluster - shard ports move past the edges when the defaults would collide', () => {
  const shape = parseClusterArgs(['--edges', '2', '--shards', '3']);
  assert.equal(shardPortBase({ edgePort: 8081, shardPort: 8082 }, shape), 8083);
  assert.equal(shardPortBase({ edgePort: 8081, shardPort: 9000 }, shape), 9000);
  assert.equal(shardPortBase({ edgePort: 8081, shardPort: 8079 }, shape), 8083);
  assert.equal(shardPortBase({ edgePort: 0, shardPort: 8082 }, shape), 8082);
  assert.equal(shardPortBase({ edgePort: 8081, shardPort: 0 }, shape), 0);
  const oneEdge = parseClusterArgs(['--edges', '1', '--shards', '1']);
  assert.equal(
    shardPortBase({ edgePort: 8081, shardPort: 8082 }, oneEdge),
    8082,
  );
});

test('cluster - its processes stop when the cluster process is killed', async () => {
  const cluster = new RoomcastProcess(
    ['cluster', '--edges', '1', '--shards', '1'],
    {
      REDIS_URL: 'redis://127.0.0.1:6379',
      ROOMCAST_REDIS_PREFIX: `t${randomBytes(4).toString('hex')}:`,
      ROOMCAST_HOST: '127.0.0.1',
      ROOMCAST_ADMIN_PORT: '0',
      ROOMCAST_EDGE_PORT: '0',
      ROOMCAST_SHARD_PORT: '0',
      ROOMCAST_DRAIN_GRACE_SECONDS: '1',
    },
  );
  let children: number[] = [];
  try {
    await waitUntil(
      () =>
        cluster.lines.filter((line) => line.msg === 'process started')
          .length === 3 &&
        ['admin', 'edge'].every((role) =>
          cluster.lines.some((line) => line.msg === `${role} listening`),
        ),
      30_000,
      'the cluster and its three processes to start',
    );
    children = cluster.lines
      .filter((line) => line.msg === 'process started')
      .map((line) => line['childPid'] as number);
    assert.ok(children.every(alive));
    await cluster.stop('SIGKILL');
    await waitUntil(
      () => !children.some(alive),
      30_000,
      'every process of the killed cluster to stop',
    );
  } finally {
    await cluster.stop('SIGKILL');
    // Orphans would keep this test's pipes open; none is left behind.
    for (const pid of children.filter(alive)) {
      process.kill(pid, 'SIGKILL');
    }
  }
});
