// PostGraphile 4, as people would run it in production, on the benchmark's database: the same tables,
// its recommended production options, a pool as large as the gateway's. The equivalent of the
// gateway's activeSessionCount and email-prefix search are a computed column and a custom query
// (SQL functions that bench/seed.ts creates in the benchmark's database).
import Module, { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { dirname } from 'node:path';
import pg from 'pg';

// PostGraphile 4 runs on graphql 15 (its own copy); the project's graphql 16 sits at the top of
// node_modules, where npm hoisted graphql-parse-resolve-info, which then loads 16 and rejects
// PostGraphile's types ("Unexpected input type"). Point that one package at PostGraphile's copy.
const requireFromPostGraphile = createRequire(createRequire(import.meta.url).resolve('postgraphile'));
const graphql15 = dirname(requireFromPostGraphile.resolve('graphql/package.json'));
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  if ((request === 'graphql' || request.startsWith('graphql/')) && parent?.filename?.includes('/graphql-parse-resolve-info/')) {
    request = graphql15 + request.slice('graphql'.length);
  }
  return resolveFilename.call(this, request, parent, ...rest);
};
const { postgraphile } = await import('postgraphile');

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_MAX ?? 10) });
const middleware = postgraphile(pool, 'public', {
  graphqlRoute: '/graphql',
  graphiql: false,
  watchPg: false,
  retryOnInitFail: false,
  dynamicJson: true,
  setofFunctionsContainNulls: false,
  ignoreRBAC: false,
  disableDefaultMutations: true,
  disableQueryLog: true,
  enableQueryBatching: false,
  legacyRelations: 'omit',
  extendedErrors: ['errcode'],
  showErrorStack: false,
});

const server = createServer(middleware);
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => pool.end().then(() => process.exit(0)));
});
