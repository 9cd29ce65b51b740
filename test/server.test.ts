import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { onPostgres } from './helpers/database.js';
import { projectRoot, startGatewayProcess } from './helpers/process.js';

// `npm start` on a fresh machine: the embedded database in DATA_DIR, migrations applied, a key
// printed once; the data survives a restart. (The PostgreSQL path is covered by every other test.)
const dataDir = mkdtempSync(join(tmpdir(), 'gateway-data-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function query(baseUrl: string, key: string, body: string) {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body,
  });
  return { status: res.status, body: (await res.json()) as any };
}

it.skipIf(onPostgres)('starts on the embedded database, prints a key once, keeps data across restarts', async () => {
  const first = await startGatewayProcess({ DATA_DIR: dataDir });
  let key: string;
  try {
    key = /\n\s+(agk_[A-Za-z0-9_-]+)\n/.exec(first.output())?.[1] ?? '';
    expect(key).not.toBe('');
    expect((await fetch(`${first.baseUrl}/health`)).status).toBe(200);
    const created = await query(
      first.baseUrl,
      key,
      JSON.stringify({ query: 'mutation { createUser(email: "kept@example.com", password: "secret1") { __typename } }' }),
    );
    expect(created.body.data.createUser.__typename).toBe('CreateUserSuccess');
  } finally {
    expect(await first.stop('SIGTERM')).toBe(0);
  }

  const second = await startGatewayProcess({ DATA_DIR: dataDir });
  try {
    expect(second.output()).not.toMatch(/agk_/);
    const listed = await query(second.baseUrl, key, JSON.stringify({ query: '{ users { totalCount edges { node { email } } } }' }));
    expect(listed.body.data.users).toEqual({ totalCount: 1, edges: [{ node: { email: 'kept@example.com' } }] });
  } finally {
    expect(await second.stop('SIGINT')).toBe(0);
  }
}, 120_000);

it.skipIf(onPostgres)('refuses to start with a clear message when the configuration is wrong', async () => {
  await expect(startGatewayProcess({ DATA_DIR: dataDir, PORT: 'eighty' })).rejects.toThrow(
    /PORT must be a whole number/,
  );
  await expect(startGatewayProcess({ DATA_DIR: dataDir, ADMIN_API_KEY: 'short' })).rejects.toThrow(
    /ADMIN_API_KEY must be at least 16 characters/,
  );
  await expect(startGatewayProcess({ DATA_DIR: dataDir, TRUST_PROXY: '10.0.0.0/33' })).rejects.toThrow(/TRUST_PROXY must be/);
  await expect(startGatewayProcess({ DATA_DIR: dataDir, CORS_ORIGINS: 'admin.example.com' })).rejects.toThrow(/CORS_ORIGINS must list origins/);
});

it('dist/server.js has a source map to src/ without the sources in it (they would sit in the heap of every process)', () => {
  const map = JSON.parse(readFileSync(`${projectRoot}dist/server.js.map`, 'utf8')) as { sources: string[]; sourcesContent?: unknown };
  expect(map.sources).toContain('../src/server.ts');
  expect(map.sourcesContent).toBeUndefined();
});
