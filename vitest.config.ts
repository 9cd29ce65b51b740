import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';
import HeavyFirstSequencer from './test/helpers/sequencer.js';

// `npm test` runs every test file on the embedded database (PGlite), and again on a real
// PostgreSQL server when TEST_DATABASE_URL (or DATABASE_URL) names one. Each file gets its own
// fresh, migrated database, started from one migrated template per run (test/helpers/global-setup.ts).
const postgresUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;

// Files named *-postgres.test.ts cause faults on a PostgreSQL server of their own (restarts, killed
// connections): they run in the postgres project only.
const postgresOnly = 'test/**/*-postgres.test.ts';

// Generous: a test waits for the states it asserts (test/helpers/wait.ts) with bounds of its own,
// and these only end what hangs. A loaded machine (a laptop building something else, a CI runner
// shared with other jobs) may take several times longer than a quiet one for the same run.
const shared = {
  include: ['test/**/*.test.ts'],
  globalSetup: ['test/helpers/global-setup.ts'],
  setupFiles: ['test/helpers/setup-file.ts'],
  testTimeout: 60_000,
  hookTimeout: 180_000,
};

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build for the libraries; make Vite give our code the same one,
    // or "Cannot use GraphQLObjectType from another module or realm".
    alias: { graphql: createRequire(import.meta.url).resolve('graphql') },
  },
  test: {
    // Vitest's default is one worker less than the cores, a single one on 2 cores. The files spend
    // much of their time waiting (for a browser, a process they spawned, a retry, a poll), so two
    // files at once fill a small machine better. `npx vitest run --maxWorkers=N` overrides it.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    sequence: { sequencer: HeavyFirstSequencer },
    projects: [
      {
        extends: true as const,
        test: {
          ...shared,
          name: 'embedded',
          exclude: [...configDefaults.exclude, postgresOnly],
          env: { TEST_DB: 'embedded' },
          // A worker runs file after file in one process, loading the gateway's modules (graphql,
          // Pothos, Yoga, drizzle, PGlite: seconds of CPU) once instead of once per file. Each file
          // still gets a database of its own (test/helpers/database.ts); what the modules keep
          // across files is per process in production as well (metrics, the password-hashing queue).
          isolate: false,
        },
      },
      ...(postgresUrl
        ? [{ extends: true as const, test: { ...shared, name: 'postgres', env: { TEST_DB: 'postgres', TEST_DATABASE_URL: postgresUrl } } }]
        : []),
    ],
  },
});
