import { encodeCursor, type KeysetPosition, type Page } from '../db/keyset.js';

export interface ConnectionShape<T> {
  edges: { readonly cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; readonly startCursor: string | null; readonly endCursor: string | null };
}

const identity = (node: unknown) => node as KeysetPosition;

/**
 * An edge whose cursor is encoded when it is first read, not when the page is built: a page asked for
 * as `nodes`, or without `cursor`, encodes none (encoding 50 cursors was a visible share of a page's
 * CPU time, issue 18). Once read it is remembered: the last edge's cursor is also the page's
 * endCursor, and aliases read a field again.
 */
class Edge<T> {
  private encoded: string | undefined;

  constructor(
    readonly node: T,
    private readonly positionOf: (node: T) => KeysetPosition,
  ) {}

  get cursor(): string {
    return (this.encoded ??= encodeCursor(this.positionOf(this.node)));
  }
}

/** The page's info, its start and end cursors likewise encoded when read. */
class PageInfo<T> {
  constructor(
    private readonly edges: readonly Edge<T>[],
    readonly hasNextPage: boolean,
    readonly hasPreviousPage: boolean,
  ) {}

  get startCursor(): string | null {
    return this.edges[0]?.cursor ?? null;
  }

  get endCursor(): string | null {
    return this.edges.at(-1)?.cursor ?? null;
  }
}

/**
 * A keyset page as a Relay connection; every row's cursor is its own (created_at, id), read by
 * `positionOf` for rows that name them otherwise.
 */
export function toConnection<T>(
  page: Page<T>,
  hasPreviousPage: boolean,
  positionOf: (node: T) => KeysetPosition = identity,
): ConnectionShape<T> {
  const edges = page.nodes.map((node) => new Edge(node, positionOf));
  return { edges, pageInfo: new PageInfo(edges, page.hasNextPage, hasPreviousPage) };
}
