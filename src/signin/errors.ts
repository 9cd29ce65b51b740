import type { UserStatus } from '../db/schema.js';
import { AppError } from '../errors.js';

/** Unknown email, or a wrong password: the two are never told apart. */
export class InvalidCredentialsError extends AppError {
  readonly code = 'INVALID_CREDENTIALS';
  constructor() {
    super('invalid username/password');
  }
}

/** The user signed up but has not confirmed the email address yet. */
export class ConfirmationRequiredError extends AppError {
  readonly code = 'CONFIRMATION_REQUIRED';
  constructor(readonly userId: string) {
    super('confirmation required');
  }
}

/** An operator disabled the user. */
export class UserDisabledError extends AppError {
  readonly code = 'USER_DISABLED';
  constructor(readonly userId: string) {
    super('user disabled');
  }
}

/** A confirmation link whose token is unknown, already used or expired. */
export class InvalidUserTokenError extends AppError {
  readonly code = 'INVALID_TOKEN';
  constructor() {
    super('invalid token data');
  }
}

/** Confirmation was asked for a user that is not pending: already confirmed, or disabled. */
export class UserNotPendingError extends AppError {
  readonly code = 'USER_NOT_PENDING';
  constructor(
    readonly id: string,
    readonly status: Exclude<UserStatus, 'pending'>,
  ) {
    super(
      status === 'confirmed'
        ? `User ${id} is already confirmed.`
        : `User ${id} is disabled, not pending confirmation: enable it instead.`,
    );
  }
}

/**
 * Linking refused: the identity belongs to a user who has logged in (or to no one linkable), or the
 * linking user has an email/password identity already. Nothing changed.
 */
export class LinkRefusedError extends AppError {
  readonly code = 'LINK_REFUSED';
  constructor(message: string) {
    super(message);
  }
}

/** A password reset was asked for a user who cannot reset: not confirmed, or without an email/password identity. */
export class PasswordResetUnavailableError extends AppError {
  readonly code = 'PASSWORD_RESET_UNAVAILABLE';
  constructor(
    readonly id: string,
    reason: string,
  ) {
    super(`No password reset for user ${id}: ${reason}.`);
  }
}
