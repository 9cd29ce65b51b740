import { isObjectType, lexicographicSortSchema, printSchema, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import './errors.js';
import './user.js';
import './user-mutations.js';
import './user-actions.js';
import './bulk-mutations.js';
import './user-import.js';
import './admin.js';
import './linked-data.js';
import './confirmations.js';
import './mail.js';
import './password-reset.js';
import './signing-keys.js';
import './webhooks.js';

export const schema: GraphQLSchema = withoutEdgeNodeResolvers(builder.toSchema({ sortSchema: true }));

/**
 * The relay plugin resolves each edge's `node` with `(parent) => parent.node`, which is what GraphQL
 * does for a field without a resolver. With one, graphql-jit calls it for every edge of a page, with a
 * resolve info, its path and three closures each time (a tenth of what a page of users allocates,
 * issue 18); without one, it reads the property. Only a resolver that is seen to read `node` (not one
 * a plugin wrapped) is dropped.
 */
export function withoutEdgeNodeResolvers(built: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(built.getTypeMap())) {
    if (!isObjectType(type) || !type.name.endsWith('Edge')) continue;
    const node = type.getFields().node;
    if (node?.resolve && readsNode(node.resolve)) node.resolve = undefined;
  }
  return built;
}

function readsNode(resolve: GraphQLFieldResolver<unknown, unknown>): boolean {
  const probe = {};
  try {
    const result: unknown = resolve({ node: probe }, {}, undefined, undefined as never);
    // A wrapped resolver may answer a promise (or another thenable) that fails without a context:
    // kept, and its failure ignored.
    if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') (result as PromiseLike<unknown>).then(undefined, () => {});
    return result === probe;
  } catch {
    return false;
  }
}

/** The public contract as committed in schema.graphql. */
export function printContract(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
