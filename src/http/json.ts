/** A JSON answer as plain data: what a route on the direct path (./direct.ts) writes to Node itself. */
export interface JsonAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * A JSON answer: `application/json; charset=utf-8` unless `headers` name another content type.
 * With its length: without one, Node sends the body chunked, a second write per response for the
 * closing chunk (issue 18: socket writes were a quarter of /introspect's CPU time).
 */
export function jsonAnswer(body: unknown, status = 200, headers: Record<string, string> = {}): JsonAnswer {
  const text = JSON.stringify(body);
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers, 'content-length': String(Buffer.byteLength(text)) },
    body: text,
  };
}

/** The Fetch-API Response of an answer. */
export function toResponse(answer: JsonAnswer): Response {
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}

/** A Response as an answer (for the rare answers, refusals and faults, the direct path takes from the Fetch-API path's writers). */
export async function answerOf(response: Response): Promise<JsonAnswer> {
  return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
}

/** A JSON response, as jsonAnswer describes it. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return toResponse(jsonAnswer(body, status, headers));
}

export const NO_STORE = { 'cache-control': 'no-store' };

/** The headers of every answer of the sign-in API and /introspect, as their clients have always had them. */
export const SIGN_IN_HEADERS = { 'content-type': 'application/json', ...NO_STORE };
