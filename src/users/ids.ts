// What new users' ids look like in this database: recorded once (gateway_settings 'user_id_format')
// and kept, so a database never mixes formats because an instance started with another setting.
import { sql } from 'drizzle-orm';
import type { UserIdFormat } from '../config.js';
import type { Executor } from '../db/client.js';
import { gatewaySettings } from '../db/schema.js';

const USER_ID_FORMAT_KEY = 'user_id_format';

/**
 * Records `wanted` as the database's user id format unless one is recorded already (migration 0011
 * records 'uuid' for a database that had users); returns the recorded one. New users' ids come from
 * the database default gateway_new_user_id(), which reads it.
 */
export async function settleUserIdFormat(ex: Executor, wanted: UserIdFormat): Promise<UserIdFormat> {
  await ex.insert(gatewaySettings).values({ key: USER_ID_FORMAT_KEY, value: wanted }).onConflictDoNothing();
  return recordedUserIdFormat(ex);
}

/**
 * What a start (of the gateway or a command-line tool) does: settles the format USER_ID_FORMAT asks
 * for (`configured`, objectid when unset) and tells `warn` when the database had recorded another.
 */
export async function settleConfiguredUserIdFormat(
  ex: Executor,
  configured: UserIdFormat | null,
  warn: (message: string) => void,
): Promise<UserIdFormat> {
  const format = await settleUserIdFormat(ex, configured ?? 'objectid');
  if (configured && format !== configured) {
    warn(`USER_ID_FORMAT is ${configured}, but this database makes ${format} user ids (it recorded that format first and keeps it)`);
  }
  return format;
}

/** The database's user id format: 'objectid' until one is recorded (what gateway_new_user_id() makes then). */
async function recordedUserIdFormat(ex: Executor): Promise<UserIdFormat> {
  const result = (await ex.execute(
    sql`SELECT value FROM ${gatewaySettings} WHERE key = ${USER_ID_FORMAT_KEY}`,
  )) as unknown as { rows: { value: string }[] };
  return result.rows[0]?.value === 'uuid' ? 'uuid' : 'objectid';
}
