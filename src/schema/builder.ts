import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { Context } from '../context.js';
import type { AdminRole } from '../db/schema.js';
import { forbidden, hasRole } from './access.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    ID: { Input: string; Output: string };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
  AuthScopes: {
    /** The request's admin key has this role or a higher one. */
    role: AdminRole;
    /** Never held: the Query and Mutation types require it, so a root field without its own grant is refused. */
    ruled: boolean;
  };
}>({
  plugins: [ScopeAuthPlugin, ErrorsPlugin, RelayPlugin, DataloaderPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({
      role: (required) => hasRole(ctx.adminKey.role, required),
      ruled: false,
    }),
    unauthorizedError: (_parent, ctx, info) => forbidden(ctx, info),
  },
  relay: {
    cursorType: 'String',
    // Users are addressed by their own id, as the app's tokens carry it: no global ids, no node().
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    pageInfoTypeOptions: { description: 'Where a page stands in its list.' },
    hasNextPageFieldOptions: { description: 'Whether there are more items after this page.' },
    hasPreviousPageFieldOptions: { description: 'Whether this page was asked for with a cursor.' },
    startCursorFieldOptions: { description: 'The cursor of the first item of the page.' },
    endCursorFieldOptions: { description: 'The cursor of the last item: pass it as `after` for the next page.' },
    edgesFieldOptions: { description: 'The items of the page, in order.' },
    // Issue 18: clients that need no cursors ask for the rows alone, as PostGraphile's clients do.
    nodesOnConnection: { description: 'The items of the page, in order, without their cursors (`edges` has them).' },
    pageInfoFieldOptions: { description: 'Where the page stands in its list.' },
    nodeFieldOptions: { description: 'The item.' },
    cursorFieldOptions: { description: 'The position of the item: pass it as `after` to continue after it.' },
  },
});
