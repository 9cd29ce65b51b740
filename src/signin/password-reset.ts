// Password reset of email/password users: the link mailed on request (by the user through the client
// API's `reset/send`, or by an operator), and its use (`reset`), which sets the new password and
// revokes every session of the user.
import { audited, type Actor } from '../audit/log.js';
import { enqueueUserEvents } from '../webhooks/outbox.js';
import type { Executor } from '../db/client.js';
import type { MailRow, UserRow } from '../db/schema.js';
import { UserNotFoundError } from '../errors.js';
import { logMailQueued, queueMail } from '../mail/outbox.js';
import { recordSessionsRevoked } from '../metrics.js';
import { revokeLiveSessions } from '../sessions/repository.js';
import { hashToken, newOpaqueToken } from '../tokens/tokens.js';
import { hashPassword } from '../users/passwords.js';
import * as users from '../users/repository.js';
import { checkEmail, checkPassword, checkUserId, LOCAL_USERPASS } from '../users/service.js';
import type { AuthDeps } from './deps.js';
import { checkMailedLink, lockUserOfMailedLink } from './mailed-links.js';
import { lockUserOfAddress } from './confirmation.js';
import { InvalidUserTokenError, PasswordResetUnavailableError } from './errors.js';
import { insertUserToken, retireUserTokens } from './user-tokens.js';

interface IssuedToken {
  tokenId: string;
  token: string;
}

/** The app's reset page with the token and tokenId it passes to `resetPassword({ password, token, tokenId })`. */
export function passwordResetLink(auth: AuthDeps, publicUrl: string, issued: IssuedToken): string {
  const url = new URL(auth.settings.passwordResetUrl ?? `${publicUrl}/reset-password`);
  url.searchParams.set('token', issued.token);
  url.searchParams.set('tokenId', issued.tokenId);
  return url.toString();
}

/** Why this user cannot be sent a reset link, or null when it can: confirmed, with an email/password identity. */
async function whyNoReset(ex: Executor, user: UserRow): Promise<string | null> {
  if (user.status !== 'confirmed') return `the user is ${user.status}: only confirmed users can reset their password`;
  const identities = (await users.identitiesByUser(ex, [user.id])).get(user.id) ?? [];
  if (!user.email || !identities.some((i) => i.providerType === LOCAL_USERPASS)) return 'the user has no email/password identity';
  return null;
}

/** The reset mail, written to mail_outbox in `tx`, the transaction that issued its token. */
async function queuePasswordResetMail(tx: Executor, auth: AuthDeps, user: UserRow, publicUrl: string, issued: IssuedToken) {
  return queueMail(tx, auth.mailTemplates, {
    kind: 'password_reset',
    to: user.email!,
    userId: user.id,
    link: passwordResetLink(auth, publicUrl, issued),
    expiresInMinutes: Math.round(auth.settings.passwordResetTokenTtlSeconds / 60),
  });
}

/**
 * Issues a reset token and queues its mail in one transaction (the mail exists exactly when the
 * token does); the delivery worker sends it once this has committed.
 */
async function issueAndMail(auth: AuthDeps, actor: Actor, find: (tx: Executor) => Promise<UserRow>, publicUrl: string) {
  let queued: MailRow | undefined;
  const user = await audited(
    auth.db,
    actor,
    { action: 'sendPasswordReset' },
    async (tx) => {
      const user = await find(tx);
      const why = await whyNoReset(tx, user);
      if (why) throw new PasswordResetUnavailableError(user.id, why);
      const token = newOpaqueToken();
      const row = await insertUserToken(tx, {
        userId: user.id,
        purpose: 'reset',
        tokenHash: hashToken(token),
        ttlSeconds: auth.settings.passwordResetTokenTtlSeconds,
      });
      queued = await queuePasswordResetMail(tx, auth, user, publicUrl, { tokenId: row.id, token });
      return user;
    },
    (user) => ({ userId: user.id }),
  );
  logMailQueued(auth.logger, queued!);
  return user;
}

/** The operator's `sendPasswordReset(id)`: mails a confirmed email/password user a reset link. */
export async function sendPasswordReset(auth: AuthDeps, actor: Actor, id: string, publicUrl: string): Promise<UserRow> {
  const userId = checkUserId(id);
  const user = await issueAndMail(
    auth,
    actor,
    async (tx) => {
      const [user] = await users.lockUsers(tx, [userId]);
      if (!user) throw new UserNotFoundError(id);
      return user;
    },
    publicUrl,
  );
  return user;
}

/**
 * The client API's `reset/send`: a link for the address if it belongs to a user who can reset, and
 * the same answer otherwise, so the route does not tell which addresses have accounts.
 */
export async function sendPasswordResetByEmail(auth: AuthDeps, actor: Actor, email: string, publicUrl: string): Promise<void> {
  const address = checkEmail(email);
  try {
    await issueAndMail(auth, actor, lockUserOfAddress(address), publicUrl);
  } catch (err) {
    // Refused and audited as such; the client is told nothing it could learn an address from.
    if (!(err instanceof PasswordResetUnavailableError) && !(err instanceof UserNotFoundError)) throw err;
  }
}

/**
 * The client API's `reset`: the token and tokenId of a reset link, usable once and until it expires,
 * and the new password. One transaction: the password changes, every other reset link of the user
 * stops working, and every session of the user is revoked (reason `password_reset`).
 */
export async function resetPassword(
  auth: AuthDeps,
  actor: Actor,
  input: { password: string; token: string; tokenId: string },
): Promise<void> {
  checkPassword(input.password);
  checkMailedLink(input);
  const passwordHash = await hashPassword(input.password);
  const result = await audited(
    auth.db,
    actor,
    { action: 'resetPassword' },
    async (tx, { auditEventId }) => {
      const user = await lockUserOfMailedLink(tx, input, 'reset');
      if (!(await users.setPasswordHash(tx, user.id, LOCAL_USERPASS, passwordHash))) throw new InvalidUserTokenError();
      await retireUserTokens(tx, user.id, 'reset');
      const revoked = await revokeLiveSessions(tx, [user.id], 'password_reset');
      const revokedSessionCount = revoked.get(user.id) ?? 0;
      await enqueueUserEvents(tx, [
        { type: 'user.password_reset', userId: user.id, actor, auditEventId, data: { email: user.email } },
        { type: 'user.sessions_revoked', userId: user.id, actor, auditEventId, data: { revokedSessionCount, reason: 'password_reset' } },
      ]);
      return { userId: user.id, revokedSessionCount };
    },
    (r) => ({ userId: r.userId, details: { revokedSessionCount: r.revokedSessionCount } }),
  );
  recordSessionsRevoked('password_reset', result.revokedSessionCount);
}
