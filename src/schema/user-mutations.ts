import type { RefreshTokenRow, UserRow } from '../db/schema.js';
import { EmailTakenError, InvalidInputError, PendingUserError, SessionNotFoundError, UserNotFoundError } from '../errors.js';
import { LinkedDataPurgeError } from '../linked-data/index.js';
import * as users from '../users/service.js';
import { denyUnruled, grantMutation } from './access.js';
import { builder } from './builder.js';
import { LinkedDataCount } from './linked-data.js';
import { Session, User } from './user.js';

const CreateUserSuccess = builder.objectRef<{ user: UserRow }>('CreateUserSuccess').implement({
  description: 'The user was created, confirmed, with an email/password identity.',
  fields: (t) => ({ user: t.expose('user', { type: User, description: 'The new user.' }) }),
});

const DisableUserSuccess = builder.objectRef<users.UserActionResult>('DisableUserSuccess').implement({
  description: 'The user is disabled and every session it had is revoked.',
  fields: (t) => ({
    user: t.expose('user', { type: User, description: 'The user, now disabled.' }),
    revokedSessionCount: t.exposeInt('revokedSessionCount', {
      description: 'How many live sessions were revoked (0 if the user was already disabled).',
    }),
  }),
});

const EnableUserSuccess = builder.objectRef<{ user: UserRow }>('EnableUserSuccess').implement({
  description: 'The user is confirmed again and can log in; none of its old sessions came back.',
  fields: (t) => ({ user: t.expose('user', { type: User, description: 'The user, now confirmed.' }) }),
});

const DeleteUserSuccess = builder.objectRef<users.DeleteResult>('DeleteUserSuccess').implement({
  description:
    "The user, its identities and its sessions are gone. The app's own data that points at the user is left as it was, unless it was purged (purgeLinkedData).",
  fields: (t) => ({
    deletedUserId: t.exposeID('deletedUserId', { description: 'The id the deleted user had.' }),
    revokedSessionCount: t.exposeInt('revokedSessionCount', {
      description: 'How many live sessions the user had; all of them are invalid now.',
    }),
    linkedData: t.expose('linkedData', {
      type: [LinkedDataCount],
      description:
        "Per table declared in LINKED_DATA_FILE: the rows deleted with the user if linkedDataPurged, otherwise the rows left behind that still hold the user's id.",
    }),
    linkedDataPurged: t.exposeBoolean('linkedDataPurged', {
      description: "Whether the app's own rows that pointed at the user were deleted with it (purgeLinkedData: true).",
    }),
  }),
});

const RevokeUserSessionsSuccess = builder
  .objectRef<users.UserActionResult>('RevokeUserSessionsSuccess')
  .implement({
    description: 'Every live session of the user is revoked: the user must log in again.',
    fields: (t) => ({
      user: t.expose('user', { type: User, description: 'The user.' }),
      revokedSessionCount: t.exposeInt('revokedSessionCount', { description: 'How many live sessions were revoked.' }),
    }),
  });

const RevokeSessionSuccess = builder
  .objectRef<{ session: RefreshTokenRow; user: UserRow }>('RevokeSessionSuccess')
  .implement({
    description:
      "The session is revoked: its refresh token and every access token issued from it stop working on every instance. The user's other sessions go on.",
    fields: (t) => ({
      session: t.expose('session', { type: Session, description: 'The session, now revoked (`revokedAt` is set).' }),
      user: t.expose('user', { type: User, description: 'The user whose session it was.' }),
    }),
  });

builder.mutationType({
  description: 'Acting on the app\'s users. Each mutation is one transaction.',
  authScopes: denyUnruled,
});

builder.mutationField('createUser', (t) =>
  t.field({
    ...grantMutation('operator'),
    type: CreateUserSuccess,
    description: 'Creates a confirmed email/password user, as an operator would in the admin console.',
    args: {
      email: t.arg.string({ required: true, description: 'The email address; unique, case-insensitively.' }),
      password: t.arg.string({ required: true, description: 'The password: 6 to 128 characters.' }),
    },
    errors: { types: [EmailTakenError, InvalidInputError], directResult: true, union: { name: 'CreateUserResult', description: 'The created user, or why it could not be created.' } },
    resolve: async (_root, args, ctx) => ({
      user: await users.createEmailPasswordUser(ctx.db, ctx.actor, { ...args, status: 'confirmed' }),
    }),
  }),
);

builder.mutationField('disableUser', (t) =>
  t.field({
    ...grantMutation('operator'),
    type: DisableUserSuccess,
    description:
      'Disables a confirmed user: every access and refresh token stops working and the user cannot log in. Pending users cannot be disabled.',
    args: { id: t.arg.id({ required: true, description: "The user's id." }) },
    errors: {
      types: [UserNotFoundError, PendingUserError],
      directResult: true,
      union: { name: 'DisableUserResult', description: 'The disabled user with the count of revoked sessions, or why it could not be disabled.' },
    },
    resolve: (_root, args, ctx) => users.disableUser(ctx.db, ctx.actor, args.id),
  }),
);

builder.mutationField('enableUser', (t) =>
  t.field({
    ...grantMutation('operator'),
    type: EnableUserSuccess,
    description: 'Lets a disabled user log in again. Sessions revoked by the disabling stay revoked.',
    args: { id: t.arg.id({ required: true, description: "The user's id." }) },
    errors: {
      types: [UserNotFoundError, PendingUserError],
      directResult: true,
      union: { name: 'EnableUserResult', description: 'The enabled user, or why it could not be enabled.' },
    },
    resolve: async (_root, args, ctx) => ({ user: await users.enableUser(ctx.db, ctx.actor, args.id) }),
  }),
);

builder.mutationField('deleteUser', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: DeleteUserSuccess,
    description:
      "Deletes the user with its identities and sessions; every token stops working. The app's own data that points at the user is not deleted unless purgeLinkedData is true.",
    args: {
      id: t.arg.id({ required: true, description: "The user's id." }),
      purgeLinkedData: t.arg.boolean({
        required: false,
        defaultValue: false,
        description:
          "Also delete every row of the app's tables declared in LINKED_DATA_FILE that points at the user, in the same transaction. Owner keys only.",
      }),
    },
    errors: { types: [UserNotFoundError, LinkedDataPurgeError], directResult: true, union: { name: 'DeleteUserResult', description: 'The id of the deleted user with the count of revoked sessions, or why it could not be deleted.' } },
    resolve: (_root, args, ctx) =>
      users.deleteUser(ctx.db, ctx.actor, args.id, {
        linkedData: ctx.linkedData,
        purgeLinkedData: args.purgeLinkedData ?? false,
        role: ctx.adminKey.role,
      }),
  }),
);

builder.mutationField('revokeUserSessions', (t) =>
  t.field({
    ...grantMutation('operator'),
    type: RevokeUserSessionsSuccess,
    description: 'Logs the user out of every session: all access and refresh tokens stop working.',
    args: { id: t.arg.id({ required: true, description: "The user's id." }) },
    errors: { types: [UserNotFoundError], directResult: true, union: { name: 'RevokeUserSessionsResult', description: 'The user with the count of revoked sessions, or why they could not be revoked.' } },
    resolve: (_root, args, ctx) => users.revokeUserSessions(ctx.db, ctx.actor, args.id),
  }),
);

builder.mutationField('revokeSession', (t) =>
  t.field({
    ...grantMutation('operator', { idNames: 'session' }),
    type: RevokeSessionSuccess,
    description:
      "Logs the user out of one session (one device), as from `User.sessions`: that session's refresh token and access tokens stop working at once, on every instance; the user's other sessions keep working.",
    args: { id: t.arg.id({ required: true, description: 'The id of the session (`Session.id`).' }) },
    errors: {
      types: [SessionNotFoundError],
      directResult: true,
      union: { name: 'RevokeSessionResult', description: 'The revoked session and its user, or why no session was revoked.' },
    },
    resolve: (_root, args, ctx) => users.revokeSession(ctx.db, ctx.actor, args.id),
  }),
);
