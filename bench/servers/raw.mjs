// The raw baseline: a minimal node:http server that runs one hand-written SQL statement (prepared, but for the search) per
// request with pg and returns the rows as JSON. No framework, no GraphQL, no auth: the practical
// limit of a Node server on this database. For S4 it also verifies access tokens, with and without
// a session lookup in SQL.
import { createServer } from 'node:http';
import { jwtVerify } from 'jose';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_MAX ?? 10) });
// Imported once, as the gateway does: jose would import raw key bytes again on every check.
const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(process.env.JWT_SECRET ?? ''), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
const appId = process.env.APP_ID ?? 'app-users-gateway';

const ACTIVE_SESSIONS = `(SELECT count(*)::int FROM refresh_tokens t
  WHERE t.user_id = u.id AND t.revoked_at IS NULL AND t.expires_at > now()) AS "activeSessionCount"`;
const COLUMNS = `u.id, u.email, u.status, u.created_at AS "createdAt", ${ACTIVE_SESSIONS}`;
const ORDER = 'ORDER BY u.created_at DESC, u.id DESC LIMIT $2';

const statements = {
  page: `SELECT ${COLUMNS} FROM users u WHERE u.status = $1 ${ORDER}`,
  pageAfter: `SELECT ${COLUMNS} FROM users u WHERE u.status = $1 AND (u.created_at, u.id) < ($3::timestamptz, $4::text) ${ORDER}`,
  search: `SELECT ${COLUMNS} FROM users u WHERE lower(u.email) LIKE $1 ${ORDER}`,
  session: `SELECT r.user_id, r.revoked_at, r.expires_at, u.status FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE r.id = $1`,
};

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

const escapeLike = (text) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

async function users(req) {
  const body = await readJson(req);
  const first = Math.min(Number(body.first ?? 50), 500) + 1;
  const query = body.search
    ? // Unnamed, so planned with its value: a generic plan of LIKE $1 cannot use the email index.
      { text: statements.search, values: [`${escapeLike(String(body.search).toLowerCase())}%`, first] }
    : body.after
      ? { name: 'pageAfter', text: statements.pageAfter, values: [body.status, first, body.after.createdAt, body.after.id] }
      : { name: 'page', text: statements.page, values: [body.status, first] };
  const { rows } = await pool.query(query);
  return { users: rows.slice(0, first - 1), hasNextPage: rows.length === first };
}

async function verify(req) {
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], audience: appId });
  return payload;
}

async function handle(req, res) {
  try {
    if (req.url === '/users' && req.method === 'POST') return send(res, 200, await users(req));
    if (req.url === '/verify') {
      const claims = await verify(req).catch(() => null);
      return send(res, claims ? 200 : 401, claims ? { active: true, sub: claims.sub, exp: claims.exp } : { active: false });
    }
    if (req.url === '/verify-sql') {
      const claims = await verify(req).catch(() => null);
      if (!claims) return send(res, 401, { active: false });
      const { rows } = await pool.query({ name: 'session', text: statements.session, values: [claims.sid] });
      const s = rows[0];
      const active = !!s && s.user_id === claims.sub && !s.revoked_at && s.expires_at > new Date() && s.status === 'confirmed';
      return send(res, active ? 200 : 401, active ? { active, sub: claims.sub, exp: claims.exp } : { active: false });
    }
    send(res, 404, { error: 'not found' });
  } catch (err) {
    send(res, 500, { error: String(err) });
  }
}

const server = createServer((req, res) => void handle(req, res));
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => pool.end().then(() => process.exit(0)));
});
