// The file formats `npm run admin -- import --from <format>` reads: each parser streams one file and
// yields a record per user, or per line/element it could not read (with a stable code), never
// holding more than one user's text in memory.
import type { FirebaseScryptParams } from '../users/passwords.js';
import { parseAtlas } from './atlas.js';
import { parseFirebase } from './firebase.js';
import { parseJsonl } from './jsonl.js';
import { parseSupabase } from './supabase.js';
import type { ByteSource, ImportRecord } from './types.js';

export type { ByteSource, FormatError, FormatErrorCode, ImportRecord } from './types.js';
export { parseAtlas, parseFirebase, parseJsonl, parseSupabase };

export const IMPORT_FORMATS = ['atlas', 'firebase', 'supabase', 'jsonl'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface FormatOptions {
  /** firebase: the project's password hash parameters (null: users with a password hash are refused). */
  firebase?: FirebaseScryptParams | null;
  /** supabase: the time bans are compared with. */
  now?: Date;
}

export function isImportFormat(name: string): name is ImportFormat {
  return (IMPORT_FORMATS as readonly string[]).includes(name);
}

/** The records of one file of `format`. */
export function parseImportFile(format: ImportFormat, source: ByteSource, options: FormatOptions = {}): AsyncGenerator<ImportRecord> {
  switch (format) {
    case 'atlas':
      return parseAtlas(source);
    case 'firebase':
      return parseFirebase(source, options.firebase ?? null);
    case 'supabase':
      return parseSupabase(source, options.now);
    case 'jsonl':
      return parseJsonl(source);
  }
}
