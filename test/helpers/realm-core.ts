// Where the tests find realm-core 14.14's own app client (../shared/realm-core-client, see its
// README): REALM_CORE_CLIENT, or beside the project. Absent on a contributor's clone: the files
// that need it skip, saying why; under CI (CI=true) its absence fails the run instead.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const REALM_CORE_CLIENT = process.env.REALM_CORE_CLIENT || resolve('../shared/realm-core-client/bin/realm-core-client');

/** Whether the client is there; throws under CI when it is not, and says why a file skips otherwise. */
export function realmCoreClientPresent(file: string): boolean {
  if (existsSync(REALM_CORE_CLIENT)) return true;
  const why = `realm-core-client not found at ${REALM_CORE_CLIENT} (set REALM_CORE_CLIENT)`;
  if (process.env.CI === 'true') throw new Error(`${why}: under CI the native-client tests must run`);
  console.log(`skipping the native-client tests of ${file}: ${why}`);
  return false;
}
