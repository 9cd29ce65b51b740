// Signed webhooks (src/webhooks/): every user event reaches a real receiver that verifies its
// signature with standardwebhooks' own verifier, once per subscribed endpoint; retries until the
// receiver answers 2xx; a user's events in commit order; a bulk delete of 1,000 users is 1,000
// events; nothing for a refused action; and private addresses refused without WEBHOOK_ALLOW_PRIVATE.
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, graphql, type TestApp } from './helpers/app.js';
import { forgetRealmUsers, PASSWORD, Realm, realmApp, confirmationFromOutbox, linkFromOutbox, uniqueEmail } from './helpers/realm.js';
import { seedSessions, seedUsers } from './helpers/seed.js';
import { waitFor } from './helpers/wait.js';
import { CREATE_ENDPOINT, startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';
import { isPrivateAddress } from '../src/webhooks/url-guard.js';
import { USER_EVENT_TYPES } from '../src/webhooks/outbox.js';
import { checkInvariants } from '../src/users/invariants.js';


const DELIVERIES = `query Deliveries($endpointId: ID!, $status: WebhookDeliveryStatus, $first: Int) {
  webhookDeliveries(endpointId: $endpointId, status: $status, first: $first) {
    edges { node { id eventId eventType status attempts lastStatusCode lastError deliveredAt payload } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const ALL_EVENTS = [...USER_EVENT_TYPES];

let t: TestApp;
const receivers: WebhookReceiver[] = [];

/** A receiver with an endpoint subscribed to `events`, its secret known to the receiver. */
async function subscribe(
  events: string[] = ALL_EVENTS,
  receiverOptions: Parameters<typeof startWebhookReceiver>[0] = {},
): Promise<{ receiver: WebhookReceiver; endpointId: string }> {
  const receiver = await startWebhookReceiver(receiverOptions);
  receivers.push(receiver);
  const r = await graphql(t, CREATE_ENDPOINT, { url: receiver.url, events, description: 'test receiver' });
  expect(r.createWebhookEndpoint.__typename).toBe('CreateWebhookEndpointSuccess');
  expect(r.createWebhookEndpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
  receiver.secret = r.createWebhookEndpoint.secret;
  return { receiver, endpointId: r.createWebhookEndpoint.endpoint.id };
}

async function deleteEndpoint(endpointId: string) {
  await graphql(t, 'mutation ($id: ID!) { deleteWebhookEndpoint(endpointId: $id) { __typename } }', { id: endpointId });
}

const ofUser = (r: WebhookReceiver, userId: string) => r.accepted().filter((e) => e.data.userId === userId);

beforeAll(async () => {
  t = await startTestApp({
    prepare: async (database) => {
      await database.db.execute(sql.raw('CREATE TABLE todo_items (id serial PRIMARY KEY, owner_id text NOT NULL)'));
    },
    linkedData: [{ table: 'todo_items', column: 'owner_id' }],
    app: { webhooks: { allowPrivate: true, retryDelaysMs: [100, 100, 100, 100, 100], pollIntervalMs: 50, batchSize: 50 } },
  });
});

afterEach(async () => {
  await forgetRealmUsers();
});

afterAll(async () => {
  for (const r of receivers) await r.close();
  await t?.close();
});

describe('every event type arrives signed, once per endpoint', () => {
  it('sign-up, confirmation, login/logout (realm-web), disable, enable, revoke, delete', async () => {
    const all = await subscribe();
    const deletesOnly = await subscribe(['user.deleted']);

    // The app's users, through the real SDK: sign-up, confirmation by the mailed token, login, logout.
    const app = realmApp(t);
    const email = uniqueEmail('hooks');
    await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });
    await app.emailPasswordAuth.confirmUser(await confirmationFromOutbox(t, email));
    const user = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    const userId = user.id;
    await user.logOut();
    const anon = await app.logIn(Realm.Credentials.anonymous());

    // The operator's actions.
    await seedSessions(t.database.db, userId, { live: 2 });
    await t.database.db.execute(sql`INSERT INTO todo_items (owner_id) VALUES (${userId}), (${userId})`);
    const d = await graphql(t, 'mutation ($id: ID!) { disableUser(id: $id) { __typename } }', { id: userId });
    expect(d.disableUser.__typename).toBe('DisableUserSuccess');
    await graphql(t, 'mutation ($id: ID!) { enableUser(id: $id) { __typename } }', { id: userId });
    await seedSessions(t.database.db, userId, { live: 3 });
    await graphql(t, 'mutation ($id: ID!) { revokeUserSessions(id: $id) { __typename } }', { id: userId });
    const del = await graphql(t, 'mutation ($id: ID!) { deleteUser(id: $id) { __typename } }', { id: userId });
    expect(del.deleteUser.__typename).toBe('DeleteUserSuccess');
    const created = await graphql(t, 'mutation ($e: String!) { createUser(email: $e, password: "secret-password") { __typename ... on CreateUserSuccess { user { id } } } }', { e: uniqueEmail('admin-made') });
    const adminMadeId = created.createUser.user.id;

    const expected = ['user.created', 'user.confirmed', 'user.sessions_revoked', 'user.disabled', 'user.enabled', 'user.sessions_revoked', 'user.deleted'];
    await waitFor(() => ofUser(all.receiver, userId).length >= expected.length && ofUser(all.receiver, anon.id).length >= 1 && ofUser(all.receiver, adminMadeId).length >= 1, 'every event at the receiver');
    await waitFor(() => deletesOnly.receiver.accepted().length >= 1, 'the deletion at the second receiver');

    // In commit order, each once, each signed (the receiver verified every one; none was refused).
    const events = ofUser(all.receiver, userId);
    expect(events.map((e) => e.type)).toEqual(expected);
    expect(new Set(all.receiver.accepted().map((e) => e.id)).size).toBe(all.receiver.accepted().length);
    expect(all.receiver.rejected).toEqual([]);
    expect(deletesOnly.receiver.rejected).toEqual([]);
    expect(deletesOnly.receiver.accepted().map((e) => [e.type, e.data.userId])).toEqual([['user.deleted', userId]]);
    expect(deletesOnly.receiver.accepted()[0]!.id).toBe(events.at(-1)!.id);
    for (const e of events) {
      expect(e.headers['webhook-signature']).toMatch(/^v1,/);
      expect(Math.abs(Number(e.headers['webhook-timestamp']) * 1000 - Date.now())).toBeLessThan(60_000);
      expect(e.timestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(e.data.auditEventId).toMatch(/^[0-9a-f-]{36}$/);
    }

    const [createdEv, confirmed, logout, disabled, enabled, revoked, deleted] = events;
    expect(createdEv!.data).toMatchObject({ userId, email, status: 'pending', provider: 'local-userpass', actor: { type: 'user' } });
    expect(confirmed!.data).toMatchObject({ status: 'confirmed', changed: true, by: 'token' });
    expect(logout!.data).toMatchObject({ revokedSessionCount: 1, reason: 'logout', actor: { type: 'user', userId } });
    expect(disabled!.data).toMatchObject({ revokedSessionCount: 2, changed: true, actor: { type: 'admin', keyName: 'test-owner' } });
    expect(disabled!.data.actor.keyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(enabled!.data).toMatchObject({ changed: true });
    expect(revoked!.data).toMatchObject({ revokedSessionCount: 3 });
    expect(deleted!.data).toMatchObject({
      revokedSessionCount: 0,
      linkedDataPurged: false,
      linkedData: [{ table: 'public.todo_items', column: 'owner_id', count: 2 }],
    });
    expect(ofUser(all.receiver, anon.id).map((e) => [e.type, e.data.provider])).toEqual([['user.created', 'anon-user']]);
    expect(ofUser(all.receiver, adminMadeId).map((e) => [e.type, e.data.status, e.data.actor.type])).toEqual([['user.created', 'confirmed', 'admin']]);

    // Each event names the audit event of its action.
    const audit = await graphql(t, 'query ($u: ID!) { auditEvents(userId: $u, first: 50) { edges { node { id action outcome } } } }', { u: userId });
    const successes = new Map<string, string>(
      audit.auditEvents.edges.filter((e: any) => e.node.outcome === 'success' && e.node.action !== 'login').map((e: any) => [e.node.id, e.node.action]),
    );
    expect(events.map((e) => successes.get(e.data.auditEventId))).toEqual([
      'register', 'confirmUser', 'logout', 'disableUser', 'enableUser', 'revokeUserSessions', 'deleteUser',
    ]);

    // The deliveries as VIEWER keys see them: delivered at the first attempt, with the status code.
    const viewer = await t.createKey('viewer');
    const list = await graphql(t, DELIVERIES, { endpointId: deletesOnly.endpointId }, { key: viewer });
    expect(list.webhookDeliveries.edges.map((e: any) => e.node)).toMatchObject([
      { eventType: 'user.deleted', status: 'DELIVERED', attempts: 1, lastStatusCode: 200, lastError: null },
    ]);
    // …but not the endpoints, which only owner keys see.
    await expect(graphql(t, '{ webhookEndpoints { id } }', {}, { key: viewer })).rejects.toThrow(/FORBIDDEN|needs owner/);

    await deleteEndpoint(all.endpointId);
    await deleteEndpoint(deletesOnly.endpointId);
  });

  it("a password reset, one session's revocation and the user's own deletion", async () => {
    const { receiver, endpointId } = await subscribe();
    const app = realmApp(t);
    const email = uniqueEmail('hooks-reset');
    await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });
    await app.emailPasswordAuth.confirmUser(await confirmationFromOutbox(t, email));
    const phone = await app.logIn(Realm.Credentials.emailPassword(email, PASSWORD));
    const userId = phone.id;
    await seedSessions(t.database.db, userId, { live: 1 });

    // The operator logs one device out: one event, count 1, naming that session.
    const sessions = await graphql(t, 'query ($id: ID!) { user(id: $id) { sessions(first: 10) { edges { node { id } } } } }', { id: userId });
    const sessionId = sessions.user.sessions.edges[0].node.id;
    const revoked = await graphql(t, 'mutation ($id: ID!) { revokeSession(id: $id) { __typename } }', { id: sessionId });
    expect(revoked.revokeSession.__typename).toBe('RevokeSessionSuccess');

    // A reset by the mailed link: user.password_reset, then the sessions it revoked.
    await app.emailPasswordAuth.sendResetPasswordEmail({ email });
    const { token, tokenId } = await linkFromOutbox(t, email, 'password_reset');
    await app.emailPasswordAuth.resetPassword({ password: 'a new password!', token, tokenId });

    // The user deletes the account from the app (DELETE /auth/delete).
    const again = await app.logIn(Realm.Credentials.emailPassword(email, 'a new password!'));
    await app.deleteUser(again);

    const expected = ['user.created', 'user.confirmed', 'user.sessions_revoked', 'user.password_reset', 'user.sessions_revoked', 'user.deleted'];
    await waitFor(() => ofUser(receiver, userId).length >= expected.length, 'the reset, revocation and deletion events');
    const events = ofUser(receiver, userId);
    expect(events.map((e) => e.type)).toEqual(expected);
    expect(receiver.rejected).toEqual([]);
    const [, , one, reset, afterReset, deleted] = events;
    expect(one!.data).toMatchObject({ revokedSessionCount: 1, reason: 'admin_revoked', sessionId, actor: { type: 'admin' } });
    expect(reset!.data).toMatchObject({ email, actor: { type: 'user' } });
    expect(afterReset!.data).toMatchObject({ revokedSessionCount: 1, reason: 'password_reset' });
    expect(afterReset!.data.auditEventId).toBe(reset!.data.auditEventId);
    expect(deleted!.data).toMatchObject({ actor: { type: 'user', userId } });
    // Every committed action has its event (npm run check-db's rule).
    const violations = (await checkInvariants(t.database.db)).filter((v) => v.rule === 'committed-action-without-webhook-event');
    expect(violations).toEqual([]);
    await deleteEndpoint(endpointId);
  });

  it('a refused or rolled-back action sends nothing', async () => {
    const { receiver, endpointId } = await subscribe();
    const [pending] = await seedUsers(t.database.db, 1, { status: 'pending' });
    const [confirmed] = await seedUsers(t.database.db, 1);
    const refused = await graphql(t, 'mutation ($id: ID!) { disableUser(id: $id) { __typename } }', { id: pending!.id });
    expect(refused.disableUser.__typename).toBe('PendingUserError');
    // A deletion whose purge fails is rolled back whole: a trigger refuses it.
    await t.database.db.execute(sql.raw(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END $$`));
    await t.database.db.execute(sql.raw('CREATE TRIGGER refuse_delete BEFORE DELETE ON todo_items FOR EACH ROW EXECUTE FUNCTION refuse()'));
    await t.database.db.execute(sql`INSERT INTO todo_items (owner_id) VALUES (${confirmed!.id})`);
    const rolledBack = await graphql(t, 'mutation ($id: ID!) { deleteUser(id: $id, purgeLinkedData: true) { __typename } }', { id: confirmed!.id });
    expect(rolledBack.deleteUser.__typename).toBe('LinkedDataPurgeError');
    await t.database.db.execute(sql.raw('DROP TRIGGER refuse_delete ON todo_items'));
    // A later committed action is delivered, and nothing before it was.
    await graphql(t, 'mutation ($id: ID!) { disableUser(id: $id) { __typename } }', { id: confirmed!.id });
    await waitFor(() => receiver.accepted().length >= 1, 'the committed action');
    expect(receiver.accepted().map((e) => [e.type, e.data.userId])).toEqual([['user.disabled', confirmed!.id]]);
    const events = await t.database.db.execute(sql`SELECT count(*)::int AS n FROM webhook_events WHERE user_id IN (${pending!.id}, ${confirmed!.id})`);
    expect((events as any).rows[0].n).toBe(1);
    await deleteEndpoint(endpointId);
  });
});

describe('retries', () => {
  it('a receiver that answers 500 three times then 200 gets the event on the fourth try', async () => {
    const { receiver, endpointId } = await subscribe(['user.disabled']);
    receiver.respond = () => (receiver.received.length <= 3 ? 500 : 200);
    const [user] = await seedUsers(t.database.db, 1);
    await graphql(t, 'mutation ($id: ID!) { disableUser(id: $id) { __typename } }', { id: user!.id });
    await waitFor(() => receiver.accepted().length === 1, 'the fourth try');
    expect(receiver.received.map((e) => e.answered)).toEqual([500, 500, 500, 200]);
    expect(new Set(receiver.received.map((e) => e.id)).size).toBe(1);
    const d = await waitFor(async () => {
      const r = await graphql(t, DELIVERIES, { endpointId });
      const node = r.webhookDeliveries.edges[0]?.node;
      return node?.status === 'DELIVERED' ? node : null;
    }, 'the delivery recorded as delivered');
    expect(d).toMatchObject({ attempts: 4, lastStatusCode: 200, lastError: null });
    await deleteEndpoint(endpointId);
  });

  it('after the last retry the delivery is failed; redeliverWebhook sends it again, sendTestWebhook sends a test', async () => {
    const { receiver, endpointId } = await subscribe(['user.disabled']);
    receiver.respond = () => 503;
    const [user] = await seedUsers(t.database.db, 1);
    await graphql(t, 'mutation ($id: ID!) { disableUser(id: $id) { __typename } }', { id: user!.id });
    const failed = await waitFor(async () => {
      const r = await graphql(t, DELIVERIES, { endpointId, status: 'FAILED' });
      return r.webhookDeliveries.edges[0]?.node;
    }, 'the delivery failed');
    expect(failed).toMatchObject({ attempts: 6, lastStatusCode: 503, lastError: 'HTTP 503', deliveredAt: null });
    expect(receiver.received).toHaveLength(6);

    receiver.respond = () => 204;
    const again = await graphql(t, 'mutation ($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename ... on WebhookDeliverySuccess { delivery { status } } } }', { id: failed.id });
    expect(again.redeliverWebhook).toEqual({ __typename: 'WebhookDeliverySuccess', delivery: { status: 'PENDING' } });
    await waitFor(() => receiver.accepted().length === 1, 'the redelivery');
    expect(receiver.accepted()[0]!.id).toBe(failed.eventId);

    const test = await graphql(t, 'mutation ($id: ID!) { sendTestWebhook(endpointId: $id) { __typename } }', { id: endpointId });
    expect(test.sendTestWebhook.__typename).toBe('WebhookDeliverySuccess');
    await waitFor(() => receiver.accepted().some((e) => e.type === 'webhook.test'), 'the test event');
    const missing = await graphql(t, 'mutation { redeliverWebhook(deliveryId: "00000000-0000-4000-8000-000000000000") { __typename } }');
    expect(missing.redeliverWebhook.__typename).toBe('WebhookDeliveryNotFoundError');
    await deleteEndpoint(endpointId);
  });

  it("a user's later events wait while an earlier one is retried: commit order per endpoint", async () => {
    const { receiver, endpointId } = await subscribe(['user.disabled', 'user.enabled']);
    const [user, other] = await seedUsers(t.database.db, 2);
    let failedOnce = false;
    receiver.respond = (e) => {
      if (e.data.userId === user!.id && e.type === 'user.disabled' && !failedOnce) {
        failedOnce = true;
        return 500;
      }
      return 200;
    };
    for (const action of ['disableUser', 'enableUser', 'disableUser', 'enableUser']) {
      await graphql(t, `mutation ($id: ID!) { ${action}(id: $id) { __typename } }`, { id: user!.id });
    }
    await graphql(t, 'mutation ($id: ID!) { disableUser(id: $id) { __typename } }', { id: other!.id });
    await waitFor(() => ofUser(receiver, user!.id).length === 4 && ofUser(receiver, other!.id).length === 1, 'all five events');
    expect(ofUser(receiver, user!.id).map((e) => e.type)).toEqual(['user.disabled', 'user.enabled', 'user.disabled', 'user.enabled']);
    // Only the first was retried; the other user's event did not wait for it.
    expect(receiver.received.filter((e) => e.data.userId === user!.id).map((e) => e.answered)).toEqual([500, 200, 200, 200, 200]);
    await deleteEndpoint(endpointId);
  });
});

describe('bulk', () => {
  it('deleteUsers of 1,000 ids yields 1,000 user.deleted events, each once', async () => {
    const { receiver, endpointId } = await subscribe(['user.deleted']);
    const seeded = await seedUsers(t.database.db, 1_000);
    const r = await graphql(t, 'mutation ($ids: [ID!]!) { deleteUsers(ids: $ids) { doneCount } }', { ids: seeded.map((u) => u.id) });
    expect(r.deleteUsers.doneCount).toBe(1_000);
    await waitFor(() => receiver.accepted().length >= 1_000, '1,000 deletions', 60_000);
    const accepted = receiver.accepted();
    expect(accepted).toHaveLength(1_000);
    expect(new Set(accepted.map((e) => e.data.userId))).toEqual(new Set(seeded.map((u) => u.id)));
    expect(new Set(accepted.map((e) => e.id)).size).toBe(1_000);
    expect(new Set(accepted.map((e) => e.data.auditEventId)).size).toBe(1_000);
    expect(accepted.every((e) => e.type === 'user.deleted' && e.data.linkedData.length === 1)).toBe(true);
    expect(receiver.rejected).toEqual([]);
    await deleteEndpoint(endpointId);
  }, 90_000);
});

describe('connections', () => {
  it('a burst goes out on a few kept-alive connections, each event once', async () => {
    const { receiver, endpointId } = await subscribe(['user.disabled']);
    const seeded = await seedUsers(t.database.db, 60);
    const r = await graphql(t, 'mutation ($ids: [ID!]!) { disableUsers(ids: $ids) { doneCount } }', { ids: seeded.map((u) => u.id) });
    expect(r.disableUsers.doneCount).toBe(60);
    await waitFor(() => receiver.accepted().length >= 60, '60 events');
    expect(new Set(receiver.accepted().map((e) => e.data.userId))).toEqual(new Set(seeded.map((u) => u.id)));
    expect(new Set(receiver.accepted().map((e) => e.id)).size).toBe(60);
    // At most 10 POSTs are in flight at once, each on a connection of its own, reused for the next ones.
    expect(receiver.connections()).toBeGreaterThanOrEqual(1);
    expect(receiver.connections()).toBeLessThanOrEqual(10);
    await deleteEndpoint(endpointId);
  });

  it('a receiver that closes idle connections at once still gets every event on the first try', async () => {
    const { receiver, endpointId } = await subscribe(['user.disabled'], { keepAliveTimeoutMs: 1 });
    const users = await seedUsers(t.database.db, 5);
    for (const [i, user] of users.entries()) {
      await graphql(t, 'mutation ($id: ID!) { disableUser(id: $id) { __typename } }', { id: user.id });
      await waitFor(() => receiver.accepted().length === i + 1, `event ${i + 1}`);
      // The receiver has closed the connection it was sent on before the next event goes.
      await waitFor(() => receiver.openConnections() === 0, 'the receiver to close the connection');
    }
    const r = await graphql(t, DELIVERIES, { endpointId, first: 10 });
    expect(r.webhookDeliveries.edges.map((e: any) => [e.node.status, e.node.attempts, e.node.lastError])).toEqual(
      Array.from({ length: 5 }, () => ['DELIVERED', 1, null]),
    );
    expect(receiver.received).toHaveLength(5);
    expect(receiver.connections()).toBe(5);
    await deleteEndpoint(endpointId);
  });
});

describe('endpoints', () => {
  it('refuses unknown event types, and keeps the secret encrypted or marked, never shown again', async () => {
    const bad = await graphql(t, CREATE_ENDPOINT, { url: 'http://127.0.0.1:9/x', events: ['user.exploded'] });
    expect(bad.createWebhookEndpoint).toMatchObject({ __typename: 'InvalidInputError', field: 'events' });
    const { endpointId, receiver } = await subscribe(['user.deleted']);
    const list = await graphql(t, '{ webhookEndpoints { id url events enabled } }');
    expect(list.webhookEndpoints).toContainEqual({ id: endpointId, url: receiver.url, events: ['user.deleted'], enabled: true });
    const stored = (await t.database.db.execute(sql`SELECT secret FROM webhook_endpoints WHERE id = ${endpointId}`)) as any;
    expect(stored.rows[0].secret).toBe(`plain:${receiver.secret}`);
    const off = await graphql(t, 'mutation ($id: ID!) { disableWebhookEndpoint(endpointId: $id) { ... on WebhookEndpointSuccess { endpoint { enabled } } } }', { id: endpointId });
    expect(off.disableWebhookEndpoint.endpoint.enabled).toBe(false);
    const on = await graphql(t, 'mutation ($id: ID!) { updateWebhookEndpoint(endpointId: $id, enabled: true, events: ["user.created"]) { ... on WebhookEndpointSuccess { endpoint { enabled events } } } }', { id: endpointId });
    expect(on.updateWebhookEndpoint.endpoint).toEqual({ enabled: true, events: ['user.created'] });
    const operator = await t.createKey('operator');
    await expect(graphql(t, CREATE_ENDPOINT, { url: receiver.url, events: ['user.deleted'] }, { key: operator })).rejects.toThrow(/owner/);
    await deleteEndpoint(endpointId);
  });
});

describe('private addresses', () => {
  let strict: TestApp;
  beforeAll(async () => {
    strict = await startTestApp({ app: { webhooks: { pollIntervalMs: 50 } } });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it.each([
    'http://127.0.0.1:8080/hook',
    'http://localhost/hook',
    'http://10.1.2.3/hook',
    'http://172.16.0.1/hook',
    'http://192.168.1.1/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/hook',
    'http://[fd00::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://0.0.0.0/hook',
    'http://100.64.0.1/hook',
  ])('refuses %s without WEBHOOK_ALLOW_PRIVATE', async (url) => {
    const r = await graphql(strict, CREATE_ENDPOINT, { url, events: ['user.deleted'] });
    expect(r.createWebhookEndpoint).toMatchObject({ __typename: 'WebhookUrlRefusedError', url });
    expect(r.createWebhookEndpoint.message).toMatch(/private|loopback/);
  });

  it.each(['ftp://example.com/hook', 'file:///etc/passwd', 'not a url', 'http://user:pw@example.com/'])('refuses %s as a URL', async (url) => {
    const r = await graphql(strict, CREATE_ENDPOINT, { url, events: ['user.deleted'] });
    expect(r.createWebhookEndpoint.__typename).toBe('WebhookUrlRefusedError');
  });

  it('the address check knows mapped and public addresses', () => {
    expect(isPrivateAddress('::ffff:a00:1')).toBe(true);
    expect(isPrivateAddress('64:ff9b::a9fe:a9fe')).toBe(true);
    expect(isPrivateAddress('fe80::1')).toBe(true);
    expect(isPrivateAddress('93.184.215.14')).toBe(false);
    expect(isPrivateAddress('2606:2800:21f:cb07:6820:80da:af6b:8b2c')).toBe(false);
  });
});

describe('npm run check-db', () => {
  it('finds every committed action with its event, and reports one whose event is missing', async () => {
    expect(await checkInvariants(t.database.db)).toEqual([]);
    const [user] = await seedUsers(t.database.db, 1);
    await graphql(t, 'mutation ($id: ID!) { disableUser(id: $id) { __typename } }', { id: user!.id });
    // As if the action had committed without its event.
    await t.database.db.execute(sql`DELETE FROM webhook_events WHERE user_id = ${user!.id}`);
    const violations = await checkInvariants(t.database.db);
    expect(violations.map((v) => [v.rule, v.count])).toEqual([['committed-action-without-webhook-event', 1]]);
  });
});
