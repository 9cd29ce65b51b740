// The app-facing HTTP API: the routes of the Atlas App Services client API v2.0 that realm-web and
// the other Realm SDKs call to sign users up and in, and the RFC 7662 introspection endpoint for
// the app's own back end. Request and response shapes follow what realm-web 2.0.1 sends and reads.
import type { Actor } from '../audit/log.js';
import type { AdminKeyRow, IdentityRow, UserRow } from '../db/schema.js';
import { isRefusal, type Limiters, type SignUpLimiters } from '../limits/index.js';
import { requestsLimited } from '../metrics.js';
import { ANON_USER, LOCAL_USERPASS } from '../users/service.js';
import { confirmWithToken, registerUser, resendConfirmationByEmail } from '../signin/confirmation.js';
import { publicUrlFor, type AuthDeps } from '../signin/deps.js';
import { InvalidCredentialsError } from '../signin/errors.js';
import { linkWithPassword } from '../signin/linking.js';
import { logInAnonymously, logInWithPassword, logOut, profileOf, refreshAccessToken } from '../signin/login.js';
import { resetPassword, sendPasswordResetByEmail } from '../signin/password-reset.js';
import type { LinkedTable } from '../linked-data/index.js';
import type { Logger } from '../logger.js';
import { deleteUser } from '../users/service.js';
import { InvalidSessionError } from '../tokens/errors.js';
import { verifyAccessToken, verifyAccessTokenNow, type VerifiedAccessToken } from '../tokens/verify.js';
import type { AuthenticateAdminKey } from './admin-key-auth.js';
import { MAX_SIGN_IN_BODY_BYTES, withBoundedBody } from './body.js';
import {
  ADMIN_KEY_REQUIRED,
  BadRequestError,
  introspectionError,
  refusalResponse,
  signInErrorResponse,
  signInFailureResponse,
  thrownErrorResponse,
} from './errors.js';
import { answerOf, json, jsonAnswer, SIGN_IN_HEADERS, toResponse, type JsonAnswer } from './json.js';

export const CLIENT_API_PREFIX = '/api/client/v2.0/';
export const INTROSPECTION_PATH = '/introspect';

/** A successful answer, with the headers the SDKs have always received. */
function reply(body: unknown, status = 200): Response {
  return json(body, status, SIGN_IN_HEADERS);
}

/** An empty success: no body and no content type, which realm-web reads as "nothing". */
function noContent(): Response {
  return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
}

// Browser apps call the client API from their own origin. Tokens travel in the Authorization
// header, never in cookies, so any origin may call.
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, accept',
  'access-control-max-age': '600',
};

/** 429 TooManyRequests with Retry-After, counted under `limit` (a name of src/limits' RateLimits). */
function tooManyRequests(limit: string, retryAfter: number, what: string): Response {
  requestsLimited.inc({ limit });
  return signInErrorResponse(429, 'TooManyRequests', `${what}: try again in ${retryAfter} seconds`, { 'retry-after': String(retryAfter) });
}

async function readBodyText(request: Request): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > MAX_SIGN_IN_BODY_BYTES) throw new BadRequestError(`the request body is larger than ${MAX_SIGN_IN_BODY_BYTES} bytes`);
  return boundedBodyText(await request.text());
}

function boundedBodyText(text: string): string {
  if (text.length > MAX_SIGN_IN_BODY_BYTES) throw new BadRequestError(`the request body is larger than ${MAX_SIGN_IN_BODY_BYTES} bytes`);
  return text;
}

/** The JSON object body (the SDKs send canonical EJSON; the fields read here are plain strings). */
async function readJsonBody(request: Request): Promise<Record<string, unknown>> {
  return parseJsonObject(await readBodyText(request));
}

/**
 * The `token` field of a form body, as `new URLSearchParams(text).get('token')` reads it: a body that is
 * that one field with nothing to decode (the usual one) is read without building the parameters.
 */
export function formToken(text: string): string | null {
  if (text.startsWith('token=') && !/[&%+]/.test(text)) return text.slice(6);
  return new URLSearchParams(text).get('token');
}

/** The RFC 7662 answer for a token that grants access. */
function introspectionAnswer(verified: VerifiedAccessToken): JsonAnswer {
  return jsonAnswer(
    {
      active: true,
      sub: verified.userId,
      sid: verified.sessionId,
      exp: verified.expiresAt,
      iat: verified.issuedAt,
      aud: verified.audience,
      client_id: verified.audience,
      token_type: 'Bearer',
      device_id: verified.deviceId,
    },
    200,
    SIGN_IN_HEADERS,
  );
}

/** `{"active":false}` for a token refused (InvalidSessionError); anything else is thrown on. */
function inactiveOr(err: unknown): JsonAnswer {
  if (err instanceof InvalidSessionError) return jsonAnswer({ active: false }, 200, SIGN_IN_HEADERS);
  throw err;
}

/** The 400 of /introspect for a BadRequestError (a body too large, unreadable); anything else is thrown on. */
function badRequestOr(err: unknown): JsonAnswer {
  if (err instanceof BadRequestError) return introspectionError(400, 'invalid_request', err.message);
  throw err;
}

function parseJsonObject(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequestError('the request body is not valid JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value === '') throw new BadRequestError(`expected a string "${name}" in the request body`);
  if (value.length > 4096) throw new BadRequestError(`"${name}" is too long`);
  return value;
}

/** `options.device` of a login body, if the SDK sent one (src/signin/device.ts reads it). */
function deviceOf(body: Record<string, unknown>): unknown {
  const options = body.options as { device?: unknown } | undefined;
  return options && typeof options === 'object' ? options.device : undefined;
}

function requireBearer(request: Request): string {
  return requireBearerOf(request.headers.get('authorization'));
}

/** The token of an Authorization header, or InvalidSessionError. */
function requireBearerOf(authorization: string | null): string {
  const match = /^Bearer\s+(\S{1,8192})\s*$/i.exec(authorization ?? '');
  if (!match) throw new InvalidSessionError('must authenticate first: send "Authorization: Bearer <token>"');
  return match[1]!;
}

/** The profile as realm-web reads it: `type`, `identities` [{ id, provider_type }] and `data`. */
function profileBody(appId: string, user: UserRow, identities: IdentityRow[]) {
  return {
    user_id: user.id,
    domain_id: appId,
    type: 'normal',
    identities: identities.map((identity) => ({
      id: identity.providerId,
      provider_type: identity.providerType,
      provider_id: identity.providerType,
      provider_data: identity.providerType === LOCAL_USERPASS && user.email ? { email: user.email } : {},
    })),
    data: user.email ? { email: user.email } : {},
  };
}

/** Whether a login asks to link (`?link=true`), as realm-web and realm-core send it. */
function isLinking(request: Request): boolean {
  return new URL(request.url).searchParams.get('link') === 'true';
}

// What the SDKs call that the gateway does not serve, by the error code core turns into a clear
// exception (realm-core's ErrorCodes), so an app learns what is missing, never from an HTML page.
const NOT_SERVED: ReadonlyArray<[RegExp, string, string]> = [
  [/^app\/[^/]+\/functions\//, 'FunctionNotFound', 'Atlas Functions are not served by this gateway'],
  [/^app\/[^/]+\/push\//, 'ServiceNotFound', 'push notifications are not served by this gateway'],
  [/^app\/[^/]+\/services?\//, 'ServiceNotFound', 'services are not served by this gateway'],
  [/^app\/[^/]+\/auth\/providers\/local-userpass\/(confirm|reset)\/call$/, 'NotCallable', 'custom confirmation and reset functions are not served by this gateway'],
  [/^app\/[^/]+\/auth\/providers\/(?!local-userpass\/|anon-user\/)[^/]+/, 'AuthProviderNotFound', 'this authentication provider is not served by this gateway: only local-userpass and anon-user are'],
  [/^auth\/api_keys/, 'NotFound', 'user API keys are not served by this gateway'],
];

/** A JSON 404 for a route the gateway does not serve, with the most telling error code it has. */
function notServed(request: Request, path: string): Response {
  const [, errorCode, why] = NOT_SERVED.find(([pattern]) => pattern.test(path)) ?? [null, 'NotFound', 'not supported by this gateway'];
  return signInErrorResponse(404, errorCode, `${request.method} ${CLIENT_API_PREFIX}${path.slice(0, 200)}: ${why}`);
}

/**
 * Every answer of this API with the headers its clients need: CORS, and for a JSON body exactly
 * `application/json`, the only content type realm-core (app_utils.cpp) reads `{error, error_code}` from.
 */
function withClientApiHeaders(response: Response): Response {
  if ((response.headers.get('content-type') ?? '').startsWith('application/json')) response.headers.set('content-type', 'application/json');
  for (const [name, value] of Object.entries(CORS_HEADERS)) response.headers.set(name, value);
  return response;
}

/** withClientApiHeaders, on an answer of the direct path. */
function withClientApiAnswerHeaders(answer: JsonAnswer): JsonAnswer {
  const headers: Record<string, string> = { ...answer.headers, ...CORS_HEADERS };
  if ((headers['content-type'] ?? '').startsWith('application/json')) headers['content-type'] = 'application/json';
  return { ...answer, headers };
}

/** The routes of this API the direct path (./direct.ts) answers: they read no body. */
export const DIRECT_CLIENT_ROUTES: Readonly<Record<string, string>> = {
  [`${CLIENT_API_PREFIX}auth/profile`]: 'GET',
  [`${CLIENT_API_PREFIX}auth/session`]: 'POST',
};

export interface ClientApi {
  /** Answers a request whose path starts with CLIENT_API_PREFIX; `address` is the client's, for the login limits. */
  handle(request: Request, requestId: string, address: string): Promise<Response>;
  /** Answers /introspect: the admin key from the headers first, then the body. */
  introspect(request: Request, requestId: string, address: string): Promise<Response>;
  /**
   * A POST /introspect on the direct path (./direct.ts), whose body declares a length of at most
   * MAX_SIGN_IN_BODY_BYTES: `readBody` is called only once the admin key works.
   */
  introspectPost(authorization: string | null, contentType: string, readBody: () => Promise<string>, address: string): JsonAnswer | Promise<JsonAnswer>;
  /** GET …/auth/profile or POST …/auth/session (DIRECT_CLIENT_ROUTES) without a body, on the direct path. */
  answerDirect(pathname: string, authorization: string | null, requestId: string): Promise<JsonAnswer>;
}

export function createClientApi(
  auth: AuthDeps,
  limits: Partial<Pick<Limiters, 'login' | 'signUp'>>,
  authenticate: AuthenticateAdminKey,
  linkedData: readonly LinkedTable[] = [],
): ClientApi {
  const { settings } = auth;
  const logger: Logger = auth.logger;
  const methodNotAllowed = (allow: string) => signInErrorResponse(405, 'MethodNotAllowed', `use ${allow} here`, { allow });

  /** Counts one attempt of `key` under the sign-up limit `limit` (src/limits): its 429 when refused, else null. */
  async function signUpRefusal(limit: keyof SignUpLimiters, key: string, what: string): Promise<Response | null> {
    const refusal = await limits.signUp?.[limit].count(key);
    return refusal ? tooManyRequests(limit, refusal.retryAfter, what) : null;
  }

  async function appRoute(request: Request, rest: string, requestId: string, address: string): Promise<Response> {
    const actor: Actor = { type: 'user', userId: null, requestId };
    /** A POST route; `perAddress` names the sign-up limit counting every POST from the address, before its body is read. */
    const post = async (
      handler: (body: Record<string, unknown>) => Promise<Response>,
      perAddress?: { limit: keyof SignUpLimiters; what: string },
    ): Promise<Response> => {
      if (request.method !== 'POST') return methodNotAllowed('POST');
      const refused = perAddress && (await signUpRefusal(perAddress.limit, address, perAddress.what));
      return refused || handler(await readJsonBody(request));
    };
    /**
     * A POST that mails the body's `email`: counted per address before the body is read, then per
     * recipient too, so many addresses cannot flood one mailbox.
     */
    const postMail = (send: (email: string) => Promise<unknown>, perAddressWhat: string) =>
      post(
        async (body) => {
          const email = stringField(body, 'email');
          const refused = await signUpRefusal('mailPerEmail', email.trim().toLowerCase(), 'too many mails asked for this email address');
          if (refused) return refused;
          await send(email);
          return noContent();
        },
        { limit: 'confirmSendPerAddress', what: perAddressWhat },
      );

    switch (rest) {
      case 'location': {
        if (request.method !== 'GET') return methodNotAllowed('GET');
        const hostname = publicUrlFor(settings, request);
        return reply({
          deployment_model: 'GLOBAL',
          location: 'LOCAL',
          hostname,
          ws_hostname: hostname.replace(/^http/, 'ws'),
        });
      }
      case `auth/providers/${LOCAL_USERPASS}/register`:
        // Every sign-up counts (each costs a password hash, even for a taken email).
        return post(
          async (body) => {
            const email = stringField(body, 'email');
            const password = stringField(body, 'password');
            await registerUser(auth, actor, { email, password }, publicUrlFor(settings, request));
            return reply({}, 201);
          },
          { limit: 'registerPerAddress', what: 'too many sign-ups from this address' },
        );
      case `auth/providers/${LOCAL_USERPASS}/confirm`:
        return post(async (body) => {
          await confirmWithToken(auth, actor, { token: stringField(body, 'token'), tokenId: stringField(body, 'tokenId') });
          return noContent();
        });
      case `auth/providers/${LOCAL_USERPASS}/confirm/send`:
        return postMail(
          (email) => resendConfirmationByEmail(auth, actor, email, publicUrlFor(settings, request)),
          'too many confirmation mails asked from this address',
        );
      case `auth/providers/${LOCAL_USERPASS}/login`:
        return post(async (body) => {
          const username = stringField(body, 'username');
          const password = stringField(body, 'password');
          // The linking user's access token is checked before any password, so a guess needs a live session too.
          const linking = isLinking(request) ? requireBearer(request) : null;
          // Failed logins are limited per address and per account (src/limits). The attempt is
          // counted before its password is checked and handed back if it was right, so concurrent
          // guesses cannot all be checked before the first failure counts; past the limit, the
          // password is not even checked.
          const attempt = limits.login ? await limits.login.attempt(address, username) : null;
          if (attempt && isRefusal(attempt)) return tooManyRequests('login', attempt.retryAfter, 'too many failed logins');
          if (linking) {
            let linked;
            try {
              linked = await linkWithPassword(auth, linking, { username, password }, requestId);
            } catch (err) {
              if (err instanceof InvalidCredentialsError) attempt?.failed();
              else attempt?.abandoned();
              throw err;
            }
            await attempt?.succeeded();
            // The linking user, with a new access token of its own session; its refresh token is unchanged.
            return reply({ access_token: linked.accessToken, user_id: linked.userId, device_id: linked.deviceId });
          }
          let session;
          try {
            session = await logInWithPassword(auth, { username, password }, { device: deviceOf(body), requestId });
          } catch (err) {
            if (err instanceof InvalidCredentialsError) attempt?.failed();
            else attempt?.abandoned();
            throw err;
          }
          await attempt?.succeeded();
          return reply({
            access_token: session.accessToken,
            refresh_token: session.refreshToken,
            user_id: session.userId,
            device_id: session.deviceId,
          });
        });
      case `auth/providers/${ANON_USER}/login`:
        if (isLinking(request)) {
          // What realm-core refuses on its side too (ClientUserAlreadyNamed): an anonymous identity adds nothing.
          return signInErrorResponse(400, 'BadRequest', 'cannot link anonymous credentials to an existing user');
        }
        if (!settings.anonymousAuth) {
          // What Atlas App Services answers for a provider that is not enabled.
          return signInErrorResponse(401, 'AuthProviderNotFound', `authentication via '${ANON_USER}' is unsupported`);
        }
        // Every anonymous login makes a user: each one counts.
        return post(
          async (body) => {
            const session = await logInAnonymously(auth, { device: deviceOf(body), requestId });
            return reply({
              access_token: session.accessToken,
              refresh_token: session.refreshToken,
              user_id: session.userId,
              device_id: session.deviceId,
            });
          },
          { limit: 'anonLoginPerAddress', what: 'too many anonymous logins from this address' },
        );
      case `auth/providers/${LOCAL_USERPASS}/reset/send`:
        // Counted as confirmation mails are, under the same limits. The same answer whether or not
        // the address has an account that can reset.
        return postMail(
          (email) => sendPasswordResetByEmail(auth, actor, email, publicUrlFor(settings, request)),
          'too many mails asked from this address',
        );
      case `auth/providers/${LOCAL_USERPASS}/reset`:
        return post(async (body) => {
          await resetPassword(auth, actor, {
            password: stringField(body, 'password'),
            token: stringField(body, 'token'),
            tokenId: stringField(body, 'tokenId'),
          });
          return noContent();
        });
      default:
        return notServed(request, `app/${settings.appId}/${rest}`);
    }
  }

  async function route(request: Request, requestId: string, address: string): Promise<Response> {
    const path = new URL(request.url).pathname.slice(CLIENT_API_PREFIX.length);
    const appMatch = /^app\/([^/]+)\/(.+)$/.exec(path);
    if (appMatch) {
      let appId: string;
      try {
        appId = decodeURIComponent(appMatch[1]!);
      } catch {
        appId = appMatch[1]!;
      }
      if (appId !== settings.appId) {
        return signInErrorResponse(404, 'AppNotFound', `cannot find app using Client App ID '${appId.slice(0, 128)}'`);
      }
      return appRoute(request, appMatch[2]!.replace(/\/+$/, ''), requestId, address);
    }
    if (path === 'auth/profile') {
      if (request.method !== 'GET') return methodNotAllowed('GET');
      const { user, identities } = await profileOf(auth, requireBearer(request));
      return reply(profileBody(settings.appId, user, identities));
    }
    if (path === 'auth/delete') {
      if (request.method !== 'DELETE') return methodNotAllowed('DELETE');
      const verified = await verifyAccessToken(requireBearer(request), auth.verifier);
      // The operator's deleteUser, with the user as the actor: same plan, same effects, the app's
      // linked rows left as LINKED_DATA_FILE declares them (never purged from here).
      await deleteUser(auth.db, { type: 'user', userId: verified.userId, requestId }, verified.userId, { linkedData });
      return noContent();
    }
    if (path === 'auth/session') {
      if (request.method === 'POST') {
        return reply(await refreshAccessToken(auth, requireBearer(request)).then((r) => ({ access_token: r.accessToken })), 201);
      }
      if (request.method === 'DELETE') {
        await logOut(auth, requireBearer(request), requestId);
        return noContent();
      }
      return methodNotAllowed('POST, DELETE');
    }
    return notServed(request, path);
  }

  /**
   * /introspect, once the admin key is known: the token of the body, checked. Plain data, from what
   * it needs of the request, for the Fetch-API path and the direct one (./direct.ts) alike. Without
   * a promise of its own beyond the body's when the check needs no database (issue 18).
   */
  function introspect(method: string, adminKey: AdminKeyRow | null, contentType: string, readBody: () => Promise<string>): JsonAnswer | Promise<JsonAnswer> {
    if (method !== 'POST') return introspectionError(405, 'invalid_request', 'use POST', { allow: 'POST' });
    if (!adminKey) {
      return introspectionError(401, 'invalid_client', ADMIN_KEY_REQUIRED.message, ADMIN_KEY_REQUIRED.headers);
    }
    return readBody().then((text) => introspectBody(contentType, text), badRequestOr);
  }

  /** The answer to an introspection request whose body is `text`. */
  function introspectBody(contentType: string, text: string): JsonAnswer | Promise<JsonAnswer> {
    let token: unknown;
    try {
      boundedBodyText(text);
      token = contentType.startsWith('application/x-www-form-urlencoded') ? formToken(text) : parseJsonObject(text).token;
    } catch (err) {
      return badRequestOr(err);
    }
    if (typeof token !== 'string' || token === '') {
      return introspectionError(400, 'invalid_request', 'send the token to check as "token" (form or JSON body)');
    }
    let verified: VerifiedAccessToken | undefined;
    try {
      verified = verifyAccessTokenNow(token, auth.verifier);
    } catch (err) {
      return inactiveOr(err);
    }
    if (verified) return introspectionAnswer(verified);
    return verifyAccessToken(token, auth.verifier).then(introspectionAnswer, inactiveOr);
  }

  return {
    async handle(incoming, requestId, address) {
      // The body is read first, bounded: every route here reads one, before anything else.
      const request = await withBoundedBody(incoming);
      if (!request) return withClientApiHeaders(refusalResponse('payloadTooLarge', 'gateway', requestId));
      let response: Response;
      if (request.method === 'OPTIONS') {
        response = new Response(null, { status: 204 });
      } else {
        try {
          response = await route(request, requestId, address);
        } catch (err) {
          try {
            response = signInFailureResponse(err);
          } catch (unexpected) {
            // A database fault (503) or a bug (500), answered here so it gets this API's headers too.
            response = thrownErrorResponse(unexpected, new URL(request.url).pathname, requestId, logger);
          }
        }
      }
      return withClientApiHeaders(response);
    },

    async introspect(incoming, requestId, address) {
      const adminKey = incoming.method === 'POST' ? await authenticate(incoming.headers.get('authorization'), address) : null;
      if (!adminKey) return toResponse(await introspect(incoming.method, null, '', () => Promise.resolve('')));
      const request = await withBoundedBody(incoming);
      if (!request) return refusalResponse('payloadTooLarge', 'gateway', requestId);
      return toResponse(await introspect(request.method, adminKey, request.headers.get('content-type') ?? '', () => readBodyText(request)));
    },

    async answerDirect(pathname, authorization, requestId) {
      let answer: JsonAnswer;
      try {
        if (pathname === `${CLIENT_API_PREFIX}auth/profile`) {
          const { user, identities } = await profileOf(auth, requireBearerOf(authorization));
          answer = jsonAnswer(profileBody(settings.appId, user, identities), 200, SIGN_IN_HEADERS);
        } else {
          const refreshed = await refreshAccessToken(auth, requireBearerOf(authorization));
          answer = jsonAnswer({ access_token: refreshed.accessToken }, 201, SIGN_IN_HEADERS);
        }
      } catch (err) {
        let response: Response;
        try {
          response = signInFailureResponse(err);
        } catch (unexpected) {
          response = thrownErrorResponse(unexpected, pathname, requestId, logger);
        }
        answer = await answerOf(response);
      }
      return withClientApiAnswerHeaders(answer);
    },

    introspectPost(authorization, contentType, readBody, address) {
      const adminKey = authenticate(authorization, address);
      if (adminKey instanceof Promise) return adminKey.then((key) => introspect('POST', key, contentType, readBody));
      return introspect('POST', adminKey, contentType, readBody);
    },
  };
}
