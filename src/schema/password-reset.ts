// The operator's password reset: a link mailed to the user, as the client API's `reset/send` mails it.
import type { UserRow } from '../db/schema.js';
import { UserNotFoundError } from '../errors.js';
import { PasswordResetUnavailableError } from '../signin/errors.js';
import { sendPasswordReset } from '../signin/password-reset.js';
import { grantMutation } from './access.js';
import { builder } from './builder.js';
import { ErrorInterface } from './errors.js';
import { User } from './user.js';

builder.objectType(PasswordResetUnavailableError, {
  name: 'PasswordResetUnavailableError',
  description: 'No reset link can be sent to this user: it is not confirmed, or has no email/password identity (an anonymous user).',
  interfaces: [ErrorInterface],
  fields: (t) => ({ id: t.exposeID('id', { description: "The user's id." }) }),
});

const SendPasswordResetSuccess = builder.objectRef<{ user: UserRow }>('SendPasswordResetSuccess').implement({
  description:
    'A password reset link was mailed to the user. Its password and sessions are unchanged until the link is used; using it revokes every session of the user.',
  fields: (t) => ({ user: t.expose('user', { type: User, description: 'The user the link was mailed to.' }) }),
});

builder.mutationField('sendPasswordReset', (t) =>
  t.field({
    ...grantMutation('operator'),
    type: SendPasswordResetSuccess,
    description:
      'Mails a confirmed email/password user a password reset link (`…?token=…&tokenId=…`, valid once, for PASSWORD_RESET_TOKEN_TTL_SECONDS). Links mailed before keep working until used or expired.',
    args: { id: t.arg.id({ required: true, description: "The user's id." }) },
    errors: {
      types: [UserNotFoundError, PasswordResetUnavailableError],
      directResult: true,
      union: { name: 'SendPasswordResetResult', description: 'The user the link was mailed to, or why none was.' },
    },
    resolve: async (_root, args, ctx) => ({ user: await sendPasswordReset(ctx.auth, ctx.actor, args.id, ctx.publicUrl) }),
  }),
);
