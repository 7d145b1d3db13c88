/**
 * The live-room page (web/) and the SDK bundle (sdk/dist/) on the edge port,
 * so a viewer's browser needs one address for the page and its socket.
 *
 * The set of files is fixed: nothing from the request path reaches the file
 * system. Each file is read and gzipped once, on its first request, and then
 * answered from memory with an ETag. A bundle that was never built answers
 * 503 with the command that builds it, and is read again on the next request.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { endWithError } from './ops-routes.js';

interface Asset {
  route: string;
  path: string;
  contentType: string;
}

interface LoadedAsset {
  body: Buffer;
  gzipped: Buffer;
  etag: string;
}

const JS = 'text/javascript; charset=utf-8';

const ASSETS: Asset[] = [
  {
    route: '/',
    path: '../web/index.html',
    contentType: 'text/html; charset=utf-8',
  },
  { route: '/app.js', path: '../web/app.js', contentType: JS },
  {
    route: '/style.css',
    path: '../web/style.css',
    contentType: 'text/css; charset=utf-8',
  },
  {
    route: '/sdk/roomcast.js',
    path: '../sdk/dist/roomcast.js',
    contentType: JS,
  },
  {
    route: '/sdk/roomcast.js.map',
    path: '../sdk/dist/roomcast.js.map',
    contentType: 'application/json',
  },
];

// The page takes its token from the URL: never send that URL on as a
// referrer, and run no script or style that is not ours.
const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

function load(asset: Asset): LoadedAsset | undefined {
  let body: Buffer;
  try {
    body = readFileSync(fileURLToPath(new URL(asset.path, import.meta.url)));
  } catch {
    return undefined;
  }

  const hash = createHash('sha256').update(body).digest('base64url');
  return { body, gzipped: gzipSync(body), etag: `"${hash.slice(0, 22)}"` };
}

export function serveStaticFiles(app: TemplatedApp): void {
  for (const asset of ASSETS) {
    let loaded: LoadedAsset | undefined;
    app.get(asset.route, (res: HttpResponse, req: HttpRequest) => {
      loaded ??= load(asset);
      if (loaded === undefined) {
        endWithError(
          res,
          '503 Service Unavailable',
          'asset_missing',
          `${asset.route} is not built yet: run \`node --import tsx sdk/build.ts\``,
        );
        return;
      }

      const file = loaded;
      const gzip = /\bgzip\b/.test(req.getHeader('accept-encoding'));
      const fresh = req.getHeader('if-none-match') === file.etag;
      res.cork(() => {
        res.writeStatus(fresh ? '304 Not Modified' : '200 OK');
        res.writeHeader('etag', file.etag);
        res.writeHeader('cache-control', 'no-cache');
        res.writeHeader('x-content-type-options', 'nosniff');
        res.writeHeader('vary', 'accept-encoding');
        if (asset.route === '/') {
          for (const [name, value] of Object.entries(PAGE_HEADERS)) {
            res.writeHeader(name, value);
          }
        }

        if (fresh) {
          res.end();
          return;
        }

        res.writeHeader('content-type', asset.contentType);
        if (gzip) {
          res.writeHeader('content-encoding', 'gzip');
        }

        res.end(gzip ? file.gzipped : file.body);
      });
    });
  }
}
