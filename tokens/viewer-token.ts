/**
 * Viewer tokens: HS256 JWTs minted by the admin API and checked by edges.
 * Claims: `tid` tenant, `room` room id, `sub` user id, `name`, `role`,
 * `lvl` viewer level, `iat`, `exp`.
 *
 * Each tenant's tokens are signed with a key derived from the secret and the
 * tenant (HMAC-SHA256), so a token minted for one tenant never verifies as
 * another's, even if its claims are rewritten.
 */
import { createHmac } from 'node:crypto';
import { SignJWT, decodeJwt, jwtVerify, errors } from 'jose';
import type { ViewerRole } from '../protocol/index.js';

export interface ViewerClaims {
  tenant: string;
  room: string;
  user: string;
  name: string;
  role: ViewerRole;
  level: number;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export type TokenFailure = 'missing' | 'malformed' | 'expired' | 'invalid';

export class TokenError extends Error {
  readonly code: TokenFailure;

  constructor(code: TokenFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TokenError';
    this.code = code;
  }
}

const ROLES = new Set<ViewerRole>(['viewer', 'moderator', 'host']);
const ISSUER = 'roomcast';

export class ViewerTokens {
  #secret: string;
  #clock: () => number;

  constructor(secret: string, clock: () => number = Date.now) {
    if (secret.length < 32) {
      throw new RangeError('the JWT secret must be at least 32 characters');
    }

    this.#secret = secret;
    this.#clock = clock;
  }

  // Derived on every use rather than cached: the tenant of a token being
  // verified is attacker-chosen, and a cache keyed by it would grow unbounded.
  #keyFor(tenant: string): Uint8Array {
    return createHmac('sha256', this.#secret)
      .update(`roomcast-viewer-token:${tenant}`)
      .digest();
  }

  async mint(
    claims: Omit<ViewerClaims, 'expiresAt'>,
    ttlSeconds: number,
  ): Promise<{ token: string; expiresAt: number }> {
    const nowSeconds = Math.floor(this.#clock() / 1000);
    const expiresAt = nowSeconds + ttlSeconds;
    const token = await new SignJWT({
      tid: claims.tenant,
      room: claims.room,
      name: claims.name,
      role: claims.role,
      lvl: claims.level,
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.user)
      .setIssuer(ISSUER)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(expiresAt)
      .sign(this.#keyFor(claims.tenant));
    return { token, expiresAt };
  }

  /** Checks signature, expiry and claims; throws {@link TokenError}. */
  async verify(token: string | undefined): Promise<ViewerClaims> {
    if (token === undefined || token === '') {
      throw new TokenError('missing', 'a token is required');
    }

    if (token.length > 4096 || token.split('.').length !== 3) {
      throw new TokenError('malformed', 'the token is not a JWT');
    }

    let tenant: unknown;
    try {
      tenant = decodeJwt(token).tid;
    } catch (error) {
      throw new TokenError('malformed', 'the token is not a JWT', {
        cause: error,
      });
    }

    if (typeof tenant !== 'string' || tenant === '') {
      throw new TokenError('invalid', 'the token names no tenant');
    }

    let payload: Record<string, unknown>;
    try {
      const result = await jwtVerify(token, this.#keyFor(tenant), {
        algorithms: ['HS256'],
        issuer: ISSUER,
        currentDate: new Date(this.#clock()),
      });
      payload = result.payload as Record<string, unknown>;
    } catch (error) {
      if (error instanceof errors.JWTExpired) {
        throw new TokenError('expired', 'the token has expired', {
          cause: error,
        });
      }

      throw new TokenError('invalid', 'the token is not valid', {
        cause: error,
      });
    }

    const { tid, room, sub, name, role, lvl, exp } = payload;
    if (
      typeof tid !== 'string' ||
      typeof room !== 'string' ||
      typeof sub !== 'string' ||
      typeof exp !== 'number' ||
      !ROLES.has(role as ViewerRole)
    ) {
      throw new TokenError('invalid', 'the token lacks roomcast claims');
    }

    return {
      tenant: tid,
      room,
      user: sub,
      name: typeof name === 'string' ? name : sub,
      role: role as ViewerRole,
      level: typeof lvl === 'number' ? lvl : 0,
      expiresAt: exp,
    };
  }
}
