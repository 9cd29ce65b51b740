// Account linking: `login?link=true` with the linking user's access token (realm-web's
// User.linkCredentials, realm-core's App::link_user). The documented Realm flow is an anonymous user
// who registers (and confirms) an email, then links it while signed in: the email account, registered
// but never logged in, is absorbed into the linking user (its identity moves, the empty account goes),
// and the linking user keeps its id, its session, and gains the email address.
import { recordAuditEvent } from '../audit/log.js';
import { findSessionState } from '../sessions/repository.js';
import { whyNotLive } from '../sessions/live.js';
import { InvalidSessionError } from '../tokens/errors.js';
import { noAccessReason, verifyAccessToken, type VerifiedAccessToken } from '../tokens/verify.js';
import type { UserRow } from '../db/schema.js';
import { AppError } from '../errors.js';
import * as users from '../users/repository.js';
import { runPlan } from '../users/plans.js';
import { accessRefusal } from '../users/rules.js';
import { LOCAL_USERPASS } from '../users/service.js';
import type { AuthDeps } from './deps.js';
import { ConfirmationRequiredError, InvalidCredentialsError, LinkRefusedError, UserDisabledError } from './errors.js';
import { checkPasswordCredentials, signFor, storeRehash, type CheckedPasswordIdentity } from './login.js';

export interface LinkResult {
  /** The linking user's id: the same as before. */
  userId: string;
  /** A new access token of the linking user's own session (realm-core stores it in that user). */
  accessToken: string;
  deviceId: string;
}

/**
 * Adds the email/password identity of `credentials` to the user of `accessToken`, in one audited
 * transaction under both users' row locks. Refused, with nothing changed, when the access token does
 * not grant access, the password is wrong, the identity's user is pending, disabled or has ever
 * logged in, or the linking user has an email/password identity already. Linking an identity the
 * user already holds changes nothing and succeeds.
 */
export async function linkWithPassword(
  auth: AuthDeps,
  accessToken: string,
  credentials: { username: string; password: string },
  requestId: string | null = null,
): Promise<LinkResult> {
  const verified = await verifyAccessToken(accessToken, auth.verifier);
  const identity = await checkPasswordCredentials(auth, credentials, requestId);
  const { user, deviceId } = await linkInTransaction(auth, verified, identity, requestId).catch(async (err) => {
    if (err instanceof AppError) {
      await recordAuditEvent(auth.db, { type: 'user', userId: verified.userId, requestId }, {
        action: 'linkIdentity',
        outcome: 'refused',
        userId: verified.userId,
        details: { provider: LOCAL_USERPASS, code: err.code, message: err.message },
      });
    }
    throw err;
  });
  return {
    userId: user.id,
    accessToken: await signFor(auth, user, verified.sessionId, deviceId),
    deviceId,
  };
}

async function linkInTransaction(
  auth: AuthDeps,
  verified: VerifiedAccessToken,
  identity: CheckedPasswordIdentity,
  requestId: string | null,
): Promise<{ user: UserRow; deviceId: string }> {
  return auth.db.transaction(async (tx) => {
    const found = new Map((await users.lockUsers(tx, [verified.userId, identity.userId])).map((u) => [u.id, u]));
    const linking = found.get(verified.userId);
    // The session must still be live now that the user is locked: a logout, revoke, disable or
    // delete that committed since the token was checked refuses the link.
    const session = await findSessionState(tx, verified.sessionId);
    if (!linking || !session || session.userId !== linking.id) throw new InvalidSessionError('session not found');
    const notLive = whyNotLive(session);
    if (notLive) throw new InvalidSessionError(`session ${notLive}`);
    const noAccess = noAccessReason(linking.status);
    if (noAccess) throw new InvalidSessionError(noAccess);
    const deviceId = verified.deviceId;
    // The password verified: an imported hash is replaced as at login (rolled back if the link is refused).
    await storeRehash(tx, identity);
    if (identity.userId === linking.id) return { user: linking, deviceId };

    const owner = found.get(identity.userId);
    if (!owner) throw new InvalidCredentialsError();
    const refusal = accessRefusal(owner.status);
    if (refusal === 'unconfirmed') throw new ConfirmationRequiredError(owner.id);
    if (refusal === 'disabled') throw new UserDisabledError(owner.id);
    if (owner.lastAuthenticatedAt) {
      throw new LinkRefusedError('this identity belongs to a user who has logged in: it cannot be linked to another user');
    }
    const held = (await users.identitiesByUser(tx, [linking.id])).get(linking.id) ?? [];
    if (held.some((i) => i.providerType === LOCAL_USERPASS) || linking.email) {
      throw new LinkRefusedError('this user has an email/password identity already');
    }
    await users.moveIdentities(tx, owner.id, linking.id);
    // The emptied account goes as an operator's delete would take it (it never logged in: no sessions).
    await runPlan(tx, 'delete', [owner.id]);
    await users.setUserEmail(tx, linking.id, owner.email);
    const linked = await users.recordAuthentication(tx, linking.id);
    await recordAuditEvent(tx, { type: 'user', userId: linking.id, requestId }, {
      action: 'linkIdentity',
      outcome: 'success',
      userId: linking.id,
      details: { provider: LOCAL_USERPASS, email: owner.email, absorbedUserId: owner.id, sessionId: verified.sessionId },
    });
    return { user: linked, deviceId };
  });
}
