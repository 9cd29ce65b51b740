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

/** rotateSigningKey with JWT_SECRET set: that key comes from the configuration, and is rotated by changing it. */
export class SigningKeyFromConfigurationError extends AppError {
  readonly code = 'SIGNING_KEY_FROM_CONFIGURATION';
  constructor() {
    super('Access tokens are signed with JWT_SECRET, which only a change of configuration rotates. Unset it (and set ACCESS_TOKEN_ALGORITHM) to have keys the gateway rotates.');
  }
}
