import { withThousands } from '../thousands.js';
import * as bulk from '../users/bulk.js';
import { grantMutation } from './access.js';
import { builder } from './builder.js';

const BulkOutcomeStatusEnum = builder.enumType('BulkOutcomeStatus', {
  description: 'What a bulk action did for one id.',
  values: {
    DONE: {
      value: 'done',
      description: 'The action holds for the user now (a user that was already disabled counts as done).',
    },
    NOT_FOUND: { value: 'notFound', description: 'No user has this id (it never existed, or it was deleted).' },
    PENDING: { value: 'pending', description: 'The user is pending confirmation: pending users cannot be disabled, only deleted.' },
    MALFORMED: { value: 'malformed', description: 'The id is not a user id (1 to 128 characters of A–Z, a–z, 0–9, "_" and "-").' },
  } as const,
});

const BulkUserOutcome = builder.objectRef<bulk.BulkUserOutcome>('BulkUserOutcome').implement({
  description: 'The outcome of a bulk action for one of the ids it was given.',
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Where the id first appears in the `ids` argument, counting from 0.' }),
    id: t.exposeID('id', { description: 'The id, exactly as it was given.' }),
    status: t.expose('status', { type: BulkOutcomeStatusEnum, description: 'Done, or why not.' }),
    revokedSessionCount: t.exposeInt('revokedSessionCount', {
      description: 'How many live sessions of this user were revoked.',
    }),
    message: t.exposeString('message', {
      nullable: true,
      description: 'Why the action did not apply to this id, in words meant for a person; null when done.',
    }),
  }),
});

const BulkActionResult = builder.objectRef<bulk.BulkActionResult>('BulkActionResult').implement({
  description:
    'What a bulk action did, id by id. The action is one transaction; an unknown, pending or malformed id is reported in its outcome and never stops the others.',
  fields: (t) => ({
    requestedCount: t.int({
      description: 'How many distinct ids were given (a repeated id is acted on and reported once).',
      resolve: (r) => r.outcomes.length,
    }),
    doneCount: t.int({ description: 'How many ids are DONE.', resolve: (r) => r.counts.done }),
    notFoundCount: t.int({ description: 'How many ids are NOT_FOUND.', resolve: (r) => r.counts.notFound }),
    pendingCount: t.int({
      description: 'How many ids are PENDING (only disableUsers refuses pending users).',
      resolve: (r) => r.counts.pending,
    }),
    malformedCount: t.int({ description: 'How many ids are MALFORMED.', resolve: (r) => r.counts.malformed }),
    revokedSessionCount: t.exposeInt('revokedSessionCount', {
      description: 'How many live sessions were revoked, over all users.',
    }),
    outcomes: t.field({
      type: [BulkUserOutcome],
      description: 'One outcome per distinct id, in the order the ids were given.',
      args: {
        status: t.arg({
          type: [BulkOutcomeStatusEnum],
          required: false,
          description: 'Only outcomes with one of these statuses, e.g. `[NOT_FOUND, PENDING, MALFORMED]` for the failures.',
        }),
      },
      resolve: (r, args) => {
        if (!args.status) return r.outcomes;
        const wanted = new Set(args.status);
        return r.outcomes.filter((o) => wanted.has(o.status));
      },
    }),
  }),
});

const IDS_DESCRIPTION = `The users' ids: at most ${withThousands(bulk.MAX_BULK_IDS)} (more is a BAD_USER_INPUT error and changes nothing).`;

builder.mutationField('disableUsers', (t) =>
  t.field({
    ...grantMutation('operator'),
    type: BulkActionResult,
    description:
      'Disables many users at once, as disableUser does each: every session is revoked and no token of theirs works. Pending users are refused (PENDING), the others are disabled, in one transaction.',
    args: { ids: t.arg.idList({ required: true, description: IDS_DESCRIPTION }) },
    resolve: (_root, args, ctx) => bulk.disableUsers(ctx.db, ctx.actor, args.ids),
  }),
);

builder.mutationField('deleteUsers', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: BulkActionResult,
    description:
      "Deletes many users at once, as deleteUser does each: identities and sessions go with them, the app's own data that points at them stays. One transaction.",
    args: { ids: t.arg.idList({ required: true, description: IDS_DESCRIPTION }) },
    resolve: (_root, args, ctx) => bulk.deleteUsers(ctx.db, ctx.actor, args.ids, ctx.linkedData),
  }),
);

builder.mutationField('revokeSessionsOfUsers', (t) =>
  t.field({
    ...grantMutation('operator'),
    type: BulkActionResult,
    description:
      'Logs many users out of every session at once, as revokeUserSessions does each. One transaction.',
    args: { ids: t.arg.idList({ required: true, description: IDS_DESCRIPTION }) },
    resolve: (_root, args, ctx) => bulk.revokeSessionsOfUsers(ctx.db, ctx.actor, args.ids),
  }),
);
