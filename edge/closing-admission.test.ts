/**
 * A room that closes while a viewer is being admitted to it: the viewer is
 * refused (404) or closed with the room (4004), never left connected to a
 * room that is gone (QA: in a fleet, viewers admitted during a DELETE stayed
 * and later got the stream of a room made again with the same id).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntil } from '../harness/wait.js';
import {
  GatedLog,
  RefusedError,
  TestViewer,
  startTestServer,
} from '../test/harness.js';

test('edge - a viewer whose room closes while it is being admitted is refused 404, and the room made again starts without it', async () => {
  let gated: GatedLog | undefined;
  const server = await startTestServer(
    {},
    { edgeLog: (log) => (gated = new GatedLog(log)) },
  );
  assert.ok(gated !== undefined);
  const log = gated;
  try {
    await server.api('POST', '/v1/rooms', { id: 'brief' });
    // One viewer holds the room at the edge: the close reaches the edge
    // while the second viewer's admission waits on the log.
    const first = await TestViewer.connect(
      `${server.edgeUrl}?token=${await server.token('brief', 'first')}`,
    );
    log.hold();
    const late = new TestViewer(
      `${server.edgeUrl}?token=${await server.token('brief', 'late')}`,
    );
    const refused = late.opened.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    await waitUntil(() => log.waited > 0, 5000, 'the admission reading');
    assert.equal((await server.api('DELETE', '/v1/rooms/brief')).status, 204);
    await first.waitFor((frame) => frame.t === 'control');
    log.release();
    const error = await refused;
    assert.ok(error instanceof RefusedError, 'the late viewer is refused');
    assert.equal(error.status, 404);
    assert.match(error.body, /room_not_found/);

    // The same id again: a viewer of the new room is its only member.
    await server.api('POST', '/v1/rooms', { id: 'brief' });
    const fresh = await TestViewer.connect(
      `${server.edgeUrl}?token=${await server.token('brief', 'fresh')}`,
    );
    const welcome = await fresh.waitFor((frame) => frame.t === 'welcome');
    assert.equal(welcome['viewers'], 1);
    fresh.close();
  } finally {
    await server.close();
  }
});
