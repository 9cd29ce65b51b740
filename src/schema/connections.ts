import { encodeCursor, type KeysetPosition, type Page } from '../db/keyset.js';

export interface ConnectionShape<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/**
 * A keyset page as a Relay connection; every row's cursor is its own (created_at, id), read by
 * `positionOf` for rows that name them otherwise.
 */
export function toConnection<T>(
  page: Page<T>,
  hasPreviousPage: boolean,
  positionOf: (node: T) => KeysetPosition = (node) => node as KeysetPosition,
): ConnectionShape<T> {
  const edges = page.nodes.map((node) => ({ cursor: encodeCursor(positionOf(node)), node }));
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
