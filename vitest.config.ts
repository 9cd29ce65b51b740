import { createRequire } from 'node:module';
import { configDefaults, defineConfig } from 'vitest/config';

// `npm test` runs every test file on the embedded database (PGlite), and again on a real
// PostgreSQL server when TEST_DATABASE_URL (or DATABASE_URL) names one. Each file gets its own
// fresh, migrated database.
const postgresUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;

// Files named *-postgres.test.ts cause faults on a PostgreSQL server of their own (restarts, killed
// connections): they run in the postgres project only.
const postgresOnly = 'test/**/*-postgres.test.ts';

const shared = {
  include: ['test/**/*.test.ts'],
  globalSetup: ['test/helpers/global-setup.ts'],
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build for the libraries; make Vite give our code the same one,
    // or "Cannot use GraphQLObjectType from another module or realm".
    alias: { graphql: createRequire(import.meta.url).resolve('graphql') },
  },
  test: {
    projects: [
      {
        extends: true as const,
        test: { ...shared, name: 'embedded', exclude: [...configDefaults.exclude, postgresOnly], env: { TEST_DB: 'embedded' } },
      },
      ...(postgresUrl
        ? [{ extends: true as const, test: { ...shared, name: 'postgres', env: { TEST_DB: 'postgres', TEST_DATABASE_URL: postgresUrl } } }]
        : []),
    ],
  },
});
