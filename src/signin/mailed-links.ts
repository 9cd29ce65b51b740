// The links mailed to users (`…?token=…&tokenId=…`: email confirmation, password reset), as the
// routes that take them back read them: checked, then used up and their user locked, or refused.
import type { Executor } from '../db/client.js';
import { UUID_PATTERN } from '../db/keyset.js';
import type { UserRow, UserTokenRow } from '../db/schema.js';
import { hashToken } from '../tokens/tokens.js';
import * as users from '../users/repository.js';
import { InvalidUserTokenError } from './errors.js';
import { consumeUserToken } from './user-tokens.js';

export interface MailedLink {
  token: string;
  tokenId: string;
}

/** InvalidUserTokenError for a link that cannot be one of ours, before any work is done for it. */
export function checkMailedLink(link: MailedLink): void {
  if (!UUID_PATTERN.test(link.tokenId) || link.token.length > 256) throw new InvalidUserTokenError();
}

/**
 * Uses up the link's token (it must be of `purpose`, unused and unexpired) and locks its user, in
 * the caller's transaction; InvalidUserTokenError otherwise, so the transaction changes nothing.
 */
export async function lockUserOfMailedLink(tx: Executor, link: MailedLink, purpose: UserTokenRow['purpose']): Promise<UserRow> {
  const userId = await consumeUserToken(tx, { id: link.tokenId.toLowerCase(), tokenHash: hashToken(link.token), purpose });
  const [user] = userId ? await users.lockUsers(tx, [userId]) : [];
  if (!user) throw new InvalidUserTokenError();
  return user;
}
