/**
 * The reliable log of a fleet: one Redis stream per room.
 *
 * "The shard assigns seq" is realised at admission: one Lua script INCRs the
 * room's seq counter, XADDs the item under the stream id `<seq>-0`, trims the
 * stream by count (MAXLEN) and age (MINID), and publishes a wake-up to the
 * room's followers. Redis runs the script atomically, so
 * - order is fixed when the admin API accepts an item, and it can answer 202
 *   with the seq: whichever shard owns the room later publishes in that order;
 * - there are no gaps: a seq exists exactly when its item is in the stream
 *   (both writes happen or neither, and both are in the room's slot);
 * - a shard that dies takes no seq state with it: the new owner reads the
 *   same counter and stream.
 *
 * Stream ids equal to seqs make `readAfter` one XRANGE from `<seq+1>-0`.
 *
 * `follow` reads from a stored position instead of a consumer group: the
 * owner keeps the highest published seq in `pub:{room}`, advanced by the same
 * script that publishes the frame (see ownership/room-leases.ts), so the new
 * owner after a crash continues exactly after what viewers were sent, with no
 * pending-entries list to reconcile. Followers are woken by a message on the
 * room's log channel and also poll every `pollMs`, which covers wake-ups lost
 * while Redis was unreachable.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { channels, type Bus } from '../bus/index.js';
import { decodeValue, encodeValue } from '../protocol/index.js';
import type { ReliableItem } from '../protocol/index.js';
import type { RedisKeys } from '../redis/index.js';
import {
  DEDUPE_RETAIN_MS,
  type Appended,
  type AppendOptions,
  type HistoryLimits,
  type ReadResult,
  type ReliableDraft,
  type ReliableLog,
} from './log.js';

/**
 * KEYS: seq, log, dedupe marker. ARGV: maxItems, oldest ts kept (ms), ts,
 * item (msgpack), wake channel, publish command, item id, marker TTL (ms;
 * empty for an append without a dedupe key). Returns `{seq, id, fresh}`:
 * when the marker exists nothing is written and its seq and id come back.
 */
const APPEND_SCRIPT = `
if ARGV[8] ~= '' then
  local prior = redis.call('GET', KEYS[3])
  if prior then
    local at = string.find(prior, ':', 1, true)
    return {tonumber(string.sub(prior, 1, at - 1)), string.sub(prior, at + 1), 0}
  end
end
local seq = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[1], seq .. '-0', 't', ARGV[3], 'd', ARGV[4])
local cutoff = tonumber(ARGV[2])
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
if oldest and tonumber(oldest[2][2]) < cutoff then
  local batch = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 128)
  local keep = nil
  for _, entry in ipairs(batch) do
    if tonumber(entry[2][2]) >= cutoff then
      keep = entry[1]
      break
    end
  end
  if keep == nil then
    keep = (tonumber(string.match(batch[#batch][1], '^%d+')) + 1) .. '-0'
  end
  redis.call('XTRIM', KEYS[2], 'MINID', keep)
end
redis.call(ARGV[6], ARGV[5], seq)
if ARGV[8] ~= '' then
  redis.call('SET', KEYS[3], seq .. ':' .. ARGV[7], 'PX', ARGV[8])
end
return {seq, ARGV[7], 1}
`;

type Client = (Redis | Cluster) & {
  roomcastAppend(
    seqKey: string,
    logKey: string,
    markerKey: string,
    maxItems: number,
    cutoffMs: number,
    ts: number,
    item: Buffer,
    channel: string,
    publishCommand: string,
    id: string,
    markerTtlMs: number | '',
  ): Promise<[number, string, number]>;
};

export interface RedisReliableLogOptions {
  redis: Redis | Cluster;
  /** Carries follow wake-ups. */
  bus: Bus;
  keys: RedisKeys;
  limits: HistoryLimits;
  /** True on Redis Cluster: wake-ups use SPUBLISH. */
  sharded: boolean;
  logger: Logger;
  /** How often a follower reads the stream without a wake-up. Default 1000. */
  pollMs?: number;
  clock?: () => number;
}

/** Items per XRANGE when following. */
const FOLLOW_BATCH = 500;

export class RedisReliableLog implements ReliableLog {
  #options: RedisReliableLogOptions;
  #redis: Client;
  #clock: () => number;

  constructor(options: RedisReliableLogOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    options.redis.defineCommand('roomcastAppend', {
      numberOfKeys: 3,
      lua: APPEND_SCRIPT,
    });
    this.#redis = options.redis as Client;
  }

  async append(roomKey: string, draft: ReliableDraft): Promise<ReliableItem> {
    return (await this.appendOnce(roomKey, draft, {})).item;
  }

  async appendOnce(
    roomKey: string,
    draft: ReliableDraft,
    options: AppendOptions,
  ): Promise<Appended> {
    const { keys, limits, sharded } = this.#options;
    const { dedupeKey } = options;
    const [seq, id, fresh] = await this.#redis.roomcastAppend(
      keys.seq(roomKey),
      keys.log(roomKey),
      // Without a dedupe key the script reads no marker; any key of the
      // room's slot fills the place.
      dedupeKey === undefined
        ? keys.seq(roomKey)
        : keys.appended(roomKey, dedupeKey),
      limits.maxItems,
      this.#cutoffMs(),
      draft.ts,
      encodeValue(draft),
      keys.channel(channels.roomLog(roomKey)),
      sharded ? 'SPUBLISH' : 'PUBLISH',
      draft.id,
      dedupeKey === undefined ? '' : DEDUPE_RETAIN_MS,
    );
    return {
      item: { ...draft, id: String(id), seq: Number(seq) },
      fresh: fresh === 1,
    };
  }

  async readAfter(
    roomKey: string,
    afterSeq: number,
    limit: number,
  ): Promise<ReadResult> {
    const { keys } = this.#options;
    const [counter, entries] = await Promise.all([
      this.#redis.get(keys.seq(roomKey)),
      this.#redis.xrangeBuffer(
        keys.log(roomKey),
        `${afterSeq + 1}-0`,
        '+',
        'COUNT',
        limit,
      ),
    ]);
    const items = entries.map(decodeEntry);
    const lastSeq = Math.max(Number(counter ?? 0), items.at(-1)?.seq ?? 0);
    if (afterSeq > lastSeq) {
      return { kind: 'ahead', lastSeq };
    }

    if (afterSeq === lastSeq) {
      return { kind: 'ok', items: [], lastSeq };
    }

    const cutoff = this.#cutoffMs();
    const fresh = items.findIndex((item) => item.ts >= cutoff);
    const first = fresh < 0 ? undefined : items[fresh];
    if (first === undefined || first.seq !== afterSeq + 1) {
      return { kind: 'gone', oldestSeq: first?.seq ?? lastSeq + 1, lastSeq };
    }

    return { kind: 'ok', items: items.slice(fresh), lastSeq };
  }

  async lastSeq(roomKey: string): Promise<number> {
    return Number(
      (await this.#redis.get(this.#options.keys.seq(roomKey))) ?? 0,
    );
  }

  async publishedSeq(roomKey: string): Promise<number> {
    const value = await this.#redis.get(this.#options.keys.published(roomKey));
    return Number(value ?? 0);
  }

  async follow(
    roomKey: string,
    afterSeq: number,
    onItem: (item: ReliableItem) => void,
  ): Promise<() => void> {
    const { bus, keys, logger } = this.#options;
    let cursor = afterSeq;
    let running = false;
    let again = false;
    let stopped = false;
    let failing = false;
    const pump = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }

      running = true;
      try {
        do {
          again = false;
          const entries = await this.#redis.xrangeBuffer(
            keys.log(roomKey),
            `${cursor + 1}-0`,
            '+',
            'COUNT',
            FOLLOW_BATCH,
          );
          for (const entry of entries) {
            const item = decodeEntry(entry);
            if (stopped) {
              return;
            }

            if (item.seq > cursor + 1) {
              logger.warn(
                { roomKey, fromSeq: cursor + 1, toSeq: item.seq - 1 },
                'reliable items trimmed before they were published',
              );
            }

            cursor = item.seq;
            onItem(item);
          }

          if (entries.length === FOLLOW_BATCH) {
            again = true;
          }
        } while (again && !stopped);
        failing = false;
      } catch (error) {
        if (!failing) {
          failing = true;
          logger.warn({ roomKey, err: error }, 'reliable log read failed');
        }
      } finally {
        running = false;
      }
    };
    const wake = () => void pump();
    const channel = channels.roomLog(roomKey);
    await bus.subscribe(channel, wake);
    const timer = setInterval(wake, this.#options.pollMs ?? 1000);
    await pump();
    return () => {
      stopped = true;
      clearInterval(timer);
      void bus.unsubscribe(channel, wake);
    };
  }

  async drop(roomKey: string): Promise<void> {
    const { keys } = this.#options;
    await this.#redis.del(
      keys.seq(roomKey),
      keys.log(roomKey),
      keys.published(roomKey),
    );
  }

  #cutoffMs(): number {
    return this.#clock() - this.#options.limits.maxAgeSeconds * 1000;
  }
}

function decodeEntry([id, fields]: [Buffer, Buffer[]]): ReliableItem {
  const seq = Number.parseInt(id.toString(), 10);
  const at = fields.findIndex((field) => field.toString() === 'd');
  const payload = at < 0 ? undefined : fields[at + 1];
  const draft = decodeValue(payload ?? Buffer.alloc(0)) as ReliableDraft;
  return { ...draft, seq };
}
