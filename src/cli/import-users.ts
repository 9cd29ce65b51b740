// `npm run admin -- import --from <atlas|firebase|supabase|jsonl> FILE…`: users of another system (or
// of our own export) into the gateway's database, keeping their ids. The files are streamed, the users
// handed to importUserBatch in batches (one transaction each, so a run that is killed leaves whole
// batches, and a second run finds them 'unchanged'), every line that is not imported is reported on
// stderr with its code, and the run is audited once at the end. stdout is not written.
import { openCliDatabase } from './database.js';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { Actor } from '../audit/log.js';
import { loadConfig } from '../config.js';
import type { Database } from '../db/client.js';
import { AppError } from '../errors.js';
import { IMPORT_FORMATS, isImportFormat, parseImportFile, type ByteSource, type ImportFormat } from '../import-formats/index.js';
import { createLogger } from '../logger.js';
import { loadMailTemplates } from '../mail/templates.js';
import { createAuthDeps, type AuthDeps } from '../signin/deps.js';
import { sendPasswordReset } from '../signin/password-reset.js';
import { countOutcomes, importUserBatch, recordImportRun, type ImportItemResult, type ImportUser } from '../users/import.js';
import type { FirebaseScryptParams } from '../users/passwords.js';
import { Progress } from './progress.js';
import { UsageError } from './usage.js';

export const IMPORT_USAGE = `  npm run admin -- import --from <${IMPORT_FORMATS.join('|')}> FILE… [--dry-run] [--notify] [--send-reset-mail] [--batch-size N] [--progress-interval S]
      firebase: --hash-key K --salt-separator S --rounds R --mem-cost M   (the project's password hash parameters)
      exit code 0: every line was imported or already present; 3: some were not (reported on stderr); 1: the run failed`;

/** Exit code of a run in which some lines were not imported (conflicts, malformed lines). */
export const EXIT_INCOMPLETE = 3;
const DEFAULT_BATCH_SIZE = 2_500;
const MAX_BATCH_SIZE = 10_000;
/** Batches written at the same time (the database works on one while it commits another). */
const WRITERS = 2;
/** Reset mails are queued this many at a time (each is one transaction with its token). */
const RESET_MAIL_CONCURRENCY = 4;

const actor: Actor = { type: 'system', name: 'cli' };

interface Options {
  format: ImportFormat;
  files: string[];
  dryRun: boolean;
  notify: boolean;
  sendResetMail: boolean;
  batchSize: number;
  /** Seconds between plain progress lines (stderr not a terminal). */
  progressInterval: number;
  firebase: FirebaseScryptParams | null;
}

function options(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      from: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      notify: { type: 'boolean', default: false },
      'send-reset-mail': { type: 'boolean', default: false },
      'batch-size': { type: 'string' },
      'hash-key': { type: 'string' },
      'salt-separator': { type: 'string' },
      rounds: { type: 'string' },
      'mem-cost': { type: 'string' },
      'progress-interval': { type: 'string' },
    },
  });
  const format = values.from;
  if (!format || !isImportFormat(format)) throw new UsageError(`"import" needs --from ${IMPORT_FORMATS.join('|')}.`);
  if (positionals.length === 0) throw new UsageError('"import" needs at least one FILE.');
  const batchSize = values['batch-size'] === undefined ? DEFAULT_BATCH_SIZE : Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) throw new UsageError(`--batch-size must be a whole number from 1 to ${MAX_BATCH_SIZE}.`);
  const progressInterval = values['progress-interval'] === undefined ? 5 : Number(values['progress-interval']);
  if (!(progressInterval > 0)) throw new UsageError('--progress-interval is a number of seconds, more than 0.');
  const hashFlags = [values['hash-key'], values['salt-separator'], values.rounds, values['mem-cost']];
  let firebase: FirebaseScryptParams | null = null;
  if (hashFlags.some((f) => f !== undefined)) {
    if (format !== 'firebase') throw new UsageError('--hash-key, --salt-separator, --rounds and --mem-cost are for --from firebase.');
    if (hashFlags.some((f) => f === undefined)) throw new UsageError('--hash-key, --salt-separator, --rounds and --mem-cost go together.');
    const rounds = Number(values.rounds);
    const memCost = Number(values['mem-cost']);
    if (!Number.isInteger(rounds) || !Number.isInteger(memCost)) throw new UsageError('--rounds and --mem-cost are whole numbers.');
    firebase = { signerKey: values['hash-key']!, saltSeparator: values['salt-separator']!, rounds, memCost };
  }
  return {
    format,
    files: positionals,
    dryRun: values['dry-run'],
    notify: values.notify,
    sendResetMail: values['send-reset-mail'],
    batchSize,
    progressInterval,
    firebase,
  };
}

/** Where a user came from, to name it in reports. */
interface Origin {
  file: string;
  line: number;
}

/** Whether an imported user can only sign in after a password reset: confirmed, with an email/password identity without a hash. */
function needsReset(user: ImportUser): boolean {
  return user.status === 'confirmed' && user.identities.some((i) => i.providerType === 'local-userpass' && !i.passwordHash);
}

export async function importUsersCommand(argv: string[]): Promise<number> {
  const opts = options(argv);
  const sizes = await Promise.all(
    opts.files.map((file) =>
      stat(file).then(
        (s) => s.size,
        (err: NodeJS.ErrnoException) => {
          throw new UsageError(`cannot read ${file}: ${err.code ?? err.message}`);
        },
      ),
    ),
  );
  const config = loadConfig(process.env, { servesLinks: opts.sendResetMail });
  const database = await openCliDatabase(config);
  try {
    const db = database.db;
    const auth = opts.sendResetMail ? await resetMailDeps(db, config) : null;
    const progress = new Progress({ unit: 'users', total: sizes.reduce((a, b) => a + b, 0), plainIntervalSeconds: opts.progressInterval });
    const counts = countOutcomes([]);
    let bytesRead = 0;
    let resetMails = 0;
    const where = (origin: Origin) => `${opts.files.length > 1 ? `${origin.file}: ` : ''}line ${origin.line}`;
    const report = (origin: Origin, code: string, message: string) => progress.log(`${where(origin)}: ${code} ${message}`);

    const settle = async (users: ImportUser[], origins: Origin[], results: ImportItemResult[]) => {
      const toReset: { user: ImportUser; origin: Origin }[] = [];
      countOutcomes(results, counts);
      for (const result of results) {
        const origin = origins[result.index]!;
        if (result.outcome === 'created' && auth && needsReset(users[result.index]!)) toReset.push({ user: users[result.index]!, origin });
        if (result.outcome === 'conflict' || result.outcome === 'malformed') {
          report(origin, result.code ?? result.outcome.toUpperCase(), result.message ?? '');
        }
      }
      // Mails of this batch, a few at a time; a refusal is reported and does not stop the run.
      for (let i = 0; i < toReset.length; i += RESET_MAIL_CONCURRENCY) {
        await Promise.all(
          toReset.slice(i, i + RESET_MAIL_CONCURRENCY).map(async ({ user, origin }) => {
            try {
              await sendPasswordReset(auth!, actor, user.id, auth!.settings.publicUrl);
              resetMails++;
            } catch (err) {
              if (!(err instanceof AppError)) throw err;
              report(origin, 'RESET_MAIL_REFUSED', err.message);
            }
          }),
        );
      }
    };

    // A batch written beside another can find an id or email taken as it inserts and free again as it
    // looks why (TAKEN_MEANWHILE): those users are tried once more, and get the code a run of one batch
    // at a time would give them (created, EMAIL_TAKEN, EMAIL_CASE_DUPLICATE, …).
    const writeBatch = async (batch: ImportUser[]): Promise<ImportItemResult[]> => {
      const options = { dryRun: opts.dryRun, notify: opts.notify };
      const results = await importUserBatch(db, actor, batch, options);
      const lost = results.filter((r) => r.code === 'TAKEN_MEANWHILE');
      if (lost.length === 0) return results;
      const again = await importUserBatch(db, actor, lost.map((r) => batch[r.index]!), options);
      for (const r of again) results[lost[r.index]!.index] = { ...r, index: lost[r.index]!.index };
      return results;
    };

    // Up to WRITERS batches are written (each in its own transaction, on its own connection) while
    // the next is read: at most WRITERS + 1 batches in memory.
    const inFlight: Promise<void>[] = [];
    let users: ImportUser[] = [];
    let origins: Origin[] = [];
    const flush = async (writers: number) => {
      while (inFlight.length > 0 && inFlight.length >= writers) await inFlight.shift();
      if (users.length === 0) return;
      const batch = users;
      const batchOrigins = origins;
      users = [];
      origins = [];
      const writing = writeBatch(batch).then((results) => settle(batch, batchOrigins, results));
      writing.catch(() => {}); // awaited in turn; a failure must not count as unhandled meanwhile
      inFlight.push(writing);
    };
    const handled = () => counts.created + counts.unchanged + counts.conflicts + counts.malformed;

    for (const file of opts.files) {
      async function* counted(): ByteSource {
        for await (const chunk of createReadStream(file)) {
          bytesRead += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      }
      for await (const record of parseImportFile(opts.format, counted(), { firebase: opts.firebase })) {
        if (record.error) {
          counts.malformed++;
          report({ file, line: record.line }, record.error.code, record.error.message);
        } else {
          users.push(record.user);
          origins.push({ file, line: record.line });
          if (users.length >= opts.batchSize) await flush(WRITERS);
        }
        progress.update(handled() + users.length, bytesRead);
      }
    }
    await flush(WRITERS);
    await flush(0);
    progress.finish();

    await recordImportRun(db, actor, { source: opts.format, counts, dryRun: opts.dryRun });
    const total = handled();
    const verb = opts.dryRun ? 'Dry run, nothing written: would create' : 'Created';
    process.stderr.write(
      `${verb} ${counts.created}, unchanged ${counts.unchanged}, conflicts ${counts.conflicts}, malformed ${counts.malformed}` +
        `${auth ? `, reset mails queued ${resetMails}` : ''}` +
        ` (${total} lines in ${progress.elapsedSeconds.toFixed(1)} s, ${Math.round(total / Math.max(progress.elapsedSeconds, 1e-3))} users/s).\n`,
    );
    return counts.conflicts + counts.malformed === 0 ? 0 : EXIT_INCOMPLETE;
  } finally {
    await database.close();
  }
}

/** What sendPasswordReset needs, with its logs on stderr. */
async function resetMailDeps(db: Database, config: ReturnType<typeof loadConfig>): Promise<AuthDeps> {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', pino.destination(2));
  return createAuthDeps({ db, logger, settings: config.auth, mailTemplates: await loadMailTemplates(config.mail.templatesDir) });
}
