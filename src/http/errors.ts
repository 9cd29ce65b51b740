// Every error → HTTP answer of the gateway, in one place: the refusals of the HTTP layer itself,
// the domain's expected failures on the sign-in API, and the masking of GraphQL errors; with one
// JSON error writer per surface:
//   GraphQL (/graphql)              {errors: [{message, extensions: {code, requestId}}]}
//   sign-in API (/api/client/v2.0/) {error, error_code}, as Realm SDKs read it
//   OAuth introspection             {error, error_description} (RFC 7662)
//   the gateway's other routes      {error, error_code}, also for refusals before a route answers
import { GraphQLError } from 'graphql';
import { toDatabaseFault, type DatabaseFault } from '../db/faults.js';
import { AppError, EmailTakenError, InvalidInputError, UserNotFoundError } from '../errors.js';
import { QueueFullError, retryAfterHeaders } from '../limits/index.js';
import type { Logger } from '../logger.js';
import * as metrics from '../metrics.js';
import {
  ConfirmationRequiredError,
  InvalidCredentialsError,
  InvalidUserTokenError,
  LinkRefusedError,
  UserDisabledError,
  UserNotPendingError,
} from '../signin/errors.js';
import { InvalidSessionError } from '../tokens/errors.js';
import { MAX_REQUEST_BODY_BYTES } from './body.js';
import { json, jsonAnswer, SIGN_IN_HEADERS, type JsonAnswer } from './json.js';

/** Refused before any check because of too many failures: HTTP 429 with Retry-After. */
export class TooManyAttemptsError extends Error {
  constructor(readonly retryAfter: number) {
    super(`Too many failed attempts from this address: try again in ${retryAfter} seconds.`);
  }
}

/** A request the sign-in API's client can fix: malformed JSON, a missing or mistyped field. */
export class BadRequestError extends Error {}

/** Which writer answers an error met outside a route's own answers: /graphql's, or the plain one. */
type Surface = 'graphql' | 'gateway';

const surfaceOf = (pathname: string): Surface => (pathname === '/graphql' ? 'graphql' : 'gateway');

/** The answer to a request without a working admin key, on every surface. */
export const ADMIN_KEY_REQUIRED = {
  message: 'An admin key is required: send "Authorization: Bearer <admin key>".',
  headers: { 'www-authenticate': 'Bearer realm="app-users-gateway"' },
};

export type Refusal = 'unauthenticated' | 'payloadTooLarge' | 'unsupportedMediaType' | 'tooManyAttempts' | 'databaseFault' | 'internal';

interface RefusalAnswer {
  status: number;
  /** `extensions.code` on the GraphQL surface; a database fault's is its own. */
  code?: string;
  /** `error_code` on the other routes. */
  errorCode: string;
  /** Whether the other routes' body quotes the request id. */
  quotesRequestId: boolean;
  /** `extensions.retryable: true` on the GraphQL surface. */
  retryable?: boolean;
  /** The text, unless the error brings its own. */
  message?: string;
  headers?: Record<string, string>;
}

/** What the HTTP layer refuses itself, and how each surface says it. */
const REFUSALS: Record<Refusal, RefusalAnswer> = {
  unauthenticated: { status: 401, code: 'UNAUTHENTICATED', errorCode: 'Unauthorized', quotesRequestId: true, ...ADMIN_KEY_REQUIRED },
  payloadTooLarge: {
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    errorCode: 'PayloadTooLarge',
    quotesRequestId: false,
    message: `The request body is larger than ${MAX_REQUEST_BODY_BYTES} bytes (1 MiB).`,
  },
  // Only /graphql looks at the content type; the other routes never answer 415.
  unsupportedMediaType: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    errorCode: 'UnsupportedMediaType',
    quotesRequestId: false,
    message: 'Send the request as application/json.',
  },
  tooManyAttempts: { status: 429, code: 'RATE_LIMITED', errorCode: 'TooManyRequests', quotesRequestId: false },
  // A database fault met outside GraphQL execution (the admin key lookup, a plain route): always 503.
  databaseFault: { status: 503, errorCode: 'ServiceUnavailable', quotesRequestId: true, retryable: true, headers: { 'retry-after': '1' } },
  internal: { status: 500, code: 'INTERNAL_SERVER_ERROR', errorCode: 'InternalServerError', quotesRequestId: true, message: 'Unexpected error.' },
};

/** The GraphQL surface's error body; `extensions` without the request id, which it adds. */
function graphqlErrorResponse(
  status: number,
  message: string,
  extensions: Record<string, unknown>,
  requestId: string,
  headers: Record<string, string> = {},
): Response {
  return json({ errors: [{ message, extensions: { ...extensions, requestId } }] }, status, { 'x-request-id': requestId, ...headers });
}

/** The body of the gateway's plain routes: `error` (the text) and `error_code`, and the request id when given. */
function gatewayErrorResponse(
  status: number,
  errorCode: string,
  message: string,
  options: { requestId?: string; headers?: Record<string, string> } = {},
): Response {
  const body = options.requestId === undefined ? { error: message, error_code: errorCode } : { error: message, error_code: errorCode, requestId: options.requestId };
  return json(body, status, options.headers);
}

/** The sign-in API's error body, the one every Realm SDK reads: `error` (the text) and `error_code`. */
export function signInErrorResponse(status: number, errorCode: string, message: string, headers: Record<string, string> = {}): Response {
  return json({ error: message, error_code: errorCode }, status, { ...SIGN_IN_HEADERS, ...headers });
}

/** The OAuth 2.0 error body of /introspect (RFC 6749 §5.2), as plain data (./json.ts: toResponse). */
export function introspectionError(status: number, error: string, description: string, headers: Record<string, string> = {}): JsonAnswer {
  return jsonAnswer({ error, error_description: description }, status, { ...SIGN_IN_HEADERS, ...headers });
}

/** A refusal of the table, written for `surface`; a fault's message and code, or a 429's wait, in `detail`. */
export function refusalResponse(
  refusal: Refusal,
  surface: Surface,
  requestId: string,
  detail: { message?: string; code?: string; headers?: Record<string, string> } = {},
): Response {
  const entry = REFUSALS[refusal];
  const message = detail.message ?? entry.message ?? '';
  const headers = { ...entry.headers, ...detail.headers };
  if (surface === 'graphql') {
    const code = detail.code ?? entry.code;
    return graphqlErrorResponse(entry.status, message, entry.retryable ? { code, retryable: true } : { code }, requestId, headers);
  }
  return gatewayErrorResponse(entry.status, entry.errorCode, message, { requestId: entry.quotesRequestId ? requestId : undefined, headers });
}

/** An error a route threw, answered on the surface of its path; faults and bugs are logged. */
export function thrownErrorResponse(err: unknown, pathname: string, requestId: string, logger: Logger): Response {
  const surface = surfaceOf(pathname);
  if (err instanceof TooManyAttemptsError) {
    return refusalResponse('tooManyAttempts', surface, requestId, { message: err.message, headers: retryAfterHeaders(err.retryAfter) });
  }
  const fault = toDatabaseFault(err);
  if (fault) {
    metrics.databaseFaults.inc({ kind: fault.kind });
    logger.warn({ err, fault: fault.kind }, 'database fault');
    return refusalResponse('databaseFault', surface, requestId, { message: fault.message, code: fault.code });
  }
  logger.error({ err, requestId }, 'request failed');
  return refusalResponse('internal', surface, requestId);
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** The domain's expected failures on the sign-in API: the status, `error_code` and text Realm SDKs expect. */
const SIGN_IN_FAILURES: ReadonlyArray<[ErrorClass, (err: never) => [status: number, errorCode: string, message: string]]> = [
  [InvalidSessionError, (err: InvalidSessionError) => [401, 'InvalidSession', err.message]],
  [InvalidCredentialsError, (err: InvalidCredentialsError) => [401, 'InvalidPassword', err.message]],
  [ConfirmationRequiredError, (err: ConfirmationRequiredError) => [401, 'ConfirmationRequired', err.message]],
  [UserDisabledError, (err: UserDisabledError) => [401, 'UserDisabled', err.message]],
  [EmailTakenError, () => [409, 'AccountNameInUse', 'name already in use']],
  [InvalidUserTokenError, (err: InvalidUserTokenError) => [400, 'UserpassTokenInvalid', err.message]],
  [
    UserNotPendingError,
    (err: UserNotPendingError) => (err.status === 'confirmed' ? [409, 'UserAlreadyConfirmed', 'user already confirmed'] : [409, 'UserDisabled', 'user disabled']),
  ],
  [UserNotFoundError, () => [404, 'UserNotFound', 'user not found']],
  [InvalidInputError, (err: InvalidInputError) => [400, 'BadRequest', err.message]],
  [LinkRefusedError, (err: LinkRefusedError) => [409, 'AccountNameInUse', err.message]],
  [BadRequestError, (err: BadRequestError) => [400, 'BadRequest', err.message]],
];

/** An expected failure as the sign-in API answers it; anything else is not ours to answer and is thrown on. */
export function signInFailureResponse(err: unknown): Response {
  if (err instanceof QueueFullError) {
    metrics.requestsLimited.inc({ limit: 'passwordHashing' });
    return signInErrorResponse(503, 'ServiceUnavailable', 'the server is busy checking passwords: try again shortly', { 'retry-after': '1' });
  }
  for (const [errorClass, answer] of SIGN_IN_FAILURES) {
    if (err instanceof errorClass) return signInErrorResponse(...answer(err as never));
  }
  throw err;
}

// By name, not instanceof: graphql may be loaded twice (its CommonJS and ES module builds).
function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof Error && error.name === 'GraphQLError';
}

function rootCause(error: unknown): unknown {
  let cause = error;
  while (isGraphQLError(cause) && cause.originalError) cause = cause.originalError;
  return cause;
}

/** The masked GraphQL error of a database fault: a stable code, `retryable`, and 503 when the database is out of reach. */
function faultError(fault: DatabaseFault, located: GraphQLError | undefined): GraphQLError {
  const http = fault.httpStatus === 200 ? {} : { http: { status: fault.httpStatus, headers: { 'retry-after': '1' } } };
  return new GraphQLError(fault.message, {
    nodes: located?.nodes,
    path: located?.path,
    extensions: { code: fault.code, retryable: true, ...http },
  });
}

/**
 * An error of a GraphQL operation as clients see it (Yoga's maskError): a database fault with its
 * stable code, an AppError with its code, a GraphQL error as it is, anything else "Unexpected
 * error." with INTERNAL_SERVER_ERROR, its details in the log only.
 */
export function maskGraphQLError(error: unknown, message: string, logger: Logger): GraphQLError {
  const cause = rootCause(error);
  const located = isGraphQLError(error) ? error : undefined;
  const fault = toDatabaseFault(cause);
  if (fault) {
    metrics.databaseFaults.inc({ kind: fault.kind });
    logger.warn({ err: cause, fault: fault.kind }, 'database fault in a GraphQL operation');
    return faultError(fault, located);
  }
  if (cause instanceof AppError) {
    return new GraphQLError(cause.message, {
      nodes: located?.nodes,
      path: located?.path,
      extensions: { code: cause.code, ...('field' in cause ? { field: cause.field } : {}) },
    });
  }
  // Thrown on purpose as a GraphQL error (parsing, validation, a scalar's input check).
  if (isGraphQLError(cause)) return error as GraphQLError;
  logger.error({ err: cause }, 'unexpected error in a GraphQL operation');
  return new GraphQLError(message, {
    nodes: located?.nodes,
    path: located?.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}

// Every error of a GraphQL response carries a stable code and the request id, so a client can
// branch on the one and quote the other, and an operator can find the request in the log.
export function stableCode(error: GraphQLError): string {
  const code = error.extensions?.code;
  if (typeof code === 'string') return code;
  return /^Variable "\$/.test(error.message) ? 'BAD_USER_INPUT' : 'BAD_REQUEST';
}

/** Nothing is served at this path (or not with this method). */
export function notFoundResponse(request: Request, pathname: string): Response {
  return gatewayErrorResponse(404, 'NotFound', `Nothing at ${request.method} ${pathname}.`);
}
