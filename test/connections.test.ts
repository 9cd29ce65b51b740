// A connection's cursors are encoded when read (src/schema/connections.ts): a page read as `nodes`
// encodes none, each cursor read is the row's own, and none is encoded twice.
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, type KeysetPosition } from '../src/db/keyset.js';
import { toConnection } from '../src/schema/connections.js';

const rows = [0, 1, 2].map((i) => ({ at: new Date(Date.UTC(2026, 0, 31 - i)), key: `0000000${i}-0000-4000-8000-000000000000` }));

/** A row's position, with the keys of the rows whose position was read (one per cursor encoded). */
function counted() {
  const read: string[] = [];
  const positionOf = (row: (typeof rows)[number]): KeysetPosition => {
    read.push(row.key);
    return { createdAt: row.at, id: row.key };
  };
  return { read, positionOf };
}

describe('toConnection', () => {
  it('encodes a cursor only when one is read, and each is its own row’s', () => {
    const { read, positionOf } = counted();
    const connection = toConnection({ nodes: rows, hasNextPage: true }, false, positionOf);
    expect(connection.edges.map((edge) => edge.node)).toEqual(rows);
    expect(connection.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(read).toEqual([]);

    expect(connection.edges[1]!.cursor).toBe(encodeCursor({ createdAt: rows[1]!.at, id: rows[1]!.key }));
    expect(decodeCursor(connection.pageInfo.endCursor!)).toEqual({ createdAt: rows[2]!.at, id: rows[2]!.key });
    expect(decodeCursor(connection.pageInfo.startCursor!)).toEqual({ createdAt: rows[0]!.at, id: rows[0]!.key });
    expect(read).toEqual([rows[1]!.key, rows[2]!.key, rows[0]!.key]);
  });

  it('encodes each cursor once, however often it is read', () => {
    const { read, positionOf } = counted();
    const connection = toConnection({ nodes: rows, hasNextPage: false }, false, positionOf);
    // The last edge's cursor, the page's endCursor, and both again (as aliases would ask).
    const last = connection.edges[2]!.cursor;
    expect(connection.pageInfo.endCursor).toBe(last);
    expect(connection.edges[2]!.cursor).toBe(last);
    expect(connection.pageInfo.endCursor).toBe(last);
    expect(connection.pageInfo.startCursor).toBe(connection.edges[0]!.cursor);
    expect(read).toEqual([rows[2]!.key, rows[0]!.key]);
  });

  it('has no cursors on an empty page', () => {
    const connection = toConnection({ nodes: [], hasNextPage: false }, true);
    expect(connection.edges).toEqual([]);
    expect(connection.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null });
  });
});

describe('encodeCursor', () => {
  // Written through a scratch buffer of 1,024 bytes; a text that might not fit takes Buffer.from.
  const at = new Date('2026-12-03T12:34:56.789Z');
  const plain = (id: string) => Buffer.from(`${at.getTime()}:${id}`).toString('base64url');

  it.each([
    ['a UUID', '0b6f3c1e-7a9d-4c2b-9f1e-2d3c4b5a6978'],
    ['a user id of 128 characters', 'a'.repeat(128)],
    ['non-ASCII text that just fits', '€'.repeat(1024 / 3 - 15)],
    ['non-ASCII text past the scratch buffer', '€'.repeat(400)],
    ['a long mix of 2-, 3- and 4-byte characters', 'é€😀'.repeat(300)],
    ['a lone surrogate, short', 'x\uD800y'],
    ['lone surrogates past the scratch buffer', '\uDC00'.repeat(500)],
  ])('gives what Buffer.from gives for %s', (_name, id) => {
    expect(encodeCursor({ createdAt: at, id })).toBe(plain(id));
  });

  it('is not changed by the cursor encoded before it', () => {
    const long = encodeCursor({ createdAt: at, id: 'z'.repeat(300) });
    expect(encodeCursor({ createdAt: at, id: 'short' })).toBe(plain('short'));
    expect(long).toBe(plain('z'.repeat(300)));
  });
});
