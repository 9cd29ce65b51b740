import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
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

export const schema: GraphQLSchema = builder.toSchema({ sortSchema: true });

/** The public contract as committed in schema.graphql. */
export function printContract(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
