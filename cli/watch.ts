/**
 * `roomcast watch <ws url>`: a minimal viewer for trying a room from a
 * terminal. Connects, prints every frame as one JSON line, answers nothing
 * but the WebSocket pings, and exits when the server closes the socket.
 */
import WebSocket from 'ws';
import { decodeValue } from '../protocol/index.js';

export async function watch(url: string | undefined): Promise<number> {
  if (url === undefined || !/^wss?:\/\//.test(url)) {
    console.error('usage: roomcast watch ws://HOST:8081/ws?token=TOKEN');
    return 2;
  }

  const socket = new WebSocket(url);
  return new Promise((resolve) => {
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => {
        console.error(`refused: ${response.statusCode ?? 0} ${body}`);
        resolve(1);
      });
    });
    socket.on('error', (error) => {
      console.error(`connection failed: ${error.message}`);
      resolve(1);
    });
    socket.on('message', (data: Buffer) => {
      console.log(JSON.stringify(decodeValue(data)));
    });
    socket.on('close', (code, reason) => {
      console.error(`closed: ${code} ${reason.toString()}`);
      resolve(0);
    });
    process.once('SIGINT', () => socket.close(1000));
  });
}
