// Every SQL statement on users and on user_identities: one aggregate, since an identity is created
// in its user's transaction, goes with it (ON DELETE CASCADE), and an email address is taken when
// either table's unique index says so (emailKey).
import { and, count, desc, eq, fillPlaceholders, getTableColumns, inArray, or, sql, type SQL } from 'drizzle-orm';
import pg from 'pg';
import { PgDialect } from 'drizzle-orm/pg-core';
import { rawPoolOf, type Executor, type RawPool } from '../db/client.js';
import type { PageRequest } from '../db/keyset.js';
import { refreshTokens, userIdentities, users, type IdentityRow, type UserRow, type UserStatus } from '../db/schema.js';
import { liveSession, sessionsAsT } from '../sessions/live.js';
import { userIdArray, userIdOrNull } from '../db/user-ids.js';

export interface UserFilter {
  status?: UserStatus | null;
  /** An exact user id, or a case-insensitive email prefix. */
  search?: string | null;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function filterCondition(filter: UserFilter): SQL | undefined {
  const conditions: SQL[] = [];
  if (filter.status) conditions.push(eq(users.status, filter.status));
  const search = filter.search?.trim();
  if (search) {
    // Matches users_email_lower_key (lower(email) text_pattern_ops) as a prefix range scan.
    const emailPrefix = sql`lower(${users.email}) LIKE ${`${escapeLike(search.toLowerCase())}%`}`;
    const id = userIdOrNull(search);
    conditions.push(id !== null ? or(eq(users.id, id), emailPrefix)! : emailPrefix);
  }
  return conditions.length ? and(...conditions) : undefined;
}

/**
 * The user's live sessions, as a subquery evaluated only for the rows of the page. The outer id is
 * written out qualified: drizzle renders ${users.id} as a bare "id", which inside the subquery
 * would be the session's own id.
 */
const liveSessionCountOf = (userId: SQL) =>
  sql<number>`(SELECT count(*)::int FROM ${refreshTokens} t WHERE t.user_id = ${userId} AND ${liveSession(sessionsAsT)})`;
const activeSessionCount = liveSessionCountOf(sql`${users}.id`).as('active_session_count');

/** A user's row of a page (on PostgreSQL outside a transaction, a read-only PageRow: see there). */
export type UserRowWithCount = UserRow & { activeSessionCount?: number };

interface ListShape {
  status: boolean;
  search: 'none' | 'email' | 'emailOrId';
  after: boolean;
  counts: boolean;
  /** A search whose prefix has a range in users_email_lower_key (see prefixRange): prepareSearch on PostgreSQL. */
  range: boolean;
}

/**
 * Rows of users_email_lower_key's range a search reads before it takes its prefix for a broad one
 * (see prepareSearch). Reading and sorting this many costs about what walking the users newest
 * first costs until 51 of a prefix this common turn up (both about 3 µs a row): √(51 × 1,000,000)
 * is about 7,000.
 */
export const SEARCH_RANGE_CAP = 5000;

/**
 * The bounds of the strings that start with `prefix` in byte order (text_pattern_ops' ~<~, which
 * in UTF-8 is code point order): from the prefix itself up to, not including, the prefix with its
 * last character one code point higher (past the surrogates, which text cannot hold; a last
 * U+10FFFF is dropped and the one before it raised). Null when there is no such bound.
 */
export function prefixRange(prefix: string): { lo: string; hi: string } | null {
  const chars = [...prefix];
  while (chars.length > 0) {
    const last = chars.pop()!.codePointAt(0)!;
    if (last === 0x10ffff) continue;
    const next = last === 0xd7ff ? 0xe000 : last + 1;
    return { lo: prefix, hi: chars.join('') + String.fromCodePoint(next) };
  }
  return null;
}

/**
 * The page query of one shape, built once and, unless it searches, prepared: on PostgreSQL each
 * connection then plans it once (planning a page query costs more than running it).
 */
function prepareList(ex: Executor, shape: ListShape) {
  const p = sql.placeholder;
  const conditions: SQL[] = [];
  if (shape.status) conditions.push(eq(users.status, p('status')));
  if (shape.search !== 'none') {
    // Matches users_email_lower_key (lower(email) text_pattern_ops) as a prefix range scan.
    const emailPrefix = sql`lower(${users.email}) LIKE ${p('emailPrefix')}`;
    conditions.push(shape.search === 'emailOrId' ? sql`(${users.id} = ${p('id')} OR ${emailPrefix})` : emailPrefix);
  }
  if (shape.after) {
    conditions.push(sql`(${users.createdAt}, ${users.id}) < (${p('afterAt')}::timestamptz, ${p('afterId')}::text)`);
  }
  const columns = shape.counts ? { ...getTableColumns(users), activeSessionCount } : getTableColumns(users);
  const query = ex
    .select(columns)
    .from(users)
    .where(and(...conditions))
    .orderBy(desc(users.createdAt), desc(users.id))
    .limit(p('limit'));
  const name = `users_page_${shape.status ? 's' : ''}${shape.after ? 'a' : ''}${shape.counts ? 'c' : ''}`;
  const raw = rawPoolOf(ex);
  if (raw && shape.search !== 'none' && shape.range) return prepareSearch(raw, shape);
  // Other searches (on the embedded database, in a transaction, a term of U+10FFFF alone) stay
  // unprepared: a prepared statement soon gets a generic plan, which cannot turn `LIKE $1` into a
  // range of users_email_lower_key and walks the users newest first instead.
  const unprepared = shape.search !== 'none';
  if (raw && sameColumns(Object.keys(columns), shape.counts)) return rawList(raw, query.toSQL(), unprepared ? undefined : `${name}_raw`, shape.counts);
  if (unprepared) return { execute: (values: Record<string, unknown>) => query.execute(values) };
  return query.prepare(name);
}

/** The columns rawList maps by position, in the order drizzle selects them. */
const USER_COLUMNS = ['id', 'email', 'status', 'createdAt', 'lastAuthenticatedAt', 'disabledAt', 'customData'];

const dialect = new PgDialect();
/** USER_COLUMNS as SQL, for prepareSearch's statement (their names from the schema). */
const USER_COLUMN_LIST = sql.raw(USER_COLUMNS.map((key) => getTableColumns(users)[key as keyof typeof users._.columns].name).join(', '));

/**
 * A search's page as one prepared statement that decides by counting, not by PostgreSQL's
 * estimates (issue 18). Planned with the prefix's value, `lower(email) LIKE 'user1092%'` was
 * estimated at 10,000 users instead of 111 whenever a bound of the index's histogram started with
 * the prefix (1 in 90 of the benchmark's prefixes), and PostgreSQL then walked the users newest
 * first, 890,000 rows and a third of a second, instead of reading 111 through users_email_lower_key:
 * the slow tail of S3. Instead, it reads the prefix's range of that index in index order (a plan
 * that cannot turn into a sort of the table), at most `cap` rows. When the range ends before that,
 * those rows are all the matches: the page is sorted from them (plus the user whose id is the term).
 * When it does not, the prefix is a broad one, and the page is the users newest first that match
 * (soon found, unless nearly all of them are among the oldest users). LIKE stays the test of a
 * match (with the range, it decides nothing: it is the same set), and each branch runs only when
 * the count says so (a one-time filter). The ORDER BY in the index's order and the LIMIT make the
 * index the cheap way to the range. The range keeps each row's lower(email), which its ORDER BY
 * computes anyway, and LIKE tests that: lower() of a row is computed once, not twice (no cheap function
 * under a collation other than C: 0.06–0.2 ms of PostgreSQL's CPU less per S3 search at 1M users).
 *
 * Every value reaches the statement as an initplan of its own, `(SELECT $n::type)`, which the
 * planner cannot see into: a plan made with a search's values then costs exactly what the generic
 * plan costs, so PostgreSQL keeps the generic plan after its first five executions on a connection
 * and plans the search once per connection instead of once per search (S3 of the 1M bench: 0.85–0.95
 * instead of 1.2–1.5 ms of PostgreSQL's CPU time per search). With its values as plain parameters, the
 * statement's plans made with them looked cheaper than the generic one (a prefix's range estimated
 * at a row or two) and PostgreSQL planned every search, until the odd costly estimate raised the
 * average enough for it to switch. The plan does not depend on the values: the range read in index
 * order and capped, the one-time filters, then the users newest first (by status when there is one)
 * only for a broad prefix.
 */
function prepareSearch(raw: RawPool, shape: ListShape) {
  // Every value as an initplan of its own (see above).
  const v = (name: string, type: 'text' | 'int' | 'timestamptz' | 'user_status') => sql`(SELECT ${sql.placeholder(name)}::${sql.raw(type)})`;
  const filters: SQL[] = [];
  if (shape.status) filters.push(sql` AND status = ${v('status', 'user_status')}`);
  if (shape.after) filters.push(sql` AND (created_at, id) < (${v('afterAt', 'timestamptz')}, ${v('afterId', 'text')})`);
  const rest = sql.join(filters);
  const matches = sql`lower(email) LIKE ${v('emailPrefix', 'text')}`;
  const rangeComplete = sql`(SELECT n FROM range_size) < ${v('cap', 'int')}`;
  const byId = shape.search === 'emailOrId'
    ? sql` UNION ALL SELECT ${USER_COLUMN_LIST} FROM ${users} WHERE id = ${v('id', 'text')} AND ${rangeComplete} AND (${matches}) IS NOT TRUE${rest}`
    : sql``;
  const broadMatch = shape.search === 'emailOrId' ? sql`(id = ${v('id', 'text')} OR ${matches})` : matches;
  const count = shape.counts ? sql`, ${liveSessionCountOf(sql.raw('found.id'))}` : sql``;
  const statement = sql`WITH range AS MATERIALIZED (
  SELECT ${USER_COLUMN_LIST}, lower(email) AS email_key FROM ${users}
  WHERE lower(email) ~>=~ ${v('lo', 'text')} AND lower(email) ~<~ ${v('hi', 'text')}
  ORDER BY email_key USING ~<~ LIMIT ${v('cap', 'int')}
), range_size AS MATERIALIZED (SELECT count(*) AS n FROM range), found AS (
  SELECT ${USER_COLUMN_LIST} FROM range WHERE ${rangeComplete} AND email_key LIKE ${v('emailPrefix', 'text')}${rest}${byId}
  UNION ALL
  (SELECT ${USER_COLUMN_LIST} FROM ${users} WHERE NOT ${rangeComplete} AND ${broadMatch}${rest}
   ORDER BY created_at DESC, id DESC LIMIT ${v('limit', 'int')})
)
SELECT found.*${count} FROM found ORDER BY created_at DESC, id DESC LIMIT ${v('limit', 'int')}`;
  const name = `users_search_${shape.search === 'emailOrId' ? 'i' : ''}${shape.status ? 's' : ''}${shape.after ? 'a' : ''}${shape.counts ? 'c' : ''}`;
  return rawList(raw, dialect.sqlToQuery(statement), name, shape.counts);
}

function sameColumns(keys: string[], counts: boolean): boolean {
  const expected = counts ? [...USER_COLUMNS, 'activeSessionCount'] : USER_COLUMNS;
  return keys.length === expected.length && keys.every((key, i) => key === expected[i]);
}

// timestamptz as its text (made a Date below, as drizzle reads it) and jsonb as its text (parsed
// below when read), the rest as node-postgres parses it.
const { TIMESTAMPTZ, JSONB } = pg.types.builtins;
const asText = (value: string) => value;
const rawTypes = {
  getTypeParser: (oid: number, format?: string) => (oid === TIMESTAMPTZ || oid === JSONB ? asText : pg.types.getTypeParser(oid, format as 'text')),
};

/**
 * The page query of one shape sent straight to the pool (the same statement drizzle builds, under
 * its own prepared name) with rows as arrays mapped here as drizzle maps them: drizzle's generic
 * row mapping was a fifth of the CPU time of a page of users (issue 18).
 */
function rawList(raw: RawPool, built: { sql: string; params: unknown[] }, name: string | undefined, counts: boolean) {
  const config = { name, text: built.sql, rowMode: 'array' as const, types: rawTypes };
  return {
    async execute(values: Record<string, unknown>): Promise<UserRowWithCount[]> {
      const params = fillPlaceholders(built.params, values);
      raw.logQuery?.(built.sql, params);
      const result = await raw.pool.query<unknown[]>(config, params);
      const rows: UserRowWithCount[] = new Array(result.rows.length);
      for (let i = 0; i < rows.length; i++) rows[i] = new PageRow(result.rows[i]!, counts);
      return rows;
    },
  };
}

/**
 * A row of rawList's page, mapped as drizzle maps it, except that the columns a page is seldom asked
 * for (lastAuthenticatedAt, disabledAt, customData) are kept as PostgreSQL's text and made a Date or
 * parsed when first read (then the same value on every read): a page of users then allocates two
 * Dates and an object fewer per row (issue 18: what a page allocates is what the young generation's
 * collections pay for). Nothing reads customData from a page today (the GraphQL User has no such
 * field); it stays so that the row is a whole UserRow.
 *
 * A read-only view: those three are getters on the prototype, so a spread (`{ ...row }`),
 * Object.keys or toEqual do not see them; JSON.stringify does (toJSON).
 */
class PageRow implements UserRowWithCount {
  readonly id: string;
  readonly email: string | null;
  readonly status: UserStatus;
  readonly createdAt: Date;
  readonly activeSessionCount?: number;
  #lastAuthenticatedAt: string | Date | null;
  #disabledAt: string | Date | null;
  /** PostgreSQL's text until customData is first read, then null. */
  #customDataText: string | null;
  #customData: Record<string, unknown> | undefined;

  constructor(r: unknown[], counts: boolean) {
    this.id = r[0] as string;
    this.email = r[1] as string | null;
    this.status = r[2] as UserStatus;
    this.createdAt = new Date(r[3] as string);
    if (counts) this.activeSessionCount = r[7] as number;
    this.#lastAuthenticatedAt = r[4] as string | null;
    this.#disabledAt = r[5] as string | null;
    this.#customDataText = r[6] as string;
  }

  get lastAuthenticatedAt(): Date | null {
    if (typeof this.#lastAuthenticatedAt === 'string') this.#lastAuthenticatedAt = new Date(this.#lastAuthenticatedAt);
    return this.#lastAuthenticatedAt;
  }

  get disabledAt(): Date | null {
    if (typeof this.#disabledAt === 'string') this.#disabledAt = new Date(this.#disabledAt);
    return this.#disabledAt;
  }

  get customData(): Record<string, unknown> {
    // PostgreSQL's text of a jsonb is always JSON: parsed once, as node-postgres parses it for drizzle.
    if (this.#customDataText !== null) {
      this.#customData = jsonOf(JSON.parse(this.#customDataText));
      this.#customDataText = null;
    }
    return this.#customData!;
  }

  toJSON(): UserRowWithCount {
    const { id, email, status, createdAt, lastAuthenticatedAt, disabledAt, customData, activeSessionCount } = this;
    return { id, email, status, createdAt, lastAuthenticatedAt, disabledAt, customData, ...(activeSessionCount === undefined ? {} : { activeSessionCount }) };
  }
}

/** drizzle's jsonb mapping: node-postgres parses it, and a string it gets is parsed once more if it can be. */
function jsonOf(value: unknown): Record<string, unknown> {
  if (typeof value === 'string') {
    try {
      return JSON.parse(value) as Record<string, unknown>;
    } catch {
      return value as unknown as Record<string, unknown>;
    }
  }
  return value as Record<string, unknown>;
}

const preparedLists = new WeakMap<Executor, Map<string, ReturnType<typeof prepareList>>>();

/**
 * A page of users, newest first, ties broken by id; fetches first + 1 rows (see toPage). With
 * `withActiveSessionCount`, each row also carries its live-session count: the page and its counts
 * in one statement. Read the rows' fields by name (PageRow).
 */
export async function listUsers(
  ex: Executor,
  filter: UserFilter,
  page: PageRequest,
  options: { withActiveSessionCount?: boolean; /** Tests: see SEARCH_RANGE_CAP. */ searchRangeCap?: number } = {},
): Promise<UserRowWithCount[]> {
  const search = filter.search?.trim();
  const range = search ? prefixRange(search.toLowerCase()) : null;
  const shape: ListShape = {
    status: !!filter.status,
    search: !search ? 'none' : userIdOrNull(search) !== null ? 'emailOrId' : 'email',
    after: !!page.after,
    counts: !!options.withActiveSessionCount,
    range: range !== null,
  };
  let byShape = preparedLists.get(ex);
  if (!byShape) preparedLists.set(ex, (byShape = new Map()));
  const key = `${shape.status}:${shape.search}:${shape.after}:${shape.counts}:${shape.range}`;
  let query = byShape.get(key);
  if (!query) byShape.set(key, (query = prepareList(ex, shape)));
  return query.execute({
    status: filter.status ?? undefined,
    emailPrefix: search ? `${escapeLike(search.toLowerCase())}%` : undefined,
    id: search ? (userIdOrNull(search) ?? undefined) : undefined,
    afterAt: page.after?.createdAt.toISOString(),
    afterId: page.after?.id,
    limit: page.first + 1,
    lo: range?.lo,
    hi: range?.hi,
    cap: options.searchRangeCap ?? SEARCH_RANGE_CAP,
  });
}

export async function countUsers(ex: Executor, filter: UserFilter): Promise<number> {
  const [row] = await ex.select({ n: count() }).from(users).where(filterCondition(filter));
  return row?.n ?? 0;
}

export async function findUserById(ex: Executor, id: string): Promise<UserRow | null> {
  const [row] = await ex.select().from(users).where(eq(users.id, id));
  return row ?? null;
}

/** Inserts the user, or nothing (null) when another user already has the email, case-insensitively. */
export async function insertUserUnlessEmailTaken(
  ex: Executor,
  values: { email: string | null; status: UserStatus },
): Promise<UserRow | null> {
  const [row] = await ex.insert(users).values(values).onConflictDoNothing().returning();
  return row ?? null;
}

/**
 * The key of an email address in user_identities, for storing and for lookups: JavaScript's
 * lower-case, then the database's lower() (what users_email_lower_key uses). The two disagree on a
 * few letters ("İ" is "i̇" to one and "i" to the other); with both applied, an address is taken
 * when either the users' index or the identities' one matches, so the same address in another
 * case can never become a second account, and keys stored before (JavaScript's lower-case) still match.
 */
export const emailKey = (email: string): SQL => sql`lower(${email.toLowerCase()})`;

/** Inserts the identity, or nothing (null) when another identity of the provider has the same id. */
export async function insertIdentityUnlessTaken(
  ex: Executor,
  values: { userId: string; providerType: string; providerId: string | SQL; passwordHash?: string | null },
): Promise<IdentityRow | null> {
  const [row] = await ex.insert(userIdentities).values(values).onConflictDoNothing().returning();
  return row ?? null;
}

export async function insertIdentity(
  ex: Executor,
  values: { userId: string; providerType: string; providerId: string; passwordHash?: string | null },
): Promise<IdentityRow> {
  const [row] = await ex.insert(userIdentities).values(values).returning();
  return row!;
}

export async function identitiesByUser(
  ex: Executor,
  userIds: readonly string[],
): Promise<Map<string, IdentityRow[]>> {
  const rows = await ex
    .select()
    .from(userIdentities)
    .where(inArray(userIdentities.userId, [...userIds]))
    .orderBy(userIdentities.createdAt);
  const byUser = new Map<string, IdentityRow[]>();
  for (const row of rows) {
    const list = byUser.get(row.userId) ?? [];
    list.push(row);
    byUser.set(row.userId, list);
  }
  return byUser;
}

const preparedProfiles = new WeakMap<Executor, ReturnType<typeof prepareProfile>>();

/** findUserById and identitiesByUser for one user, as prepared statements. */
function prepareProfile(ex: Executor) {
  const id = sql.placeholder('id');
  return {
    user: ex.select().from(users).where(eq(users.id, id)).prepare('user_profile_user'),
    identities: ex.select().from(userIdentities).where(eq(userIdentities.userId, id)).orderBy(userIdentities.createdAt).prepare('user_profile_identities'),
  };
}

/**
 * A user with its identities, by two statements prepared once per database (GET …/auth/profile
 * reads them on every request: building their SQL each time, and PostgreSQL parsing and planning
 * it, was a large share of that route's CPU time, issue 18). Not for a transaction.
 */
export async function findUserWithIdentities(ex: Executor, id: string): Promise<{ user: UserRow; identities: IdentityRow[] } | null> {
  let prepared = preparedProfiles.get(ex);
  if (!prepared) preparedProfiles.set(ex, (prepared = prepareProfile(ex)));
  const [user] = await prepared.user.execute({ id });
  if (!user) return null;
  return { user, identities: await prepared.identities.execute({ id }) };
}

/**
 * Reads the users and locks their rows until the transaction ends, in id order: two actions over
 * overlapping ids take their row locks in the same order, so they queue instead of deadlocking.
 * Every change to a user and its sessions (admin actions, one user or many, login, confirmation)
 * takes this lock first, so they serialize per user. One user is `lockUsers(ex, [id])`.
 */
export async function lockUsers(ex: Executor, ids: readonly string[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  return ex
    .select()
    .from(users)
    .where(sql`${users.id} = ANY(${userIdArray(ids)})`)
    .orderBy(users.id)
    .for('update');
}

/** Sets the status of users in one statement; disabledAt is set when disabling, cleared otherwise. */
export async function setStatusOfUsers(ex: Executor, ids: readonly string[], status: UserStatus): Promise<void> {
  if (ids.length === 0) return;
  await ex
    .update(users)
    .set({ status, disabledAt: status === 'disabled' ? sql`now()` : null })
    .where(sql`${users.id} = ANY(${userIdArray(ids)})`);
}

/** Deletes users in one statement; identities and sessions go with them (ON DELETE CASCADE). */
export async function deleteUserRows(ex: Executor, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await ex.delete(users).where(sql`${users.id} = ANY(${userIdArray(ids)})`);
}

/** The identity a login names, through user_identities_provider_key. */
export async function findIdentity(
  ex: Executor,
  providerType: string,
  providerId: string | SQL,
): Promise<{ userId: string; passwordHash: string | null } | null> {
  const [row] = await ex
    .select({ userId: userIdentities.userId, passwordHash: userIdentities.passwordHash })
    .from(userIdentities)
    .where(and(eq(userIdentities.providerType, providerType), eq(userIdentities.providerId, providerId)));
  return row ?? null;
}

/** Through users_email_lower_key. */
export async function findUserByEmail(ex: Executor, email: string): Promise<UserRow | null> {
  const [row] = await ex
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = lower(${email})`);
  return row ?? null;
}

/**
 * Reads the user and holds a share lock on its row until the transaction ends: refreshes of one
 * user run side by side, but never alongside a disable, delete or revoke (those lock FOR UPDATE).
 */
export async function lockUserForShare(ex: Executor, id: string): Promise<UserRow | null> {
  const [row] = await ex.select().from(users).where(eq(users.id, id)).for('share');
  return row ?? null;
}

export async function recordAuthentication(ex: Executor, userId: string): Promise<UserRow> {
  const [row] = await ex
    .update(users)
    .set({ lastAuthenticatedAt: sql`now()` })
    .where(eq(users.id, userId))
    .returning();
  return row!;
}

export async function setUserStatusIfPending(ex: Executor, id: string, status: UserStatus): Promise<UserRow | null> {
  const [row] = await ex
    .update(users)
    .set({ status })
    .where(and(eq(users.id, id), eq(users.status, 'pending')))
    .returning();
  return row ?? null;
}

/** Moves every identity of one user to another (account linking), in one statement. */
export async function moveIdentities(ex: Executor, fromUserId: string, toUserId: string): Promise<void> {
  await ex.update(userIdentities).set({ userId: toUserId }).where(eq(userIdentities.userId, fromUserId));
}

/** Sets a user's email (account linking gives an anonymous user the linked address). */
export async function setUserEmail(ex: Executor, id: string, email: string | null): Promise<UserRow> {
  const [row] = await ex.update(users).set({ email }).where(eq(users.id, id)).returning();
  return row!;
}

/**
 * Sets the password of a user's email/password identity; false when it has none. With `onlyIf`, only
 * while the stored hash is still that one (a re-hash at login leaves a password reset that committed
 * meanwhile alone); false when it was not.
 */
export async function setPasswordHash(
  ex: Executor,
  userId: string,
  providerType: string,
  passwordHash: string,
  onlyIf?: string,
): Promise<boolean> {
  const rows = await ex
    .update(userIdentities)
    .set({ passwordHash })
    .where(
      and(
        eq(userIdentities.userId, userId),
        eq(userIdentities.providerType, providerType),
        onlyIf === undefined ? undefined : eq(userIdentities.passwordHash, onlyIf),
      ),
    )
    .returning({ id: userIdentities.id });
  return rows.length > 0;
}

/** The user of this address, its row locked until the transaction ends; null when there is none. */
export async function lockUserByEmail(ex: Executor, email: string): Promise<UserRow | null> {
  const found = await findUserByEmail(ex, email);
  const [user] = found ? await lockUsers(ex, [found.id]) : [];
  return user ?? null;
}
