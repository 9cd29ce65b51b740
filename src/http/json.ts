/** A JSON response: `application/json; charset=utf-8` unless `headers` name another content type. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

export const NO_STORE = { 'cache-control': 'no-store' };

/** The headers of every answer of the sign-in API and /introspect, as their clients have always had them. */
export const SIGN_IN_HEADERS = { 'content-type': 'application/json', ...NO_STORE };
