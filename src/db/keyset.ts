import { InvalidInputError } from '../errors.js';

/** A position in a list ordered by (created_at DESC, id DESC): the last row of the previous page. */
export interface KeysetPosition {
  createdAt: Date;
  id: string;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** 9999-12-31T23:59:59.999Z, the last instant a cursor may name. */
const MAX_CURSOR_MS = 253_402_300_799_999;

/** encodeCursor's text as UTF-8, written here instead of into a Buffer of its own per cursor (a page encodes 51). */
const cursorBytes = Buffer.allocUnsafe(1024);

// Opaque to clients, but plain inside: base64url of "<epoch ms>:<uuid>".
export function encodeCursor(position: KeysetPosition): string {
  const text = `${position.createdAt.getTime()}:${position.id}`;
  // At most 3 bytes of UTF-8 per UTF-16 unit: a text this short always fits.
  if (text.length > cursorBytes.length / 3) return Buffer.from(text).toString('base64url');
  return cursorBytes.toString('base64url', 0, cursorBytes.write(text));
}

/** The ids a list's cursors carry: its rows' UUIDs, or user ids (1–128 characters of [A-Za-z0-9_-], src/users/rules.ts). */
export type CursorIds = 'uuid' | 'userId';
const USER_ID_SHAPE = /^[A-Za-z0-9_-]{1,128}$/;

export function decodeCursor(cursor: string, field = 'after', ids: CursorIds = 'uuid'): KeysetPosition {
  const invalid = () => new InvalidInputError(field, `"${field}" is not a cursor returned by this API.`);
  if (cursor.length > 200) throw invalid();
  const [ms, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  if (rest.length > 0 || !/^\d{1,15}$/.test(ms ?? '') || !(ids === 'uuid' ? UUID_PATTERN : USER_ID_SHAPE).test(id ?? '')) throw invalid();
  // Beyond the year 9999 a time has no plain ISO form, and the database refuses it (date out of range).
  if (Number(ms) > MAX_CURSOR_MS) throw invalid();
  return { createdAt: new Date(Number(ms)), id: UUID_PATTERN.test(id!) ? id!.toLowerCase() : id! };
}

export interface PageRequest {
  first: number;
  after: KeysetPosition | null;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export function pageRequest(first: number | null | undefined, after: string | null | undefined, ids: CursorIds = 'uuid'): PageRequest {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw new InvalidInputError('first', `"first" must be between 0 and ${MAX_PAGE_SIZE}; got ${size}.`);
  }
  return { first: size, after: after == null ? null : decodeCursor(after, 'after', ids) };
}

export interface Page<T> {
  nodes: T[];
  hasNextPage: boolean;
}

/** Rows were fetched with LIMIT first + 1: the extra row only says that there is a next page. */
export function toPage<T>(rows: T[], first: number): Page<T> {
  return { nodes: rows.slice(0, first), hasNextPage: rows.length > first };
}
