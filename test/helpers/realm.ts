// The real realm-web SDK pointed at a test gateway, and what tests need around it: the mailed
// confirmation link, raw calls of the client API, GraphQL calls as the operator.
import { and, desc, eq } from 'drizzle-orm';
import * as Realm from 'realm-web';
import { mailOutbox } from '../../src/db/schema.js';
import type { MailKind } from '../../src/mail/templates.js';
import { graphql, type TestApp } from './app.js';

export { Realm };

export const DEFAULT_APP_ID = 'app-users-gateway';

const madeApps = new Set<Realm.App>();

/**
 * A realm-web app that finds the gateway through its /location route, as in production.
 * forgetRealmUsers() forgets the users of every app made here.
 */
export function realmApp(t: TestApp, appId = DEFAULT_APP_ID): Realm.App {
  const app = new Realm.App({ id: appId, baseUrl: t.baseUrl });
  madeApps.add(app);
  return app;
}

/**
 * realm-web keeps users in one in-memory store per process, shared by every App of the same id:
 * forget them all between tests (removeUser logs each out first, as an app would).
 */
export async function forgetUsers(app: Realm.App): Promise<void> {
  for (const user of Object.values(app.allUsers)) {
    await app.removeUser(user).catch(() => undefined);
  }
}

/** Forgets the users of every app realmApp() made: for afterEach, so no test sees another's users. */
export async function forgetRealmUsers(): Promise<void> {
  for (const app of madeApps) await forgetUsers(app);
  madeApps.clear();
}

/** The token and tokenId of the newest confirmation mail to this address, from the outbox. */
export async function confirmationFromOutbox(t: TestApp, email: string): Promise<{ token: string; tokenId: string }> {
  const [mail] = await t.database.db
    .select()
    .from(mailOutbox)
    .where(eq(mailOutbox.toEmail, email))
    .orderBy(desc(mailOutbox.createdAt))
    .limit(1);
  if (!mail?.link) throw new Error(`no confirmation mail to ${email}`);
  const link = new URL(mail.link);
  return { token: link.searchParams.get('token')!, tokenId: link.searchParams.get('tokenId')! };
}

/** The token and tokenId of the newest mail of this kind (`confirm`, `password_reset`) to this address, from the outbox. */
export async function linkFromOutbox(t: TestApp, email: string, kind: MailKind): Promise<{ token: string; tokenId: string; link: string }> {
  const [mail] = await t.database.db
    .select()
    .from(mailOutbox)
    .where(and(eq(mailOutbox.toEmail, email), eq(mailOutbox.kind, kind)))
    .orderBy(desc(mailOutbox.createdAt))
    .limit(1);
  if (!mail?.link) throw new Error(`no ${kind} mail to ${email}`);
  const link = new URL(mail.link);
  return { token: link.searchParams.get('token')!, tokenId: link.searchParams.get('tokenId')!, link: mail.link };
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}.${process.pid}.${Date.now().toString(36)}.${counter++}@example.com`;
}

export const PASSWORD = 'correct horse battery';

/** Signs up through realm-web and confirms with the mailed token: a user that can log in. */
export async function registerConfirmed(t: TestApp, app: Realm.App, email = uniqueEmail()): Promise<string> {
  await app.emailPasswordAuth.registerUser({ email, password: PASSWORD });
  await app.emailPasswordAuth.confirmUser(await confirmationFromOutbox(t, email));
  return email;
}

export interface RawResponse {
  status: number;
  contentType: string | null;
  body: any;
}

/** A call of the gateway's HTTP API without the SDK, for statuses and bodies the SDK hides. */
export async function call(
  t: TestApp,
  method: string,
  path: string,
  options: { bearer?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${t.baseUrl}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {}
  return { status: res.status, contentType: res.headers.get('content-type'), body: parsed };
}

export const profile = (t: TestApp, accessToken: string) => call(t, 'GET', '/api/client/v2.0/auth/profile', { bearer: accessToken });
export const refresh = (t: TestApp, refreshToken: string) => call(t, 'POST', '/api/client/v2.0/auth/session', { bearer: refreshToken });
export const introspect = (t: TestApp, token: string) =>
  call(t, 'POST', '/introspect', { bearer: t.adminKey, body: { token } });

/** A GraphQL request as the operator (owner key), over real HTTP: the tests' one helper, under the name these tests use. */
export const gql = graphql;

export const USER_FIELDS = 'id email status lastAuthenticatedAt activeSessionCount';

export async function userById(t: TestApp, id: string): Promise<any> {
  const { user } = await gql(t, `query ($id: ID!) { user(id: $id) { ${USER_FIELDS} } }`, { id });
  return user;
}
