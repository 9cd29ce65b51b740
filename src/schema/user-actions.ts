// User.availableActions: what an operator can do to a user now, from the user rules (users/rules.ts)
// and the role each mutation is granted with (access.ts), so a console never decides either itself.
import type { GraphQLResolveInfo } from 'graphql';
import type { AdminRole, UserRow } from '../db/schema.js';
import { availableActions, type UserAction } from '../users/rules.js';
import { requiredRole, roleRefusal } from './access.js';
import { AdminRoleEnum } from './admin.js';
import { builder } from './builder.js';
import { Session, User } from './user.js';
import { whyNotLive } from '../sessions/live.js';

/** The mutation that takes each action on one user (each takes the user's `id`). */
export const mutationOf: Record<UserAction, string> = {
  disable: 'disableUser',
  enable: 'enableUser',
  delete: 'deleteUser',
  revokeSessions: 'revokeUserSessions',
  confirm: 'confirmUser',
  resendConfirmation: 'resendConfirmation',
  sendPasswordReset: 'sendPasswordReset',
};

interface OfferedAction {
  kind: UserAction;
  mutation: string;
  requiredRole: AdminRole;
  reason: string | null;
}

const UserActionKindEnum = builder.enumType('UserActionKind', {
  description: 'An action an operator can take on one user.',
  values: {
    DISABLE: { value: 'disable', description: 'Disable the user and revoke every session (`disableUser`).' },
    ENABLE: { value: 'enable', description: 'Let a disabled user log in again (`enableUser`).' },
    DELETE: { value: 'delete', description: 'Delete the user with its identities and sessions (`deleteUser`).' },
    REVOKE_SESSIONS: { value: 'revokeSessions', description: 'Log the user out of every session (`revokeUserSessions`).' },
    CONFIRM: { value: 'confirm', description: 'Confirm a pending user (`confirmUser`).' },
    RESEND_CONFIRMATION: {
      value: 'resendConfirmation',
      description: 'Mail a pending user a new confirmation link (`resendConfirmation`).',
    },
    SEND_PASSWORD_RESET: {
      value: 'sendPasswordReset',
      description: 'Mail a confirmed user with an email address a password reset link (`sendPasswordReset`).',
    },
  } as const,
});

const UserActionRef = builder.objectRef<OfferedAction>('UserAction').implement({
  description:
    "An action that would change the user now, and whether this request's admin key may take it.",
  fields: (t) => ({
    kind: t.expose('kind', { type: UserActionKindEnum, description: 'Which action.' }),
    mutation: t.exposeString('mutation', {
      description: "The mutation that takes it, such as `disableUser`; it takes the user's `id`.",
    }),
    requiredRole: t.expose('requiredRole', {
      type: AdminRoleEnum,
      description: 'The lowest admin role that may take it.',
    }),
    allowed: t.boolean({
      description: "Whether this request's admin key has that role.",
      resolve: (action) => action.reason === null,
    }),
    reason: t.exposeString('reason', {
      nullable: true,
      description: 'Why the key may not take it, in words meant for a person (naming the role it needs); null when allowed.',
    }),
  }),
});

function offered(user: UserRow, held: AdminRole, info: GraphQLResolveInfo): OfferedAction[] {
  const mutationType = info.schema.getMutationType()!;
  // A user without an email address (anonymous) has no address to mail a reset link to.
  const actions = availableActions(user.status).filter((kind) => kind !== 'sendPasswordReset' || user.email !== null);
  return actions.map((kind) => {
    const mutation = mutationOf[kind];
    const role = requiredRole({ parentType: mutationType, fieldName: mutation });
    if (!role) throw new Error(`Mutation.${mutation} (the ${kind} action) has no access rule.`);
    return { kind, mutation, requiredRole: role, reason: roleRefusal(held, role) };
  });
}

builder.objectField(User, 'availableActions', (t) =>
  t.field({
    type: [UserActionRef],
    description:
      "The actions that would change the user now, in the order a console lists them: CONFIRMED → DISABLE, DELETE, REVOKE_SESSIONS, SEND_PASSWORD_RESET (only with an email address); PENDING → DELETE, CONFIRM, RESEND_CONFIRMATION (pending users cannot be disabled); DISABLED → ENABLE, DELETE. Actions this admin key's role may not take are listed too, with `allowed: false` and the reason. Computed from the user's status: no extra query.",
    resolve: (user, _args, ctx, info) => offered(user, ctx.adminKey.role, info),
  }),
);

interface OfferedSessionAction {
  mutation: string;
  requiredRole: AdminRole;
  reason: string | null;
}

const SessionActionRef = builder.objectRef<OfferedSessionAction>('SessionAction').implement({
  description: "Revoking one session (`revokeSession`), and whether this request's admin key may do it now.",
  fields: (t) => ({
    mutation: t.exposeString('mutation', { description: "The mutation that takes it: `revokeSession`, with the session's `id`." }),
    requiredRole: t.expose('requiredRole', { type: AdminRoleEnum, description: 'The lowest admin role that may take it.' }),
    allowed: t.boolean({
      description: "Whether this request's admin key may take it now (it has the role, and the session is live).",
      resolve: (action) => action.reason === null,
    }),
    reason: t.exposeString('reason', {
      nullable: true,
      description: 'Why it cannot be taken, in words meant for a person (the role it needs, or that the session is no longer live); null when allowed.',
    }),
  }),
});

builder.objectField(Session, 'revokeAction', (t) =>
  t.field({
    type: SessionActionRef,
    description: 'Revoking this session: the mutation, the role it needs, and whether this admin key may take it. No extra query.',
    resolve: (session, _args, ctx, info) => {
      const mutation = 'revokeSession';
      const role = requiredRole({ parentType: info.schema.getMutationType()!, fieldName: mutation });
      if (!role) throw new Error(`Mutation.${mutation} has no access rule.`);
      const notLive = whyNotLive(session);
      return {
        mutation,
        requiredRole: role,
        reason: roleRefusal(ctx.adminKey.role, role) ?? (notLive ? `This session is already ${notLive}.` : null),
      };
    },
  }),
);
