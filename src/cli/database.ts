// The database as the command-line tools use it: the one the gateway is configured with, migrated,
// and with its user id format settled as a start of the gateway would (so users a first import
// creates on a new database get the ids USER_ID_FORMAT asks for).
import type { loadConfig } from '../config.js';
import { openDatabase, type DatabaseHandle } from '../db/client.js';
import { runMigrations } from '../db/migrate.js';
import { settleConfiguredUserIdFormat } from '../users/ids.js';

export async function openCliDatabase(config: ReturnType<typeof loadConfig>): Promise<DatabaseHandle> {
  const database = await openDatabase(config.database, config.db);
  try {
    await runMigrations(database);
    await settleConfiguredUserIdFormat(database.db, config.userIdFormat, (message) => process.stderr.write(`warning: ${message}\n`));
    return database;
  } catch (err) {
    await database.close();
    throw err;
  }
}
