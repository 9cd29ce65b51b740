// The console sends only the documents of src/console/public/queries.js; each must be valid against
// the committed schema.graphql, so a change to the public contract that breaks the console fails here.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { buildSchema, isEnumType, Kind, parse, validate, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/schema/index.js';
import { mutationOf } from '../src/schema/user-actions.js';
import { USER_EVENT_TYPES } from '../src/webhooks/outbox.js';
import { postGraphQL, startTestApp, type TestApp } from './helpers/app.js';

const PUBLIC = new URL('../src/console/public/', import.meta.url);
const contract = buildSchema(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));
// Plain browser modules, without types: loaded as they are.
const queries: Record<string, unknown> = await import(new URL('queries.js', PUBLIC).href);
const format: { actionLabel(kind: string): string | undefined; WEBHOOK_EVENT_TYPES: string[] } = await import(
  new URL('format.js', PUBLIC).href
);

const documents = Object.entries(queries).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
const operationOf = (text: string) =>
  parse(text).definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;

describe('the console documents', () => {
  it('are there: one per operation of the page', () => {
    expect(documents.map(([name]) => name).sort()).toEqual(
      [
        'AUDIT_EVENTS', 'CONFIRM_USER', 'COUNTS', 'CURRENT_KEY', 'DELETE_PREVIEW', 'DELETE_USER', 'DISABLE_USER',
        'ENABLE_USER', 'RESEND_CONFIRMATION', 'REVOKE_SESSION', 'REVOKE_USER_SESSIONS', 'SEND_PASSWORD_RESET', 'USERS_PAGE', 'USER_DETAIL',
        'CREATE_WEBHOOK_ENDPOINT', 'DELETE_WEBHOOK_ENDPOINT', 'DISABLE_WEBHOOK_ENDPOINT', 'REDELIVER_WEBHOOK',
        'SEND_TEST_WEBHOOK', 'UPDATE_WEBHOOK_ENDPOINT', 'WEBHOOK_DELIVERIES', 'WEBHOOK_ENDPOINTS',
      ].sort(),
    );
  });

  for (const [name, text] of documents) {
    it(`${name} is valid against schema.graphql`, () => {
      expect(validate(contract, parse(text)).map((e) => e.message)).toEqual([]);
    });
  }

  it('name their operations once each', () => {
    const names = documents.map(([, text]) => operationOf(text).name?.value);
    expect(names.every(Boolean)).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });

  it('run every action of User.availableActions with the mutation the server names for it, and label it', () => {
    const kinds = contract.getType('UserActionKind');
    if (!isEnumType(kinds)) throw new Error('UserActionKind is not an enum');
    const actionMutations = queries.ACTION_MUTATIONS as Record<string, string>;
    expect(Object.keys(actionMutations).sort()).toEqual(kinds.getValues().map((v) => v.name).sort());
    for (const value of kinds.getValues()) {
      const field = operationOf(actionMutations[value.name]!).selectionSet.selections[0]!;
      // The rules' name of the action (`revokeSessions`), as the built schema maps the enum value.
      const action = (schema.getType('UserActionKind') as typeof kinds).getValue(value.name)!.value as keyof typeof mutationOf;
      expect(field.kind === Kind.FIELD && field.name.value, value.name).toBe(mutationOf[action]);
      expect(format.actionLabel(value.name), value.name).toBeTruthy();
    }
  });

  it('offer every webhook event type the server knows, and only those', () => {
    expect(format.WEBHOOK_EVENT_TYPES).toEqual([...USER_EVENT_TYPES]);
  });

  it('are the only GraphQL the console writes', () => {
    for (const file of readdirSync(PUBLIC).filter((f) => f.endsWith('.js') && f !== 'queries.js')) {
      const source = readFileSync(new URL(file, PUBLIC), 'utf8');
      expect(source, file).not.toMatch(/`\s*(query|mutation|subscription|fragment)\b|__schema|__type\b/);
    }
  });
});

describe('the console documents against the running gateway', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  // Harmless values: an id no user has, so every mutation answers UserNotFoundError and changes nothing;
  // no endpoint or delivery has these ids either, and an ftp URL is refused (WebhookUrlRefusedError).
  const variables = {
    id: randomUUID(), userId: randomUUID(), status: 'CONFIRMED', search: null, first: 1, after: null, purgeLinkedData: false,
    endpointId: randomUUID(), deliveryId: randomUUID(), url: 'ftp://127.0.0.1/hook', events: ['user.created'], description: null,
  };

  for (const [name, text] of documents) {
    it(`${name} passes the request limits and runs without errors`, async () => {
      const res = await postGraphQL(t, { query: text, variables });
      expect(res.status, name).toBe(200);
      expect(res.body.errors, name).toBeUndefined();
    });
  }
});
