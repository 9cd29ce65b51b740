// What an endpoint URL may be: http(s) only, and (unless WEBHOOK_ALLOW_PRIVATE) never an address
// on loopback, link-local or a private range, so the gateway cannot be made to reach internal
// services. Checked when an endpoint is saved, and again on every delivery, at connection time
// (a DNS name may point elsewhere by then).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fe80::', 10], // link-local
  ['fc00::', 7], // unique local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** Whether an IP address is loopback, link-local, private or otherwise not a public host. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  const lower = address.toLowerCase();
  // IPv4 written as IPv6 (::ffff:10.0.0.1, ::ffff:a00:1, and NAT64's 64:ff9b::) is the IPv4 address.
  const mapped = /^(?:::ffff:|64:ff9b::)(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/.exec(lower);
  if (mapped) {
    const v4 = mapped[1] ?? [parseInt(mapped[2]!, 16) >> 8, parseInt(mapped[2]!, 16) & 255, parseInt(mapped[3]!, 16) >> 8, parseInt(mapped[3]!, 16) & 255].join('.');
    return blocked.check(v4, 'ipv4');
  }
  return blocked.check(lower, 'ipv6');
}

export class UnsafeUrlError extends Error {}

/** The URL parsed if it is an absolute http(s) URL without credentials; UnsafeUrlError otherwise. */
export function parseEndpointUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UnsafeUrlError(`"${text.slice(0, 100)}" is not an absolute URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UnsafeUrlError(`Only http and https URLs can receive webhooks; got ${url.protocol.replace(':', '')}.`);
  }
  if (url.username || url.password) throw new UnsafeUrlError('The URL must not carry a user name or password.');
  if (text.length > 2_000) throw new UnsafeUrlError('The URL is longer than 2,000 characters.');
  return url;
}

const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');

/** Every address the URL's host resolves to; UnsafeUrlError when one is private and that is not allowed. */
export async function checkEndpointAddress(url: URL, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = hostOf(url);
  const addresses = isIP(host)
    ? [host]
    : await new Promise<string[]>((resolve, reject) =>
        dnsLookup(host, { all: true }, (err, found) => (err ? reject(err) : resolve(found.map((a) => a.address)))),
      ).catch(() => {
        throw new UnsafeUrlError(`The host ${host} does not resolve.`);
      });
  const bad = addresses.find(isPrivateAddress);
  if (bad) {
    throw new UnsafeUrlError(
      `${host} resolves to ${bad}, a loopback, link-local or private address: refused (WEBHOOK_ALLOW_PRIVATE=true allows it).`,
    );
  }
}

/** A DNS lookup for node:http that refuses private addresses at connection time, unless allowed. */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, found: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const bad = allowPrivate ? undefined : found.find((a) => isPrivateAddress(a.address));
      if (bad) {
        return callback(new UnsafeUrlError(`${hostname} resolves to ${bad.address}, a private address: refused`), '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, found);
      callback(null, found[0]!.address, found[0]!.family);
    });
  };
}
