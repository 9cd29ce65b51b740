// The limits' counters in PostgreSQL (the attempt_counters table, UNLOGGED), shared by every
// instance on the server: N instances allow the documented number of attempts, not N times it, and
// a restart remembers. A check is one statement (INSERT … ON CONFLICT DO UPDATE … RETURNING) that
// counts an attempt under every key at once, or under none when one of them is at its limit.
// Handing an attempt back (a success) is one more statement, after the response is decided.
//
// The clock is the app's (tests move it), passed with each statement: instances compare times
// taken on their own clocks, which NTP keeps within far less than a window.
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { InFlight, lookUntilAnswered, type Look } from './in-flight.js';
import { ADMIT_OPTIONS, admittedOnce, type AttemptStore, type CounterClaim, type StoreAdmission } from './store.js';

/** Expired rows are deleted at most this often, by the instance whose check comes first. */
const CLEANUP_EVERY_MS = 60_000;

interface CounterRow {
  counted: boolean;
  key: string;
  count: number;
  /** When the row's window ends, in ms since the epoch: with the key, the window's identity. */
  expiresMs: number;
}

export class PostgresAttemptStore implements AttemptStore {
  /** This process's attempts in flight, by row key, and the admissions waiting for one to settle. */
  private readonly local = new Map<string, InFlight>();
  private lastCleanup = 0;

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {}

  async admit(claims: readonly CounterClaim[]): Promise<StoreAdmission> {
    const byKey = new Map(claims.map((claim) => [rowKey(claim), claim]));
    return lookUntilAnswered(async (): Promise<Look<StoreAdmission>> => {
      const now = this.now();
      const rows = await this.count(claims, now);
      const counted = rows.filter((r) => r.counted);
      if (counted.length === claims.length) return { answer: this.admitted(counted) };
      // Another check took a key's last attempt between this statement's look and its insert:
      // hand back what was counted, and look again.
      if (counted.length > 0) await this.refund(counted, [], now);

      // A key is refused when its settled attempts (all but this process's in flight, which may
      // still be handed back) fill its allowance; otherwise wait for one of ours to settle.
      let retryAfter = 0;
      let waitOn: string | undefined;
      for (const row of rows.filter((r) => !r.counted)) {
        const limit = byKey.get(row.key)!.limit.limit;
        if (row.count - (this.local.get(row.key)?.count ?? 0) >= limit) {
          retryAfter = Math.max(retryAfter, Math.max(1, Math.ceil((row.expiresMs - now) / 1000)));
        } else {
          waitOn ??= row.key;
        }
      }
      if (retryAfter > 0) return { answer: { admitted: false, retryAfter } };
      return { waitOn: waitOn === undefined ? undefined : this.local.get(waitOn) };
    }, ADMIT_OPTIONS);
  }

  /** Counts one attempt under every claim if none is at its limit: one statement. */
  private async count(claims: readonly CounterClaim[], now: number): Promise<CounterRow[]> {
    this.cleanUpNowAndThen(now);
    const at = new Date(now).toISOString();
    const values = sql.join(
      claims.map((c) => sql`(${rowKey(c)}::text, ${c.limit.limit}::int, ${c.limit.windowMs}::bigint)`),
      sql`, `,
    );
    const result = (await this.db.execute(sql`
      WITH claims (key, max_count, window_ms) AS (VALUES ${values}),
      blocked AS (
        SELECT a.key, a.count, a.expires_at FROM attempt_counters a JOIN claims c ON c.key = a.key
        WHERE a.expires_at > ${at}::timestamptz AND a.count >= c.max_count
      ),
      counted AS (
        INSERT INTO attempt_counters AS a (key, count, window_started_at, expires_at)
        SELECT key, 1, ${at}::timestamptz, ${at}::timestamptz + window_ms * interval '1 millisecond' FROM claims
        WHERE NOT EXISTS (SELECT 1 FROM blocked)
        ON CONFLICT (key) DO UPDATE SET
          count = CASE WHEN a.expires_at <= ${at}::timestamptz THEN 1 ELSE a.count + 1 END,
          window_started_at = CASE WHEN a.expires_at <= ${at}::timestamptz THEN excluded.window_started_at ELSE a.window_started_at END,
          expires_at = CASE WHEN a.expires_at <= ${at}::timestamptz THEN excluded.expires_at ELSE a.expires_at END
        WHERE a.expires_at <= ${at}::timestamptz OR a.count < (SELECT max_count FROM claims WHERE claims.key = a.key)
        RETURNING a.key, a.count, a.expires_at
      )
      SELECT true AS counted, key, count, (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms FROM counted
      UNION ALL
      SELECT false, key, count, (extract(epoch FROM expires_at) * 1000)::bigint FROM blocked
    `)) as unknown as { rows: { counted: boolean; key: string; count: number | string; expires_ms: number | string }[] };
    return result.rows.map((r) => ({ counted: r.counted, key: r.key, count: Number(r.count), expiresMs: Number(r.expires_ms) }));
  }

  private admitted(rows: readonly CounterRow[]): StoreAdmission {
    for (const row of rows) this.localKey(row.key).begin();
    return admittedOnce((outcome, forget = []) => {
      const done = () => {
        for (const row of rows) this.settledLocally(row.key);
      };
      if (outcome === 'keep' && forget.length === 0) {
        done();
        return Promise.resolve();
      }
      // Waiters wake once the count is handed back, not before: they would find it still full.
      const refunds = outcome === 'refund' ? rows : [];
      return this.refund(refunds, forget.map(rowKey), this.now())
        .catch(() => {
          // The attempt stays counted: the limit errs on the strict side until the window ends.
        })
        .finally(done);
    });
  }

  /**
   * Hands back one attempt of each row (in the window it was counted in) and clears the settled
   * count of the `forget` keys: their count becomes this process's attempts still in flight on
   * them (the one being settled excluded), as src/limits/attempts.ts's reset does.
   */
  private async refund(rows: readonly CounterRow[], forget: readonly string[], now: number): Promise<void> {
    const refunds = rows.filter((r) => !forget.includes(r.key));
    const statements = [];
    if (refunds.length > 0) {
      const values = sql.join(refunds.map((r) => sql`(${r.key}::text, ${r.expiresMs}::bigint)`), sql`, `);
      statements.push(sql`refunded AS (
        UPDATE attempt_counters a SET count = a.count - 1 FROM (VALUES ${values}) AS r (key, expires_ms)
        WHERE a.key = r.key AND (extract(epoch FROM a.expires_at) * 1000)::bigint = r.expires_ms AND a.count > 0
        RETURNING a.key
      )`);
    }
    if (forget.length > 0) {
      const values = sql.join(
        forget.map((key) => {
          const stillInFlight = Math.max(0, (this.local.get(key)?.count ?? 0) - (rows.some((r) => r.key === key) ? 1 : 0));
          return sql`(${key}::text, ${stillInFlight}::int)`;
        }),
        sql`, `,
      );
      statements.push(sql`forgotten AS (
        UPDATE attempt_counters a SET count = LEAST(a.count, f.in_flight) FROM (VALUES ${values}) AS f (key, in_flight)
        WHERE a.key = f.key AND a.expires_at > ${new Date(now).toISOString()}::timestamptz
        RETURNING a.key
      )`);
    }
    if (statements.length === 0) return;
    await this.db.execute(sql`WITH ${sql.join(statements, sql`, `)} SELECT 1`);
  }

  private localKey(key: string): InFlight {
    let local = this.local.get(key);
    if (!local) {
      local = new InFlight();
      this.local.set(key, local);
    }
    return local;
  }

  private settledLocally(key: string): void {
    const local = this.local.get(key);
    if (!local) return;
    local.settle();
    if (local.count === 0) this.local.delete(key);
  }

  /** Deletes the rows whose window has ended, at most once a minute per instance; never in a check's way. */
  private cleanUpNowAndThen(now: number): void {
    if (Date.now() - this.lastCleanup < CLEANUP_EVERY_MS) return;
    this.lastCleanup = Date.now();
    this.db
      .execute(sql`DELETE FROM attempt_counters WHERE expires_at <= ${new Date(now).toISOString()}::timestamptz`)
      .catch(() => {
        // Tried again in a minute; an expired row is never counted against anyone meanwhile.
      });
  }
}

/**
 * The row of a claim: `<limit>:<key>`, the key as it is when short and storable, else its SHA-256: a
 * key comes from the client (a login's username), a B-tree entry must stay well under 2.7 kB, and
 * PostgreSQL's text holds no NUL (nor can UTF-8 encode a lone surrogate).
 */
const rowKey = (claim: CounterClaim) =>
  `${claim.counter}:${claim.key.length <= 200 && !UNSTORABLE.test(claim.key) ? claim.key : `sha256:${createHash('sha256').update(claim.key).digest('base64url')}`}`;

// A NUL, or a surrogate not part of a pair.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
