import { test } from 'node:test';
import assert from 'node:assert/strict';
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
