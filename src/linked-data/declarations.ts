import { readFileSync } from 'node:fs';
import { LinkedDataError } from './errors.js';

/** One entry of LINKED_DATA_FILE, as written: a table of the app's and the column holding a user id. */
export interface LinkedDataDeclaration {
  /** `table` or `schema.table`. */
  table: string;
  column: string;
}

/** A declaration once parsed: the names split and checked for shape, not yet for existence. */
export interface ParsedDeclaration {
  /** 1-based position in the file, for messages. */
  entry: number;
  declared: LinkedDataDeclaration;
  /** null: looked up along the database's search_path, as PostgreSQL would. */
  schema: string | null;
  table: string;
  column: string;
}

export const MAX_DECLARATIONS = 100;
const MAX_FILE_BYTES = 1_000_000;

// A plain SQL identifier: what can be written without quotes, except that case is kept as written
// (names are compared with the catalog exactly). Anything else (quotes, spaces, dots, semicolons,
// parentheses) is refused before the database ever sees it.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;
const MAX_IDENTIFIER_BYTES = 63;

export function isPlainIdentifier(name: string): boolean {
  return IDENTIFIER.test(name) && Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES;
}

/** How a declaration is named in messages: its source, its position and its text. */
export function entryLabel(source: string, entry: number, value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  if (text.length > 120) text = `${text.slice(0, 117)}...`;
  return `${source}, entry ${entry} ${text}`;
}

function identifierProblem(what: string, name: string): string {
  return (
    `${what} ${JSON.stringify(name.slice(0, 80))} is not a plain SQL identifier ` +
    `(letters, digits, "_" and "$", starting with a letter or "_", at most ${MAX_IDENTIFIER_BYTES} bytes)`
  );
}

/**
 * Checks the shape of the declarations (an array of { table, column } with well-formed names) and
 * splits schema-qualified table names. `source` names where they came from, for the messages.
 */
export function parseDeclarations(value: unknown, source: string): ParsedDeclaration[] {
  if (!Array.isArray(value)) {
    throw new LinkedDataError(
      `${source} must hold a JSON array such as [{ "table": "todo_items", "column": "owner_id" }]; got ${typeof value === 'object' && value ? 'an object' : JSON.stringify(value)}.`,
    );
  }
  if (value.length > MAX_DECLARATIONS) {
    throw new LinkedDataError(`${source} declares ${value.length} tables; at most ${MAX_DECLARATIONS} are allowed.`);
  }
  return value.map((item: unknown, index) => {
    const entry = index + 1;
    const fail = (problem: string) => new LinkedDataError(`${entryLabel(source, entry, item)}: ${problem}.`);
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw fail('each entry must be an object { "table": …, "column": … }');
    }
    const extra = Object.keys(item).filter((k) => k !== 'table' && k !== 'column');
    if (extra.length > 0) throw fail(`unknown key ${JSON.stringify(extra[0])}; an entry has only "table" and "column"`);
    const { table, column } = item as Record<string, unknown>;
    if (typeof table !== 'string' || table === '') throw fail('"table" must be a non-empty string');
    if (typeof column !== 'string' || column === '') throw fail('"column" must be a non-empty string');
    const parts = table.split('.');
    if (parts.length > 2) throw fail(`table ${JSON.stringify(table.slice(0, 80))} has more than one "."; write "table" or "schema.table"`);
    for (const part of parts) if (!isPlainIdentifier(part)) throw fail(identifierProblem('table', table));
    if (!isPlainIdentifier(column)) throw fail(identifierProblem('column', column));
    return {
      entry,
      declared: { table, column },
      schema: parts.length === 2 ? parts[0]! : null,
      table: parts.at(-1)!,
      column,
    };
  });
}

/** Reads and parses the JSON file named by LINKED_DATA_FILE. */
export function readDeclarationsFile(path: string): ParsedDeclaration[] {
  const source = `LINKED_DATA_FILE (${path})`;
  let text: string;
  try {
    const buffer = readFileSync(path);
    if (buffer.length > MAX_FILE_BYTES) throw new Error(`it is larger than ${MAX_FILE_BYTES} bytes`);
    text = buffer.toString('utf8');
  } catch (err) {
    throw new LinkedDataError(`${source} cannot be read: ${(err as Error).message}.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new LinkedDataError(`${source} is not valid JSON: ${(err as Error).message}.`);
  }
  return parseDeclarations(value, source);
}
