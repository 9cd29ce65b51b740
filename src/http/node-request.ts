// Reading Node's IncomingMessage the way the Fetch-API path reads a Request: for the direct paths
// (src/http/direct.ts, src/http/graphql-direct.ts), which answer on Node's own objects.
import type { IncomingMessage } from 'node:http';

/** A header as the Fetch API's Headers.get reads it: repeated values joined, null when absent. */
export function headerOf(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The request body as text (its declared length is bounded by the caller). */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('the client went away before sending its whole body'));
    });
  });
}
