/**
 * The root pino logger: JSON lines by default (for log shippers), human-readable through
 * pino-pretty when the caller decided so (main.ts: stdout is a terminal, or --log-format pretty).
 */
import { pino, type Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  pretty: boolean;
}

export function createLogger(o: LoggerOptions): Logger {
  if (!o.pretty) return pino({ level: o.level, base: { name: 'infera' } });
  return pino({
    level: o.level,
    base: { name: 'infera' },
    transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' } },
  });
}

/** A logger that drops everything: for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
