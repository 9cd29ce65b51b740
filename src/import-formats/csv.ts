// A streaming reader of RFC 4180 CSV: fields separated by commas, records by CRLF or LF; a field in
// double quotes may hold commas, line breaks and "" (one quote). One record is held at a time. An
// unquoted empty field is `null` (PostgreSQL's `\copy … csv` writes NULL so) and a quoted empty one ''.
import { textChunks, type ByteSource } from './types.js';

export type CsvRecord =
  | { line: number; fields: (string | null)[]; error?: undefined }
  | { line: number; fields?: undefined; error: { code: 'MALFORMED_CSV'; message: string } };

const QUOTE = 34;
const COMMA = 44;
const CR = 13;
const LF = 10;

/** The records of the file, in order, each with the line it starts on. */
export async function* csvRecords(source: ByteSource): AsyncGenerator<CsvRecord> {
  let fields: (string | null)[] = [];
  let field = '';
  let quoted = false; // the current field started with a quote
  let inQuotes = false; // inside its quotes
  let afterQuote = false; // just read a quote inside quotes: either "" or the closing one
  let broken: string | null = null; // why the current record is malformed; it is skipped to its end
  let line = 1;
  let recordLine = 1;
  let started = false; // the current record has at least one character

  const endField = () => {
    fields.push(quoted ? field : field === '' ? null : field);
    field = '';
    quoted = false;
  };
  function* endRecord(): Generator<CsvRecord> {
    if (broken) yield { line: recordLine, error: { code: 'MALFORMED_CSV', message: broken } };
    else if (started) {
      endField();
      yield { line: recordLine, fields };
    }
    fields = [];
    field = '';
    quoted = false;
    broken = null;
    started = false;
  }

  for await (const text of textChunks(source)) {
    let plainFrom = -1; // start of a run of ordinary characters of an unquoted field in `text`
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inQuotes) {
        if (afterQuote) {
          afterQuote = false;
          if (c === QUOTE) {
            field += '"';
            continue;
          }
          inQuotes = false; // that quote closed the field: read c as outside quotes
        } else {
          if (c === QUOTE) afterQuote = true;
          else {
            if (c === LF) line++;
            field += text[i];
          }
          continue;
        }
      }
      if (c === COMMA || c === LF || c === CR) {
        if (plainFrom >= 0) {
          field += text.slice(plainFrom, i);
          plainFrom = -1;
        }
        if (c === COMMA) {
          started = true;
          if (!broken) endField();
        } else if (c === LF) {
          yield* endRecord();
          line++;
          recordLine = line;
        }
        // CR: part of CRLF, or a stray one at a record's end; ignored outside quotes.
        continue;
      }
      started = true;
      if (broken) continue;
      if (c === QUOTE) {
        if (field === '' && plainFrom < 0 && !quoted) {
          quoted = true;
          inQuotes = true;
        } else {
          broken = quoted ? 'text after the closing quote of a field' : 'a quote inside an unquoted field';
        }
        continue;
      }
      if (quoted) {
        broken = 'text after the closing quote of a field';
        continue;
      }
      if (plainFrom < 0) plainFrom = i;
    }
    if (plainFrom >= 0) field += text.slice(plainFrom);
  }
  if (inQuotes && !afterQuote) {
    yield { line: recordLine, error: { code: 'MALFORMED_CSV', message: 'the file ends inside a quoted field' } };
    return;
  }
  inQuotes = false;
  yield* endRecord();
}

/**
 * The records as objects keyed by the header's names (the first record). A record whose field count
 * differs from the header's is malformed.
 */
export async function* csvObjects(
  source: ByteSource,
): AsyncGenerator<{ line: number; value: Record<string, string | null>; error?: undefined } | { line: number; value?: undefined; error: { code: 'MALFORMED_CSV'; message: string } }> {
  let header: string[] | null = null;
  for await (const record of csvRecords(source)) {
    if (record.error) {
      if (!header) {
        yield record;
        return;
      }
      yield record;
      continue;
    }
    if (!header) {
      header = record.fields.map((name) => (name ?? '').trim());
      continue;
    }
    if (record.fields.length !== header.length) {
      yield { line: record.line, error: { code: 'MALFORMED_CSV', message: `${record.fields.length} fields where the header has ${header.length}` } };
      continue;
    }
    const value: Record<string, string | null> = {};
    header.forEach((name, i) => (value[name] = record.fields[i]!));
    yield { line: record.line, value };
  }
}
