export { ViewerTokens, TokenError } from './viewer-token.js';
export type { ViewerClaims, TokenFailure } from './viewer-token.js';
