/**
 * The root pino logger: JSON lines by default (for log shippers), human-readable through
 * pino-pretty when the caller decided so (main.ts: stdout is a terminal, or --log-format pretty).
 * With `settings`, which records are written and how `time` is printed follow that LogSettings
 * object at run time (Triton's logging API); `logSettingsOf` finds it again from the logger.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { LogSettings } from './log-settings.js';

export interface LoggerOptions {
  level: string;
  pretty: boolean;
  /** Run-time switches (LogSettings API); the logger then passes every level to them. */
  settings?: LogSettings;
  /** Where JSON lines go instead of stdout (--log-file, tests). Ignored with `pretty`. */
  destination?: DestinationStream;
}

const SETTINGS = new WeakMap<Logger, LogSettings>();

export function createLogger(o: LoggerOptions): Logger {
  const s = o.settings;
  const base = {
    level: s === undefined ? o.level : 'trace',
    base: { name: 'infera' },
    ...(s === undefined ? {} : {
      timestamp: () => s.timestamp(),
      hooks: {
        logMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: Parameters<Logger['info']>) => void, level: number) {
          if (s.allows(level)) method.apply(this, args);
        },
      },
    }),
  };
  const log = o.pretty
    ? pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' } } })
    : o.destination === undefined ? pino(base) : pino(base, o.destination);
  if (s !== undefined) SETTINGS.set(log, s);
  return log;
}

/** The LogSettings a logger made by createLogger follows, if any. */
export function logSettingsOf(log: Logger): LogSettings | undefined {
  return SETTINGS.get(log);
}

/** A logger that drops everything: for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
