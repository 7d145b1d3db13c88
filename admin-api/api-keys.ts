/**
 * API keys. Keys from `ROOMCAST_API_KEYS` are admin keys of their tenant;
 * an admin key creates, lists and revokes further keys of its own tenant
 * through `/v1/keys`, either `admin` or `publisher` (everything but key
 * management). Created keys are stored hashed (SHA-256); the secret is shown
 * once, at creation.
 *
 * Lookups of created keys are cached in this process for `cacheMs`, so a key
 * revoked through another admin process keeps working here for at most that
 * long; the process that revokes forgets it at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { KvStore } from '../kv-store/index.js';

export type KeyRole = 'admin' | 'publisher';

export interface Caller {
  tenant: string;
  /** `env` for keys from the environment. */
  keyId: string;
  role: KeyRole;
}

export interface ApiKeyInfo {
  id: string;
  name: string;
  role: KeyRole;
  /** The first characters of the secret, to tell keys apart. */
  prefix: string;
  /** ISO 8601. */
  createdAt: string;
}

interface StoredKey extends ApiKeyInfo {
  hash: string;
}

export interface ApiKeysOptions {
  kv: KvStore;
  /** secret -> tenant, from the environment */
  staticKeys: Map<string, string>;
  newId: () => string;
  clock?: () => number;
  /** Default 2,000. */
  cacheMs?: number;
}

export class ApiKeys {
  #options: ApiKeysOptions;
  #clock: () => number;
  #cache = new Map<string, { caller: Caller | undefined; untilMs: number }>();

  constructor(options: ApiKeysOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  async resolve(secret: string): Promise<Caller | undefined> {
    const tenant = this.#options.staticKeys.get(secret);
    if (tenant !== undefined) {
      return { tenant, keyId: 'env', role: 'admin' };
    }

    const hash = hashOf(secret);
    const nowMs = this.#clock();
    const cached = this.#cache.get(hash);
    if (cached !== undefined && cached.untilMs > nowMs) {
      return cached.caller;
    }

    const raw = await this.#options.kv.get(`apikey:${hash}`);
    const caller = raw === undefined ? undefined : (JSON.parse(raw) as Caller);
    if (this.#cache.size > 10_000) {
      this.#cache.clear();
    }

    this.#cache.set(hash, {
      caller,
      untilMs: nowMs + (this.#options.cacheMs ?? 2000),
    });
    return caller;
  }

  async create(
    tenant: string,
    name: string,
    role: KeyRole,
  ): Promise<{ info: ApiKeyInfo; secret: string }> {
    const secret = `rc_${randomBytes(24).toString('base64url')}`;
    const hash = hashOf(secret);
    const info: ApiKeyInfo = {
      id: this.#options.newId(),
      name,
      role,
      prefix: secret.slice(0, 7),
      createdAt: new Date(this.#clock()).toISOString(),
    };
    const caller: Caller = { tenant, keyId: info.id, role };
    await this.#options.kv.set(`apikey:${hash}`, JSON.stringify(caller));
    await this.#options.kv.hashSet(
      `apikeys:${tenant}`,
      info.id,
      JSON.stringify({ ...info, hash } satisfies StoredKey),
    );
    this.#cache.delete(hash);
    return { info, secret };
  }

  async list(tenant: string): Promise<ApiKeyInfo[]> {
    const all = await this.#options.kv.hashGetAll(`apikeys:${tenant}`);
    return Object.values(all)
      .map((raw) => {
        const { hash: _hash, ...info } = JSON.parse(raw) as StoredKey;
        return info;
      })
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
  }

  /** Resolves false when the tenant has no key with that id. */
  async revoke(tenant: string, id: string): Promise<boolean> {
    const raw = await this.#options.kv.hashGet(`apikeys:${tenant}`, id);
    if (raw === undefined) {
      return false;
    }

    const { hash } = JSON.parse(raw) as StoredKey;
    await this.#options.kv.del(`apikey:${hash}`);
    await this.#options.kv.hashDel(`apikeys:${tenant}`, id);
    this.#cache.delete(hash);
    return true;
  }
}

function hashOf(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
