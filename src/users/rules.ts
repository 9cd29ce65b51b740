// What may happen to a user of each status, in one place. The admin mutations, the bulk actions,
// the sign-in API and (through User.availableActions) the console all ask here; nothing else
// compares statuses to decide what is allowed.
import { UUID_PATTERN } from '../db/keyset.js';
import type { UserStatus } from '../db/schema.js';
import { InvalidInputError } from '../errors.js';

/**
 * The shape of a user id: opaque text the gateway never rewrites, 1–128 characters of
 * [A-Za-z0-9_-] (Atlas ObjectIds, Firebase uids, Supabase and our older UUIDs, our ObjectIds).
 */
export const USER_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The id as stored, or null when it is not one: a UUID is lower-cased (as ids were always printed
 * and matched, in any letter case); any other id is kept exactly (Firebase uids are case-sensitive).
 */
export function userIdOrNull(id: string): string | null {
  if (!USER_ID_PATTERN.test(id)) return null;
  return UUID_PATTERN.test(id) ? id.toLowerCase() : id;
}

/** A user id as stored (userIdOrNull); anything else is a caller's mistake (BAD_USER_INPUT), never a database error. */
export function checkUserId(id: string, field = 'id'): string {
  const userId = userIdOrNull(id);
  if (userId === null) throw new InvalidInputError(field, `"${id.slice(0, 64)}" is not a valid user id.`);
  return userId;
}

/** The actions an operator can take on one user, in the order the console lists them. */
export const userActions = ['disable', 'enable', 'delete', 'revokeSessions', 'confirm', 'resendConfirmation', 'sendPasswordReset'] as const;
export type UserAction = (typeof userActions)[number];

/**
 * What an action does to a user of a status: `changes` it; does `nothing` (it is accepted and the
 * user is already where the action would put it); or is `refused` with an error.
 */
export type ActionEffect = 'changes' | 'nothing' | 'refused';

const effects: Record<UserAction, Record<UserStatus, ActionEffect>> = {
  // Pending users cannot be disabled, only deleted (the seed); disabling a disabled user is a no-op.
  disable: { confirmed: 'changes', disabled: 'nothing', pending: 'refused' },
  // A pending user is confirmed, not enabled.
  enable: { confirmed: 'nothing', disabled: 'changes', pending: 'refused' },
  delete: { confirmed: 'changes', disabled: 'changes', pending: 'changes' },
  // Only confirmed users hold sessions: disabling revoked them all, pending users never had any.
  revokeSessions: { confirmed: 'changes', disabled: 'nothing', pending: 'nothing' },
  confirm: { confirmed: 'nothing', disabled: 'nothing', pending: 'changes' },
  resendConfirmation: { confirmed: 'refused', disabled: 'refused', pending: 'changes' },
  // A reset link only for users who can log in with it once reset (and who have an email: see user-actions.ts).
  sendPasswordReset: { confirmed: 'changes', disabled: 'refused', pending: 'refused' },
};

export function effectOf(action: UserAction, status: UserStatus): ActionEffect {
  return effects[action][status];
}

/** Whether the action changes a user of this status (as opposed to doing nothing, or being refused). */
export const actionChanges = (action: UserAction, status: UserStatus): boolean => effectOf(action, status) === 'changes';

/** Whether disableUser accepts a user of this status (pending users cannot be disabled). */
export const canDisable = (status: UserStatus): boolean => effectOf('disable', status) !== 'refused';

/** Whether enableUser accepts a user of this status (pending users are confirmed instead). */
export const canEnable = (status: UserStatus): boolean => effectOf('enable', status) !== 'refused';

/** Whether confirming changes the user: only pending users become confirmed; others stay as they are. */
export const canConfirm = (status: UserStatus): boolean => actionChanges('confirm', status);

/** Whether a confirmation link may be mailed to the user: only while it is pending. */
export const canResendConfirmation = (status: UserStatus): boolean => effectOf('resendConfirmation', status) !== 'refused';

/** The actions that would change a user of this status: what an operator is offered for it. */
export function availableActions(status: UserStatus): UserAction[] {
  return userActions.filter((action) => actionChanges(action, status));
}

/** Only confirmed users hold access: they log in, refresh, and their access tokens are accepted. */
export const grantsAccess = (status: UserStatus): boolean => status === 'confirmed';

/** Why a user of this status holds no access, or null when it does. */
export function accessRefusal(status: UserStatus): 'disabled' | 'unconfirmed' | null {
  if (grantsAccess(status)) return null;
  return status === 'disabled' ? 'disabled' : 'unconfirmed';
}
