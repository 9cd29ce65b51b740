import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` diffs src/db/schema.ts against migrations/ and writes the next migration.
// Landed migrations are never edited: change the schema and generate a new one.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './migrations',
  strict: true,
});
