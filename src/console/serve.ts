// The App Users console: static files from ./public, served by the gateway itself at /console.
// The page talks only to /graphql, with the admin key the operator types into it.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { consolePublicDir } from '../assets.js';

const PUBLIC_DIR = consolePublicDir;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

// Self only: no inline script or style, no other origin, no framing. The page fetches /graphql only.
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

interface ConsoleFile {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
  etag: string;
}

/**
 * Every file of the console, read once: a request can only name one of these by its exact file name,
 * so no path from a URL ever reaches the file system.
 */
async function loadFiles(): Promise<Map<string, ConsoleFile>> {
  const files = new Map<string, ConsoleFile>();
  for (const entry of await readdir(PUBLIC_DIR, { withFileTypes: true })) {
    const contentType = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || !contentType || !/^[a-z0-9][a-z0-9.-]*$/.test(entry.name)) continue;
    const body = new Uint8Array(await readFile(PUBLIC_DIR + entry.name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    files.set(entry.name, { body, contentType, etag });
  }
  return files;
}

function plain(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS, ...headers },
  });
}

/** Whether a path belongs to the console: `/console` and everything under `/console/`. */
export function isConsolePath(pathname: string): boolean {
  return pathname === '/console' || pathname.startsWith('/console/');
}

/** A handler for `/console` and `/console/<file>`; the files are read on first use and kept. */
export function createConsoleHandler(): (request: Request, pathname: string) => Promise<Response> {
  let loading: Promise<Map<string, ConsoleFile>> | undefined;
  return async (request, pathname) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return plain(405, 'The console only answers GET and HEAD.', { allow: 'GET, HEAD' });
    }
    loading ??= loadFiles().catch((err) => {
      loading = undefined;
      throw err;
    });
    const files = await loading;
    const name = pathname === '/console' || pathname === '/console/' ? 'index.html' : pathname.slice('/console/'.length);
    const file = files.get(name);
    if (!file) return plain(404, `Nothing at ${pathname.slice(0, 200)}.`);
    const headers = {
      'content-type': file.contentType,
      // No build step, so no hashed file names: browsers keep the files but ask each time, and an
      // unchanged file costs a 304.
      'cache-control': 'no-cache',
      etag: file.etag,
      ...SECURITY_HEADERS,
    };
    const ifNoneMatch = request.headers.get('if-none-match');
    if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === file.etag)) {
      return new Response(null, { status: 304, headers });
    }
    return new Response(request.method === 'HEAD' ? null : file.body, {
      status: 200,
      headers: { ...headers, 'content-length': String(file.body.byteLength) },
    });
  };
}
