// The gateway's Prometheus metrics. One set per process, on purpose: Prometheus scrapes a process,
// and any module (the admin services, the sign-in API) counts what it does by importing from here.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type pg from 'pg';
import type { RevokeReason } from './db/schema.js';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const registers = [registry];
const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Requests answered since the last collection, by series (see countHttpRequest). */
const uncountedRequests = new Map<string, { labels: { route: string; method: string; status: string }; count: number }>();

const httpRequests = new Counter({
  name: 'gateway_http_requests_total',
  help: 'HTTP requests answered, by route and status.',
  labelNames: ['route', 'method', 'status'] as const,
  registers,
  collect() {
    for (const pending of uncountedRequests.values()) this.inc(pending.labels, pending.count);
    uncountedRequests.clear();
  },
});

/**
 * Counts an answered request in gateway_http_requests_total. Added up here and handed to the counter
 * when it is read (a scrape), not on every request: prom-client hashes the labels of each increment
 * (issue 18). The series are few (the route labels are bounded).
 */
export function countHttpRequest(route: string, method: string, status: string): void {
  const series = `${route} ${method} ${status}`;
  const pending = uncountedRequests.get(series);
  if (pending) pending.count += 1;
  else uncountedRequests.set(series, { labels: { route, method, status }, count: 1 });
}

export const httpRequestDuration = new Histogram({
  name: 'gateway_http_request_duration_seconds',
  help: 'Time to answer an HTTP request, by route and status.',
  labelNames: ['route', 'status'] as const,
  buckets: latencyBuckets,
  registers,
});

export const graphqlOperations = new Counter({
  name: 'gateway_graphql_operations_total',
  help: 'GraphQL operations executed, by operation name, type and outcome (success: no error; error: any).',
  labelNames: ['operation', 'type', 'outcome'] as const,
  registers,
});

export const graphqlOperationDuration = new Histogram({
  name: 'gateway_graphql_operation_duration_seconds',
  help: 'Time from parsing a GraphQL request to its result, by operation name, type and outcome.',
  labelNames: ['operation', 'type', 'outcome'] as const,
  buckets: latencyBuckets,
  registers,
});

export const graphqlErrors = new Counter({
  name: 'gateway_graphql_errors_total',
  help: 'Errors in GraphQL results, by operation name and extensions.code.',
  labelNames: ['operation', 'code'] as const,
  registers,
});

export const databaseFaults = new Counter({
  name: 'gateway_database_faults_total',
  help: 'Requests failed by a database fault: unavailable, busy (pool exhausted), lock_timeout, statement_timeout, conflict.',
  labelNames: ['kind'] as const,
  registers,
});

export const mailDeliveries = new Counter({
  name: 'gateway_mails_total',
  help: 'Delivery attempts of mail_outbox rows by this instance, by outcome: sent, retried (a temporary failure; tried again later), failed (a permanent rejection, or given up after a day).',
  labelNames: ['outcome'] as const,
  registers,
});

export const mailOldestUnsentAge = new Gauge({
  name: 'gateway_mail_oldest_unsent_age_seconds',
  help: 'Age of the oldest mail in mail_outbox that is neither sent nor failed, as of the mail worker\'s last poll; 0 when there is none.',
  registers,
});

export const sessionsRevoked = new Counter({
  name: 'gateway_sessions_revoked_total',
  help: 'Refresh tokens revoked, counted once their transaction committed, by reason.',
  labelNames: ['reason'] as const,
  registers,
});

export const loginsFailed = new Counter({
  name: 'gateway_logins_failed_total',
  help: 'Failed logins through the sign-in API, by provider and reason.',
  labelNames: ['provider', 'reason'] as const,
  registers,
});

export const passwordHashes = new Counter({
  name: 'gateway_password_hashes_total',
  help: 'Password hashes started (Argon2id, or an older or imported form when checking one): kind "new" (a sign-up, a new password), "check" (a login).',
  labelNames: ['kind'] as const,
  registers,
});

export const requestsLimited = new Counter({
  name: 'gateway_requests_limited_total',
  help: 'Requests refused by a rate limit (429) or because password hashing was saturated (503), by limit.',
  labelNames: ['limit'] as const,
  registers,
});

export const webhookDeliveries = new Counter({
  name: 'gateway_webhook_deliveries_total',
  help: 'Webhook delivery attempts, by outcome: delivered (2xx), retry (failed, tried again later), failed (the last retry failed).',
  labelNames: ['outcome'] as const,
  registers,
});

export const webhookOldestPending = new Gauge({
  name: 'gateway_webhook_oldest_pending_seconds',
  help: 'Age of the oldest webhook delivery not yet delivered nor failed, as this instance last saw it (0: none).',
  registers,
});

/** Call after the transaction that revoked the sessions has committed. */
export function recordSessionsRevoked(reason: RevokeReason, count: number): void {
  if (count > 0) sessionsRevoked.inc({ reason }, count);
}

const pools = new Set<pg.Pool>();

function poolGauge(name: string, help: string, read: (pool: pg.Pool) => number) {
  return new Gauge({
    name,
    help,
    registers,
    collect() {
      let sum = 0;
      for (const pool of pools) {
        if (pool.ending) pools.delete(pool);
        else sum += read(pool);
      }
      this.set(sum);
    },
  });
}

poolGauge('gateway_db_pool_connections', 'Open connections of the PostgreSQL pool (idle and in use).', (p) => p.totalCount);
poolGauge('gateway_db_pool_idle_connections', 'Open connections of the PostgreSQL pool not in use.', (p) => p.idleCount);
poolGauge('gateway_db_pool_waiting_requests', 'Requests waiting for a pooled connection.', (p) => p.waitingCount);
poolGauge('gateway_db_pool_max_connections', 'The pool size limit (DB_POOL_MAX).', (p) => p.options.max ?? 10);

/** Reports this pool in the pool gauges until it is ended. */
export function observePool(pool: pg.Pool): void {
  pools.add(pool);
}

// Operation names come from clients: beyond this many distinct ones, the rest share "other", so a
// client inventing names cannot grow the metrics without bound.
const MAX_OPERATION_NAMES = 200;
const operationNames = new Set<string>();

export function operationLabel(name: string | null | undefined): string {
  if (!name) return 'anonymous';
  if (operationNames.has(name)) return name;
  if (name.length > 100 || operationNames.size >= MAX_OPERATION_NAMES) return 'other';
  operationNames.add(name);
  return name;
}

/** The exposition: Prometheus text format. */
export async function renderMetrics(): Promise<{ body: string; contentType: string }> {
  return { body: await registry.metrics(), contentType: registry.contentType };
}
