import type { Actor } from './audit/log.js';
import type { AuthDeps } from './signin/deps.js';
import type { Database } from './db/client.js';
import type { AdminKeyRow } from './db/schema.js';
import type { LinkedTable } from './linked-data/index.js';
import type { WebhookServiceSettings } from './webhooks/service.js';

/** Built once per GraphQL request, after the admin key has been checked. */
export interface Context {
  db: Database;
  /** The admin key the request was made with. */
  adminKey: AdminKeyRow;
  /** The same key as the audit trail records it. */
  actor: Actor;
  requestId: string;
  /** The sign-in side, for mutations that mail users (resendConfirmation). */
  auth: AuthDeps;
  /** The base URL clients reach the gateway at, for links in mail. */
  publicUrl: string;
  /** The app's own tables that point at users (LINKED_DATA_FILE), as checked at start. */
  linkedData: readonly LinkedTable[];
  /** Which endpoint URLs are allowed and how signing secrets are stored (WEBHOOK_ALLOW_PRIVATE, WEBHOOK_SECRET_KEY). */
  webhooks: WebhookServiceSettings;
}

export function createContext(
  db: Database,
  adminKey: AdminKeyRow,
  requestId: string,
  signIn: { auth: AuthDeps; publicUrl: string },
  linkedData: readonly LinkedTable[] = [],
  webhooks: WebhookServiceSettings = { allowPrivate: false, secretKey: null },
): Context {
  return {
    db,
    adminKey,
    actor: { type: 'admin', keyId: adminKey.id, keyName: adminKey.name, requestId },
    requestId,
    auth: signIn.auth,
    publicUrl: signIn.publicUrl,
    linkedData,
    webhooks,
  };
}
