// Waiting for a state by polling for it, instead of sleeping a fixed time and hoping it is reached.
import { availableParallelism, loadavg } from 'node:os';

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passes; returns whether it became true. */
export async function pollUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return check();
}

/** Polls `probe` every `everyMs` until it returns something truthy, and returns that; throws, naming
 * `what`, if it has not after `timeoutMs` (by default long enough for a loaded machine: the bound
 * only ends a wait that would never end, it costs nothing when the state comes). */
export async function waitFor<T>(
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  what: string,
  timeoutMs = 30_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * How many times over its cores the machine is loaded right now (the 1-minute load average per
 * core), at least 1: 1 on a quiet machine. A latency a test asserts (an answer "within a second"
 * under attack) is multiplied by it: on a machine that is busy with other work everything answers
 * later, without the gateway being wrong. (1 where the system has no load average: Windows.)
 */
export function machineLoadFactor(): number {
  return Math.max(1, loadavg()[0]! / availableParallelism());
}

/** A fixed pause: only for timing that is itself under test (an attack's pace, a load's phases), never to wait for a state. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
