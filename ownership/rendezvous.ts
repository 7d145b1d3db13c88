/**
 * Rendezvous (highest random weight) hashing: a room belongs to the live
 * shard whose hash of (room, shard) is highest. Every process computes the
 * same owner from the same live set without talking, and when a shard joins
 * or leaves only the rooms it wins or held move (about 1/N of them).
 */
import { createHash } from 'node:crypto';

function weight(roomKey: string, shardId: string): bigint {
  return createHash('sha256')
    .update(roomKey)
    .update('\u0000')
    .update(shardId)
    .digest()
    .readBigUInt64BE(0);
}

/** The shard that should own the room; undefined when no shard is live. */
export function ownerOf(
  roomKey: string,
  shardIds: readonly string[],
): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const shardId of shardIds) {
    const w = weight(roomKey, shardId);
    if (
      w > bestWeight ||
      (w === bestWeight && best !== undefined && shardId < best)
    ) {
      best = shardId;
      bestWeight = w;
    }
  }

  return best;
}
