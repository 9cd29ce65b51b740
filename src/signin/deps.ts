import type { RevocationFeed } from '../changefeed/feed.js';
import { defaultAuthSettings, type AuthSettings } from '../config.js';
import type { Database } from '../db/client.js';
import type { Logger } from '../logger.js';
import { defaultMailTemplates, type MailTemplates } from '../mail/templates.js';
import { createRefreshTokenKeys, type RefreshTokenKeys } from '../tokens/refresh-tokens.js';
import { createTokenKeys, type TokenKeys } from '../tokens/tokens.js';
import { databaseSessionStates, type AccessTokenVerifier, type SessionStateSource } from '../tokens/verify.js';

/** What the sign-in services need, built once per app instance. */
export interface AuthDeps {
  db: Database;
  logger: Logger;
  settings: AuthSettings;
  keys: TokenKeys;
  /** The refresh tokens' own key, never the access tokens'. */
  refreshKeys: RefreshTokenKeys;
  verifier: AccessTokenVerifier;
  /** What each kind of mail says (MAIL_TEMPLATES_DIR, or the defaults). */
  mailTemplates: MailTemplates;
}

export function createAuthDeps(input: {
  db: Database;
  logger: Logger;
  settings?: Partial<AuthSettings>;
  mailTemplates?: MailTemplates;
  /** Where token checks read session state; by default straight from the database. */
  sessions?: SessionStateSource;
  /** Tells the signing-key ring of rotations made on other instances. */
  revocations?: RevocationFeed;
}): AuthDeps {
  const settings = { ...defaultAuthSettings, ...input.settings };
  const keys = createTokenKeys(input.db, settings, input.revocations);
  return {
    db: input.db,
    logger: input.logger,
    settings,
    keys,
    refreshKeys: createRefreshTokenKeys(input.db, settings),
    verifier: { keys, sessions: input.sessions ?? databaseSessionStates(input.db) },
    mailTemplates: input.mailTemplates ?? defaultMailTemplates,
  };
}

/**
 * The base URL clients reach this server at: PUBLIC_URL, from configuration only. The request is
 * not consulted: its Host header is the client's choice, and a link built from it would hand a
 * victim's confirmation token to whoever sent it (account pre-hijack).
 */
export function publicUrlFor(settings: AuthSettings, _request?: Request): string {
  return settings.publicUrl;
}
