import type { ViewerClaims } from '../tokens/index.js';
import type { TokenBucket } from './token-bucket.js';
import type { LocalRoom } from './local-room.js';
import type { HeldFrame } from './delivery.js';

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
  /** True while a resume reads history. */
  resuming: boolean;
  /**
   * Set while the viewer is not on its topic yet: frames go to it one by
   * one, reliable items up to `upTo` removed; while `upTo` is undefined
   * (a resume reading history) frames are held instead.
   */
  catchUp: { upTo: number | undefined; held: HeldFrame[] } | undefined;
  /** Whether the socket is subscribed to its lane's topic. */
  subscribed: boolean;
  connectedAtMs: number;
  /** Rate limits, made when the viewer first sends chat or a like. */
  chat: TokenBucket | undefined;
  likes: TokenBucket | undefined;
  /** Frames refused (invalid or over a limit) so far. */
  strikes: number;
  /** Which lane the viewer is on: `reliable` while it sheds lossy items. */
  lane: 'full' | 'reliable';
  /** The last seq the viewer acknowledged. */
  ackedSeq: number;
  closed: boolean;
}
