import { confirmUser, resendConfirmation } from '../signin/confirmation.js';
import { UserNotPendingError } from '../signin/errors.js';
import type { UserRow } from '../db/schema.js';
import { UserNotFoundError } from '../errors.js';
import { grantMutation } from './access.js';
import { builder } from './builder.js';
import { ErrorInterface } from './errors.js';
import { User, UserStatusEnum } from './user.js';

builder.objectType(UserNotPendingError, {
  name: 'UserNotPendingError',
  description: 'The user is not pending confirmation: it is confirmed already, or disabled.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    id: t.exposeID('id', { description: "The user's id." }),
    status: t.field({
      type: UserStatusEnum,
      description: 'The status the user has instead: CONFIRMED or DISABLED.',
      resolve: (error) => error.status,
    }),
  }),
});

const ConfirmUserSuccess = builder.objectRef<{ user: UserRow }>('ConfirmUserSuccess').implement({
  description: 'The user is confirmed and can log in; links mailed to it for confirmation stop working.',
  fields: (t) => ({
    user: t.expose('user', {
      type: User,
      description: 'The user: CONFIRMED, or DISABLED if an operator had disabled it (confirming changes nothing then).',
    }),
  }),
});

const ResendConfirmationSuccess = builder.objectRef<{ user: UserRow }>('ResendConfirmationSuccess').implement({
  description: 'A new confirmation link was mailed to the user.',
  fields: (t) => ({ user: t.expose('user', { type: User, description: 'The user, still pending.' }) }),
});

builder.mutationField('confirmUser', (t) =>
  t.field({
    ...grantMutation('operator'),
    type: ConfirmUserSuccess,
    description:
      'Confirms a pending user as if it had opened its confirmation link. Confirming a confirmed or disabled user changes nothing.',
    args: { id: t.arg.id({ required: true, description: "The user's id." }) },
    errors: {
      types: [UserNotFoundError],
      directResult: true,
      union: { name: 'ConfirmUserResult', description: 'The confirmed user, or why it could not be confirmed.' },
    },
    resolve: async (_root, args, ctx) => ({ user: await confirmUser(ctx.db, ctx.actor, args.id) }),
  }),
);

builder.mutationField('resendConfirmation', (t) =>
  t.field({
    ...grantMutation('operator'),
    type: ResendConfirmationSuccess,
    description: 'Mails a pending user a new confirmation link. Links mailed before keep working until they expire.',
    args: { id: t.arg.id({ required: true, description: "The user's id." }) },
    errors: {
      types: [UserNotFoundError, UserNotPendingError],
      directResult: true,
      union: { name: 'ResendConfirmationResult', description: 'The user the link was mailed to, or why none was.' },
    },
    resolve: async (_root, args, ctx) => ({
      user: await resendConfirmation(ctx.auth, ctx.actor, args.id, ctx.publicUrl),
    }),
  }),
);
