// The user rules of src/users/rules.ts, one by one: what may happen to a user of each status.
import { describe, expect, it } from 'vitest';
import { userStatus } from '../src/db/schema.js';
import {
  accessRefusal,
  actionChanges,
  availableActions,
  canConfirm,
  canDisable,
  canEnable,
  canResendConfirmation,
  effectOf,
  grantsAccess,
  userActions,
} from '../src/users/rules.js';

const statuses = userStatus.enumValues;

describe('the user rules', () => {
  it('pending users cannot be disabled or enabled; confirmed and disabled users can (disabling twice is a no-op)', () => {
    expect(statuses.filter(canDisable)).toEqual(['confirmed', 'disabled']);
    expect(statuses.filter(canEnable)).toEqual(['confirmed', 'disabled']);
    expect(actionChanges('disable', 'confirmed')).toBe(true);
    expect(effectOf('disable', 'disabled')).toBe('nothing');
    expect(effectOf('disable', 'pending')).toBe('refused');
    expect(actionChanges('enable', 'disabled')).toBe(true);
    expect(effectOf('enable', 'confirmed')).toBe('nothing');
  });

  it('only pending users are confirmed or mailed a confirmation link', () => {
    expect(statuses.filter(canConfirm)).toEqual(['pending']);
    expect(statuses.filter(canResendConfirmation)).toEqual(['pending']);
    // Confirming a confirmed or disabled user is accepted and changes nothing; resending is refused.
    expect(effectOf('confirm', 'disabled')).toBe('nothing');
    expect(effectOf('resendConfirmation', 'confirmed')).toBe('refused');
  });

  it('any user can be deleted', () => {
    expect(statuses.filter((s) => actionChanges('delete', s))).toEqual(statuses);
  });

  it('only confirmed users hold access; the others are refused as disabled or unconfirmed', () => {
    expect(statuses.filter(grantsAccess)).toEqual(['confirmed']);
    expect(statuses.map(accessRefusal)).toEqual(['unconfirmed', null, 'disabled']);
  });

  it('offers per status exactly the actions that change the user, in the console order', () => {
    expect(availableActions('confirmed')).toEqual(['disable', 'delete', 'revokeSessions', 'sendPasswordReset']);
    expect(availableActions('pending')).toEqual(['delete', 'confirm', 'resendConfirmation']);
    expect(availableActions('disabled')).toEqual(['enable', 'delete']);
    // Every action is offered for some status.
    expect(new Set(statuses.flatMap(availableActions))).toEqual(new Set(userActions));
  });
});
