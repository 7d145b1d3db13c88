import type { ViewerClaims } from '../tokens/index.js';
import type { TokenBucket } from './token-bucket.js';
import type { LocalRoom } from './local-room.js';

/** What an edge keeps per viewer socket (uWS user data). */
export interface Viewer {
  claims: ViewerClaims;
  roomKey: string;
  /** Set on open; the socket's room on this edge. */
  room: LocalRoom | undefined;
  /** The seq the welcome frame named: everything after it is delivered. */
  welcomeSeq: number;
  /** Set when the viewer connected with `resume=<seq>` in the URL. */
  resumeSeq: number | undefined;
  /** True while a resume reads history and live frames are held back. */
  resuming: boolean;
  connectedAtMs: number;
  chat: TokenBucket;
  likes: TokenBucket;
  /** Frames refused (invalid or over a limit) so far. */
  strikes: number;
  /** Which topic the viewer is on; undefined while a resume holds live frames back. */
  lane: 'full' | 'reliable' | undefined;
  /** The last seq the viewer acknowledged. */
  ackedSeq: number;
  closed: boolean;
}
