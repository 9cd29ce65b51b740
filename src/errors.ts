/**
 * Expected failures of the domain. Services throw them; the GraphQL layer turns the ones a field
 * declares into members of its result union, and the rest into errors with a stable code.
 * Anything that is not an AppError is a bug or a fault and reaches clients masked.
 */
export abstract class AppError extends Error {
  /** The stable `extensions.code` used when this error is reported as a top-level GraphQL error. */
  abstract readonly code: string;
}

export class UserNotFoundError extends AppError {
  readonly code = 'USER_NOT_FOUND';
  constructor(readonly id: string) {
    super(`No user with id ${id}.`);
  }
}

export class PendingUserError extends AppError {
  readonly code = 'PENDING_USER';
  constructor(
    readonly id: string,
    message = `User ${id} is pending confirmation: pending users cannot be disabled, only deleted.`,
  ) {
    super(message);
  }
}

export class EmailTakenError extends AppError {
  readonly code = 'EMAIL_TAKEN';
  constructor(readonly email: string) {
    super(`A user with email ${email} already exists.`);
  }
}

/** A value the caller can correct, reported against the input field that holds it. */
export class InvalidInputError extends AppError {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** The admin key's role does not allow the operation (or the operation has no access rule at all). */
export class ForbiddenError extends AppError {
  readonly code = 'FORBIDDEN';
}

export class AdminKeyNotFoundError extends AppError {
  readonly code = 'ADMIN_KEY_NOT_FOUND';
  constructor(readonly id: string) {
    super(`No admin key with id ${id}.`);
  }
}

/** Revoking this key would leave no active owner key: nobody could manage keys any more. */
export class LastOwnerKeyError extends AppError {
  readonly code = 'LAST_OWNER_KEY';
  constructor(readonly id: string) {
    super(`Admin key ${id} is the last active owner key: create another owner key before revoking it.`);
  }
}

/** No live session has this id: it never existed, was revoked or logged out, expired, or its user was deleted. */
export class SessionNotFoundError extends AppError {
  readonly code = 'SESSION_NOT_FOUND';
  constructor(readonly id: string) {
    super(`No live session with id ${id}: it does not exist, was already revoked or logged out, or has expired.`);
  }
}
