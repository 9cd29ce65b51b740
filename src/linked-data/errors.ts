import { ConfigError } from '../config.js';
import { AppError } from '../errors.js';

/**
 * LINKED_DATA_FILE cannot be used: unreadable, malformed, or naming a table or column the database
 * does not have. A ConfigError, so the server stops with the message instead of starting.
 */
export class LinkedDataError extends ConfigError {}

/** Purging the app's own data is for owner keys only. A top-level error with code FORBIDDEN. */
export class PurgeNotAllowedError extends AppError {
  readonly code = 'FORBIDDEN';
  constructor(role: string | null | undefined) {
    super(
      `Only an owner admin key may purge the app's own data (purgeLinkedData: true); this key's role is ${role ?? 'unknown'}. ` +
        'Nothing was deleted.',
    );
  }
}

/**
 * The database refused to delete rows of one declared table (a trigger raised, a foreign key of
 * another table points at them, a lock or privilege is missing). The whole deletion was rolled back.
 */
export class LinkedDataPurgeError extends AppError {
  readonly code = 'LINKED_DATA_PURGE_FAILED';
  constructor(
    readonly table: string,
    readonly column: string,
    readonly sqlState: string,
    reason: string,
  ) {
    super(
      `Purging ${table}.${column} failed, so nothing was deleted (the user and all its data are as they were): ` +
        `${reason} (SQLSTATE ${sqlState}).`,
    );
  }
}
