import type { Actor } from './audit/log.js';
import type { Database } from './db/client.js';
import type { AdminKeyRow } from './db/schema.js';

/** Built once per GraphQL request, after the admin key has been checked. */
export interface Context {
  db: Database;
  /** The admin key the request was made with. */
  operator: AdminKeyRow;
  /** The same key as the audit trail records it. */
  actor: Actor;
  requestId: string;
}

export function createContext(db: Database, operator: AdminKeyRow, requestId: string): Context {
  return {
    db,
    operator,
    actor: { type: 'admin', keyId: operator.id, keyName: operator.name, requestId },
    requestId,
  };
}
