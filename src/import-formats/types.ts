// What every import format yields: one record per user (or per thing that should have been one).
import type { ImportUser } from '../users/import.js';

/** Stable codes of what a parser can say about one line or element of a file. */
export type FormatErrorCode =
  | 'MALFORMED_JSON' // not JSON, or a JSON file that is not the expected array/object
  | 'MALFORMED_CSV' // a CSV record that cannot be read (stray quote, unterminated quoted field, wrong field count)
  | 'MALFORMED_RECORD' // JSON/CSV that reads, but misses a field the format requires or has one of the wrong type
  | 'UNSUPPORTED_USER'; // a user the gateway cannot hold (e.g. a Supabase phone-only user)

export interface FormatError {
  code: FormatErrorCode;
  message: string;
}

/** One line (CSV, JSON lines) or one array element (JSON; `line` is where it starts) of an import file. */
export type ImportRecord = { line: number; user: ImportUser; error?: undefined } | { line: number; user?: undefined; error: FormatError };

/** A file's bytes, as a read stream gives them. */
export type ByteSource = AsyncIterable<Uint8Array | string>;

export class RecordError extends Error {
  constructor(
    readonly code: FormatErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The record for a parsed value: the user `toUser` makes of it, or the RecordError it throws as an error. */
export function recordOf<T>(line: number, value: T, toUser: (value: T) => ImportUser): ImportRecord {
  try {
    return { line, user: toUser(value) };
  } catch (err) {
    if (err instanceof RecordError) return { line, error: { code: err.code, message: err.message } };
    throw err;
  }
}

/** Decoded text chunks of a byte source (UTF-8; a character split between chunks is kept whole). */
export async function* textChunks(source: ByteSource): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of source) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (text) yield text;
  }
  const rest = decoder.decode();
  if (rest) yield rest;
}

// Field readers shared by the formats: each throws a RecordError naming the field.
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requiredString(record: Record<string, unknown>, field: string): string {
  const value = record[field];
  if (typeof value !== 'string' || value === '') throw new RecordError('MALFORMED_RECORD', `"${field}" is missing or not a string.`);
  return value;
}

export function optionalString(record: Record<string, unknown>, field: string): string | null {
  const value = record[field];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new RecordError('MALFORMED_RECORD', `"${field}" is not a string.`);
  return value;
}

/** A date from a number of `unit`s since the epoch (a JSON number or a decimal string); null when absent or 0. */
export function epochDate(record: Record<string, unknown>, field: string, unit: 'seconds' | 'milliseconds'): Date | null {
  const value = record[field];
  if (value === undefined || value === null || value === '' || value === 0 || value === '0') return null;
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  const date = new Date(unit === 'seconds' ? number * 1000 : number);
  if (!Number.isFinite(number) || Number.isNaN(date.getTime())) throw new RecordError('MALFORMED_RECORD', `"${field}" is not a time in ${unit} since 1970.`);
  return date;
}

/** toISOString's form, which our export writes: read as it is. */
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/;

/**
 * A date from a timestamp string: ISO 8601, or PostgreSQL's text form (`2024-05-01 12:00:00.123456+00`,
 * what `\copy … csv` and JSON of timestamptz columns give); null when absent.
 */
export function timestampDate(record: Record<string, unknown>, field: string): Date | null {
  const value = record[field];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'string') {
    if (ISO_UTC.test(value)) {
      const date = new Date(value);
      if (!Number.isNaN(date.getTime())) return date;
    }
    const iso = value
      .trim()
      .replace(/^(\d{4}-\d\d-\d\d) /, '$1T')
      .replace(/([+-]\d\d)$/, '$1:00')
      .replace(/([+-]\d\d)(\d\d)$/, '$1:$2');
    const date = /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? new Date(iso) : new Date(NaN);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new RecordError('MALFORMED_RECORD', `"${field}" is not a timestamp.`);
}

/** A JSON object given as an object or as JSON text (CSV columns, Firebase's customAttributes); {} when absent. */
export function jsonObject(record: Record<string, unknown>, field: string): Record<string, unknown> {
  let value = record[field];
  if (value === undefined || value === null || value === '') return {};
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      throw new RecordError('MALFORMED_RECORD', `"${field}" is not JSON.`);
    }
  }
  if (!isObject(value)) throw new RecordError('MALFORMED_RECORD', `"${field}" is not a JSON object.`);
  return value;
}
