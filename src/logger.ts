import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout; LOG_LEVEL picks the level (default info, silent under tests). */
export function createLogger(level = process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info')): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}
