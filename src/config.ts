import { resolve } from 'node:path';
import { parseTrustProxy, type TrustProxy } from './client-address.js';
import type { DatabaseTarget } from './db/client.js';
import type { AttemptLimit } from './limits/attempts.js';
import { defaultRateLimits, type RateLimits } from './limits/defaults.js';
import type { HttpServerSettings } from './http-server.js';

export interface Config {
  port: number;
  host: string;
  database: DatabaseTarget;
  /** A secret that is made to exist as an owner admin key at start (ADMIN_API_KEY). */
  adminApiKey: string | null;
  production: boolean;
  /** Serve GraphiQL at GET /graphql to browsers (GRAPHIQL); on by default, NODE_ENV does not change it. */
  graphiql: boolean;
  /** Which proxies in front may say who the client is in X-Forwarded-For, for the rate limits (TRUST_PROXY). */
  trustProxy: TrustProxy;
  /** Origins whose pages may call /graphql from a browser (CORS_ORIGINS); empty: none, `['*']`: any. */
  corsOrigins: readonly string[];
  /** Connection cap and timeouts of the HTTP server (MAX_CONNECTIONS, HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS). */
  http: HttpServerSettings;
  db: { poolMax: number; connectTimeoutMs: number; statementTimeoutMs: number; lockTimeoutMs: number };
  /** Where GET /metrics is served without a key (METRICS_PORT); null: on PORT, behind an admin key. */
  metricsPort: number | null;
  /** How long a shutdown waits for the requests in flight (SHUTDOWN_GRACE_MS). */
  shutdownGraceMs: number;
  auth: AuthSettings;
  /** A JSON file declaring the app's tables that point at users (LINKED_DATA_FILE); checked at start. */
  linkedDataFile: string | null;
  /** Rate limits and password-hashing bounds (*_LIMIT, PASSWORD_HASH_*); see rateLimits() below. */
  limits: RateLimits;
  /** WEBHOOK_ALLOW_PRIVATE, WEBHOOK_SECRET_KEY, WEBHOOK_TIMEOUT_MS: see src/webhooks/settings.ts. */
  webhooks: { allowPrivate: boolean; secretKey: string | null; timeoutMs: number; retryDelaysMs?: number[] };
  mail: MailSettings;
  /**
   * What new users' ids look like in a new database (USER_ID_FORMAT; null when unset: objectid). A
   * database keeps the format it recorded first (src/users/ids.ts).
   */
  userIdFormat: UserIdFormat | null;
}

export const USER_ID_FORMATS = ['objectid', 'uuid'] as const;
export type UserIdFormat = (typeof USER_ID_FORMATS)[number];

function userIdFormat(env: Env): UserIdFormat | null {
  const raw = env.USER_ID_FORMAT?.trim().toLowerCase();
  if (!raw) return null;
  if (!(USER_ID_FORMATS as readonly string[]).includes(raw)) {
    throw new ConfigError(`USER_ID_FORMAT must be objectid or uuid; got "${env.USER_ID_FORMAT!.slice(0, 40)}".`);
  }
  return raw as UserIdFormat;
}

/** How mail leaves the gateway (src/mail/). */
export interface MailSettings {
  /** The SMTP server (SMTP_URL: smtp://user:pass@host:587 or smtps://…); null: mail stays in mail_outbox. */
  smtpUrl: string | null;
  /** The sender of every mail (MAIL_FROM). */
  from: string;
  /** A folder of templates that replace the defaults (MAIL_TEMPLATES_DIR); null: the defaults. */
  templatesDir: string | null;
}

/** The app-facing sign-in API (the Realm client API v2.0). One app per deployment. */
export interface AuthSettings {
  /** The client app id the SDKs are configured with (APP_ID); any other id is a 404. */
  appId: string;
  /**
   * This server's public base URL (PUBLIC_URL): what /location hands the SDKs and the origin of
   * confirmation links. Only ever from configuration, never from a request's Host header, which the
   * client chooses. Required in production; http://localhost:<PORT> in development.
   */
  publicUrl: string;
  /** New sign-ups are confirmed at once instead of pending (AUTO_CONFIRM). */
  autoConfirm: boolean;
  /** The HS256 access-token signing secret (JWT_SECRET), for back ends that verify with it; implies HS256. */
  jwtSecret: string | null;
  /**
   * How access tokens are signed (ACCESS_TOKEN_ALGORITHM). null: as the deployment's current key
   * is (HS256 for a deployment from before signing keys, or with JWT_SECRET), EdDSA for a new one.
   */
  accessTokenAlgorithm: AccessTokenAlgorithm | null;
  /** The `aud` of access tokens (ACCESS_TOKEN_AUDIENCE); null: the app id. */
  accessTokenAudience: readonly string[] | null;
  /** The `iss` of access tokens (ACCESS_TOKEN_ISSUER); null: the public URL. */
  accessTokenIssuer: string | null;
  /** Seals the private signing keys stored in the database (TOKEN_KEY_ENCRYPTION_SECRET); null: stored as they are. */
  tokenKeyEncryptionSecret: string | null;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  confirmationTokenTtlSeconds: number;
  /** The app's page that confirms a sign-up (CONFIRMATION_URL); null: <public URL>/confirm. */
  confirmationUrl: string | null;
  /** How long a password reset link works (PASSWORD_RESET_TOKEN_TTL_SECONDS). */
  passwordResetTokenTtlSeconds: number;
  /** The app's page that resets a password (PASSWORD_RESET_URL); null: <public URL>/reset-password. */
  passwordResetUrl: string | null;
  /** The anonymous provider (`anon-user`) is on (ANONYMOUS_AUTH); off, its login answers 401 AuthProviderNotFound. */
  anonymousAuth: boolean;
}

export const defaultAuthSettings: AuthSettings = {
  appId: 'app-users-gateway',
  publicUrl: 'http://localhost:4000',
  autoConfirm: false,
  jwtSecret: null,
  accessTokenAlgorithm: null,
  accessTokenAudience: null,
  accessTokenIssuer: null,
  tokenKeyEncryptionSecret: null,
  accessTokenTtlSeconds: 30 * 60,
  refreshTokenTtlSeconds: 60 * 24 * 60 * 60,
  confirmationTokenTtlSeconds: 30 * 60,
  confirmationUrl: null,
  passwordResetTokenTtlSeconds: 30 * 60,
  passwordResetUrl: null,
  anonymousAuth: true,
};

/** The algorithms access tokens may be signed with (ACCESS_TOKEN_ALGORITHM). */
export const ACCESS_TOKEN_ALGORITHMS = ['EdDSA', 'ES256', 'RS256', 'HS256'] as const;
export type AccessTokenAlgorithm = (typeof ACCESS_TOKEN_ALGORITHMS)[number];

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}; got "${raw}".`);
  }
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false; got "${env[name]}".`);
}

/** An absolute http(s) URL without a trailing slash, query or fragment; null when unset. */
function baseUrl(env: Env, name: string): string | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an absolute URL such as https://users.example.com; got "${raw.slice(0, 80)}".`);
  }
  if (!/^https?:$/.test(url.protocol) || url.search || url.hash || url.username) {
    throw new ConfigError(`${name} must be an http(s) URL without query, fragment or credentials; got "${raw.slice(0, 80)}".`);
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/**
 * PUBLIC_URL, required in production: links mailed to users (confirmation) carry live tokens, and
 * without it their origin would have to come from somewhere a client controls. As Keycloak does in
 * production mode, the gateway refuses to start instead. In development: http://localhost:<PORT>.
 */
function publicUrl(env: Env, port: number, required: boolean): string {
  const configured = baseUrl(env, 'PUBLIC_URL');
  if (configured) return configured;
  if (required && env.NODE_ENV === 'production') {
    throw new ConfigError(
      'PUBLIC_URL must be set in production (NODE_ENV=production): the base URL clients reach the gateway at, such as https://users.example.com. Confirmation links and /location are built from it, never from the Host header of a request.',
    );
  }
  return `http://localhost:${port}`;
}

function authSettings(env: Env, port: number, servesLinks: boolean): AuthSettings {
  const appId = env.APP_ID?.trim() || defaultAuthSettings.appId;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(appId)) {
    throw new ConfigError(`APP_ID may hold only letters, digits, "-", "_" and "." (at most 128); got "${appId.slice(0, 40)}".`);
  }
  const jwtSecret = env.JWT_SECRET?.trim() || null;
  if (jwtSecret && jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 characters long (it signs every access token); or leave it unset to have one generated.');
  }
  const algorithmName = env.ACCESS_TOKEN_ALGORITHM?.trim();
  const accessTokenAlgorithm = algorithmName
    ? ACCESS_TOKEN_ALGORITHMS.find((a) => a.toLowerCase() === algorithmName.toLowerCase())
    : jwtSecret
      ? 'HS256'
      : null;
  if (accessTokenAlgorithm === undefined) {
    throw new ConfigError(`ACCESS_TOKEN_ALGORITHM must be one of ${ACCESS_TOKEN_ALGORITHMS.join(', ')}; got "${algorithmName!.slice(0, 40)}".`);
  }
  if (jwtSecret && accessTokenAlgorithm !== 'HS256') {
    throw new ConfigError(
      `JWT_SECRET is the HS256 signing secret, but ACCESS_TOKEN_ALGORITHM is ${accessTokenAlgorithm}: unset JWT_SECRET (the gateway generates its ${accessTokenAlgorithm} key) or set ACCESS_TOKEN_ALGORITHM=HS256.`,
    );
  }
  const audience = env.ACCESS_TOKEN_AUDIENCE?.split(',').map((a) => a.trim()).filter(Boolean) ?? [];
  for (const aud of audience) {
    if (aud.length > 256 || /\s/.test(aud)) throw new ConfigError(`ACCESS_TOKEN_AUDIENCE holds comma-separated values of at most 256 characters, without spaces; got "${aud.slice(0, 40)}".`);
  }
  const issuer = env.ACCESS_TOKEN_ISSUER?.trim() || null;
  if (issuer && (issuer.length > 512 || /\s/.test(issuer))) {
    throw new ConfigError(`ACCESS_TOKEN_ISSUER must be at most 512 characters without spaces, such as https://users.example.com; got "${issuer.slice(0, 40)}".`);
  }
  const tokenKeyEncryptionSecret = env.TOKEN_KEY_ENCRYPTION_SECRET?.trim() || null;
  if (tokenKeyEncryptionSecret && tokenKeyEncryptionSecret.length < 32) {
    throw new ConfigError('TOKEN_KEY_ENCRYPTION_SECRET must be at least 32 characters long (it seals the private signing keys kept in the database).');
  }
  const day = 24 * 60 * 60;
  return {
    appId,
    publicUrl: publicUrl(env, port, servesLinks),
    autoConfirm: boolean(env, 'AUTO_CONFIRM', defaultAuthSettings.autoConfirm),
    jwtSecret,
    accessTokenAlgorithm,
    accessTokenAudience: audience.length > 0 ? audience : null,
    accessTokenIssuer: issuer,
    tokenKeyEncryptionSecret,
    accessTokenTtlSeconds: integer(env, 'ACCESS_TOKEN_TTL_SECONDS', defaultAuthSettings.accessTokenTtlSeconds, 60, day),
    refreshTokenTtlSeconds: integer(env, 'REFRESH_TOKEN_TTL_SECONDS', defaultAuthSettings.refreshTokenTtlSeconds, 3600, 365 * day),
    confirmationTokenTtlSeconds: integer(
      env,
      'CONFIRMATION_TOKEN_TTL_SECONDS',
      defaultAuthSettings.confirmationTokenTtlSeconds,
      60,
      30 * day,
    ),
    confirmationUrl: baseUrl(env, 'CONFIRMATION_URL'),
    passwordResetTokenTtlSeconds: integer(
      env,
      'PASSWORD_RESET_TOKEN_TTL_SECONDS',
      defaultAuthSettings.passwordResetTokenTtlSeconds,
      60,
      day,
    ),
    passwordResetUrl: baseUrl(env, 'PASSWORD_RESET_URL'),
    anonymousAuth: boolean(env, 'ANONYMOUS_AUTH', defaultAuthSettings.anonymousAuth),
  };
}

// ---- Rate limits (README: Security → Rate limits) ----

/** Each limit's variable; the value is "<count>/<window>", the window in s, m or h: "20/10m". */
export const RATE_LIMIT_VARIABLES = {
  adminKeyPerAddress: 'ADMIN_KEY_FAILURE_LIMIT',
  loginPerAddress: 'LOGIN_FAILURE_LIMIT',
  loginPerAccount: 'LOGIN_ACCOUNT_FAILURE_LIMIT',
  registerPerAddress: 'REGISTER_LIMIT',
  anonLoginPerAddress: 'ANON_LOGIN_LIMIT',
  confirmSendPerAddress: 'CONFIRM_SEND_LIMIT',
  mailPerEmail: 'MAIL_PER_EMAIL_LIMIT',
} as const satisfies Record<Exclude<keyof RateLimits, 'passwordHashing'>, string>;

const WINDOW_UNITS = { s: 1_000, m: 60_000, h: 3_600_000 } as const;

function attemptLimit(env: Env, name: string, fallback: AttemptLimit): AttemptLimit {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const match = /^(\d{1,7})\s*\/\s*(\d{1,6})\s*([smh])$/.exec(raw);
  const limit = match ? Number(match[1]) : 0;
  const windowMs = match ? Number(match[2]) * WINDOW_UNITS[match[3] as keyof typeof WINDOW_UNITS] : 0;
  if (limit < 1 || windowMs < 1_000 || windowMs > 7 * 24 * 3_600_000) {
    throw new ConfigError(`${name} must be "<count>/<window>" with a window in s, m or h of at most a week, such as "20/10m"; got "${raw.slice(0, 40)}".`);
  }
  return { limit, windowMs };
}

function rateLimits(env: Env): RateLimits {
  const limits = { ...defaultRateLimits };
  for (const [field, name] of Object.entries(RATE_LIMIT_VARIABLES) as [keyof typeof RATE_LIMIT_VARIABLES, string][]) {
    limits[field] = attemptLimit(env, name, defaultRateLimits[field]);
  }
  const hashing = defaultRateLimits.passwordHashing;
  limits.passwordHashing = {
    concurrency: integer(env, 'PASSWORD_HASH_CONCURRENCY', hashing.concurrency, 1, 64),
    maxQueued: {
      urgent: integer(env, 'PASSWORD_CHECK_QUEUE', hashing.maxQueued.urgent, 0, 100_000),
      deferrable: integer(env, 'PASSWORD_HASH_QUEUE', hashing.maxQueued.deferrable, 0, 100_000),
    },
  };
  return limits;
}

// ---- end of rate limits ----
function trustProxy(env: Env): TrustProxy {
  try {
    return parseTrustProxy(env.TRUST_PROXY);
  } catch (err) {
    throw new ConfigError(
      `TRUST_PROXY must be true or false, a number of proxies in front (1 to 32) or a comma-separated list of the proxies' addresses and CIDR ranges: ${(err as Error).message}.`,
    );
  }
}

/** CORS_ORIGINS: `*`, or comma-separated origins such as https://admin.example.com (scheme, host, port; no path). */
function corsOrigins(env: Env): string[] {
  const raw = env.CORS_ORIGINS?.trim();
  if (!raw) return [];
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.includes('*')) {
    if (entries.length > 1) throw new ConfigError(`CORS_ORIGINS is either * alone or a list of origins; got "${raw.slice(0, 80)}".`);
    return ['*'];
  }
  return entries.map((entry) => {
    let origin: string | null = null;
    try {
      origin = new URL(entry).origin;
    } catch {}
    if (!origin || origin === 'null' || origin !== entry.replace(/\/$/, '').toLowerCase()) {
      throw new ConfigError(`CORS_ORIGINS must list origins such as https://admin.example.com (no path); got "${entry.slice(0, 80)}".`);
    }
    return origin;
  });
}

function httpSettings(env: Env): HttpServerSettings {
  const headersTimeoutMs = integer(env, 'HEADERS_TIMEOUT_MS', 10_000, 100, 600_000);
  const requestTimeoutMs = integer(env, 'REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(`HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not be more than REQUEST_TIMEOUT_MS (${requestTimeoutMs}).`);
  }
  return {
    maxConnections: integer(env, 'MAX_CONNECTIONS', 1_000, 1, 1_000_000),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: integer(env, 'KEEP_ALIVE_TIMEOUT_MS', 65_000, 1_000, 600_000),
  };
}

function mailSettings(env: Env, publicUrl: string): MailSettings {
  const raw = env.SMTP_URL?.trim() || null;
  if (raw) {
    let url: URL | null = null;
    try {
      url = new URL(raw);
    } catch {}
    // Never echo the value: it may hold the SMTP password.
    if (!url || !/^smtps?:$/.test(url.protocol) || !url.hostname) {
      throw new ConfigError('SMTP_URL must be smtp://[user:password@]host[:port] (STARTTLS when the server offers it) or smtps://… (TLS from the start).');
    }
  }
  const from = env.MAIL_FROM?.trim() || `App Users <no-reply@${new URL(publicUrl).hostname}>`;
  if (/[\r\n]/.test(from) || !/^[^@<>\s]+@[^@<>\s]+$|<[^@<>\s]+@[^@<>\s]+>$/.test(from)) {
    throw new ConfigError(`MAIL_FROM must be an address, or a name and <address>, such as "App Users <no-reply@example.com>"; got "${from.slice(0, 80)}".`);
  }
  const dir = env.MAIL_TEMPLATES_DIR?.trim();
  return { smtpUrl: raw, from, templatesDir: dir ? resolve(dir) : null };
}

function metricsPort(env: Env): number | null {
  if (!env.METRICS_PORT?.trim()) return null;
  const port = integer(env, 'METRICS_PORT', 0, 1, 65_535);
  if (String(port) === env.PORT?.trim() || (port === 4000 && !env.PORT?.trim())) {
    throw new ConfigError(`METRICS_PORT must differ from PORT; both are ${port}.`);
  }
  return port;
}

function webhookSettings(env: Env): Config['webhooks'] {
  const secretKey = env.WEBHOOK_SECRET_KEY?.trim() || null;
  if (secretKey && secretKey.length < 32) {
    throw new ConfigError('WEBHOOK_SECRET_KEY must be at least 32 characters long (e.g. `openssl rand -base64 32`).');
  }
  return {
    allowPrivate: boolean(env, 'WEBHOOK_ALLOW_PRIVATE', false),
    secretKey,
    timeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    ...retryDelays(env),
  };
}

/** WEBHOOK_RETRY_DELAYS_MS: the waits before each retry, comma-separated milliseconds; unset: ~5 s, 30 s, 2 min, … ~24 h. */
function retryDelays(env: Env): { retryDelaysMs?: number[] } {
  const raw = env.WEBHOOK_RETRY_DELAYS_MS?.trim();
  if (!raw) return {};
  const delays = raw.split(',').map((d) => Number(d.trim()));
  if (delays.length > 50 || delays.some((d) => !Number.isInteger(d) || d < 0 || d > 7 * 86_400_000)) {
    throw new ConfigError(`WEBHOOK_RETRY_DELAYS_MS must be up to 50 comma-separated milliseconds (each at most a week); got "${raw.slice(0, 80)}".`);
  }
  return { retryDelaysMs: delays };
}

/**
 * Reads and checks the environment once, at start; every message names the variable at fault.
 * `servesLinks: false` is for the command-line tools (keys, check-db), which build no link and
 * answer no client: they do not need PUBLIC_URL in production.
 */
export function loadConfig(env: Env = process.env, options: { servesLinks?: boolean } = {}): Config {
  const url = env.DATABASE_URL?.trim();
  if (url && !/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql://; got "${url.slice(0, 40)}".`);
  }
  const adminApiKey = env.ADMIN_API_KEY?.trim() || null;
  if (adminApiKey && adminApiKey.length < 16) {
    throw new ConfigError('ADMIN_API_KEY must be at least 16 characters long: it is the owner key of the gateway.');
  }
  const port = integer(env, 'PORT', 4000, 0, 65_535);
  const auth = authSettings(env, port, options.servesLinks ?? true);
  return {
    port,
    host: env.HOST?.trim() || '0.0.0.0',
    database: url
      ? { kind: 'postgres', url }
      : { kind: 'embedded', dataDir: resolve(env.DATA_DIR?.trim() || '.data') },
    adminApiKey,
    production: env.NODE_ENV === 'production',
    graphiql: boolean(env, 'GRAPHIQL', true),
    trustProxy: trustProxy(env),
    corsOrigins: corsOrigins(env),
    http: httpSettings(env),
    db: {
      poolMax: integer(env, 'DB_POOL_MAX', 10, 1, 1_000),
      connectTimeoutMs: integer(env, 'DB_CONNECT_TIMEOUT_MS', 5_000, 100, 600_000),
      statementTimeoutMs: integer(env, 'DB_STATEMENT_TIMEOUT_MS', 15_000, 100, 3_600_000),
      lockTimeoutMs: integer(env, 'DB_LOCK_TIMEOUT_MS', 5_000, 100, 3_600_000),
    },
    metricsPort: metricsPort(env),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    auth,
    linkedDataFile: env.LINKED_DATA_FILE?.trim() ? resolve(env.LINKED_DATA_FILE.trim()) : null,
    limits: rateLimits(env),
    webhooks: webhookSettings(env),
    mail: mailSettings(env, auth.publicUrl),
    userIdFormat: userIdFormat(env),
  };
}
