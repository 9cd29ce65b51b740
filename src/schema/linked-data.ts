import { LinkedDataPurgeError, countLinkedRows, type LinkedDataCount as LinkedDataCountShape } from '../linked-data/index.js';
import { UserNotFoundError } from '../errors.js';
import { previewDeleteUser, type DeletePreview as DeletePreviewShape } from '../users/service.js';
import { grant } from './access.js';
import { builder } from './builder.js';
import { ErrorInterface } from './errors.js';
import { User } from './user.js';

export const LinkedDataCount = builder.objectRef<LinkedDataCountShape>('LinkedDataCount').implement({
  description:
    "Rows of one of the app's own tables (declared in LINKED_DATA_FILE) whose column holds the user's id.",
  fields: (t) => ({
    table: t.exposeString('table', {
      description: 'The table, schema-qualified as the database names it, such as `public.todo_items`.',
    }),
    column: t.exposeString('column', { description: "The column that holds the user's id." }),
    count: t.exposeInt('count', { description: 'How many rows.' }),
  }),
});

builder.objectType(LinkedDataPurgeError, {
  name: 'LinkedDataPurgeError',
  description:
    'The database refused to delete the rows of one declared table (a trigger raised, a foreign key points at them, a lock timed out). Nothing was deleted: not the user, not any row.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    table: t.exposeString('table', { description: 'The table whose rows could not be deleted.' }),
    column: t.exposeString('column', { description: "The column that holds the user's id." }),
  }),
});

builder.objectField(User, 'linkedData', (t) =>
  t.loadableList({
    type: LinkedDataCount,
    description:
      "The app's own data that points at the user: per table declared in LINKED_DATA_FILE, how many rows hold the user's id. Deleting the user leaves them unless purgeLinkedData is asked for.",
    load: async (ids: string[], ctx) => {
      const counts = await countLinkedRows(ctx.db, ctx.linkedData, ids);
      return ids.map((id) => counts.get(id)!);
    },
    resolve: (user) => user.id,
  }),
);

const DeletePreview = builder.objectRef<DeletePreviewShape>('DeletePreview').implement({
  description: 'What deleting the user would do, read in one consistent snapshot. Nothing was changed.',
  fields: (t) => ({
    user: t.expose('user', { type: User, description: 'The user that would be deleted.' }),
    activeSessionCount: t.exposeInt('activeSessionCount', {
      description: 'How many live sessions would be revoked.',
    }),
    linkedData: t.expose('linkedData', {
      type: [LinkedDataCount],
      description:
        "The app's own rows that point at the user: left behind by a plain delete, removed by `deleteUser(purgeLinkedData: true)`.",
    }),
  }),
});

builder.queryField('previewDeleteUser', (t) =>
  t.field({
    ...grant('viewer'),
    type: DeletePreview,
    description:
      "A dry run of deleteUser: the user, its live sessions and the app's own rows that point at it. Changes nothing.",
    args: { id: t.arg.id({ required: true, description: "The user's id." }) },
    errors: {
      types: [UserNotFoundError],
      directResult: true,
      union: { name: 'PreviewDeleteUserResult', description: 'What deleting the user would do, or why there is nothing to delete.' },
    },
    resolve: (_root, args, ctx) => previewDeleteUser(ctx.db, ctx.linkedData, args.id),
  }),
);
