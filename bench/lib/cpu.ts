// CPU time spent by the processes a measurement involves, read from /proc (Linux): the server's
// process tree, the PostgreSQL backends serving the benchmark's database, the webhook receiver.
// Throughput on a shared 2-core machine moves with whatever else runs; CPU milliseconds per request
// barely do, so comparisons such as "S5 with and without a webhook endpoint" quote both.
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux.

function procStat(pid: number): { ppid: number; ticks: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** CPU milliseconds (user + system) used so far by the process `pid`; 0 where there is none. */
export function processCpuMs(pid: number): number {
  return (procStat(pid)?.ticks ?? 0) * TICK_MS;
}

/** CPU milliseconds used so far by `pid` and its descendants (those alive now). */
export function treeCpuMs(pid: number): number {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const p of allPids()) {
    const s = procStat(p);
    if (s) stats.set(p, s);
  }
  let ticks = 0;
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.pop()!;
    ticks += stats.get(p)?.ticks ?? 0;
    for (const [child, s] of stats) if (s.ppid === p) queue.push(child);
  }
  return ticks * TICK_MS;
}

/**
 * CPU milliseconds used so far by each PostgreSQL backend connected to `database` (same machine
 * only), by process id: a meter takes the difference backend by backend, so that one which exits
 * between two samples (another server's idle pool connection, closed after its 10 s) does not take
 * its whole lifetime's CPU off the sum.
 */
export function postgresBackendCpuMs(database: string): Map<number, number> {
  const backends = new Map<number, number>();
  for (const p of allPids()) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    // A backend's title: "postgres: [<cluster name>: ]<user> <database> <client> <state>".
    const title = /^postgres: (?:\S+: )?\S+ (\S+) /.exec(cmdline.replace(/\0/g, ' '));
    if (title?.[1] === database) backends.set(p, (procStat(p)?.ticks ?? 0) * TICK_MS);
  }
  return backends;
}

/** CPU milliseconds used so far by the PostgreSQL backends connected to `database`, those alive now. */
export function postgresCpuMs(database: string): number {
  let ms = 0;
  for (const backend of postgresBackendCpuMs(database).values()) ms += backend;
  return ms;
}

/** A reading of a CPU source: one process (tree)'s total, or several processes' each by id. */
type CpuReading = number | Map<number, number>;
export type CpuSample = Record<string, CpuReading>;

/**
 * The CPU used between two readings; where the source reads several processes, process by process
 * (one started since counts whole, one gone since not at all: its last moments are lost).
 */
function cpuBetween(before: CpuReading, after: CpuReading): number {
  if (typeof before === 'number' || typeof after === 'number') return Number(after) - Number(before);
  let ms = 0;
  for (const [pid, now] of after) ms += now - (before.get(pid) ?? 0);
  return ms;
}

/**
 * Reads every source now; `perRequest(before, after, n)` turns two samples into ms per request.
 * Each measurement takes its own pair of samples: only what ran in its window counts.
 */
export function cpuMeter(sources: Record<string, () => CpuReading>) {
  return {
    sample(): CpuSample {
      return Object.fromEntries(Object.entries(sources).map(([name, read]) => [name, read()]));
    },
    perRequest(before: CpuSample, after: CpuSample, requests: number): Record<string, number> {
      return Object.fromEntries(Object.keys(sources).map((name) => [name, cpuBetween(before[name]!, after[name]!) / Math.max(1, requests)]));
    },
  };
}
