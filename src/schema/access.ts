// Who may use what. Every root field states the lowest admin role it needs with `grant(role)`;
// the Query and Mutation types require a scope no request holds (`denyUnruled`), so a root field
// without a grant of its own is refused for every key. Nested fields are reached only through
// root fields and need no rule of their own.
import type { GraphQLResolveInfo } from 'graphql';
import { recordAuditEvent } from '../audit/log.js';
import type { Context } from '../context.js';
import { adminRoles, type AdminRole } from '../db/schema.js';
import { ForbiddenError } from '../errors.js';

const rank = (role: AdminRole) => adminRoles.indexOf(role);

/** viewer < operator < owner: a higher role may do everything a lower one may. */
export function hasRole(held: AdminRole, required: AdminRole): boolean {
  return rank(held) >= 0 && rank(held) >= rank(required);
}

const article = (role: AdminRole) => (/^[aeiou]/.test(role) ? 'an' : 'a');

/** Why a key of role `held` may not use what needs `required`, in words; null when it may. */
export function roleRefusal(held: AdminRole, required: AdminRole): string | null {
  if (hasRole(held, required)) return null;
  return `Needs ${article(required)} ${required} key; this is ${article(held)} ${held} key.`;
}

/** The type-level scopes of Query and Mutation: a field is refused unless it grants access itself. */
export const denyUnruled = { ruled: true } as const;

/** The role a root field requires, as declared with grant(); undefined for a field without a rule. */
export function requiredRole(info: Pick<GraphQLResolveInfo, 'parentType' | 'fieldName'>): AdminRole | undefined {
  const field = info.parentType.getFields()[info.fieldName];
  const options = field?.extensions?.pothosOptions as { authScopes?: { role?: AdminRole } } | undefined;
  return options?.authScopes?.role;
}

export function forbidden(ctx: Context, info: GraphQLResolveInfo): ForbiddenError {
  const name = `${info.parentType.name}.${info.fieldName}`;
  const role = requiredRole(info);
  if (!role) return new ForbiddenError(`${name} has no access rule, so no admin key may use it.`);
  return new ForbiddenError(
    `This admin key has the ${ctx.adminKey.role} role; ${name} needs ${role}${role === 'owner' ? '' : ' or above'}.`,
  );
}

/** What a mutation's `id` argument names: a user (most), or a session (revokeSession). */
type IdNames = 'user' | 'session';

/** A refused mutation is recorded in the audit trail as refused, then reported as FORBIDDEN. */
const recordRefusal =
  (idNames: IdNames) =>
  async (_parent: unknown, args: Record<string, unknown>, ctx: Context, info: GraphQLResolveInfo, error: Error): Promise<never> => {
    const id = typeof args.id === 'string' ? args.id : null;
    await recordAuditEvent(ctx.db, ctx.actor, {
      action: info.fieldName,
      outcome: 'refused',
      userId: idNames === 'user' ? id : null,
      details: {
        code: 'FORBIDDEN',
        message: error.message,
        role: ctx.adminKey.role,
        ...(idNames === 'session' && id !== null ? { sessionId: id.slice(0, 64) } : {}),
      },
    });
    throw error;
  };

/** Field options that let keys of `role` and above use a root field. */
export function grant(role: AdminRole) {
  return { skipTypeScopes: true, authScopes: { role } } as const;
}

/** grant() for a mutation: a refusal is also written to the audit trail, about the user (or session) its `id` names. */
export function grantMutation(role: AdminRole, options: { idNames?: IdNames } = {}) {
  // Typed loosely: Pothos infers each field's resolver type, and this one only ever throws.
  return { ...grant(role), unauthorizedResolver: recordRefusal(options.idNames ?? 'user') as never };
}
