// Every query and mutation of the built schema, tried with every role, no key, a revoked key and a
// malformed header. The expected role of each field is written here, apart from the code: a new
// root field fails this file until it is given a rule in src/schema and an entry below.
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import {
  getNamedType,
  getNullableType,
  graphql,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../src/context.js';
import { adminKeys, auditEvents, type AdminRole } from '../src/db/schema.js';
import { builder } from '../src/schema/builder.js';
import { schema } from '../src/schema/index.js';
import { postGraphQL, startTestApp, type TestApp } from './helpers/app.js';

/** The lowest role that may use each root field. */
const EXPECTED: Record<string, AdminRole> = {
  'Query.users': 'viewer',
  'Query.user': 'viewer',
  'Query.auditEvents': 'viewer',
  'Query.currentAdminKey': 'viewer',
  'Query.previewDeleteUser': 'viewer',
  'Query.adminKeys': 'owner',
  'Mutation.createUser': 'operator',
  'Mutation.disableUser': 'operator',
  'Mutation.enableUser': 'operator',
  'Mutation.revokeUserSessions': 'operator',
  'Mutation.revokeSession': 'operator',
  'Mutation.confirmUser': 'operator',
  'Mutation.resendConfirmation': 'operator',
  'Mutation.disableUsers': 'operator',
  'Mutation.revokeSessionsOfUsers': 'operator',
  'Mutation.deleteUser': 'owner',
  'Mutation.deleteUsers': 'owner',
  'Mutation.importUsers': 'owner',
  'Mutation.createAdminKey': 'owner',
  'Mutation.revokeAdminKey': 'owner',
  'Mutation.sendPasswordReset': 'operator',
  'Mutation.rotateSigningKey': 'owner',
  'Query.webhookEndpoints': 'owner',
  'Query.webhookDeliveries': 'viewer',
  'Mutation.createWebhookEndpoint': 'owner',
  'Mutation.updateWebhookEndpoint': 'owner',
  'Mutation.disableWebhookEndpoint': 'owner',
  'Mutation.deleteWebhookEndpoint': 'owner',
  'Mutation.redeliverWebhook': 'owner',
  'Mutation.sendTestWebhook': 'owner',
};

const ROLES: AdminRole[] = ['viewer', 'operator', 'owner'];
const allows = (held: AdminRole, needed: AdminRole) => ROLES.indexOf(held) >= ROLES.indexOf(needed);

const rootFields = [schema.getQueryType()!, schema.getMutationType()!].flatMap((type) =>
  Object.values(type.getFields()).map((field) => ({ kind: type === schema.getQueryType() ? 'query' : 'mutation', type: type.name, field })),
);

/** A value of the right type for a required argument: harmless (random ids match nothing). */
function sampleValue(type: GraphQLInputType): unknown {
  const inner = getNullableType(type) as GraphQLInputType;
  if (isListType(inner)) return [sampleValue(inner.ofType)];
  if (isEnumType(inner)) return inner.getValues()[0]!.name;
  if (isInputObjectType(inner)) {
    return Object.fromEntries(
      Object.values(inner.getFields())
        .filter((f) => isNonNullType(f.type))
        .map((f) => [f.name, sampleValue(f.type)]),
    );
  }
  if (isScalarType(inner)) {
    switch (inner.name) {
      case 'ID':
        return randomUUID();
      case 'Int':
      case 'Float':
        return 1;
      case 'Boolean':
        return false;
      case 'DateTime':
        return new Date().toISOString();
      default:
        return `probe-${randomUUID().slice(0, 8)}`;
    }
  }
  throw new Error(`no sample for ${String(type)}`);
}

/** The smallest valid operation on one root field: its required arguments and `__typename`. */
function probe(kind: string, field: GraphQLField<unknown, unknown>) {
  const required = field.args.filter((a) => isNonNullType(a.type));
  const declarations = required.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const passing = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const named = getNamedType(field.type);
  const selection = isScalarType(named) || isEnumType(named) ? '' : '{ __typename }';
  return {
    query: `${kind} Probe${declarations ? `(${declarations})` : ''} { ${field.name}${passing ? `(${passing})` : ''} ${selection} }`,
    variables: Object.fromEntries(required.map((a) => [a.name, sampleValue(a.type)])),
  };
}

let t: TestApp;
const secrets = {} as Record<AdminRole | 'revoked', string>;

beforeAll(async () => {
  // This file makes many failed key checks on purpose; the limit has its own test file.
  t = await startTestApp({ app: { limits: { adminKeyPerAddress: { limit: 10_000, windowMs: 60_000 } } } });
  for (const role of ROLES) secrets[role] = await t.createKey(role, `roles-${role}`);
  secrets.revoked = await t.createKey('owner', 'roles-revoked');
  await t.database.db.update(adminKeys).set({ revokedAt: new Date() }).where(eq(adminKeys.name, 'roles-revoked'));
});
afterAll(() => t?.close());

describe('access rules', () => {
  it('every root field of the schema has an expected role here', () => {
    const withoutRule = rootFields.map((f) => `${f.type}.${f.field.name}`).filter((name) => !EXPECTED[name]);
    expect(withoutRule).toEqual([]);
  });

  for (const { kind, type, field } of rootFields) {
    const name = `${type}.${field.name}`;
    it(`${name}: allowed from its role up, FORBIDDEN below it, 401 without a working key`, async () => {
      const needed = EXPECTED[name];
      expect(needed, `${name} has no rule in this test`).toBeDefined();
      for (const role of ROLES) {
        const res = await postGraphQL(t, probe(kind, field), { authorization: `Bearer ${secrets[role]}` });
        const codes = (res.body.errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code);
        if (allows(role, needed!)) {
          expect(res.status, `${name} as ${role}`).toBe(200);
          expect(codes, `${name} as ${role}: ${JSON.stringify(res.body.errors)}`).not.toContain('FORBIDDEN');
          expect(codes).not.toContain('INTERNAL_SERVER_ERROR');
        } else {
          expect(codes, `${name} as ${role}`).toEqual(['FORBIDDEN']);
          expect(res.body.errors[0].path).toEqual([field.name]);
          expect(res.body.errors[0].message).toContain(`needs ${needed}`);
          expect(res.body.data?.[field.name] ?? null).toBeNull();
        }
      }
      for (const authorization of [
        undefined,
        `Bearer ${secrets.revoked}`,
        'Bearer',
        `Bearer ${secrets.owner} extra`,
        `Basic ${Buffer.from(`x:${secrets.owner}`).toString('base64')}`,
        secrets.owner,
      ]) {
        const res = await postGraphQL(t, probe(kind, field), authorization === undefined ? {} : { authorization });
        expect(res.status, `${name} with ${authorization?.slice(0, 12)}`).toBe(401);
        expect(res.body.data).toBeUndefined();
        expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      }
    });
  }

  it('a refused mutation changes nothing and is recorded as refused, with the key that tried', async () => {
    const user = await t.client.request<{ createUser: { user: { id: string } } }>(
      'mutation { createUser(email: "refused@example.com", password: "secret-1") { ... on CreateUserSuccess { user { id } } } }',
    );
    const id = user.createUser.user.id;
    const res = await postGraphQL(t, { query: `mutation { deleteUser(id: "${id}") { __typename } }` }, {
      authorization: `Bearer ${secrets.operator}`,
    });
    expect(res.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(res.body.errors[0].message).toBe('This admin key has the operator role; Mutation.deleteUser needs owner.');
    const still = await t.client.request<{ user: { id: string } | null }>(`{ user(id: "${id}") { id } }`);
    expect(still.user?.id).toBe(id);
    const events = await t.database.db.select().from(auditEvents).where(eq(auditEvents.userId, id));
    const refused = events.filter((e) => e.action === 'deleteUser');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ outcome: 'refused', actorName: 'roles-operator' });
    expect(refused[0]!.details).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('a root field added without a grant is refused for every key, the owner too', async () => {
    // The production builder, one field more: deny by default is a property of the builder and
    // the root types, not of this test.
    builder.queryField('probeWithoutRule', (f) => f.string({ nullable: true, description: 'A field with no rule.', resolve: () => 'leaked' }));
    const extended = builder.toSchema();
    const [owner] = await t.database.db.select().from(adminKeys).where(eq(adminKeys.name, 'roles-owner'));
    const contextValue = createContext(t.database.db, owner!, 'probe', { auth: undefined as never, publicUrl: '' });
    const result = await graphql({ schema: extended, source: '{ probeWithoutRule users { totalCount } }', contextValue });
    expect(result.data?.probeWithoutRule).toBeNull();
    expect(result.errors?.map((e) => e.message)).toEqual([
      'Query.probeWithoutRule has no access rule, so no admin key may use it.',
    ]);
    expect((result.data?.users as { totalCount: number }).totalCount).toBeGreaterThanOrEqual(0);
  });
});
