/**
 * A minimal WebSocket client (RFC 6455) over a raw `net` socket, made for
 * holding tens of thousands of simulated viewers per process.
 *
 * Why not `ws`: a `ws` client carries an EventEmitter, a Receiver stream, a
 * Sender with its own queue and a dozen closures; that is several kilobytes
 * per connection before any traffic. Here a connection is one object with a
 * handful of fields plus the `net.Socket`, and nothing is allocated per frame
 * unless a frame arrives split across reads.
 *
 * What it does: the HTTP/1.1 upgrade (with `Sec-WebSocket-Accept` checked),
 * unmasked server frames (a masked one is a protocol error), fragmented
 * messages, ping answered with pong, the close handshake in both directions,
 * and masked client frames. What it does not: extensions (none is offered,
 * so the server must not use any), TLS, redirects.
 *
 * Payloads handed to {@link LeanSocketHandler.onMessage} may be views of the
 * socket's read buffer: a handler that keeps one must copy it.
 */
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';

const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HANDSHAKE_BYTES = 16 * 1024;

const OPCODE_CONTINUATION = 0x0;
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;

/** RFC 6455 codes this client itself uses when it ends a connection. */
export const WS_CLOSE_NORMAL = 1000;
export const WS_CLOSE_PROTOCOL_ERROR = 1002;
export const WS_CLOSE_TOO_BIG = 1009;
/** Reported (never sent) when the TCP connection ended without a close frame. */
export const WS_CLOSE_ABNORMAL = 1006;

/** Why a connection never opened. */
export type ConnectFailure =
  /** The server answered the upgrade with an HTTP status other than 101. */
  | 'refused'
  /** TCP connect failed, or the socket failed during the handshake. */
  | 'socket_error'
  /** No complete upgrade response within the connect timeout. */
  | 'timeout'
  /** The response was not a valid WebSocket upgrade. */
  | 'bad_handshake';

export interface LeanSocketHandler {
  onOpen(): void;
  /** One complete message. The payload may be reused after the call returns. */
  onMessage(payload: Buffer, isBinary: boolean): void;
  /**
   * The connection never opened; `status` is the HTTP status if there was
   * one; for `socket_error`, `detail` is the errno code when there is one.
   */
  onConnectFailed(
    failure: ConnectFailure,
    detail: string,
    status: number,
  ): void;
  /**
   * An open connection ended. `code` is the peer's close code, or
   * {@link WS_CLOSE_ABNORMAL} when the TCP connection ended without one.
   */
  onClose(code: number, reason: string): void;
}

export interface LeanConnectOptions {
  host: string;
  port: number;
  /** Path with query string, e.g. `/ws?token=...`. */
  path: string;
  /** Source address to bind, spreading connections over 127.0.0.x. */
  localAddress?: string;
  /** Source port to bind (with `localAddress`); default: the kernel picks. */
  localPort?: number;
  /** Upper bound for TCP connect plus upgrade. */
  connectTimeoutMs: number;
}

// Mask keys come from a pooled random block: one syscall per 1,024 frames.
const maskPool = Buffer.allocUnsafe(4096);
let maskOffset = maskPool.length;

function nextMask(target: Buffer, at: number): void {
  if (maskOffset === maskPool.length) {
    randomFillSync(maskPool);
    maskOffset = 0;
  }

  maskPool.copy(target, at, maskOffset, maskOffset + 4);
  maskOffset += 4;
}

/** Builds one masked client frame. */
function encodeClientFrame(opcode: number, payload: Uint8Array): Buffer {
  const length = payload.byteLength;
  const extended = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const headerBytes = 2 + extended + 4;
  const frame = Buffer.allocUnsafe(headerBytes + length);
  frame[0] = 0x80 | opcode;
  if (extended === 0) {
    frame[1] = 0x80 | length;
  } else if (extended === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }

  const maskAt = headerBytes - 4;
  nextMask(frame, maskAt);
  for (let i = 0; i < length; i++) {
    frame[headerBytes + i] =
      (payload[i] as number) ^ (frame[maskAt + (i & 3)] as number);
  }

  return frame;
}

function closePayload(code: number, reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return payload;
}

type State = 'connecting' | 'open' | 'closing' | 'closed';

export class LeanWebSocket {
  readonly #handler: LeanSocketHandler;
  readonly #maxMessageBytes: number;
  #socket: Socket | null = null;
  #state: State = 'connecting';
  #key = '';
  /** Handshake bytes so far, or bytes of a frame header split across reads. */
  #partial: Buffer | null = null;
  /** A frame whose length is known but whose bytes are still arriving. */
  #pending: Buffer | null = null;
  #pendingFilled = 0;
  /** Fragments of a message sent in several frames. */
  #fragments: Buffer[] | null = null;
  #fragmentsBinary = true;
  #fragmentsBytes = 0;
  #closeSent = false;
  #peerCode = WS_CLOSE_ABNORMAL;
  #peerReason = '';

  /** @param maxMessageBytes larger messages close the connection with 1009 */
  constructor(handler: LeanSocketHandler, maxMessageBytes: number) {
    this.#handler = handler;
    this.#maxMessageBytes = maxMessageBytes;
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** Bytes read from the TCP socket, handshake and frame headers included. */
  get bytesRead(): number {
    return this.#socket?.bytesRead ?? 0;
  }

  connect(options: LeanConnectOptions): void {
    this.#key = randomBytes(16).toString('base64');
    const socket = connect({
      host: options.host,
      port: options.port,
      ...(options.localAddress === undefined
        ? {}
        : { localAddress: options.localAddress }),
      ...(options.localPort === undefined
        ? {}
        : { localPort: options.localPort }),
      noDelay: true,
    });
    this.#socket = socket;
    socket.setTimeout(options.connectTimeoutMs);
    socket.on('timeout', () => {
      if (this.#state === 'connecting') {
        this.#failConnect('timeout', 'no upgrade response in time', 0);
      }
    });
    socket.on('connect', () => {
      socket.write(
        `GET ${options.path} HTTP/1.1\r\n` +
          `Host: ${options.host}:${options.port}\r\n` +
          'Upgrade: websocket\r\n' +
          'Connection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${this.#key}\r\n` +
          'Sec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.#state === 'connecting') {
        this.#onHandshakeData(chunk);
      } else if (this.#state !== 'closed') {
        this.#onFrameData(chunk);
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (this.#state === 'connecting') {
        // The errno code (ECONNREFUSED, ECONNRESET...) when there is one.
        this.#failConnect('socket_error', error.code ?? error.message, 0);
      }
    });
    socket.on('close', () => {
      this.#finish();
    });
  }

  /** Sends one binary message. Returns false when the connection is not open. */
  send(payload: Uint8Array): boolean {
    if (this.#state !== 'open' || this.#socket === null) {
      return false;
    }

    this.#socket.write(encodeClientFrame(OPCODE_BINARY, payload));
    return true;
  }

  /** Sends one text message (Engine.IO's heartbeat is text). */
  sendText(text: string): boolean {
    if (this.#state !== 'open' || this.#socket === null) {
      return false;
    }

    this.#socket.write(encodeClientFrame(OPCODE_TEXT, Buffer.from(text)));
    return true;
  }

  /** Starts the close handshake; the socket ends when the peer answers. */
  close(code = WS_CLOSE_NORMAL, reason = ''): void {
    if (this.#state !== 'open' || this.#socket === null) {
      this.destroy();
      return;
    }

    this.#state = 'closing';
    this.#sendClose(code, reason);
  }

  /** Drops the TCP connection at once, without a close frame. */
  destroy(): void {
    this.#socket?.destroy();
  }

  /** Stops reading: the kernel buffers fill and the server sees backpressure. */
  pause(): void {
    this.#socket?.pause();
  }

  resume(): void {
    this.#socket?.resume();
  }

  #failConnect(failure: ConnectFailure, detail: string, status: number): void {
    if (this.#state !== 'connecting') {
      return;
    }

    this.#state = 'closed';
    this.#partial = null;
    this.#socket?.destroy();
    this.#handler.onConnectFailed(failure, detail, status);
  }

  #finish(): void {
    if (this.#state === 'connecting') {
      this.#failConnect('socket_error', 'connection closed during upgrade', 0);
      return;
    }

    if (this.#state === 'closed') {
      return;
    }

    this.#state = 'closed';
    this.#partial = null;
    this.#pending = null;
    this.#fragments = null;
    this.#handler.onClose(this.#peerCode, this.#peerReason);
  }

  #onHandshakeData(chunk: Buffer): void {
    const data =
      this.#partial === null ? chunk : Buffer.concat([this.#partial, chunk]);
    const end = data.indexOf('\r\n\r\n');
    if (end === -1) {
      if (data.length > MAX_HANDSHAKE_BYTES) {
        this.#failConnect('bad_handshake', 'upgrade response too long', 0);
      } else {
        this.#partial = Buffer.from(data);
      }

      return;
    }

    this.#partial = null;
    const head = data.toString('latin1', 0, end);
    const problem = this.#checkHandshake(head);
    if (problem !== null) {
      this.#failConnect(problem.failure, problem.detail, problem.status);
      return;
    }

    this.#state = 'open';
    this.#socket?.setTimeout(0);
    this.#handler.onOpen();
    const rest = data.subarray(end + 4);
    if (rest.length > 0 && this.#state === 'open') {
      this.#onFrameData(rest);
    }
  }

  #checkHandshake(
    head: string,
  ): { failure: ConnectFailure; detail: string; status: number } | null {
    const lines = head.split('\r\n');
    const statusLine = lines[0] ?? '';
    const match = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
    if (match === null) {
      return { failure: 'bad_handshake', detail: statusLine, status: 0 };
    }

    const status = Number(match[1]);
    if (status !== 101) {
      return { failure: 'refused', detail: statusLine, status };
    }

    let accept = '';
    let upgrade = '';
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'sec-websocket-accept') {
        accept = value;
      } else if (name === 'upgrade') {
        upgrade = value.toLowerCase();
      } else if (name === 'sec-websocket-extensions') {
        return {
          failure: 'bad_handshake',
          detail: 'server chose an extension that was not offered',
          status,
        };
      }
    }

    const expected = createHash('sha1')
      .update(this.#key + HANDSHAKE_GUID)
      .digest('base64');
    if (upgrade !== 'websocket' || accept !== expected) {
      return {
        failure: 'bad_handshake',
        detail: 'missing upgrade header or wrong Sec-WebSocket-Accept',
        status,
      };
    }

    return null;
  }

  #onFrameData(chunk: Buffer): void {
    let data = chunk;
    if (this.#pending !== null) {
      const pending = this.#pending;
      const take = Math.min(pending.length - this.#pendingFilled, data.length);
      data.copy(pending, this.#pendingFilled, 0, take);
      this.#pendingFilled += take;
      if (this.#pendingFilled < pending.length) {
        return;
      }

      this.#pending = null;
      this.#pendingFilled = 0;
      this.#parseFrames(pending);
      data = data.subarray(take);
    } else if (this.#partial !== null) {
      data = Buffer.concat([this.#partial, data]);
      this.#partial = null;
    }

    if (data.length > 0) {
      this.#parseFrames(data);
    }
  }

  /** Handles every complete frame in `data` and keeps what is left over. */
  #parseFrames(data: Buffer): void {
    let offset = 0;
    while (offset < data.length && this.#state !== 'closed') {
      const available = data.length - offset;
      if (available < 2) {
        break;
      }

      const first = data[offset] as number;
      const second = data[offset + 1] as number;
      let headerBytes = 2;
      let length = second & 0x7f;
      if (length === 126) {
        if (available < 4) {
          break;
        }

        length = data.readUInt16BE(offset + 2);
        headerBytes = 4;
      } else if (length === 127) {
        if (available < 10) {
          break;
        }

        const high = data.readUInt32BE(offset + 2);
        length = data.readUInt32BE(offset + 6);
        headerBytes = 10;
        if (high !== 0) {
          this.#protocolError(WS_CLOSE_TOO_BIG, 'frame too large');
          return;
        }
      }

      if ((second & 0x80) !== 0 || (first & 0x70) !== 0) {
        this.#protocolError(WS_CLOSE_PROTOCOL_ERROR, 'masked or RSV frame');
        return;
      }

      if (length > this.#maxMessageBytes) {
        this.#protocolError(WS_CLOSE_TOO_BIG, 'frame too large');
        return;
      }

      if (available < headerBytes + length) {
        // Copy only the leftover so the read buffer can be freed.
        const frameBytes = headerBytes + length;
        this.#pending = Buffer.allocUnsafe(frameBytes);
        data.copy(this.#pending, 0, offset);
        this.#pendingFilled = available;
        return;
      }

      const payload = data.subarray(
        offset + headerBytes,
        offset + headerBytes + length,
      );
      offset += headerBytes + length;
      this.#onFrame((first & 0x80) !== 0, first & 0x0f, payload);
    }

    if (offset < data.length && this.#state !== 'closed') {
      this.#partial = Buffer.from(data.subarray(offset));
    }
  }

  #onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case OPCODE_BINARY:
      case OPCODE_TEXT:
        if (this.#fragments !== null) {
          this.#protocolError(WS_CLOSE_PROTOCOL_ERROR, 'expected continuation');
          return;
        }

        if (fin) {
          this.#deliver(payload, opcode === OPCODE_BINARY);
        } else {
          this.#fragments = [Buffer.from(payload)];
          this.#fragmentsBytes = payload.length;
          this.#fragmentsBinary = opcode === OPCODE_BINARY;
        }

        return;
      case OPCODE_CONTINUATION: {
        const fragments = this.#fragments;
        if (fragments === null) {
          this.#protocolError(WS_CLOSE_PROTOCOL_ERROR, 'stray continuation');
          return;
        }

        this.#fragmentsBytes += payload.length;
        if (this.#fragmentsBytes > this.#maxMessageBytes) {
          this.#protocolError(WS_CLOSE_TOO_BIG, 'message too large');
          return;
        }

        fragments.push(Buffer.from(payload));
        if (fin) {
          this.#fragments = null;
          this.#deliver(Buffer.concat(fragments), this.#fragmentsBinary);
        }

        return;
      }

      case OPCODE_PING:
        if (!fin || payload.length > 125) {
          this.#protocolError(WS_CLOSE_PROTOCOL_ERROR, 'bad ping');
          return;
        }

        if (this.#state === 'open') {
          this.#socket?.write(encodeClientFrame(OPCODE_PONG, payload));
        }

        return;
      case OPCODE_PONG:
        return;
      case OPCODE_CLOSE:
        this.#onCloseFrame(payload);
        return;
      default:
        this.#protocolError(WS_CLOSE_PROTOCOL_ERROR, 'unknown opcode');
    }
  }

  #deliver(payload: Buffer, isBinary: boolean): void {
    if (this.#state === 'open' || this.#state === 'closing') {
      this.#handler.onMessage(payload, isBinary);
    }
  }

  #onCloseFrame(payload: Buffer): void {
    this.#peerCode =
      payload.length >= 2 ? payload.readUInt16BE(0) : WS_CLOSE_NORMAL;
    this.#peerReason = payload.length > 2 ? payload.toString('utf8', 2) : '';
    if (!this.#closeSent) {
      this.#sendClose(this.#peerCode, '');
    }

    this.#state = 'closing';
    this.#socket?.end();
  }

  #sendClose(code: number, reason: string): void {
    this.#closeSent = true;
    this.#socket?.write(
      encodeClientFrame(OPCODE_CLOSE, closePayload(code, reason)),
    );
  }

  #protocolError(code: number, reason: string): void {
    this.#peerCode = code;
    this.#peerReason = reason;
    if (!this.#closeSent) {
      this.#sendClose(code, reason);
    }

    this.#state = 'closing';
    this.#partial = null;
    this.#pending = null;
    this.#socket?.end();
  }
}
