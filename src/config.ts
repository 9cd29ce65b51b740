import { resolve } from 'node:path';
import type { DatabaseTarget } from './db/client.js';

export interface Config {
  port: number;
  host: string;
  database: DatabaseTarget;
  /** A secret that is made to exist as an owner admin key at start (ADMIN_API_KEY). */
  adminApiKey: string | null;
  production: boolean;
  db: { poolMax: number; connectTimeoutMs: number; statementTimeoutMs: number; lockTimeoutMs: number };
}

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
    db: {
      poolMax: integer(env, 'DB_POOL_MAX', 10, 1, 1_000),
      connectTimeoutMs: integer(env, 'DB_CONNECT_TIMEOUT_MS', 5_000, 100, 600_000),
      statementTimeoutMs: integer(env, 'DB_STATEMENT_TIMEOUT_MS', 15_000, 100, 3_600_000),
      lockTimeoutMs: integer(env, 'DB_LOCK_TIMEOUT_MS', 5_000, 100, 3_600_000),
    },
  };
}
