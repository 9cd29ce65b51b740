import { AppError } from '../errors.js';

/**
 * An access or refresh token that does not (or no longer) grant access: malformed, badly signed,
 * expired, revoked, logged out, or its user is disabled, deleted or not confirmed.
 */
export class InvalidSessionError extends AppError {
  readonly code = 'INVALID_SESSION';
  constructor(readonly reason: string) {
    super(`invalid session: ${reason}`);
  }
}
