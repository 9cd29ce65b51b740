import { adminKeysByIds, issueAdminKey, listAdminKeys, revokeAdminKey } from '../admin/keys.js';
import { findAuditEvents } from '../audit/events.js';
import { toConnection } from './connections.js';
import type { AdminKeyRow, AuditEventRow } from '../db/schema.js';
import { AdminKeyNotFoundError, InvalidInputError, LastOwnerKeyError } from '../errors.js';
import { grant, grantMutation } from './access.js';
import { builder } from './builder.js';
import { ErrorInterface } from './errors.js';

export const AdminRoleEnum = builder.enumType('AdminRole', {
  description: 'What an admin key may do. Each role may also do everything the roles before it may.',
  values: {
    VIEWER: { value: 'viewer', description: 'Read users, sessions and the audit trail; change nothing.' },
    OPERATOR: {
      value: 'operator',
      description: 'Also create, disable, enable and confirm users and revoke their sessions.',
    },
    OWNER: { value: 'owner', description: 'Also delete users and create, list and revoke admin keys.' },
  } as const,
});

export const AdminKey = builder.objectRef<AdminKeyRow>('AdminKey').implement({
  description: 'A key operators send as `Authorization: Bearer <secret>`. Only a hash of the secret is stored.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The id of the key (not its secret).' }),
    name: t.exposeString('name', { description: 'What the key is for, such as "ci" or the name of a person.' }),
    role: t.expose('role', { type: AdminRoleEnum, description: 'What the key may do.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the key was created.' }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When a request last came with the key (recorded at most once a minute); null if never.',
    }),
    revokedAt: t.expose('revokedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the key was revoked; null while it works.',
    }),
  }),
});

builder.objectType(AdminKeyNotFoundError, {
  name: 'AdminKeyNotFoundError',
  description: 'No admin key has the given id.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ id: t.exposeID('id', { description: 'The id that was asked for.' }) }),
});

builder.objectType(LastOwnerKeyError, {
  name: 'LastOwnerKeyError',
  description:
    'The key is the last active owner key: revoking it would leave nobody able to manage keys. Create another owner key first.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ id: t.exposeID('id', { description: 'The id of the last owner key.' }) }),
});

const CreateAdminKeySuccess = builder
  .objectRef<{ key: AdminKeyRow; secret: string }>('CreateAdminKeySuccess')
  .implement({
    description: 'The new key with its secret. The secret is shown only this once: only its hash is stored.',
    fields: (t) => ({
      secret: t.exposeString('secret', {
        description: 'The secret to send as `Authorization: Bearer <secret>`. It cannot be read again.',
      }),
      key: t.expose('key', { type: AdminKey, description: 'The new key.' }),
    }),
  });

const RevokeAdminKeySuccess = builder.objectRef<{ key: AdminKeyRow }>('RevokeAdminKeySuccess').implement({
  description: 'The key is revoked: every request with it is now answered 401.',
  fields: (t) => ({ key: t.expose('key', { type: AdminKey, description: 'The key, with its revocation time.' }) }),
});

const AuditEvent = builder.objectRef<AuditEventRow>('AuditEvent').implement({
  description: 'One action in the audit trail: who did what to which user, when, and how it ended.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The id of the event.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When the action happened.' }),
    action: t.exposeString('action', {
      description:
        'What was done: the name of an admin mutation (`disableUser`, `createAdminKey`, …) or a client event (`register`, `login`, `loginFailed`, `logout`).',
    }),
    outcome: t.exposeString('outcome', {
      description: '`success`; `refused` (an expected refusal such as a pending user or a missing role; nothing changed); or `failed`.',
    }),
    userId: t.exposeID('userId', {
      nullable: true,
      description: 'The user the action was about; kept after that user is deleted.',
    }),
    actor: t.loadable({
      type: AdminKey,
      nullable: true,
      description: 'The admin key that acted; null for actions of app users, the command line and the gateway itself.',
      load: async (ids: string[], ctx) => {
        const keys = await adminKeysByIds(ctx.db, ids);
        return ids.map((id) => keys.get(id) ?? null);
      },
      resolve: (event) => event.actorKeyId,
    }),
    requestId: t.exposeString('requestId', {
      nullable: true,
      description: 'The id of the HTTP request that made the action (its `x-request-id`), to find it in the logs.',
    }),
    details: t.expose('details', {
      type: 'JSON',
      nullable: true,
      description: 'What else is worth knowing, by action: counts of revoked sessions, the refusal code and message, …',
    }),
  }),
});

const AuditEventConnection = builder.connectionObject(
  { type: AuditEvent, name: 'AuditEventConnection', description: 'A page of the audit trail, newest first.' },
  { name: 'AuditEventEdge', description: 'An audit event and its cursor.' },
);

builder.queryField('adminKeys', (t) =>
  t.field({
    ...grant('owner'),
    type: [AdminKey],
    description: 'Every admin key, revoked ones included, newest first. Secrets are never shown.',
    resolve: (_root, _args, ctx) => listAdminKeys(ctx.db),
  }),
);

builder.queryField('currentAdminKey', (t) =>
  t.field({
    ...grant('viewer'),
    type: AdminKey,
    description: 'The admin key this request was made with: its name and role.',
    resolve: (_root, _args, ctx) => ctx.adminKey,
  }),
);

builder.queryField('auditEvents', (t) =>
  t.field({
    ...grant('viewer'),
    type: AuditEventConnection,
    description: 'The audit trail, newest first (ties broken by id), one page at a time.',
    args: {
      userId: t.arg.id({ required: false, description: 'Only events about this user (deleted users too).' }),
      action: t.arg.string({ required: false, description: 'Only events of this action, such as `deleteUser`.' }),
      first: t.arg.int({ required: false, description: 'How many events (default 50, at most 500).' }),
      after: t.arg.string({ required: false, description: 'The `endCursor` of the previous page.' }),
    },
    resolve: async (_root, args, ctx) => {
      const page = await findAuditEvents(ctx.db, { userId: args.userId, action: args.action }, args.first, args.after);
      return toConnection(page, args.after != null, (event) => ({ createdAt: event.at, id: event.id }));
    },
  }),
);

builder.mutationField('createAdminKey', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: CreateAdminKeySuccess,
    description: 'Creates an admin key with a role and returns its secret, once.',
    args: {
      name: t.arg.string({ required: true, description: 'What the key is for: 1 to 100 characters.' }),
      role: t.arg({ type: AdminRoleEnum, required: true, description: 'What the key may do.' }),
    },
    errors: {
      types: [InvalidInputError],
      directResult: true,
      union: { name: 'CreateAdminKeyResult', description: 'The new key with its secret, or why it could not be created.' },
    },
    resolve: (_root, args, ctx) => issueAdminKey(ctx.db, ctx.actor, args),
  }),
);

builder.mutationField('revokeAdminKey', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: RevokeAdminKeySuccess,
    description:
      'Revokes an admin key for good. Revoking a revoked key succeeds and changes nothing; the last active owner key cannot be revoked.',
    args: { id: t.arg.id({ required: true, description: 'The id of the key.' }) },
    errors: {
      types: [AdminKeyNotFoundError, LastOwnerKeyError],
      directResult: true,
      union: { name: 'RevokeAdminKeyResult', description: 'The revoked key, or why it could not be revoked.' },
    },
    resolve: async (_root, args, ctx) => ({ key: await revokeAdminKey(ctx.db, ctx.actor, args.id) }),
  }),
);
