// The direct path: the hottest route answered straight on Node's request and response, without the
// Fetch-API Request and Response the rest of the app is written against (building and writing them
// was a large share of a token check's CPU time, issue 18). Only requests whose every behaviour this
// path reproduces take it: POST /introspect with a declared body of at most MAX_SIGN_IN_BODY_BYTES,
// and the sign-in API's token routes that read no body (GET …/auth/profile, POST …/auth/session,
// sent without one). Anything else goes the Fetch-API way, unchanged. The
// answer is written through `res`, so the server's own listeners (src/shutdown.ts) see it as any.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pickClientAddress, type TrustProxy } from '../client-address.js';
import type { Logger } from '../logger.js';
import { MAX_SIGN_IN_BODY_BYTES } from './body.js';
import { DIRECT_CLIENT_ROUTES, INTROSPECTION_PATH, type ClientApi } from './client-api.js';
import { thrownErrorResponse } from './errors.js';
import { answerOf, type JsonAnswer } from './json.js';
import { inNodeRequestScope, recordRequest, trustedProxies } from './request-scope.js';
import { headerOf, readBody } from './node-request.js';

/** Answers `req` if it is one the direct path takes, and says whether it did. */
export type DirectRoutes = (req: IncomingMessage, res: ServerResponse) => boolean;

export function createDirectRoutes(deps: { clientApi: ClientApi; logger: Logger; trustProxy: boolean | TrustProxy | undefined }): DirectRoutes {
  const { clientApi, logger } = deps;
  const trust = trustedProxies(deps.trustProxy);

  /** Without an async function of its own: a key and token known in memory cost four promises in all: the body's, one here, one in introspect and the request scope's (issue 18). */
  function introspect(req: IncomingMessage, res: ServerResponse, requestId: string, declared: number): Promise<void> | void {
    const started = performance.now();
    const address = pickClientAddress(trust, req.socket.remoteAddress, headerOf(req, 'x-forwarded-for'));
    let bodyRead = false;
    const answered = (answer: JsonAnswer) => {
      // As the Fetch path does: refused without reading its body, the connection is closed after the answer.
      write(res, answer, requestId, answer.status >= 400 && declared > 0 && !bodyRead);
      recordRequest(logger, 'POST', INTROSPECTION_PATH, answer.status, started, requestId);
    };
    const failed = (err: unknown) => answerOf(thrownErrorResponse(err, INTROSPECTION_PATH, requestId, logger)).then(answered);
    let answer: JsonAnswer | Promise<JsonAnswer>;
    try {
      answer = clientApi.introspectPost(
        headerOf(req, 'authorization'),
        headerOf(req, 'content-type') ?? '',
        () => {
          bodyRead = true;
          return readBody(req);
        },
        address,
      );
    } catch (err) {
      return failed(err);
    }
    if (answer instanceof Promise) return answer.then(answered, failed);
    answered(answer);
  }

  async function clientRoute(req: IncomingMessage, res: ServerResponse, requestId: string, pathname: string): Promise<void> {
    const started = performance.now();
    const answer = await clientApi.answerDirect(pathname, headerOf(req, 'authorization'), requestId);
    write(res, answer, requestId, false);
    recordRequest(logger, req.method!, pathname, answer.status, started, requestId);
  }

  return (req, res) => {
    const url = req.url ?? '';
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] !== undefined) return false;
    if (DIRECT_CLIENT_ROUTES[url] === req.method) {
      if (length !== undefined && length !== '0') return false;
      return inNodeRequestScope(logger, req, res, (requestId) => clientRoute(req, res, requestId, url));
    }
    if (req.method !== 'POST') return false;
    if (url !== INTROSPECTION_PATH && !url.startsWith(`${INTROSPECTION_PATH}?`)) return false;
    if (length === undefined) return false;
    const declared = Number(length);
    if (!(declared >= 0 && declared <= MAX_SIGN_IN_BODY_BYTES)) return false;
    return inNodeRequestScope(logger, req, res, (requestId) => introspect(req, res, requestId, declared));
  };
}

/** Writes the answer with its headers as one flat list (no header object built per answer). */
function write(res: ServerResponse, answer: JsonAnswer, requestId: string, close: boolean): void {
  const headers: string[] = [];
  for (const name in answer.headers) headers.push(name, answer.headers[name]!);
  headers.push('x-request-id', requestId);
  if (close) headers.push('connection', 'close');
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}
