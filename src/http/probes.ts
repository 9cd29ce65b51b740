// The probes of load balancers and orchestrators: GET /health, /live and /ready.
import type { DatabaseHandle } from '../db/client.js';
import { pendingMigrationCount } from '../db/migrate.js';
import { json, NO_STORE } from './json.js';

export const PROBE_PATHS = ['/health', '/live', '/ready'] as const;

/**
 * The probes' answers, by path. `isStopping` is true once a shutdown has begun: /ready answers 503
 * so balancers stop sending requests.
 */
export function createProbes(database: DatabaseHandle, isStopping?: () => boolean): Record<(typeof PROBE_PATHS)[number], () => Promise<Response>> {
  return {
    /** The database answers. */
    async '/health'() {
      const ok = await database.ping();
      return json({ status: ok ? 'ok' : 'unavailable' }, ok ? 200 : 503, NO_STORE);
    },
    /** The process answers. */
    async '/live'() {
      return json({ status: 'ok' }, 200, NO_STORE);
    },
    /** Readiness: not stopping, the database answers, and it has every migration this build ships. */
    async '/ready'() {
      if (isStopping?.()) return json({ status: 'stopping' }, 503, NO_STORE);
      if (!(await database.ping())) return json({ status: 'unavailable' }, 503, NO_STORE);
      const pending = await pendingMigrationCount(database);
      if (pending > 0) return json({ status: 'migrations pending', pendingMigrations: pending }, 503, NO_STORE);
      return json({ status: 'ready' }, 200, NO_STORE);
    },
  };
}

export function isProbePath(pathname: string): pathname is (typeof PROBE_PATHS)[number] {
  return (PROBE_PATHS as readonly string[]).includes(pathname);
}
