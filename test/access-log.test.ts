// The access-log line is formatted by hand (src/logger.ts, logAccess): it must be the very line pino
// writes for the same fields, and follow the logger's level.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordRequest } from '../src/http/request-scope.js';
import { isoStringOfMs } from '../src/iso-string.js';
import { createLogger, isoTimestamp, logAccess, timeOncePerMs, withRequestScope } from '../src/logger.js';

afterEach(() => {
  vi.restoreAllMocks();
});

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

  it("writes pino's own line for odd fields: control characters, long strings, lone surrogates, no number, no string", () => {
    const { logger, lines } = capture();
    const long = `/${'a'.repeat(149)}`;
    const cases: [unknown, unknown, unknown, unknown, unknown][] = [
      ['r', 'GET', '/a\u0001b', 200, 1],
      ['r', 'GET', long, 200, 1],
      ['r', 'GET', `${long}"\\\u0001`, 200, 1],
      ['r', 'GET', '/a\ud800b', 200, 1],
      ['r', 'GET', '/a\udc00', 200, 1],
      ['r\ud83d', 'GET', '/graphql', 200, 1],
      ['r', 'GET', `${long}\ud800`, 200, 1],
      ['r', 'GET', '/ok\ud83d\ude00', 200, 1],
      ['r', 'GET', '/graphql', 200, Number.NaN],
      ['r', 'GET', '/graphql', Number.POSITIVE_INFINITY, 1],
      ['r', 'GET', '/graphql', 200, Number.NEGATIVE_INFINITY],
      ['r', 'GET', '/graphql', 200, -0],
      ['r', undefined, '/graphql', 200, 1],
      [undefined, 'GET', '/graphql', 200, 1],
      ['r', 'GET', null, 200, 1],
      ['r', 42, '/graphql', '200', 1],
      ['r', 'GET', '/graphql', 200, undefined],
    ];
    for (const [requestId, method, path, status, ms] of cases) {
      logAccess(logger, requestId as string, method as string, path as string, status as number, ms as number);
      logger.info({ requestId, method, path, status, ms }, 'request');
    }
    expect(lines).toHaveLength(cases.length * 2);
    const differing = cases.filter((_, i) => withoutTime(lines[2 * i]!) !== withoutTime(lines[2 * i + 1]!));
    expect(differing).toEqual([]);
    for (let i = 0; i < lines.length; i += 2) expect(() => JSON.parse(lines[i]!)).not.toThrow();
  });

  it("writes pino's debug line at debug, and nothing above it", () => {
    const { logger, lines } = capture('debug');
    logAccess(logger, 'r', 'GET', '/health', 200, 1, 'debug');
    logger.debug({ requestId: 'r', method: 'GET', path: '/health', status: 200, ms: 1 }, 'request');
    expect(lines).toHaveLength(2);
    expect(withoutTime(lines[0]!)).toBe(withoutTime(lines[1]!));
    expect(JSON.parse(lines[0]!).level).toBe(20);
    logger.level = 'info';
    logAccess(logger, 'r', 'GET', '/health', 200, 1, 'debug');
    expect(lines).toHaveLength(2);
  });

  it("gives a probe's line (debug) the keys of any other request's line", () => {
    const { logger, lines } = capture('debug');
    recordRequest(logger, 'GET', '/health', 200, performance.now(), 'probe');
    recordRequest(logger, 'POST', '/graphql', 200, performance.now(), 'page');
    expect(lines.map((line) => JSON.parse(line).level)).toEqual([20, 30]);
    const [probe, page] = lines.map((line) => Object.keys(JSON.parse(line)));
    expect(probe).toEqual(page);
    expect(page).toEqual(['level', 'time', 'requestId', 'method', 'path', 'status', 'ms', 'msg']);
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

describe('the log time', () => {
  it('is written once per millisecond: the same millisecond shares it, a new one replaces it', () => {
    // The logger's own isoTimestamp is timeOncePerMs(isoStringOfMs); here with the writes counted.
    const write = vi.fn(isoStringOfMs);
    const stamp = timeOncePerMs(write);
    const now = vi.spyOn(Date, 'now').mockReturnValue(Date.UTC(2031, 4, 6, 7, 8, 9, 10));
    const first = stamp();
    expect(first).toBe(',"time":"2031-05-06T07:08:09.010Z"');
    expect(stamp()).toBe(first);
    expect(write).toHaveBeenCalledTimes(1);

    now.mockReturnValue(Date.UTC(2031, 4, 6, 7, 8, 9, 11));
    expect(stamp()).toBe(',"time":"2031-05-06T07:08:09.011Z"');
    expect(stamp()).toBe(',"time":"2031-05-06T07:08:09.011Z"');
    expect(write).toHaveBeenCalledTimes(2);
    // Back to an earlier millisecond (the clock set back): written again, not the newer one kept.
    now.mockReturnValue(Date.UTC(2031, 4, 6, 7, 8, 9, 10));
    expect(stamp()).toBe(first);
    expect(write).toHaveBeenCalledTimes(3);
  });

  it("is the logger's time, for the access line and every other line alike", () => {
    vi.spyOn(Date, 'now').mockReturnValue(Date.UTC(2031, 4, 6, 7, 8, 9, 10));
    expect(isoTimestamp()).toBe(',"time":"2031-05-06T07:08:09.010Z"');
    const { logger, lines } = capture();
    logAccess(logger, 'r', 'GET', '/graphql', 200, 1);
    logger.info('same millisecond');
    expect(lines.map((line) => JSON.parse(line).time)).toEqual(['2031-05-06T07:08:09.010Z', '2031-05-06T07:08:09.010Z']);
  });
});
