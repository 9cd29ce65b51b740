/**
 * A JSON response: `application/json; charset=utf-8` unless `headers` name another content type.
 * With its length: without one, Node sends the body chunked, a second write per response for the
 * closing chunk (issue 18: socket writes were a quarter of /introspect's CPU time).
 */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  const text = JSON.stringify(body);
  return new Response(text, {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers, 'content-length': String(Buffer.byteLength(text)) },
  });
}

export const NO_STORE = { 'cache-control': 'no-store' };

/** The headers of every answer of the sign-in API and /introspect, as their clients have always had them. */
export const SIGN_IN_HEADERS = { 'content-type': 'application/json', ...NO_STORE };
