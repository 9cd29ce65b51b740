// GraphiQL at GET /graphql for browsers: a small page built once, and the bundle of
// @graphql-yoga/render-graphiql split into files served from memory under /graphiql/, each read,
// hashed and compressed once. A page view costs a few kilobytes whatever the number of viewers
// (Yoga's own renderer built a ~9 MB string per request). Nothing comes from another host.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import { Response as BufferResponse } from '@whatwg-node/fetch';

export const GRAPHIQL_ASSET_PREFIX = '/graphiql/';

export interface GraphiQLOptions {
  title: string;
  defaultQuery: string;
  /** The Headers tab's initial JSON. */
  headers: string;
  shouldPersistHeaders: boolean;
}

// Self only: the scripts are files of this server; Monaco (the editor) sets style attributes and
// injects <style> elements at run time, so inline styles are allowed, inline scripts are not.
export const GRAPHIQL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': GRAPHIQL_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

type Encoding = 'br' | 'gzip' | 'identity';

interface Asset {
  contentType: string;
  body: Buffer;
  etag: string;
  /** Compressed once, on the first request that accepts the encoding. */
  compressed: Map<Encoding, Promise<Buffer>>;
}

function asset(contentType: string, content: string | Buffer): Asset {
  const body = typeof content === 'string' ? Buffer.from(content) : content;
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { contentType, body, etag, compressed: new Map() };
}

const JS = 'text/javascript; charset=utf-8';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page: markup and a JSON data block (data, not script, for the CSP); the code is in files. */
function page(options: GraphiQLOptions): string {
  // `<` escaped so that nothing in the options can close the data block.
  const json = JSON.stringify(options).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(options.title)}</title>
    <link rel="icon" href="graphiql/favicon.ico" />
    <link rel="stylesheet" href="graphiql/graphiql.css" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script type="application/json" id="graphiql-options">${json}</script>
    <script src="graphiql/monaco-environment.js"></script>
    <script src="graphiql/graphiql.js"></script>
    <script src="graphiql/start.js"></script>
  </body>
</html>
`;
}

// What Yoga's renderer inlined, as files: Monaco's workers load from this server by URL.
const MONACO_ENVIRONMENT = `self.MonacoEnvironment = {
  globalAPI: false,
  getWorkerUrl: function (moduleId, label) {
    var files = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' };
    return new URL('graphiql/' + (files[label] || files.editorWorkerService), document.baseURI).href;
  },
};
`;

const START = `YogaGraphiQL.renderYogaGraphiQL(
  document.querySelector('#root'),
  JSON.parse(document.getElementById('graphiql-options').textContent),
);
`;

async function loadAssets(): Promise<Map<string, Asset>> {
  // ~9 MB of code, loaded on the first view only: the API never needs it.
  const bundle = await import('@graphql-yoga/render-graphiql/graphiql');
  const favicon = /^data:([^;]+);base64,(.*)$/.exec(bundle.favicon);
  return new Map([
    ['graphiql.js', asset(JS, bundle.js)],
    ['graphiql.css', asset('text/css; charset=utf-8', bundle.css)],
    ['editor.worker.js', asset(JS, bundle.editorWorkerService)],
    ['json.worker.js', asset(JS, bundle.jsonWorker)],
    ['graphql.worker.js', asset(JS, bundle.graphqlWorker)],
    ['monaco-environment.js', asset(JS, MONACO_ENVIRONMENT)],
    ['start.js', asset(JS, START)],
    ...(favicon ? [['favicon.ico', asset(favicon[1]!, Buffer.from(favicon[2]!, 'base64'))] as const] : []),
  ]);
}

const compressors = {
  br: (body: Buffer) =>
    promisify(brotliCompress)(body, {
      params: { [zlib.BROTLI_PARAM_QUALITY]: 9, [zlib.BROTLI_PARAM_SIZE_HINT]: body.byteLength },
    }),
  gzip: (body: Buffer) => promisify(gzip)(body, { level: 9 }),
};

/** The best encoding the client accepts (q > 0) of br, gzip and none. */
export function negotiateEncoding(acceptEncoding: string | null): Encoding {
  const accepted = new Map<string, number>();
  for (const part of (acceptEncoding ?? '').split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find(Boolean);
    accepted.set(name.trim(), q === undefined ? 1 : Number(q));
  }
  const ok = (name: string) => (accepted.get(name) ?? accepted.get('*') ?? 0) > 0;
  if (ok('br')) return 'br';
  if (ok('gzip')) return 'gzip';
  return 'identity';
}

async function encoded(file: Asset, encoding: Encoding): Promise<Buffer> {
  if (encoding === 'identity' || file.body.byteLength < 1024) return file.body;
  let body = file.compressed.get(encoding);
  if (!body) {
    body = compressors[encoding](file.body);
    file.compressed.set(encoding, body);
    body.catch(() => file.compressed.delete(encoding));
  }
  return body;
}

async function respond(request: Request, file: Asset, cacheControl: string): Promise<Response> {
  const encoding = file.body.byteLength < 1024 ? 'identity' : negotiateEncoding(request.headers.get('accept-encoding'));
  // One tag per representation, as HTTP caches expect.
  const etag = encoding === 'identity' ? file.etag : `${file.etag.slice(0, -1)}-${encoding}"`;
  const headers: Record<string, string> = {
    'content-type': file.contentType,
    'cache-control': cacheControl,
    etag,
    vary: 'Accept-Encoding',
    ...SECURITY_HEADERS,
  };
  if (encoding !== 'identity') headers['content-encoding'] = encoding;
  const ifNoneMatch = request.headers.get('if-none-match');
  if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) {
    return new Response(null, { status: 304, headers });
  }
  const body = await encoded(file, encoding);
  headers['content-length'] = String(body.byteLength);
  // The shared buffer itself, never a copy: Node's own Response copies a byte body (9 MB a view of
  // the bundle, held as long as the client takes to read it); the server adapter's writes the
  // buffer it was given straight to the socket.
  return new BufferResponse(request.method === 'HEAD' ? null : (body as Uint8Array<ArrayBuffer>), { status: 200, headers }) as unknown as Response;
}

function plain(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS, ...headers },
  });
}

export function isGraphiQLAssetPath(pathname: string): boolean {
  return pathname.startsWith(GRAPHIQL_ASSET_PREFIX);
}

/** GraphiQL's page (`page`) and its files (`asset`, for paths under /graphiql/). */
export function createGraphiQL(options: GraphiQLOptions) {
  const html = asset('text/html; charset=utf-8', page(options));
  let loading: Promise<Map<string, Asset>> | undefined;
  return {
    page: (request: Request) => respond(request, html, 'no-cache'),
    async asset(request: Request, pathname: string): Promise<Response> {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return plain(405, 'GraphiQL files only answer GET and HEAD.', { allow: 'GET, HEAD' });
      }
      loading ??= loadAssets().catch((err) => {
        loading = undefined;
        throw err;
      });
      const file = (await loading).get(pathname.slice(GRAPHIQL_ASSET_PREFIX.length));
      if (!file) return plain(404, `Nothing at ${pathname.slice(0, 200)}.`);
      return respond(request, file, 'no-cache');
    },
  };
}
