// `npm run admin -- export [--status …] [--with-password-hashes] > users.jsonl`: every user (or those of
// some statuses) as one JSON object per line on stdout, in keyset order, streamed page by page; the
// progress on stderr. Exporting is audited (with whether hashes were included).
import { openCliDatabase } from './database.js';
import { parseArgs } from 'node:util';
import type { Actor } from '../audit/log.js';
import { loadConfig } from '../config.js';
import { exportUsers, recordExport } from '../users/export.js';
import { Progress } from './progress.js';
import { UsageError } from './usage.js';

export const EXPORT_USAGE = `  npm run admin -- export [--status confirmed,pending,disabled] [--with-password-hashes] > users.jsonl`;

const STATUSES = ['confirmed', 'pending', 'disabled'] as const;
type Status = (typeof STATUSES)[number];
const actor: Actor = { type: 'system', name: 'cli' };
/** Lines are written to stdout in chunks of about this many characters. */
const CHUNK = 64 * 1024;

/** Writes to stdout, waiting when the reader is slower than the export. */
function write(text: string): Promise<void> | null {
  return process.stdout.write(text) ? null : new Promise((resolve) => process.stdout.once('drain', resolve));
}

export async function exportUsersCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      status: { type: 'string' },
      'with-password-hashes': { type: 'boolean', default: false },
    },
  });
  if (positionals.length > 0) throw new UsageError('"export" takes no FILE: it writes to stdout (redirect it: > users.jsonl).');
  let statuses: Status[] | undefined;
  if (values.status !== undefined) {
    statuses = values.status.split(',').map((s) => s.trim().toLowerCase()) as Status[];
    const unknown = statuses.find((s) => !STATUSES.includes(s));
    if (unknown !== undefined || statuses.length === 0) throw new UsageError(`--status takes ${STATUSES.join(', ')} (comma-separated); got "${values.status}".`);
  }
  const withPasswordHashes = values['with-password-hashes'];

  const config = loadConfig(process.env, { servesLinks: false });
  const database = await openCliDatabase(config);
  try {
    const progress = new Progress({ unit: 'users' });
    let count = 0;
    let pending = '';
    for await (const user of exportUsers(database.db, { statuses, withPasswordHashes })) {
      pending += `${JSON.stringify(user)}\n`;
      count++;
      if (pending.length >= CHUNK) {
        const wait = write(pending);
        pending = '';
        if (wait) await wait;
      }
      progress.update(count);
    }
    if (pending) await write(pending);
    // Everything is handed to the pipe or file before the process exits.
    await new Promise<void>((resolve, reject) => process.stdout.write('', (err) => (err ? reject(err) : resolve())));
    progress.finish();
    await recordExport(database.db, actor, { withPasswordHashes, count });
    process.stderr.write(`Exported ${count} users${withPasswordHashes ? ' with their password hashes' : ''} in ${progress.elapsedSeconds.toFixed(1)} s.\n`);
    return 0;
  } finally {
    await database.close();
  }
}
