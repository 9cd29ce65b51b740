import { readFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
const pg = new PGlite({ loadDataDir: new Blob([readFileSync(process.argv[2]!)]) });
const t = await pg.query<{ s: string; n: string }>(`select schemaname s, relname n from pg_stat_user_tables order by 1,2`);
for (const r of t.rows) { const c = await pg.query<{c:number}>(`select count(*)::int c from "${r.s}"."${r.n}"`); console.log(r.s, r.n, c.rows[0]!.c); }
console.log((await pg.query(`select schemaname, sequencename, last_value from pg_sequences`)).rows);
console.log((await pg.query(`select count(*) from pg_stat_user_tables`)).rows, (await pg.query('select current_database(), current_user')).rows);
const c0 = process.cpuUsage();
const names = t.rows.map(r => `"${r.s}"."${r.n}"`).join(', ');
await pg.exec(`TRUNCATE ${names} RESTART IDENTITY CASCADE`);
const c1 = process.cpuUsage(c0); console.log('truncate cpu ms', (c1.user + c1.system) / 1000);
