// A short text summary of a V8 CPU profile (node --cpu-prof): where the time went by package or
// source file, and the functions with the most time of their own. Written beside the profile; open
// the .cpuprofile itself in Chrome DevTools or speedscope for the call trees.
import { readFileSync, writeFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** node_modules/<package> (scoped too), a file of this project (src/…), node's own (node:…), or V8's (program, GC, idle). */
function areaOf(url: string, functionName: string): string {
  if (!url) return `(${functionName.replace(/[()]/g, '') || 'native'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url;
  const own = /\/(src|dist|bench)\/(.+)$/.exec(url);
  return own ? `${own[1]}/${own[2]}` : url;
}

/** Writes <profile>.txt and returns its path. */
export function writeProfileSummary(profilePath: string, top = 40): string {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    selfMs.set(id, (selfMs.get(id) ?? 0) + ms);
    totalMs += ms;
  });
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const area = areaOf(url, functionName);
    const name = `${functionName || '(anonymous)'}  ${url ? `${area}:${lineNumber + 1}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
    areas.set(area, (areas.get(area) ?? 0) + ms);
  }
  const busyMs = totalMs - (areas.get('(idle)') ?? 0);
  const lines = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => `${ms.toFixed(0).padStart(8)} ms ${((ms / busyMs) * 100).toFixed(1).padStart(5)}%  ${name}`);
  const text = [
    `${profilePath}`,
    `sampled ${totalMs.toFixed(0)} ms, of which busy (not idle) ${busyMs.toFixed(0)} ms; percentages are of busy time`,
    '',
    'self time by package or file:',
    ...lines(areas),
    '',
    'self time by function:',
    ...lines(functions),
    '',
  ].join('\n');
  const out = profilePath.replace(/\.cpuprofile$/, '') + '.txt';
  writeFileSync(out, text);
  return out;
}
