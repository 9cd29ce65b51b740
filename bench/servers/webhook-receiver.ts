// `npm run bench -- --webhook`: the receiver of the gateway's webhook endpoint, in a process of its
// own (an app's back end is not the load generator: handling POSTs must not slow autocannon down).
// Answers every POST 204 at once, counting them (the tests check signatures); GET /stats tells what
// arrived since the last POST /reset: POSTs, distinct `webhook-id`s, how late (ms after the event).
import { createServer } from 'node:http';

let posts = 0;
let ids = new Set<string>();
let latencyMs: number[] = [];

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ posts, distinct: ids.size, latencyMs }));
    return;
  }
  if (req.method === 'POST' && req.url === '/reset') {
    posts = 0;
    ids = new Set();
    latencyMs = [];
    res.writeHead(204).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    posts += 1;
    ids.add(String(req.headers['webhook-id']));
    // The event's time, found without parsing the whole body: the receiver is as cheap as an app's
    // back end that queues the event for later would be, so that its CPU (on the same machine as the
    // gateway here) weighs on the comparison no more than it must.
    const body = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('latin1');
    const at = body.indexOf('"timestamp":"');
    const timestamp = at < 0 ? NaN : Date.parse(body.slice(at + 13, body.indexOf('"', at + 13)));
    // Not the gateway's body: counted, not timed.
    if (Number.isFinite(timestamp)) latencyMs.push(Date.now() - timestamp);
    res.writeHead(204).end();
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
