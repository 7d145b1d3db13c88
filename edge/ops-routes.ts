/**
 * `/metrics`, `/healthz` and `/readyz` on a uWS app, so the edge port answers
 * the same operational paths as every other roomcast port.
 */
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';

/** What `/metrics` answers: the process's registry, or a whole edge's figures. */
export type MetricsSource = () => Promise<{
  contentType: string;
  text: string;
}>;

export function serveOps(
  app: TemplatedApp,
  metrics: MetricsSource,
  ready: () => boolean,
): void {
  app.get('/healthz', (res) => {
    res.writeHeader('content-type', 'application/json').end('{"ok":true}');
  });
  app.get('/readyz', (res) => {
    const ok = ready();
    res
      .writeStatus(ok ? '200 OK' : '503 Service Unavailable')
      .writeHeader('content-type', 'application/json')
      .end(JSON.stringify({ ready: ok }));
  });
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void metrics().then(({ contentType, text }) => {
      if (!aborted) {
        res.cork(() => {
          res.writeHeader('content-type', contentType).end(text);
        });
      }
    });
  });
}

/** Ends an HTTP response with a roomcast JSON error. */
export function endWithError(
  res: HttpResponse,
  status: string,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  res.writeStatus(status).writeHeader('content-type', 'application/json');
  for (const [name, value] of Object.entries(headers)) {
    res.writeHeader(name, value);
  }

  res.end(JSON.stringify({ error: { code, message } }));
}
