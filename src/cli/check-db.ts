// `npm run check-db`: checks the invariants of src/users/invariants.ts on the configured database
// (DATABASE_URL, or the embedded one in DATA_DIR: stop the gateway first, the embedded database
// has one user at a time). Exit code 0: all hold; 1: some do not (listed); 2: could not check.
import { ConfigError, loadConfig } from '../config.js';
import { checkInvariants, describeViolations } from '../users/invariants.js';
import { openDatabase } from '../db/client.js';

async function main(): Promise<number> {
  const config = loadConfig(process.env, { servesLinks: false });
  const database = await openDatabase(config.database, { ...config.db, poolMax: 1 });
  try {
    const violations = await checkInvariants(database.db);
    const where = config.database.kind === 'embedded' ? `the embedded database in ${config.database.dataDir}` : 'DATABASE_URL';
    process.stdout.write(`Checked ${where}.\n${describeViolations(violations)}\n`);
    return violations.length === 0 ? 0 : 1;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err instanceof ConfigError ? 'configuration error' : 'check-db failed'}: ${err.message}\n`);
    process.exit(2);
  },
);
