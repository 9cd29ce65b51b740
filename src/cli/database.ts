// The database as the command-line tools use it: the one the gateway is configured with, migrated,
// and with its user id format settled as a start of the gateway would (so users a first import
// creates on a new database get the ids USER_ID_FORMAT asks for).
import type { loadConfig } from '../config.js';
import { openDatabase, type DatabaseHandle } from '../db/client.js';
import { runMigrations } from '../db/migrate.js';
import { settleUserIdFormat } from '../users/ids.js';

export async function openCliDatabase(config: ReturnType<typeof loadConfig>): Promise<DatabaseHandle> {
  const database = await openDatabase(config.database, config.db);
  try {
    await runMigrations(database);
    const format = await settleUserIdFormat(database.db, config.userIdFormat ?? 'objectid');
    if (config.userIdFormat && format !== config.userIdFormat) {
      process.stderr.write(`warning: USER_ID_FORMAT is ${config.userIdFormat}, but this database makes ${format} user ids (it recorded that format first and keeps it)\n`);
    }
    return database;
  } catch (err) {
    await database.close();
    throw err;
  }
}
