// Request bodies: the one bounded reader, and the limit of each surface.

/** The GraphQL surface's body limit, and the most any route reads of a body: more is 413. */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

/**
 * The sign-in API's (and /introspect's) limit on the JSON or form body it parses: more is a 400
 * BadRequest, as Realm answers. A body over MAX_REQUEST_BODY_BYTES is refused with 413 before.
 */
export const MAX_SIGN_IN_BODY_BYTES = 64 * 1024;

// A form or multipart body is what a cross-site HTML form can send without a preflight; the
// GraphQL API takes JSON (or a GET with query parameters) only.
export const FORM_BODY = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i;

/** Whether the client sends a body, whatever the method. */
export function sendsBody(request: Request): boolean {
  return request.headers.has('transfer-encoding') || Number(request.headers.get('content-length') ?? 0) > 0;
}

/**
 * The request with its body read, or null when the body is over MAX_REQUEST_BODY_BYTES, whether
 * it declares its length or streams in chunks.
 */
export async function withBoundedBody(request: Request): Promise<Request | null> {
  if (!request.body) return request;
  const declared = request.headers.get('content-length');
  // Node's HTTP parser hands over exactly the declared length, never more: such a body needs no
  // copy (copying it into a new Request was a tenth of the CPU of a token check).
  if (declared !== null) return Number(declared) > MAX_REQUEST_BODY_BYTES ? null : request;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_REQUEST_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return new Request(request.url, { method: request.method, headers: request.headers, body: Buffer.concat(chunks) });
}
