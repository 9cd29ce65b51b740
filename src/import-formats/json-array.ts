// A streaming reader of the elements of one JSON array: `[ {...}, {...} ]` at the top of a file, or the
// array of one key of a top-level object (`{"users": [ ... ]}`, Firebase's export). Only one element
// is held in memory at a time; each is handed to JSON.parse on its own, so a malformed element is
// reported with the line it starts on and the reader goes on with the next one.
import { textChunks, type ByteSource } from './types.js';

export type ArrayElement =
  | { line: number; value: unknown; error?: undefined }
  | { line: number; value?: undefined; error: { code: 'MALFORMED_JSON'; message: string } };

const QUOTE = 34; // "
const BACKSLASH = 92;
const NEWLINE = 10;
const COMMA = 44;
const OPEN = new Set([91, 123]); // [ {
const CLOSE = new Set([93, 125]); // ] }
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff;

/**
 * The elements of the array, in order. `key`: the array is the value of this key of a top-level object
 * (which must come first in it, as `firebase auth:export` writes it); otherwise the file is the array.
 */
export async function* jsonArrayElements(source: ByteSource, options: { key?: string } = {}): AsyncGenerator<ArrayElement> {
  // Where the reader is: before the array (reading the prefix), between elements, inside one, after the array.
  let state: 'prefix' | 'between' | 'element' | 'after' = 'prefix';
  let prefix = '';
  let buffer = ''; // text not yet consumed: the element being read, from its start
  let line = 1;
  let elementLine = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let scanFrom = 0; // where scanning resumes in `buffer`
  const expectedPrefix = options.key === undefined ? /^\s*\[/ : new RegExp(`^\\s*\\{\\s*"${options.key}"\\s*:\\s*\\[`);
  const fatal = (message: string): ArrayElement => ({ line, error: { code: 'MALFORMED_JSON', message } });
  const parse = (text: string, at: number): ArrayElement => {
    try {
      return { line: at, value: JSON.parse(text) };
    } catch (err) {
      return { line: at, error: { code: 'MALFORMED_JSON', message: `not JSON: ${(err as Error).message}` } };
    }
  };

  for await (const chunk of textChunks(source)) {
    let text = chunk;
    if (state === 'prefix') {
      prefix += text;
      const match = expectedPrefix.exec(prefix);
      if (!match) {
        if (prefix.length < 4096) continue; // the opening may still come
        yield fatal(options.key === undefined ? 'the file is not a JSON array' : `the file is not a JSON object whose first key is "${options.key}" holding an array`);
        return;
      }
      for (const c of match[0]) if (c === '\n') line++;
      text = prefix.slice(match[0].length);
      prefix = '';
      state = 'between';
    }
    buffer += text;
    let i = scanFrom;
    let consumed = 0; // buffer[0, consumed) is done with
    for (; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c === NEWLINE) line++;
      if (state === 'between') {
        if (isSpace(c) || c === COMMA) continue;
        if (c === 93) {
          state = 'after';
          continue;
        }
        state = 'element';
        elementLine = line;
        consumed = i;
        depth = 0;
        inString = false;
        escaped = false;
      } else if (state === 'after') {
        if (options.key === undefined && !isSpace(c)) {
          yield fatal('text after the end of the array');
          return;
        }
        continue;
      }
      // state === 'element'
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (c === QUOTE) inString = true;
      else if (OPEN.has(c)) depth++;
      else if (CLOSE.has(c) && depth > 0) {
        depth--;
        if (depth === 0) {
          yield parse(buffer.slice(consumed, i + 1), elementLine);
          consumed = i + 1;
          state = 'between';
        }
      } else if (depth === 0 && (c === COMMA || c === 93)) {
        // A scalar element (not an object): ends at the comma or the array's end.
        yield parse(buffer.slice(consumed, i), elementLine);
        consumed = i;
        state = 'between';
        i--; // read the comma or bracket again, between elements
      }
    }
    if (state === 'element') {
      buffer = buffer.slice(consumed);
      scanFrom = buffer.length;
    } else {
      buffer = '';
      scanFrom = 0;
    }
  }
  if (state === 'prefix') yield fatal(options.key === undefined ? 'the file is not a JSON array' : `the file has no "${options.key}" array`);
  else if (state === 'element') yield { line: elementLine, error: { code: 'MALFORMED_JSON', message: 'the file ends inside this element' } };
  else if (state === 'between') yield fatal('the file ends before the array does');
}
