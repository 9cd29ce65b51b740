// Clients that ask for GraphiQL's page or its 9 MB bundle and never read the answer, as issue 11
// part 1 describes: the gateway's resident memory before and after. Bounded: N sockets (default
// 120), held for a few seconds, 127.0.0.1 only.
//
//   npx tsx bench/attacks/slow-readers.ts [sockets] [holdMs]
//   ONLY=/graphiql/graphiql.js npx tsx bench/attacks/slow-readers.ts 200   (one path for every socket)
import { openRaw, startGateway, timedGet } from '../../test/helpers/attacks.js';

const count = Number(process.argv[2] ?? 120);
const holdMs = Number(process.argv[3] ?? 3_000);

const gateway = await startGateway();
try {
  const port = Number(new URL(gateway.baseUrl).port);
  for (const encoding of ['identity', 'gzip', 'br']) {
    await timedGet(`${gateway.baseUrl}/graphiql/graphiql.js`, { 'accept-encoding': encoding });
  }
  await timedGet(`${gateway.baseUrl}/graphql`, { accept: 'text/html' });
  const before = gateway.rssMb();
  const sockets = [];
  for (let i = 0; i < count; i++) {
    const s = await openRaw(port, false);
    sockets.push(s);
    const path = process.env.ONLY ?? (i % 2 ? '/graphiql/graphiql.js' : '/graphql');
    s.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\nAccept-Encoding: identity\r\n\r\n`);
  }
  await new Promise((r) => setTimeout(r, holdMs));
  const during = gateway.rssMb();
  const live = await timedGet(`${gateway.baseUrl}/live`, {}, 10_000);
  for (const s of sockets) s.socket.destroy();
  console.log(JSON.stringify({ sockets: count, holdMs, rssMb: { before, during, growth: during - before }, live }));
} finally {
  await gateway.close();
}
