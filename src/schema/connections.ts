import { encodeCursor, type KeysetPosition, type Page } from '../db/keyset.js';

export interface ConnectionShape<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** A keyset page as a Relay connection; every row's cursor is its own (created_at, id). */
export function toConnection<T extends KeysetPosition>(page: Page<T>, hasPreviousPage: boolean): ConnectionShape<T> {
  const edges = page.nodes.map((node) => ({ cursor: encodeCursor(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
