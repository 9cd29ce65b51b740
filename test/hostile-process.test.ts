// Issue 11, "Hostile clients", against the real process (`npm start`, node dist/server.js): many
// GraphiQL views and slow readers do not grow its memory, the connection cap refuses the
// connection past MAX_CONNECTIONS while a probe on an open connection still gets /live.
// Bounded in count and time, 127.0.0.1 only; an attack is stopped (and the
// gateway killed) as soon as the memory bound is crossed. Embedded database only: these are
// properties of the HTTP server, and the embedded database is the larger process. (The header and
// body timeouts are in hostile-edge.test.ts, on the same createHttpServer.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPostgres } from './helpers/database.js';
import { machineLoadFactor } from './helpers/wait.js';
import { openRaw, pollUntil, startGateway, timedGet, watchLive, type Gateway, type RawSocket } from './helpers/attacks.js';

const KEY = 'hostile-process-owner-key-0123456789';
/** Resident memory a flood may add, in MB: far below the ~35 MB per page view it used to cost. */
const GROWTH_BOUND_MB = 60;

let gateway: Gateway;
let capped: Gateway;
const sockets: RawSocket[] = [];

describe.skipIf(onPostgres)('hostile clients against the real process', () => {
  beforeAll(async () => {
    // One after the other: the embedded database's start is heavy on a small machine.
    gateway = await startGateway({ ADMIN_API_KEY: KEY });
    capped = await startGateway({ ADMIN_API_KEY: KEY, MAX_CONNECTIONS: '20' });
  }, 180_000);

  afterAll(async () => {
    for (const s of sockets) s.socket.destroy();
    await Promise.all([gateway, capped].map((g) => g?.close()));
  });

  /**
   * Runs `attack` while sampling the gateway's memory every 50 ms; past the bound the gateway is
   * killed at once, so a regression fails the test instead of eating the machine.
   */
  async function withinMemoryBound<T>(g: Gateway, attack: () => Promise<T>): Promise<{ growth: number; result: T | null }> {
    const before = g.rssMb();
    let peak = before;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, g.rssMb());
      } catch {
        return; // the process is gone
      }
      if (peak - before > GROWTH_BOUND_MB) g.child.kill('SIGKILL');
    }, 50);
    try {
      const result = await Promise.race([attack(), g.stopped.then(() => null)]);
      return { growth: peak - before, result };
    } finally {
      clearInterval(sampler);
    }
  }

  it('150 concurrent GraphiQL views without a key: memory stays flat and /live answers within a second', async () => {
    // Read before the flood: the load it makes itself must not loosen the bound.
    const load = machineLoadFactor();
    const html = { accept: 'text/html' };
    expect((await timedGet(`${gateway.baseUrl}/graphql`, html)).status).toBe(200);
    const live = watchLive(gateway.baseUrl, 50);
    const { growth, result } = await withinMemoryBound(gateway, () =>
      Promise.all(Array.from({ length: 150 }, () => timedGet(`${gateway.baseUrl}/graphql`, html, 20_000))),
    );
    const probe = await live.stop();
    expect(growth).toBeLessThan(GROWTH_BOUND_MB);
    expect(result?.every((r) => r.status === 200 && r.bytes < 10_000)).toBe(true);
    expect(probe.failed).toBe(0);
    // Within a second on a quiet machine; later in proportion on one loaded with other work.
    console.log(`/live during the flood: slowest ${probe.slowestMs} ms of ${probe.samples}, machine load ×${load.toFixed(1)}`);
    expect(probe.slowestMs).toBeLessThan(1_000 * load);
  }, 60_000);

  it('slow readers of the page and of the 9 MB bundle that never read do not grow memory', async () => {
    // The bundle once, in each encoding, so what is built once is built before the baseline.
    for (const encoding of ['identity', 'gzip', 'br']) {
      expect((await timedGet(`${gateway.baseUrl}/graphiql/graphiql.js`, { 'accept-encoding': encoding })).status).toBe(200);
    }
    const { growth } = await withinMemoryBound(gateway, async () => {
      for (let i = 0; i < 120; i++) {
        const s = await openRaw(Number(new URL(gateway.baseUrl).port), false);
        sockets.push(s);
        const path = i % 2 ? '/graphiql/graphiql.js' : '/graphql';
        s.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nAccept-Encoding: identity\r\n\r\n`);
      }
      // Let the server write all it can into sockets nobody reads (a fixed pause: the memory growth
      // measured is what 2 s of unread writes leave; there is no state to wait for).
      await new Promise((r) => setTimeout(r, 2_000));
    });
    expect(growth).toBeLessThan(GROWTH_BOUND_MB);
    expect((await timedGet(`${gateway.baseUrl}/live`, {}, 5_000)).status).toBe(200);
    for (const s of sockets.splice(0)) s.socket.destroy();
  }, 60_000);

  it('past MAX_CONNECTIONS a new connection is closed at once, while a probe on an open connection gets /live', async () => {
    const port = Number(new URL(capped.baseUrl).port);
    // The probe's keep-alive connection, in use before the flood.
    const probe = await openRaw(port);
    sockets.push(probe);
    probe.socket.write('GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(await pollUntil(() => /\{"status":"ok"\}/.test(probe.received()), 5_000)).toBe(true);
    // 19 more idle connections fill the cap of 20.
    for (let i = 0; i < 19; i++) sockets.push(await openRaw(port));
    const extra = await openRaw(port);
    // Closed by the server, not left open: waited for (a loaded machine may take seconds), and
    // with nothing received.
    const closedAfter = await Promise.race([extra.closed, new Promise<number>((r) => setTimeout(() => r(-1), 20_000))]);
    extra.socket.destroy();
    expect(closedAfter).toBeGreaterThanOrEqual(0);
    expect(extra.received()).toBe('');

    const before = probe.received().length;
    probe.socket.write('GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(await pollUntil(() => /\{"status":"ok"\}/.test(probe.received().slice(before)), 5_000)).toBe(true);

    // Once connections close, new ones get in again.
    for (const s of sockets.splice(0)) s.socket.destroy();
    expect(await pollUntil(async () => (await timedGet(`${capped.baseUrl}/live`, {}, 2_000)).status === 200, 10_000, 200)).toBe(true);
  }, 60_000);

});
