// The access-log line is formatted by hand (src/logger.ts, logAccess): it must be the very line pino
// writes for the same fields, and follow the logger's level.
import { describe, expect, it } from 'vitest';
import { createLogger, logAccess, withRequestScope } from '../src/logger.js';

function capture(level = 'info') {
  const lines: string[] = [];
  const logger = createLogger(level, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

const withoutTime = (line: string) => line.replace(/,"time":"[^"]+"/, ',"time":"T"');

describe('logAccess', () => {
  it("writes pino's own line for the same fields", () => {
    const { logger, lines } = capture();
    const cases: [string, string, string, number, number][] = [
      ['0d6f3e0c-52b2-4cc5-9f4c-2b3b9c1f3c1e', 'POST', '/graphql', 200, 3],
      ['client.id:42-x', 'GET', '/api/client/v2.0/auth/profile', 401, 0],
      ['r', 'POST', '/odd "path"\\with\u00e9\u2028', 500, 1234],
    ];
    for (const [requestId, method, path, status, ms] of cases) {
      // Inside another request's scope too: the line names its own request, as pino's does.
      withRequestScope({ requestId: 'other' }, () => {
        logAccess(logger, requestId, method, path, status, ms);
        logger.info({ requestId, method, path, status, ms }, 'request');
      });
    }
    expect(lines).toHaveLength(cases.length * 2);
    for (let i = 0; i < lines.length; i += 2) {
      expect(lines[i]!.endsWith('\n')).toBe(true);
      expect(withoutTime(lines[i]!)).toBe(withoutTime(lines[i + 1]!));
      expect(JSON.parse(lines[i]!).time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });

  it('writes nothing above info', () => {
    const { logger, lines } = capture('warn');
    logAccess(logger, 'r', 'POST', '/graphql', 200, 1);
    expect(lines).toEqual([]);
    logger.level = 'info';
    logAccess(logger, 'r', 'POST', '/graphql', 200, 1);
    expect(lines).toHaveLength(1);
  });

  it("keeps a child logger's bindings", () => {
    const { logger, lines } = capture();
    logAccess(logger.child({ component: 'web' }), 'r', 'POST', '/graphql', 200, 1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: 'web', requestId: 'r', msg: 'request' });
  });
});
