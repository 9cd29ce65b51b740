import { createContextCache } from '@pothos/core';
import DataLoader from 'dataloader';
import { Kind, type GraphQLResolveInfo, type SelectionNode } from 'graphql';
import type { Context } from '../context.js';
import { pageRequest, toPage } from '../db/keyset.js';
import type { IdentityRow, RefreshTokenRow, UserRow } from '../db/schema.js';
import { countLiveSessionsByUser, liveSessionPagesByUser } from '../sessions/repository.js';
import { identitiesByUser, type UserRowWithCount } from '../users/repository.js';
import { describeDevice, findUser, findUsers } from '../users/service.js';
import { denyUnruled, grant } from './access.js';
import { builder } from './builder.js';
import { toConnection, type ConnectionShape } from './connections.js';

export const UserStatusEnum = builder.enumType('UserStatus', {
  description: 'Where a user stands with the app.',
  values: {
    CONFIRMED: { value: 'confirmed', description: 'Signed up and confirmed: the user can log in.' },
    PENDING: {
      value: 'pending',
      description: 'Signed up but not confirmed yet: cannot log in, cannot be disabled, can be deleted.',
    },
    DISABLED: {
      value: 'disabled',
      description: 'Disabled by an operator: every token is invalid and the user cannot log in.',
    },
  } as const,
});

const UserIdentity = builder.objectRef<IdentityRow>('UserIdentity').implement({
  description: "One way the user signs in: an authentication provider and the user's id with it.",
  fields: (t) => ({
    providerType: t.exposeString('providerType', {
      description: 'The authentication provider, such as `local-userpass` (email/password) or `anon-user`.',
    }),
    id: t.exposeString('providerId', { description: "The user's id at that provider." }),
  }),
});

export const Session = builder.objectRef<RefreshTokenRow>('Session').implement({
  description:
    'A login of the user on one device: one refresh token and the access tokens issued from it. `User.sessions` lists the live ones (neither revoked nor expired).',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The id of the session (not the token, which is never stored); `revokeSession` takes it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user logged in.' }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the refresh token was last used for a new access token; null if never.',
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'When the refresh token stops working.' }),
    revokedAt: t.expose('revokedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the session was revoked (by an operator, a logout or a disable); null while it is live.',
    }),
    deviceId: t.exposeString('deviceId', { nullable: true, description: 'The device id the client SDK gave at login (or the one the gateway gave it).' }),
    sdk: t.exposeString('sdk', {
      nullable: true,
      description: "The SDK's name as the client reported it at login (`options.device.sdk`, sent by the native SDKs); null if not reported.",
    }),
    sdkVersion: t.exposeString('sdkVersion', {
      nullable: true,
      description: "The SDK's version as the client reported it at login (`options.device.sdkVersion`, e.g. realm-web's `2.0.1`); null if not reported.",
    }),
    platform: t.exposeString('platform', {
      nullable: true,
      description: 'The platform the client reported at login (`options.device.platform`: a browser, `node`, an OS); null if not reported.',
    }),
    platformVersion: t.exposeString('platformVersion', {
      nullable: true,
      description: "The platform's version the client reported at login (`options.device.platformVersion`); null if not reported.",
    }),
    deviceName: t.exposeString('deviceName', {
      nullable: true,
      description: 'The device name the client reported at login (`options.device.deviceName`, native SDKs); null if not reported.',
    }),
    appVersion: t.exposeString('appVersion', {
      nullable: true,
      description: "The app's own version the client reported at login (`options.device.appVersion`); null if not reported.",
    }),
    device: t.string({
      nullable: true,
      description:
        'What the client reported about itself at login, in a few words for people (`SDK 2.0.1 on chrome 120`); null if it reported nothing. Each part is what the client chose to send: shown, never trusted.',
      resolve: (session) => describeDevice(session),
    }),
  }),
});

const SessionConnection = builder.connectionObject(
  { type: Session, name: 'SessionConnection', description: 'A page of live sessions, newest first.' },
  { name: 'SessionEdge', description: 'A session and its cursor.' },
);

/** Live-session counts of the users of one request, in one statement per batch. */
const activeSessionCounts = createContextCache(
  (ctx: Context) =>
    new DataLoader<string, number>(async (ids) => {
      const counts = await countLiveSessionsByUser(ctx.db, ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
);

/** Whether the operation selects the field at `path` below this field (through fragments too). */
function selects(info: GraphQLResolveInfo, path: string[]): boolean {
  const within = (selections: readonly SelectionNode[], [name, ...rest]: string[]): boolean =>
    selections.some((selection) => {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== name) return false;
        return rest.length === 0 || within(selection.selectionSet?.selections ?? [], rest);
      }
      const fragment =
        selection.kind === Kind.INLINE_FRAGMENT ? selection : info.fragments[selection.name.value];
      return !!fragment && within(fragment.selectionSet.selections, [name!, ...rest]);
    });
  return info.fieldNodes.some((node) => within(node.selectionSet?.selections ?? [], path));
}

export const User = builder.objectRef<UserRow>('User').implement({
  description: 'A user of the app.',
  fields: (t) => ({
    id: t.exposeID('id', { description: "The user's own id, exactly as the app's tokens carry it." }),
    email: t.exposeString('email', { nullable: true, description: 'The email address; null for anonymous users.' }),
    status: t.expose('status', { type: UserStatusEnum, description: 'Confirmed, pending or disabled.' }),
    identities: t.loadableList({
      type: UserIdentity,
      description: 'The authentication providers the user signs in with.',
      load: async (ids: string[], ctx) => {
        const byUser = await identitiesByUser(ctx.db, ids);
        return ids.map((id) => byUser.get(id) ?? []);
      },
      resolve: (user) => user.id,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user was created.' }),
    lastAuthenticatedAt: t.expose('lastAuthenticatedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the user last logged in; null if never.',
    }),
    disabledAt: t.expose('disabledAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the user was disabled; null unless the status is DISABLED.',
    }),
    activeSessionCount: t.int({
      description: 'How many live sessions (unrevoked, unexpired refresh tokens) the user has.',
      // A page of `users` brings the counts along when they are asked for (see below); other users are batched.
      resolve: (user: UserRowWithCount, _args, ctx) => user.activeSessionCount ?? activeSessionCounts(ctx).load(user.id),
    }),
    sessions: t.loadable({
      type: SessionConnection,
      description: 'The live sessions of the user, newest first.',
      byPath: true,
      args: {
        first: t.arg.int({ required: false, description: 'How many sessions (default 50, at most 500).' }),
        after: t.arg.string({ required: false, description: 'The `endCursor` of the previous page.' }),
      },
      load: async (ids: string[], ctx, args): Promise<ConnectionShape<RefreshTokenRow>[]> => {
        const page = pageRequest(args.first, args.after);
        const byUser = await liveSessionPagesByUser(ctx.db, ids, page);
        return ids.map((id) => toConnection(toPage(byUser.get(id) ?? [], page.first), page.after !== null));
      },
      resolve: (user) => user.id,
    }),
  }),
});

const UserConnection = builder.connectionObject(
  {
    type: User,
    name: 'UserConnection',
    description: 'A page of users, newest first.',
    fields: (t) => ({
      totalCount: t.int({
        description: 'How many users match the filter, across all pages.',
        resolve: (connection) => (connection as unknown as { totalCount(): Promise<number> }).totalCount(),
      }),
    }),
  },
  { name: 'UserEdge', description: 'A user and its cursor.' },
);

builder.queryType({ description: 'Reading the app\'s users.', authScopes: denyUnruled });

builder.queryField('users', (t) =>
  t.field({
    ...grant('viewer'),
    type: UserConnection,
    description: 'The users of the app, newest first (ties broken by id), one page at a time.',
    args: {
      status: t.arg({ type: UserStatusEnum, required: false, description: 'Only users with this status.' }),
      search: t.arg.string({
        required: false,
        description: 'An exact user id, or the start of an email address (case-insensitive).',
      }),
      first: t.arg.int({ required: false, description: 'How many users (default 50, at most 500).' }),
      after: t.arg.string({ required: false, description: 'The `endCursor` of the previous page.' }),
    },
    resolve: async (_root, args, ctx, info) => {
      const list = await findUsers(ctx.db, { status: args.status, search: args.search }, args.first, args.after, {
        withActiveSessionCount:
          selects(info, ['edges', 'node', 'activeSessionCount']) || selects(info, ['nodes', 'activeSessionCount']),
      });
      return Object.assign(toConnection(list, args.after != null), { totalCount: list.totalCount });
    },
  }),
);

builder.queryField('user', (t) =>
  t.field({
    ...grant('viewer'),
    type: User,
    nullable: true,
    description: 'One user by id; null if there is no such user.',
    args: { id: t.arg.id({ required: true, description: "The user's id." }) },
    resolve: (_root, args, ctx) => findUser(ctx.db, args.id),
  }),
);
