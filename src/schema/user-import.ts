// importUsers: users brought in from another system with their ids, a small batch per call (the
// command line's import takes whole files; both use src/users/import.ts).
import { InvalidInputError } from '../errors.js';
import { withThousands } from '../thousands.js';
import { countOutcomes, importUserBatch, recordImportRun, type ImportItemResult, type ImportUser } from '../users/import.js';
import { grantMutation } from './access.js';
import { builder } from './builder.js';
import { UserStatusEnum } from './user.js';

/** The most users one importUsers call takes; more is refused whole (BAD_USER_INPUT), before anything changes. */
export const MAX_GRAPHQL_IMPORT = 1_000;

const ImportIdentityInput = builder.inputType('ImportIdentityInput', {
  description: 'One way the imported user logs in.',
  fields: (t) => ({
    providerType: t.string({
      required: true,
      description: 'The provider, kept as given: "local-userpass", "anon-user", "api-key", "custom-token", …',
    }),
    providerId: t.string({
      required: true,
      description: "The provider's id of the identity; for local-userpass, the user's email (compared case-insensitively).",
    }),
    passwordHash: t.string({
      required: false,
      description:
        'local-userpass only: the hash of the password in the system the user comes from (ours, "$argon2id$…"; an Argon2 PHC string "$argon2i$…"/"$argon2d$…"; ours of before, "scrypt$…"; "firebase-scrypt$…"; or bcrypt "$2a$"/"$2b$"/"$2y$"); it verifies as it is and is replaced by ours at the first login. Null: the user must reset the password.',
    }),
  }),
});

const ImportUserInput = builder.inputType('ImportUserInput', {
  description: 'A user to import, with the id it had in the system it comes from.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The id, kept unchanged: 1 to 128 characters of A–Z, a–z, 0–9, "_" and "-".' }),
    email: t.string({ required: false, description: 'The email address; null for users without one (anonymous, API key).' }),
    status: t.field({ type: UserStatusEnum, required: true, description: 'Confirmed, pending (stays pending) or disabled (stays disabled).' }),
    createdAt: t.field({ type: 'DateTime', required: true, description: 'When the user was created in the system it comes from.' }),
    lastAuthenticatedAt: t.field({ type: 'DateTime', required: false, description: 'When the user last logged in, if known.' }),
    disabledAt: t.field({ type: 'DateTime', required: false, description: 'When the user was disabled (disabled users only; default: createdAt).' }),
    customData: t.field({ type: 'JSON', required: false, description: 'The custom user data: a JSON object (default {}).' }),
    identities: t.field({ type: [ImportIdentityInput], required: true, description: 'The ways the user logs in.' }),
  }),
});

const ImportOutcomeEnum = builder.enumType('ImportOutcome', {
  description: 'What an import did (or, in a dry run, would do) with one user.',
  values: {
    CREATED: { value: 'created', description: 'The user was created with its id.' },
    UNCHANGED: { value: 'unchanged', description: 'The same user (id, email, identities) is already there; nothing changed.' },
    CONFLICT: { value: 'conflict', description: 'Its id, email (in any letter case) or an identity belongs to another user, or to an earlier item of the batch; nothing of it was written.' },
    MALFORMED: { value: 'malformed', description: 'The item is not a valid user (see `code`); nothing of it was written.' },
  } as const,
});

const ImportUserOutcome = builder.objectRef<ImportItemResult>('ImportUserOutcome').implement({
  description: 'The outcome of an import for one of the users it was given.',
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Where the user appears in the `users` argument, counting from 0.' }),
    id: t.exposeID('id', { nullable: true, description: 'The user id as given; null when the item had none.' }),
    outcome: t.expose('outcome', { type: ImportOutcomeEnum, description: 'Created, unchanged, or why not.' }),
    code: t.string({
      nullable: true,
      description:
        'CONFLICT and MALFORMED: a stable code (ID_TAKEN, EMAIL_TAKEN, EMAIL_CASE_DUPLICATE, IDENTITY_TAKEN, DUPLICATE_ID, TAKEN_MEANWHILE, MALFORMED_ID, MALFORMED_EMAIL, MALFORMED_PASSWORD_HASH, MALFORMED_IDENTITY, …); null otherwise.',
      resolve: (o) => o.code ?? null,
    }),
    message: t.string({ nullable: true, description: 'Why, in words meant for a person; null when created or unchanged.', resolve: (o) => o.message ?? null }),
  }),
});

interface ImportUsersResultShape {
  dryRun: boolean;
  outcomes: ImportItemResult[];
  counts: ReturnType<typeof countOutcomes>;
}

const ImportUsersResult = builder.objectRef<ImportUsersResultShape>('ImportUsersResult').implement({
  description: 'What importUsers did, user by user. One transaction; a conflicting or malformed user is reported and never stops the others.',
  fields: (t) => ({
    dryRun: t.exposeBoolean('dryRun', { description: 'True when nothing was written: the outcomes say what would happen.' }),
    createdCount: t.int({ description: 'How many users are CREATED.', resolve: (r) => r.counts.created }),
    unchangedCount: t.int({ description: 'How many users are UNCHANGED.', resolve: (r) => r.counts.unchanged }),
    conflictCount: t.int({ description: 'How many users are CONFLICT.', resolve: (r) => r.counts.conflicts }),
    malformedCount: t.int({ description: 'How many users are MALFORMED.', resolve: (r) => r.counts.malformed }),
    outcomes: t.field({
      type: [ImportUserOutcome],
      description: 'One outcome per user, in the order they were given.',
      args: {
        outcome: t.arg({
          type: [ImportOutcomeEnum],
          required: false,
          description: 'Only outcomes of these kinds, e.g. `[CONFLICT, MALFORMED]` for the failures.',
        }),
      },
      resolve: (r, args) => (args.outcome ? r.outcomes.filter((o) => args.outcome!.includes(o.outcome)) : r.outcomes),
    }),
  }),
});

builder.mutationField('importUsers', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: ImportUsersResult,
    description: `Imports users from another system (Atlas App Services, Firebase, Supabase, an export of this gateway) with their ids, emails, statuses and password hashes, in one transaction: at most ${withThousands(MAX_GRAPHQL_IMPORT)} per call (the command line's \`import\` takes whole files). Idempotent: a user already imported is UNCHANGED. No user.created webhooks are sent. One audit event per call.`,
    args: {
      users: t.arg({
        type: [ImportUserInput],
        required: true,
        description: `The users: at most ${withThousands(MAX_GRAPHQL_IMPORT)} (more is a BAD_USER_INPUT error and changes nothing).`,
      }),
      dryRun: t.arg.boolean({ required: false, description: 'Only report what would happen; write nothing (default false).' }),
    },
    resolve: async (_root, args, ctx) => {
      if (args.users.length > MAX_GRAPHQL_IMPORT) {
        throw new InvalidInputError(
          'users',
          `importUsers takes at most ${withThousands(MAX_GRAPHQL_IMPORT)} users per call; got ${withThousands(args.users.length)}. Send them in several calls, or use \`npm run admin -- import\`.`,
        );
      }
      const dryRun = args.dryRun ?? false;
      const outcomes = await importUserBatch(ctx.db, ctx.actor, args.users as ImportUser[], { dryRun });
      const counts = countOutcomes(outcomes);
      await recordImportRun(ctx.db, ctx.actor, { source: 'graphql', counts, dryRun });
      return { dryRun, outcomes, counts };
    },
  }),
);
