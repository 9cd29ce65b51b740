// User.availableActions per status and admin role, through the production app: what the console
// renders its menus from. Computed from the status and the key's role, so a page costs no extra SQL.
import { gql } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminRole } from '../src/db/schema.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { seedUsers, type SeededUser } from './helpers/seed.js';

let t: TestApp;
let statements: string[] = [];
const keys = {} as Record<AdminRole, string>;
const users = {} as Record<'CONFIRMED' | 'PENDING' | 'DISABLED', SeededUser>;

beforeAll(async () => {
  t = await startTestApp({ database: { onQuery: (query) => statements.push(query) } });
  [users.CONFIRMED] = await seedUsers(t.database.db, 1, { status: 'confirmed', emailPrefix: 'aa-confirmed' });
  [users.PENDING] = await seedUsers(t.database.db, 1, { status: 'pending', emailPrefix: 'aa-pending' });
  [users.DISABLED] = await seedUsers(t.database.db, 1, { status: 'disabled', emailPrefix: 'aa-disabled' });
  keys.owner = t.adminKey;
  keys.operator = await t.createKey('operator', 'aa-operator');
  keys.viewer = await t.createKey('viewer', 'aa-viewer');
});
afterAll(() => t?.close());

const ACTIONS = gql`
  query ($id: ID!) {
    user(id: $id) { status availableActions { kind mutation requiredRole allowed reason } }
  }
`;

/** Each status's actions with their mutation and role, in order. */
const OFFERED = {
  CONFIRMED: [
    ['DISABLE', 'disableUser', 'OPERATOR'],
    ['DELETE', 'deleteUser', 'OWNER'],
    ['REVOKE_SESSIONS', 'revokeUserSessions', 'OPERATOR'],
    ['SEND_PASSWORD_RESET', 'sendPasswordReset', 'OPERATOR'],
  ],
  PENDING: [
    ['DELETE', 'deleteUser', 'OWNER'],
    ['CONFIRM', 'confirmUser', 'OPERATOR'],
    ['RESEND_CONFIRMATION', 'resendConfirmation', 'OPERATOR'],
  ],
  DISABLED: [
    ['ENABLE', 'enableUser', 'OPERATOR'],
    ['DELETE', 'deleteUser', 'OWNER'],
  ],
} as const;

const REFUSALS: Record<AdminRole, Record<'OPERATOR' | 'OWNER', string | null>> = {
  owner: { OPERATOR: null, OWNER: null },
  operator: { OPERATOR: null, OWNER: 'Needs an owner key; this is an operator key.' },
  viewer: { OPERATOR: 'Needs an operator key; this is a viewer key.', OWNER: 'Needs an owner key; this is a viewer key.' },
};

describe('User.availableActions', () => {
  for (const role of ['owner', 'operator', 'viewer'] as const) {
    for (const status of ['CONFIRMED', 'PENDING', 'DISABLED'] as const) {
      it(`${status} user, ${role} key`, async () => {
        const { user } = await t.clientWithKey(keys[role]).request<{ user: any }>(ACTIONS, { id: users[status].id });
        expect(user.status).toBe(status);
        expect(user.availableActions).toEqual(
          OFFERED[status].map(([kind, mutation, requiredRole]) => ({
            kind,
            mutation,
            requiredRole,
            allowed: REFUSALS[role][requiredRole] === null,
            reason: REFUSALS[role][requiredRole],
          })),
        );
      });
    }
  }

  it('states the role each mutation enforces: a viewer key is refused every action offered', async () => {
    // What an action says it needs is what the mutation enforces: a viewer is refused every one.
    const viewer = t.clientWithKey(keys.viewer);
    const { user } = await viewer.request<{ user: any }>(ACTIONS, { id: users.PENDING.id });
    for (const action of user.availableActions) {
      const refused = await viewer.request(`mutation ($id: ID!) { ${action.mutation}(id: $id) { __typename } }`, { id: users.PENDING.id }).then(
        () => null,
        (err) => err.response?.errors?.[0]?.extensions?.code,
      );
      expect(refused, action.mutation).toBe('FORBIDDEN');
    }
  });

  it('costs no SQL statement of its own on a page of users', async () => {
    const page = (fields: string) => gql`{ users(first: 50) { edges { node { id status ${fields} } } } }`;
    const count = async (fields: string) => {
      await t.client.request(page(fields));
      statements = [];
      await t.client.request(page(fields));
      return statements.length;
    };
    expect(await count('availableActions { kind allowed reason }')).toBe(await count(''));
  });
});
