/**
 * Reads a viewer token's expiry without verifying it. Browsers do not let a
 * page see why a WebSocket handshake failed, so a refused connection plus an
 * expiry in the past is how the SDK knows the token is the problem.
 */

/** Seconds since the epoch from the JWT's `exp`; undefined if unreadable. */
export function tokenExpiresAt(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) {
    return undefined;
  }

  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const claims: unknown = JSON.parse(atob(base64));
    if (typeof claims !== 'object' || claims === null) {
      return undefined;
    }

    const exp = (claims as Record<string, unknown>)['exp'];
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

/** True when the token's `exp` is at or before `nowMs` plus `marginMs`. */
export function tokenExpired(
  token: string,
  nowMs: number,
  marginMs = 0,
): boolean {
  const exp = tokenExpiresAt(token);
  return exp !== undefined && exp * 1000 <= nowMs + marginMs;
}
