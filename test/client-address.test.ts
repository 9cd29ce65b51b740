// TRUST_PROXY and the address the per-address limits count (src/client-address.ts): the parser,
// the configuration errors, and which X-Forwarded-For entry is believed for each form.
import { describe, expect, it } from 'vitest';
import { normalizeAddress, parseTrustProxy, pickClientAddress } from '../src/client-address.js';
import { ConfigError, loadConfig } from '../src/config.js';

describe('TRUST_PROXY', () => {
  it('is off unless set; true means one proxy; a number is that many proxies', () => {
    for (const off of [undefined, '', ' false ', 'FALSE', 'no', '0']) expect(parseTrustProxy(off)).toEqual({ kind: 'none' });
    expect(parseTrustProxy('true')).toEqual({ kind: 'hops', hops: 1 });
    expect(parseTrustProxy('1')).toEqual({ kind: 'hops', hops: 1 });
    expect(parseTrustProxy('3')).toEqual({ kind: 'hops', hops: 3 });
    expect(loadConfig({}).trustProxy).toEqual({ kind: 'none' });
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toEqual({ kind: 'hops', hops: 1 });
  });

  it('takes addresses and CIDR ranges, IPv4 and IPv6', () => {
    const trust = parseTrustProxy('10.0.0.0/8, 192.168.1.7, fd00::/8, ::1');
    expect(trust.kind).toBe('ranges');
    if (trust.kind !== 'ranges') return;
    for (const a of ['10.1.2.3', '192.168.1.7']) expect(trust.ranges.check(a, 'ipv4')).toBe(true);
    for (const a of ['fd12::1', '::1']) expect(trust.ranges.check(a, 'ipv6')).toBe(true);
    expect(trust.ranges.check('192.168.1.8', 'ipv4')).toBe(false);
    expect(trust.ranges.check('2001:db8::1', 'ipv6')).toBe(false);
  });

  it('refuses anything else with a ConfigError naming TRUST_PROXY', () => {
    for (const bad of ['sometimes', '10.0.0.0/33', '10.0.0.0/8/1', 'fd00::/129', '300.1.1.1', '10.0.0.0/', 'proxy.local', '33', '1.2.3.4,', '-1']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/^TRUST_PROXY must be/);
    }
  });
});

describe('the client address', () => {
  const none = parseTrustProxy('false');
  const one = parseTrustProxy('true');
  const two = parseTrustProxy('2');
  const ranges = parseTrustProxy('127.0.0.1, 10.0.0.0/8, fd00::/8');

  it('is the socket peer without TRUST_PROXY, whatever X-Forwarded-For says', () => {
    expect(pickClientAddress(none, '192.0.2.1', '6.6.6.6')).toBe('192.0.2.1');
    expect(pickClientAddress(none, '::ffff:192.0.2.1', null)).toBe('192.0.2.1');
    expect(pickClientAddress(none, undefined, null)).toBe('unknown');
  });

  it('behind N proxies is the N-th entry from the right; forged entries on the left are ignored', () => {
    expect(pickClientAddress(one, '10.0.0.1', '6.6.6.6, 198.51.100.9')).toBe('198.51.100.9');
    expect(pickClientAddress(one, '10.0.0.1', '198.51.100.9')).toBe('198.51.100.9');
    // Two X-Forwarded-For headers arrive comma-joined: the same list.
    expect(pickClientAddress(two, '10.0.0.1', '6.6.6.6, 198.51.100.9, 10.0.0.2')).toBe('198.51.100.9');
    // Fewer entries than proxies: the leftmost, the furthest anyone vouches for.
    expect(pickClientAddress(two, '10.0.0.1', '198.51.100.9')).toBe('198.51.100.9');
    // No header: the peer.
    expect(pickClientAddress(one, '10.0.0.1', null)).toBe('10.0.0.1');
    expect(pickClientAddress(one, '10.0.0.1', ' , ')).toBe('10.0.0.1');
  });

  it('behind trusted ranges walks from the right past trusted addresses, starting at a trusted peer', () => {
    expect(pickClientAddress(ranges, '127.0.0.1', '6.6.6.6, 198.51.100.9, 10.1.1.1')).toBe('198.51.100.9');
    expect(pickClientAddress(ranges, '::ffff:127.0.0.1', '6.6.6.6, 198.51.100.9')).toBe('198.51.100.9');
    expect(pickClientAddress(ranges, 'fd00::5', '2001:db8::7, fd00::6')).toBe('2001:db8::7');
    // A peer outside the trusted ranges is the client: its header is its own invention.
    expect(pickClientAddress(ranges, '203.0.113.5', '10.1.1.1, 198.51.100.9')).toBe('203.0.113.5');
    // Every entry trusted: the leftmost.
    expect(pickClientAddress(ranges, '127.0.0.1', '10.2.2.2, 10.1.1.1')).toBe('10.2.2.2');
    // Ports and brackets, as some proxies write them.
    expect(pickClientAddress(ranges, '127.0.0.1', '[2001:db8::7]:443, 10.1.1.1:8080')).toBe('2001:db8::7');
  });

  it('normalizes IPv4-mapped IPv6 and bounds whatever else a client wrote', () => {
    expect(normalizeAddress('::FFFF:1.2.3.4')).toBe('1.2.3.4');
    expect(normalizeAddress('1.2.3.4:5678')).toBe('1.2.3.4');
    expect(normalizeAddress('2001:DB8::1')).toBe('2001:db8::1');
    expect(normalizeAddress('x'.repeat(500))).toHaveLength(64);
  });
});

describe('the other settings of issue 11', () => {
  it('GraphiQL is on by default, NODE_ENV=production does not turn it off, GRAPHIQL=false does', () => {
    expect(loadConfig({}).graphiql).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', PUBLIC_URL: 'https://users.example.com' }).graphiql).toBe(true);
    expect(loadConfig({ GRAPHIQL: 'false' }).graphiql).toBe(false);
    expect(() => loadConfig({ GRAPHIQL: 'maybe' })).toThrow(/GRAPHIQL must be true or false/);
  });

  it('CORS_ORIGINS: none by default, a list of origins, or * alone', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: 'https://Admin.example.com, http://localhost:5173' }).corsOrigins).toEqual([
      'https://admin.example.com',
      'http://localhost:5173',
    ]);
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    for (const bad of ['admin.example.com', 'https://a.example.com/path', '*, https://a.example.com', 'file:///x']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(/^CORS_ORIGINS /);
    }
  });

  it('the HTTP server limits default far above normal load and are checked', () => {
    expect(loadConfig({}).http).toEqual({ maxConnections: 1000, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000 });
    expect(
      loadConfig({ MAX_CONNECTIONS: '50', HEADERS_TIMEOUT_MS: '2000', REQUEST_TIMEOUT_MS: '5000', KEEP_ALIVE_TIMEOUT_MS: '3000' }).http,
    ).toEqual({ maxConnections: 50, headersTimeoutMs: 2000, requestTimeoutMs: 5000, keepAliveTimeoutMs: 3000 });
    expect(() => loadConfig({ MAX_CONNECTIONS: '0' })).toThrow(/MAX_CONNECTIONS must be a whole number/);
    expect(() => loadConfig({ KEEP_ALIVE_TIMEOUT_MS: '10' })).toThrow(/KEEP_ALIVE_TIMEOUT_MS must be a whole number/);
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '40000' })).toThrow(/HEADERS_TIMEOUT_MS .* must not be more than REQUEST_TIMEOUT_MS/);
  });
});
