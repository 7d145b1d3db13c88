/**
 * Who may open a viewer socket, decided before the upgrade completes: the
 * edge is not draining, the connect rate is under its bound (the excess is
 * told when to retry, with jitter, so a reconnect storm spreads out instead of
 * piling up), the Origin is allowed, the token verifies and its room exists.
 */
import type { BanCheck } from '../moderation/index.js';
import type { RoomDirectory } from '../room-directory/index.js';
import { roomKey } from '../room-directory/index.js';
import {
  TokenError,
  type ViewerClaims,
  type ViewerTokens,
} from '../tokens/index.js';
import { TokenBucket } from './token-bucket.js';

export interface Refusal {
  status: string;
  code: string;
  message: string;
  /** Seconds, sent as `Retry-After` on retryable refusals. */
  retryAfterSeconds?: number;
}

export interface Admitted {
  claims: ViewerClaims;
  roomKey: string;
  resumeSeq: number | undefined;
}

export interface AdmissionRequest {
  token: string | undefined;
  /** The Origin header; undefined when there is none (or it is empty). */
  origin: string | undefined;
  resume: string | null;
}

export interface AdmissionOptions {
  tokens: ViewerTokens;
  directory: RoomDirectory;
  /** Bans set through the admin API; absent: nobody is banned. */
  bans?: BanCheck;
  /** Comma list; empty allows any Origin. */
  allowedOrigins: string;
  maxConnectsPerSecond: number;
  clock: () => number;
  random?: () => number;
}

/** Upper bound of the advised retry delay for refused connects, seconds. */
const MAX_RETRY_AFTER_SECONDS = 10;

export class Admission {
  #options: AdmissionOptions;
  #origins: Set<string> | undefined;
  #connects: TokenBucket;
  #random: () => number;
  draining = false;

  constructor(options: AdmissionOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
    const origins = options.allowedOrigins
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== '');
    this.#origins = origins.length > 0 ? new Set(origins) : undefined;
    this.#connects = new TokenBucket(
      options.maxConnectsPerSecond,
      options.maxConnectsPerSecond,
      options.clock,
    );
  }

  async check(request: AdmissionRequest): Promise<Admitted | Refusal> {
    if (this.draining) {
      return {
        ...refusal(
          '503 Service Unavailable',
          'draining',
          'the edge is shutting down; connect again',
        ),
        retryAfterSeconds: 1 + Math.floor(this.#random() * 3),
      };
    }

    if (!this.#connects.take()) {
      return {
        ...refusal(
          '503 Service Unavailable',
          'overloaded',
          'too many connections at once; retry after the advised delay',
        ),
        retryAfterSeconds:
          1 + Math.floor(this.#random() * MAX_RETRY_AFTER_SECONDS),
      };
    }

    // Browsers always send Origin, and it is what the list is about (pages
    // of other sites). Apps and servers send none and could send any, so a
    // request without one is not refused for it.
    if (
      this.#origins !== undefined &&
      request.origin !== undefined &&
      !this.#origins.has(request.origin)
    ) {
      return refusal(
        '403 Forbidden',
        'origin_not_allowed',
        'this Origin may not connect',
      );
    }

    let resumeSeq: number | undefined;
    if (request.resume !== null) {
      // Digits only: `1e3`, `0x10`, ` 7` and `+7` are not seqs. Leading
      // zeros are (a client may pad); the rest must fit a safe integer.
      const digits = /^0*(\d{1,16})$/.exec(request.resume)?.[1];
      resumeSeq = digits === undefined ? Number.NaN : Number(digits);
      if (!Number.isSafeInteger(resumeSeq)) {
        return refusal(
          '400 Bad Request',
          'bad_resume',
          `resume must be a seq: digits, 0 to ${Number.MAX_SAFE_INTEGER}`,
        );
      }
    }

    let claims: ViewerClaims;
    try {
      claims = await this.#options.tokens.verify(request.token);
    } catch (error) {
      const code =
        error instanceof TokenError ? `token_${error.code}` : 'token_invalid';
      const message =
        error instanceof Error ? error.message : 'the token is not valid';
      return refusal('401 Unauthorized', code, message);
    }

    const room = await this.#options.directory.get(claims.tenant, claims.room);
    if (room === undefined) {
      return ROOM_NOT_FOUND;
    }

    const key = roomKey(claims.tenant, claims.room);
    const ban = await this.#options.bans?.activeBan(key, claims.user);
    if (ban !== undefined) {
      return refusal(
        '403 Forbidden',
        'banned',
        ban.until === null
          ? 'banned from this room'
          : `banned from this room until ${ban.until}`,
      );
    }

    return { claims, roomKey: key, resumeSeq };
  }
}

/** The answer to a viewer of a room that does not exist or was closed. */
export const ROOM_NOT_FOUND: Refusal = refusal(
  '404 Not Found',
  'room_not_found',
  'the room does not exist or was closed',
);

function refusal(status: string, code: string, message: string): Refusal {
  return { status, code, message };
}
