import { resolve } from 'node:path';
import { parseTrustProxy, type TrustProxy } from './client-address.js';
import type { DatabaseTarget } from './db/client.js';
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
  /** Connection cap and timeouts of the HTTP server (MAX_CONNECTIONS, HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS). */
  http: HttpServerSettings;
  db: { poolMax: number; connectTimeoutMs: number; statementTimeoutMs: number; lockTimeoutMs: number };
  /** Where GET /metrics is served without a key (METRICS_PORT); null: on PORT, behind an admin key. */
  metricsPort: number | null;
  /** How long a shutdown waits for the requests in flight (SHUTDOWN_GRACE_MS). */
  shutdownGraceMs: number;
  auth: AuthSettings;
  /** A JSON file declaring the app's tables that point at users (LINKED_DATA_FILE); checked at start. */
  linkedDataFile: string | null;
}

/** The app-facing sign-in API (the Realm client API v2.0). One app per deployment. */
export interface AuthSettings {
  /** The client app id the SDKs are configured with (APP_ID); any other id is a 404. */
  appId: string;
  /** This server's public base URL, returned by /location (PUBLIC_URL); null: the request's own origin. */
  publicUrl: string | null;
  /** New sign-ups are confirmed at once instead of pending (AUTO_CONFIRM). */
  autoConfirm: boolean;
  /** The access-token signing secret (JWT_SECRET); null: one is generated once and kept in the database. */
  jwtSecret: string | null;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  confirmationTokenTtlSeconds: number;
  /** The app's page that confirms a sign-up (CONFIRMATION_URL); null: <public URL>/confirm. */
  confirmationUrl: string | null;
}

export const defaultAuthSettings: AuthSettings = {
  appId: 'app-users-gateway',
  publicUrl: null,
  autoConfirm: false,
  jwtSecret: null,
  accessTokenTtlSeconds: 30 * 60,
  refreshTokenTtlSeconds: 60 * 24 * 60 * 60,
  confirmationTokenTtlSeconds: 30 * 60,
  confirmationUrl: null,
};

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

function authSettings(env: Env): AuthSettings {
  const appId = env.APP_ID?.trim() || defaultAuthSettings.appId;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(appId)) {
    throw new ConfigError(`APP_ID may hold only letters, digits, "-", "_" and "." (at most 128); got "${appId.slice(0, 40)}".`);
  }
  const jwtSecret = env.JWT_SECRET?.trim() || null;
  if (jwtSecret && jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 characters long (it signs every access token); or leave it unset to have one generated.');
  }
  const day = 24 * 60 * 60;
  return {
    appId,
    publicUrl: baseUrl(env, 'PUBLIC_URL'),
    autoConfirm: boolean(env, 'AUTO_CONFIRM', defaultAuthSettings.autoConfirm),
    jwtSecret,
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
  };
}

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
  return { maxConnections: integer(env, 'MAX_CONNECTIONS', 1_000, 1, 1_000_000), headersTimeoutMs, requestTimeoutMs };
}

function metricsPort(env: Env): number | null {
  if (!env.METRICS_PORT?.trim()) return null;
  const port = integer(env, 'METRICS_PORT', 0, 1, 65_535);
  if (String(port) === env.PORT?.trim() || (port === 4000 && !env.PORT?.trim())) {
    throw new ConfigError(`METRICS_PORT must differ from PORT; both are ${port}.`);
  }
  return port;
}

/** Reads and checks the environment once, at start; every message names the variable at fault. */
export function loadConfig(env: Env = process.env): Config {
  const url = env.DATABASE_URL?.trim();
  if (url && !/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql://; got "${url.slice(0, 40)}".`);
  }
  const adminApiKey = env.ADMIN_API_KEY?.trim() || null;
  if (adminApiKey && adminApiKey.length < 16) {
    throw new ConfigError('ADMIN_API_KEY must be at least 16 characters long: it is the owner key of the gateway.');
  }
  return {
    port: integer(env, 'PORT', 4000, 0, 65_535),
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
    auth: authSettings(env),
    linkedDataFile: env.LINKED_DATA_FILE?.trim() ? resolve(env.LINKED_DATA_FILE.trim()) : null,
  };
}
