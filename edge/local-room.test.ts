import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WebSocket } from 'uWebSockets.js';
import { LocalRoom } from './local-room.js';
import type { Viewer } from './viewer.js';

/** A socket as LocalRoom sees it: only its user data. */
function socket(user: string): WebSocket<Viewer> {
  const viewer = {
    claims: { user, name: `name ${user}`, role: 'viewer' },
  } as unknown as Viewer;
  return { getUserData: () => viewer } as unknown as WebSocket<Viewer>;
}

test('local room - a user with several sockets joins once and leaves with the last', () => {
  const room = new LocalRoom('t:r', 'r');
  const [a1, a2, a3, b] = [socket('a'), socket('a'), socket('a'), socket('b')];
  assert.equal(room.addSocket(a1), true);
  assert.equal(room.addSocket(a2), false);
  assert.equal(room.addSocket(a2), false, 'added twice counts once');
  assert.equal(room.addSocket(a3), false);
  assert.equal(room.addSocket(b), true);
  assert.equal(room.socketCount, 4);
  assert.equal(room.userCount, 2);
  assert.deepEqual(room.socketsOf('a'), [a1, a2, a3]);
  assert.equal(room.allSockets().length, 4);
  assert.deepEqual(room.takePending(0).joins, [
    ['a', 'name a', 'viewer'],
    ['b', 'name b', 'viewer'],
  ]);

  room.removeSocket(a1);
  room.removeSocket(a2);
  assert.deepEqual(room.socketsOf('a'), [a3]);
  assert.equal(room.socketCount, 2);
  assert.deepEqual(room.takePending(0).leaves, [], 'a still has a socket');
  room.removeSocket(a2);
  assert.equal(room.socketCount, 2, 'removing a socket twice counts once');
  room.removeSocket(a3);
  room.removeSocket(b);
  assert.equal(room.socketCount, 0);
  assert.equal(room.userCount, 0);
  assert.deepEqual(room.takePending(0).leaves, ['a', 'b']);
  assert.deepEqual(room.snapshot(), []);
});
