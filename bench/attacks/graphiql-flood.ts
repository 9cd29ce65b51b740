// Many concurrent GraphiQL page views without a key, as issue 11 part 1 describes: resident memory
// and /live latency before, during and after. Bounded: N requests (default 80), 127.0.0.1 only.
//
//   npx tsx bench/attacks/graphiql-flood.ts [concurrency] [rounds]
import { startGateway, timedGet, watchLive } from '../../test/helpers/attacks.js';

const concurrency = Number(process.argv[2] ?? 80);
const rounds = Number(process.argv[3] ?? 1);

const gateway = await startGateway();
try {
  const html = { accept: 'text/html' };
  // One view first, so what is built once (if anything) is built before the baseline.
  await timedGet(`${gateway.baseUrl}/graphql`, html);
  const before = gateway.rssMb();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, gateway.rssMb())), 50);
  const live = watchLive(gateway.baseUrl);
  const started = performance.now();
  let failed = 0;
  for (let r = 0; r < rounds; r++) {
    const results = await Promise.all(Array.from({ length: concurrency }, () => timedGet(`${gateway.baseUrl}/graphql`, html)));
    failed += results.filter((x) => x.status !== 200).length;
  }
  const ms = Math.round(performance.now() - started);
  clearInterval(sampler);
  const probe = await live.stop();
  const after = gateway.rssMb();
  console.log(
    JSON.stringify({ concurrency, rounds, ms, failed, rssMb: { before, peak, after, growth: peak - before }, live: probe }),
  );
} finally {
  await gateway.close();
}
