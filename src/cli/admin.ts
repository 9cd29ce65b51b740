// `npm run admin -- keys create --role viewer --name ci` and friends: admin keys from the command
// line, on the database the gateway is configured with (DATABASE_URL, or the embedded one in
// DATA_DIR; stop the gateway first when it runs on the embedded database: one process at a time).
// The same service functions as GraphQL, audited as actions of "cli". `import` and `export` move
// users in and out (src/cli/import-users.ts, src/cli/export-users.ts).
import { openCliDatabase } from './database.js';
import { parseArgs } from 'node:util';
import { checkRole, issueAdminKey, listAdminKeys, revokeAdminKey } from '../admin/keys.js';
import type { Actor } from '../audit/log.js';
import { ConfigError, loadConfig } from '../config.js';
import type { AdminKeyRow } from '../db/schema.js';
import { AppError } from '../errors.js';
import { SigningKeyUnreadableError } from '../tokens/signing-keys.js';
import { createTokenKeys } from '../tokens/tokens.js';
import { EXPORT_USAGE, exportUsersCommand } from './export-users.js';
import { IMPORT_USAGE, importUsersCommand } from './import-users.js';
import { UsageError } from './usage.js';

const USAGE = `Usage:
  npm run admin -- keys create --name <name> --role <viewer|operator|owner> [--json]
  npm run admin -- keys list [--json]
  npm run admin -- keys revoke <key id> [--json]
  npm run admin -- keys rotate-signing [--json]    (the access-token signing key)
${IMPORT_USAGE}
${EXPORT_USAGE}
`;

const actor: Actor = { type: 'system', name: 'cli' };

function row(key: AdminKeyRow) {
  return {
    id: key.id,
    name: key.name,
    role: key.role,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'import') return importUsersCommand(argv.slice(1));
  if (argv[0] === 'export') return exportUsersCommand(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      role: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [group, command, ...rest] = positionals;
  if (values.help || group !== 'keys' || !command) throw new UsageError(values.help ? '' : 'Expected "keys create", "keys list", "keys revoke", "keys rotate-signing", "import" or "export".');

  const config = loadConfig(process.env, { servesLinks: false });
  const database = await openCliDatabase(config);
  const out = (text: string, data: unknown) => process.stdout.write(values.json ? `${JSON.stringify(data)}\n` : text);
  try {
    const db = database.db;
    switch (command) {
      case 'create': {
        if (!values.name || !values.role) throw new UsageError('"keys create" needs --name and --role.');
        const { key, secret } = await issueAdminKey(db, actor, { name: values.name, role: checkRole(values.role.toLowerCase()) });
        out(
          `Created the ${key.role} key "${key.name}" (id ${key.id}). Its secret is shown only this once:\n\n  ${secret}\n\n`,
          { ...row(key), secret },
        );
        return 0;
      }
      case 'list': {
        const keys = await listAdminKeys(db);
        const lines = keys.map(
          (k) => `${k.id}  ${k.role.padEnd(8)}  ${k.revokedAt ? 'revoked ' : 'active  '}  ${k.lastUsedAt?.toISOString() ?? 'never used'.padEnd(24)}  ${k.name}`,
        );
        out(`${lines.join('\n')}\n`, keys.map(row));
        return 0;
      }
      case 'revoke': {
        if (rest.length !== 1) throw new UsageError('"keys revoke" needs the id of one key.');
        const key = await revokeAdminKey(db, actor, rest[0]!);
        out(`Revoked the ${key.role} key "${key.name}" (id ${key.id}).\n`, row(key));
        return 0;
      }
      case 'rotate-signing': {
        // Running instances are told by the change feed (the trigger on signing_keys), and switch at once.
        const rotated = await createTokenKeys(db, config.auth).rotate(actor);
        out(
          `New access tokens are signed with ${rotated.algorithm} key ${rotated.kid}. ${rotated.previousKid ? `Tokens of ${rotated.previousKid} keep verifying until they expire.` : ''}\n`,
          rotated,
        );
        return 0;
      }
      default:
        throw new UsageError(`Unknown command "keys ${command}".`);
    }
  } finally {
    await database.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`${err.message ? `${err.message}\n\n` : ''}${USAGE}`);
      process.exit(2);
    }
    if (err instanceof ConfigError || err instanceof AppError || err instanceof SigningKeyUnreadableError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
