// Email confirmation of sign-ups: the token mailed at registration, its use, and the operator's
// shortcuts (confirm a user outright, send the mail again).
import { audited, type Actor } from '../audit/log.js';
import { enqueueUserEvent } from '../webhooks/outbox.js';
import type { Database, Executor } from '../db/client.js';
import type { MailRow, UserRow, UserStatus } from '../db/schema.js';
import { logMailQueued, queueMail } from '../mail/outbox.js';
import { UserNotFoundError } from '../errors.js';
import * as users from '../users/repository.js';
import { canConfirm, canResendConfirmation } from '../users/rules.js';
import { checkEmail, checkUserId, createEmailPasswordUser } from '../users/service.js';
import type { AuthDeps } from './deps.js';
import { checkMailedLink, lockUserOfMailedLink } from './mailed-links.js';
import { UserNotPendingError } from './errors.js';
import { insertUserToken, retireUserTokens } from './user-tokens.js';
import { hashToken, newOpaqueToken } from '../tokens/tokens.js';

interface IssuedToken {
  tokenId: string;
  token: string;
}

async function issueConfirmationToken(ex: Executor, auth: AuthDeps, userId: string): Promise<IssuedToken> {
  const token = newOpaqueToken();
  const row = await insertUserToken(ex, {
    userId,
    purpose: 'confirm',
    tokenHash: hashToken(token),
    ttlSeconds: auth.settings.confirmationTokenTtlSeconds,
  });
  return { tokenId: row.id, token };
}

/** The app's confirmation page with the token and tokenId it passes to `confirmUser({ token, tokenId })`. */
export function confirmationLink(auth: AuthDeps, publicUrl: string, issued: IssuedToken): string {
  const url = new URL(auth.settings.confirmationUrl ?? `${publicUrl}/confirm`);
  url.searchParams.set('token', issued.token);
  url.searchParams.set('tokenId', issued.tokenId);
  return url.toString();
}

/** The confirmation mail, written to mail_outbox in `tx`, the transaction that issued its token. */
async function queueConfirmationMail(tx: Executor, auth: AuthDeps, user: UserRow, publicUrl: string, issued: IssuedToken) {
  return queueMail(tx, auth.mailTemplates, {
    kind: 'confirm',
    to: user.email!,
    userId: user.id,
    link: confirmationLink(auth, publicUrl, issued),
    expiresInMinutes: Math.round(auth.settings.confirmationTokenTtlSeconds / 60),
  });
}

/**
 * A sign-up through the client API: a pending user with its confirmation token and its mail, in one
 * transaction (a user is never left pending without the mail that can confirm it); or a confirmed
 * user when AUTO_CONFIRM is on. The delivery worker sends the mail once this has committed.
 */
export async function registerUser(
  auth: AuthDeps,
  actor: Actor,
  input: { email: string; password: string },
  publicUrl: string,
): Promise<UserRow> {
  const status = auth.settings.autoConfirm ? 'confirmed' : 'pending';
  let queued: MailRow | undefined;
  const user = await createEmailPasswordUser(auth.db, actor, { ...input, status }, 'register', async (tx, user) => {
    if (!canResendConfirmation(user.status)) return;
    queued = await queueConfirmationMail(tx, auth, user, publicUrl, await issueConfirmationToken(tx, auth, user.id));
  });
  if (queued) logMailQueued(auth.logger, queued);
  return user;
}

/**
 * Confirms the user in the transaction: a pending user becomes confirmed, other users stay as they
 * are. Either way the action's `user.confirmed` webhook event says so (`changed`).
 */
async function confirmLockedUser(tx: Executor, user: UserRow, event: { actor: Actor; auditEventId: string; by: string }): Promise<UserRow> {
  await retireUserTokens(tx, user.id, 'confirm');
  const changed = canConfirm(user.status);
  const after = changed ? ((await users.setUserStatusIfPending(tx, user.id, 'confirmed')) ?? user) : user;
  await enqueueUserEvent(tx, {
    type: 'user.confirmed',
    userId: user.id,
    actor: event.actor,
    auditEventId: event.auditEventId,
    data: { email: user.email, status: after.status, changed, by: event.by },
  });
  return after;
}

/** The client API's confirm: the token and tokenId of a confirmation link, usable once. */
export async function confirmWithToken(
  auth: AuthDeps,
  actor: Actor,
  input: { token: string; tokenId: string },
): Promise<UserRow> {
  checkMailedLink(input);
  return audited(
    auth.db,
    actor,
    { action: 'confirmUser' },
    async (tx, { auditEventId }) => {
      const user = await lockUserOfMailedLink(tx, input, 'confirm');
      return confirmLockedUser(tx, user, { actor, auditEventId, by: 'token' });
    },
    (user) => ({ userId: user.id, details: { status: user.status, by: 'token' } }),
  );
}

/** The user the operator names, locked: UserNotFoundError when there is none. */
async function lockUserById(tx: Executor, id: string): Promise<UserRow> {
  const [user] = await users.lockUsers(tx, [checkUserId(id)]);
  if (!user) throw new UserNotFoundError(id);
  return user;
}

/** The operator's confirm: a pending user becomes confirmed; confirmed and disabled users are left as they are. */
export async function confirmUser(db: Database, actor: Actor, id: string): Promise<UserRow> {
  return audited(
    db,
    actor,
    { action: 'confirmUser', userId: id },
    async (tx, { auditEventId }) => confirmLockedUser(tx, await lockUserById(tx, id), { actor, auditEventId, by: 'admin' }),
    (user) => ({ userId: user.id, details: { status: user.status } }),
  );
}

async function resendTo(auth: AuthDeps, actor: Actor, find: (tx: Executor) => Promise<UserRow>, publicUrl: string) {
  let queued: MailRow | undefined;
  const user = await audited(
    auth.db,
    actor,
    { action: 'resendConfirmation' },
    async (tx) => {
      const user = await find(tx);
      if (!canResendConfirmation(user.status)) throw new UserNotPendingError(user.id, user.status as Exclude<UserStatus, 'pending'>);
      queued = await queueConfirmationMail(tx, auth, user, publicUrl, await issueConfirmationToken(tx, auth, user.id));
      return user;
    },
    (user) => ({ userId: user.id }),
  );
  logMailQueued(auth.logger, queued!);
  return user;
}

/** Sends a pending user a new confirmation link; earlier links keep working until they expire. */
export async function resendConfirmation(auth: AuthDeps, actor: Actor, id: string, publicUrl: string): Promise<UserRow> {
  return resendTo(
    auth,
    actor,
    (tx) => lockUserById(tx, id),
    publicUrl,
  );
}

/** The client API's `confirm/send`, by email address. */
export async function resendConfirmationByEmail(
  auth: AuthDeps,
  actor: Actor,
  email: string,
  publicUrl: string,
): Promise<UserRow> {
  return resendTo(auth, actor, lockUserOfAddress(checkEmail(email)), publicUrl);
}

/** The step that finds and locks the user of a mail's address, or refuses with UserNotFoundError. */
export function lockUserOfAddress(address: string): (tx: Executor) => Promise<UserRow> {
  return async (tx) => {
    const user = await users.lockUserByEmail(tx, address);
    if (!user) throw new UserNotFoundError(address);
    return user;
  };
}
