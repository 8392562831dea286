/**
 * Triton's `logging` extension (LogSettings RPC, GET|POST /v2/logging) as one mutable settings
 * object that the root pino logger consults on every log call, so a change applies at once to
 * every child logger already created (pino children copy their parent's level when created,
 * which is why the switch lives in a hook and not in `logger.level`).
 *
 * Settings (PROTOCOL.md §2.8): `log_file` (string; reported, but it cannot be changed over the
 * network: UNSUPPORTED, as Triton), `log_info`, `log_warning`, `log_error` (booleans),
 * `log_verbose_level` (uint32; ≥ 1 enables debug records, ≥ 2 trace), `log_format` ("default":
 * `time` in epoch milliseconds; "ISO8601": `time` as an ISO 8601 string). An update is validated
 * as a whole before anything changes; an unknown name or a value of the wrong type is INVALID_ARG.
 */
import { ErrorCode } from '../errors/error-codes.js';
import { errors } from '../errors/catalogue.js';
import { InferenceError } from '../errors/inference-error.js';

export type LogFormat = 'default' | 'ISO8601';

export interface LogSettingsState {
  log_file: string;
  log_info: boolean;
  log_warning: boolean;
  log_error: boolean;
  log_verbose_level: number;
  log_format: LogFormat;
}

/** A setting's value as both protocols carry it (gRPC SettingValue oneof / JSON scalar). */
export type LogSettingValue = boolean | number | string;

export const DEFAULT_LOG_SETTINGS: Readonly<LogSettingsState> = Object.freeze({
  log_file: '', log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: 'default',
});

const KIND: Readonly<Record<keyof LogSettingsState, 'boolean' | 'uint32' | 'string'>> = {
  log_file: 'string', log_info: 'boolean', log_warning: 'boolean', log_error: 'boolean', log_verbose_level: 'uint32', log_format: 'string',
};
const UINT32_MAX = 2 ** 32 - 1;

/** pino's numeric levels. */
const TRACE = 10, DEBUG = 20, INFO = 30, WARN = 40;

export class LogSettings {
  #s: LogSettingsState;

  constructor(initial: Partial<LogSettingsState> = {}) {
    this.#s = { ...DEFAULT_LOG_SETTINGS, ...initial };
  }

  get(): LogSettingsState {
    return { ...this.#s };
  }

  /** Applies every change or none; returns the settings after the update. */
  update(changes: Readonly<Record<string, LogSettingValue>>): LogSettingsState {
    const next = { ...this.#s };
    for (const [key, v] of Object.entries(changes)) {
      const kind = KIND[key as keyof LogSettingsState];
      if (kind === undefined) throw errors.invalidArg(`unknown log setting '${key}'; expected one of ${Object.keys(KIND).join(', ')}`);
      if (kind === 'boolean') {
        if (typeof v !== 'boolean') throw errors.invalidArg(`log setting '${key}' must be a boolean, got ${describe(v)}`);
        (next as unknown as Record<string, boolean>)[key] = v;
      } else if (kind === 'uint32') {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > UINT32_MAX) throw errors.invalidArg(`log setting '${key}' must be an unsigned 32-bit integer, got ${describe(v)}`);
        next.log_verbose_level = v;
      } else if (typeof v !== 'string') {
        throw errors.invalidArg(`log setting '${key}' must be a string, got ${describe(v)}`);
      } else if (key === 'log_file') {
        if (v !== this.#s.log_file) throw new InferenceError(ErrorCode.UNSUPPORTED, 'log file location can not be updated through network protocol');
      } else {
        if (v !== 'default' && v !== 'ISO8601') throw errors.invalidArg(`invalid argument for log_format, got: '${v}' (expected 'default' or 'ISO8601')`);
        next.log_format = v;
      }
    }
    this.#s = next;
    return this.get();
  }

  /** Whether a record at pino level `level` is written now. */
  allows(level: number): boolean {
    const s = this.#s;
    if (level >= 50) return s.log_error;
    if (level >= WARN) return s.log_warning;
    if (level >= INFO) return s.log_info;
    if (level >= DEBUG) return s.log_verbose_level >= 1;
    return level >= TRACE && s.log_verbose_level >= 2;
  }

  /** pino `timestamp` option: the `,"time":…` fragment in the current format. */
  timestamp(): string {
    return this.#s.log_format === 'ISO8601' ? `,"time":"${new Date().toISOString()}"` : `,"time":${Date.now()}`;
  }
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
