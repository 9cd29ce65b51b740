// Progress of a long command on stderr: a bar redrawn in place (with rate and ETA) when stderr is a
// terminal, a plain line every few seconds otherwise (logs, CI). stdout is never written.

import { withThousands } from '../thousands.js';

export interface ProgressOptions {
  /** What is counted: "users". */
  unit: string;
  /** The total amount of work (bytes of the input files, say), when known: gives the bar and the ETA. */
  total?: number | null;
  stream?: NodeJS.WriteStream;
  /** Seconds between plain lines (not on a terminal). */
  plainIntervalSeconds?: number;
}

const BAR_WIDTH = 28;

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class Progress {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly started = performance.now();
  private lastDraw = 0;
  private count = 0;
  private done = 0;
  private drawn = false;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
  }

  get elapsedSeconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** The rate so far, in units per second. */
  get rate(): number {
    return this.count / Math.max(this.elapsedSeconds, 1e-3);
  }

  /** `count` units handled so far, and `done` of the total work. Draws at most 10 times a second (plain: every interval). */
  update(count: number, done = 0): void {
    this.count = count;
    this.done = done;
    const now = performance.now();
    const interval = this.tty ? 100 : (this.options.plainIntervalSeconds ?? 5) * 1000;
    if (now - this.lastDraw < interval) return;
    this.lastDraw = now;
    this.draw();
  }

  /** Writes a line above the bar (a per-line report) without breaking it. */
  log(line: string): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(`${line}\n`);
    if (this.tty && this.drawn) this.draw();
  }

  /** Clears the bar; the caller prints its summary next. */
  finish(): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  private draw(): void {
    const { unit, total } = this.options;
    const fraction = total ? Math.min(1, this.done / total) : null;
    const rate = this.rate;
    const eta = fraction && fraction > 0 ? (this.elapsedSeconds * (1 - fraction)) / fraction : NaN;
    const figures = `${withThousands(this.count)} ${unit}, ${withThousands(Math.round(rate))} ${unit}/s`;
    if (this.tty) {
      const filled = fraction === null ? 0 : Math.round(fraction * BAR_WIDTH);
      const bar = fraction === null ? '' : `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% `;
      this.stream.write(`\r\x1b[2K${bar}${figures}${fraction === null ? '' : `, ETA ${duration(eta)}`}`);
      this.drawn = true;
    } else {
      this.stream.write(
        `progress: ${figures}${fraction === null ? '' : `, ${(fraction * 100).toFixed(1)}% of the input, ETA ${duration(eta)}`}, ${duration(this.elapsedSeconds)} elapsed\n`,
      );
    }
  }
}
