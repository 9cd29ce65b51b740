// Which address a request comes from, for the per-address limits: the TCP peer, or, behind
// proxies the operator trusts (TRUST_PROXY), an entry of X-Forwarded-For picked from the RIGHT.
// Each proxy appends the address it received the request from, so only the entries added by
// trusted proxies can be believed; everything to the left of them is whatever the client sent.
import { BlockList, isIP } from 'node:net';

export type TrustProxy =
  /** The TCP peer only; X-Forwarded-For is ignored. */
  | { kind: 'none' }
  /** `hops` proxies in front: the client is the hops-th entry of X-Forwarded-For from the right. */
  | { kind: 'hops'; hops: number }
  /** Proxies at these addresses: walk X-Forwarded-For from the right past every trusted address. */
  | { kind: 'ranges'; ranges: BlockList; text: string };

export const NO_PROXY: TrustProxy = { kind: 'none' };
export const MAX_PROXY_HOPS = 32;

/**
 * TRUST_PROXY's value: unset, `false` or `0` (no proxy), `true` (one proxy, the same as `1`), a
 * number of proxies, or a comma-separated list of proxy addresses and CIDR ranges (IPv4 and IPv6).
 * Throws an Error whose message says what is wrong with it.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const value = raw?.trim().toLowerCase() ?? '';
  if (['', 'false', 'no', '0'].includes(value)) return NO_PROXY;
  if (['true', 'yes'].includes(value)) return { kind: 'hops', hops: 1 };
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > MAX_PROXY_HOPS) throw new Error(`at most ${MAX_PROXY_HOPS} proxies; got ${hops}`);
    return { kind: 'hops', hops };
  }
  const ranges = new BlockList();
  const entries = value.split(',').map((s) => s.trim());
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const length = prefix === undefined ? bits : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (!family || extra !== undefined || !(length >= 0 && length <= bits)) {
      throw new Error(`"${entry.slice(0, 60)}" is not an IP address or CIDR range`);
    }
    ranges.addSubnet(address, length, family === 4 ? 'ipv4' : 'ipv6');
  }
  return { kind: 'ranges', ranges, text: entries.join(', ') };
}

/** An address as the limits count it: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as plain IPv4, no port. */
export function normalizeAddress(raw: string): string {
  let address = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(':'));
  const mapped = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/i.exec(address);
  if (mapped) address = mapped[1]!;
  // Anything else a client wrote is kept only as a bounded key of the limits.
  return isIP(address) ? address.toLowerCase() : address.slice(0, 64);
}

function isTrusted(ranges: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && ranges.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The client's address: `socketAddress` (the TCP peer) unless TRUST_PROXY says which entry of
 * `forwardedFor` (every X-Forwarded-For header, comma-joined) the trusted proxies vouch for.
 */
export function pickClientAddress(trust: TrustProxy, socketAddress: string | undefined, forwardedFor: string | null): string {
  const peer = socketAddress ? normalizeAddress(socketAddress) : 'unknown';
  if (trust.kind === 'none' || !forwardedFor) return peer;
  // Nearest first: the peer, then X-Forwarded-For from its right end.
  const chain = forwardedFor
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .reverse()
    .map(normalizeAddress);
  if (trust.kind === 'hops') {
    // The peer is proxy 1; each proxy appended the address it saw, so the hops-th entry from the
    // right was appended by the outermost proxy. Fewer entries: the leftmost is the furthest known.
    if (trust.hops === 0 || chain.length === 0) return peer;
    return chain[Math.min(trust.hops, chain.length) - 1]!;
  }
  if (!isTrusted(trust.ranges, peer)) return peer;
  for (const address of chain) if (!isTrusted(trust.ranges, address)) return address;
  // Every entry is a trusted proxy: the leftmost one is as far as anyone can tell.
  return chain[chain.length - 1] ?? peer;
}

/** TRUST_PROXY as the operator reads it back, for the log. */
export function describeTrustProxy(trust: TrustProxy): string {
  if (trust.kind === 'none') return 'false';
  return trust.kind === 'hops' ? String(trust.hops) : trust.text;
}
