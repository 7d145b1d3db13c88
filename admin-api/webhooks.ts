/**
 * Webhooks: platforms register endpoints with a secret and the events they
 * want. Each event becomes one delivery job per subscribed endpoint, with a
 * delivery id that stays the same on every retry (`Roomcast-Webhook-Id`), so
 * a receiver drops repeats by it. Deliveries are signed:
 *
 *   Roomcast-Timestamp: <unix seconds>
 *   Roomcast-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 *
 * A delivery that fails (a non-2xx answer, a timeout, a refused connection)
 * is retried with exponential backoff; every attempt is in the endpoint's
 * delivery log.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KvStore } from '../kv-store/index.js';
import { counter, type Registry } from '../metrics/index.js';
import type { EffectMarkers } from './effects.js';
import type { JobContext, JobQueue } from './jobs.js';

export const WEBHOOK_EVENTS = [
  'room.created',
  'room.closed',
  'room.idle',
  'room.peak',
  'member.banned',
  'broadcast.completed',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEvent[];
  /** ISO 8601. */
  createdAt: string;
}

interface StoredWebhook extends Webhook {
  secret: string;
}

export interface DeliveryRecord {
  deliveryId: string;
  event: WebhookEvent;
  attempt: number;
  /** ISO 8601. */
  at: string;
  /** The receiver's HTTP status; null when no answer came. */
  status: number | null;
  outcome: 'delivered' | 'failed';
  error?: string;
  durationMs: number;
}

interface DeliveryJob {
  tenant: string;
  webhookId: string;
  deliveryId: string;
  event: WebhookEvent;
  body: string;
}

export interface WebhooksOptions {
  kv: KvStore;
  jobs: JobQueue;
  effects: EffectMarkers;
  newId: () => string;
  registry: Registry;
  logger: Logger;
  clock?: () => number;
  /** Per attempt. Default 5,000. */
  timeoutMs?: number;
  /** Attempts before a delivery is given up. Default 8. */
  attempts?: number;
  /** First retry delay, doubling after. Default 1,000. */
  backoffMs?: number;
}

/** Attempts kept in each endpoint's delivery log. */
const LOG_LENGTH = 200;

/** The `Roomcast-Signature` value of a body sent at `timestampSeconds`. */
export function webhookSignature(
  secret: string,
  timestampSeconds: number,
  body: string,
): string {
  const mac = createHmac('sha256', secret)
    .update(`${timestampSeconds}.${body}`)
    .digest('hex');
  return `v1=${mac}`;
}

export class Webhooks {
  #options: WebhooksOptions;
  #clock: () => number;
  #outcomes;

  constructor(options: WebhooksOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#outcomes = counter(options.registry, {
      name: 'roomcast_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, retry (failed, will retry), failed (given up).',
      labelNames: ['outcome'],
    });
  }

  async create(
    tenant: string,
    input: { url: string; events: WebhookEvent[]; secret?: string },
  ): Promise<{ webhook: Webhook; secret: string }> {
    const webhook: Webhook = {
      id: this.#options.newId(),
      url: input.url,
      events: [...new Set(input.events)],
      createdAt: new Date(this.#clock()).toISOString(),
    };
    const secret = input.secret ?? `whsec_${randomBytes(24).toString('hex')}`;
    await this.#options.kv.hashSet(
      `webhooks:${tenant}`,
      webhook.id,
      JSON.stringify({ ...webhook, secret } satisfies StoredWebhook),
    );
    return { webhook, secret };
  }

  async list(tenant: string): Promise<Webhook[]> {
    const all = await this.#options.kv.hashGetAll(`webhooks:${tenant}`);
    return Object.values(all)
      .map((raw) => publicPart(JSON.parse(raw) as StoredWebhook))
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
  }

  async get(tenant: string, id: string): Promise<Webhook | undefined> {
    const stored = await this.#stored(tenant, id);
    return stored === undefined ? undefined : publicPart(stored);
  }

  async remove(tenant: string, id: string): Promise<boolean> {
    const removed = await this.#options.kv.hashDel(`webhooks:${tenant}`, id);
    await this.#options.kv.del(`webhook-log:${tenant}:${id}`);
    return removed;
  }

  /** Newest first. */
  async deliveries(
    tenant: string,
    id: string,
    limit: number,
  ): Promise<DeliveryRecord[]> {
    const raw = await this.#options.kv.listRange(
      `webhook-log:${tenant}:${id}`,
      0,
      limit - 1,
    );
    return raw.map((entry) => JSON.parse(entry) as DeliveryRecord);
  }

  /** Queues one delivery per endpoint of the tenant subscribed to `event`. */
  async emit(tenant: string, event: WebhookEvent, data: object): Promise<void> {
    const hooks = await this.list(tenant);
    for (const hook of hooks) {
      if (!hook.events.includes(event)) {
        continue;
      }

      const deliveryId = this.#options.newId();
      const body = JSON.stringify({
        id: deliveryId,
        event,
        createdAt: new Date(this.#clock()).toISOString(),
        data,
      });
      const job: DeliveryJob = {
        tenant,
        webhookId: hook.id,
        deliveryId,
        event,
        body,
      };
      await this.#options.jobs.add('webhook', deliveryId, job, {
        attempts: this.#options.attempts ?? 8,
        backoffMs: this.#options.backoffMs ?? 1000,
      });
    }
  }

  /** The job handler: one attempt; throws so the queue retries. */
  async deliver(data: unknown, job: JobContext): Promise<void> {
    const delivery = data as DeliveryJob;
    const effectId = `webhook:${delivery.deliveryId}`;
    if (await this.#options.effects.done(effectId)) {
      return;
    }

    const hook = await this.#stored(delivery.tenant, delivery.webhookId);
    if (hook === undefined) {
      return;
    }

    const startedMs = this.#clock();
    const timestamp = Math.floor(startedMs / 1000);
    let status: number | null = null;
    let error: string | undefined;
    try {
      const response = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'roomcast-webhooks',
          'roomcast-webhook-id': delivery.deliveryId,
          'roomcast-event': delivery.event,
          'roomcast-timestamp': String(timestamp),
          'roomcast-signature': webhookSignature(
            hook.secret,
            timestamp,
            delivery.body,
          ),
        },
        body: delivery.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 5000),
      });
      status = response.status;
      await response.body?.cancel();
      if (status < 200 || status >= 300) {
        error = `answered ${status}`;
      }
    } catch (thrown) {
      error = thrown instanceof Error ? thrown.message : String(thrown);
    }

    const record: DeliveryRecord = {
      deliveryId: delivery.deliveryId,
      event: delivery.event,
      attempt: job.attempt,
      at: new Date(startedMs).toISOString(),
      status,
      outcome: error === undefined ? 'delivered' : 'failed',
      ...(error === undefined ? {} : { error }),
      durationMs: this.#clock() - startedMs,
    };
    await this.#options.kv.listPush(
      `webhook-log:${delivery.tenant}:${delivery.webhookId}`,
      JSON.stringify(record),
      LOG_LENGTH,
    );
    if (error === undefined) {
      await this.#options.effects.record(effectId);
      this.#outcomes.inc({ outcome: 'delivered' });
      return;
    }

    const last = job.attempt >= (this.#options.attempts ?? 8);
    this.#outcomes.inc({ outcome: last ? 'failed' : 'retry' });
    throw new Error(`webhook ${delivery.deliveryId}: ${error}`);
  }

  async #stored(
    tenant: string,
    id: string,
  ): Promise<StoredWebhook | undefined> {
    const raw = await this.#options.kv.hashGet(`webhooks:${tenant}`, id);
    return raw === undefined ? undefined : (JSON.parse(raw) as StoredWebhook);
  }
}

function publicPart(stored: StoredWebhook): Webhook {
  const { secret: _secret, ...webhook } = stored;
  return webhook;
}
