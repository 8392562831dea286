/**
 * Triton's trace settings (TraceSetting RPC, /v2/trace/setting, /v2/models/{m}/trace/setting):
 * one global scope plus per-model overrides, and the sampling that decides which request is
 * traced.
 *
 * Settings (all carried as strings, PROTOCOL.md §2.8): `trace_level` (list of OFF, TIMESTAMPS,
 * TENSORS), `trace_rate` (trace one request in every N, N ≥ 1: the first, the N+1st, …),
 * `trace_count` (traces left before tracing stops; -1 = no limit), `log_frequency` (triton mode:
 * start a new trace file every N traces; 0 = one file; global only, since every trace shares the
 * file), `trace_file` and `trace_mode`, which are fixed at startup (--trace-config) and
 * UNSUPPORTED to change over the network, as Triton.
 *
 * A model with no override uses the global scope, sampler included. A model with overrides has
 * its own sampler (own rate counter and own count), seeded from the global values it does not
 * override. Clearing a model setting (an empty value list / JSON null) drops the override;
 * clearing a global setting restores its startup value. An update is validated whole before
 * anything changes.
 *
 * `tracing` is false while every scope is OFF: the request path then pays one boolean test.
 */
import { ErrorCode } from '../../errors/error-codes.js';
import { errors } from '../../errors/catalogue.js';
import { InferenceError } from '../../errors/inference-error.js';

export type TraceLevel = 'OFF' | 'TIMESTAMPS' | 'TENSORS';
export type TraceMode = 'triton' | 'opentelemetry';

export interface TraceValues {
  trace_level: readonly TraceLevel[];
  trace_rate: number;
  trace_count: number;
  log_frequency: number;
  trace_file: string;
  trace_mode: TraceMode;
}

/** The updatable subset; what a model may override. */
type Updatable = Pick<TraceValues, 'trace_level' | 'trace_rate' | 'trace_count' | 'log_frequency'>;

/** Settings as the protocols answer them: strings, trace_level a list. */
export type TraceSettingsView = Record<keyof TraceValues, string | string[]>;

/** A requested change: a value list (one string except trace_level), or null / [] to clear. */
export type TraceSettingChange = readonly string[] | null;

export const DEFAULT_TRACE_VALUES: Readonly<TraceValues> = Object.freeze<TraceValues>({
  trace_level: ['OFF'], trace_rate: 1000, trace_count: -1, log_frequency: 0, trace_file: '', trace_mode: 'triton',
});

const LEVELS: readonly TraceLevel[] = ['OFF', 'TIMESTAMPS', 'TENSORS'];
const UPDATABLE = ['trace_level', 'trace_rate', 'trace_count', 'log_frequency'] as const;

/** One sampler: a rate counter and the traces left. */
class Scope {
  values: TraceValues;
  seen = 0;
  remaining: number;

  constructor(values: TraceValues) {
    this.values = values;
    this.remaining = values.trace_count;
  }

  get on(): boolean {
    return !this.values.trace_level.includes('OFF') && this.remaining !== 0;
  }

  sample(): boolean {
    if (!this.on) return false;
    if (this.seen++ % this.values.trace_rate !== 0) return false;
    if (this.remaining > 0) this.remaining--;
    return true;
  }
}

export class TraceSettings {
  readonly #startup: TraceValues;
  readonly #global: Scope;
  /** Model name → its overrides and its own sampler. */
  readonly #models = new Map<string, { overrides: Partial<Updatable>; scope: Scope }>();
  #tracing = false;

  constructor(startup: TraceValues) {
    this.#startup = { ...startup };
    this.#global = new Scope({ ...startup });
    this.#refresh();
  }

  /** False while no scope can trace: the request path's only cost then. */
  get tracing(): boolean {
    return this.#tracing;
  }

  get mode(): TraceMode {
    return this.#startup.trace_mode;
  }

  /** The values that apply to `model` ('' = global). */
  values(model = ''): TraceValues {
    return this.#scope(model).values;
  }

  /** Whether the next request to `model` is traced (advances that scope's sampler). */
  sample(model: string): boolean {
    const s = this.#scope(model);
    const picked = s.sample();
    if (s.remaining === 0) this.#refresh(); // that scope's trace_count ran out
    return picked;
  }

  view(model = ''): TraceSettingsView {
    const s = this.#scope(model);
    const v = s.values;
    return {
      trace_level: [...v.trace_level], trace_rate: String(v.trace_rate), trace_count: String(s.remaining),
      log_frequency: String(v.log_frequency), trace_file: v.trace_file, trace_mode: v.trace_mode,
    };
  }

  /** Validates and applies `changes` to the global scope (model '') or one model's overrides. */
  update(model: string, changes: Readonly<Record<string, TraceSettingChange>>): TraceSettingsView {
    const parsed = parseChanges(changes, this.#startup);
    if (model === '') {
      const values = { ...this.#global.values };
      for (const [k, v] of parsed) (values as Record<string, unknown>)[k] = v ?? this.#startup[k];
      this.#global.values = values;
      if (parsed.has('trace_count')) this.#global.remaining = values.trace_count;
      // Models without their own value of a setting follow the global one.
      for (const m of this.#models.values()) m.scope.values = { ...values, ...m.overrides };
    } else {
      if (parsed.has('log_frequency')) throw errors.invalidArg(`log_frequency is a global setting (all traces share one trace file); set it without a model`);
      const m = this.#models.get(model) ?? { overrides: {}, scope: new Scope({ ...this.#global.values }) };
      for (const [k, v] of parsed) {
        if (v === undefined) delete m.overrides[k];
        else (m.overrides as Record<string, unknown>)[k] = v;
      }
      m.scope.values = { ...this.#global.values, ...m.overrides };
      if (parsed.has('trace_count')) m.scope.remaining = m.scope.values.trace_count;
      if (Object.keys(m.overrides).length === 0) this.#models.delete(model);
      else this.#models.set(model, m);
    }
    this.#refresh();
    return this.view(model);
  }

  #scope(model: string): Scope {
    return (model === '' ? undefined : this.#models.get(model)?.scope) ?? this.#global;
  }

  #refresh(): void {
    this.#tracing = this.#global.on || [...this.#models.values()].some((m) => m.scope.on);
  }
}

/** Setting name → parsed value, or undefined for "clear". */
function parseChanges(changes: Readonly<Record<string, TraceSettingChange>>, startup: TraceValues): Map<keyof Updatable, Updatable[keyof Updatable] | undefined> {
  const out = new Map<keyof Updatable, Updatable[keyof Updatable] | undefined>();
  for (const [key, raw] of Object.entries(changes)) {
    if (key === 'trace_file' || key === 'trace_mode') {
      const same = raw === null || raw.length === 0 || (raw.length === 1 && raw[0] === startup[key]);
      if (!same) throw new InferenceError(ErrorCode.UNSUPPORTED, `${key === 'trace_file' ? 'trace file location' : 'trace mode'} can not be updated through network protocol; set it at startup with --trace-config`);
      continue;
    }
    if (!(UPDATABLE as readonly string[]).includes(key)) {
      throw errors.invalidArg(`unknown trace setting '${key}'; expected one of trace_level, trace_rate, trace_count, log_frequency, trace_file, trace_mode`);
    }
    const k = key as keyof Updatable;
    if (raw === null || raw.length === 0) {
      out.set(k, undefined);
      continue;
    }
    if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string')) throw errors.invalidArg(`trace setting '${key}' must be a string or a list of strings`);
    out.set(k, k === 'trace_level' ? parseLevels(raw) : parseNumber(k, raw));
  }
  return out;
}

export function parseLevels(raw: readonly string[]): TraceLevel[] {
  for (const v of raw) {
    if (!(LEVELS as readonly string[]).includes(v)) throw errors.invalidArg(`unsupported trace level '${v}'; expected OFF, TIMESTAMPS or TENSORS`);
  }
  const levels = [...new Set(raw)] as TraceLevel[];
  if (levels.includes('OFF') && levels.length > 1) throw errors.invalidArg(`trace level OFF cannot be combined with other levels, got [${raw.join(', ')}]`);
  return levels;
}

const MIN: Readonly<Record<'trace_rate' | 'trace_count' | 'log_frequency', number>> = { trace_rate: 1, trace_count: -1, log_frequency: 0 };

export function parseNumber(key: 'trace_rate' | 'trace_count' | 'log_frequency', raw: readonly string[]): number {
  if (raw.length !== 1) throw errors.invalidArg(`trace setting '${key}' takes one value, got ${raw.length}`);
  const text = raw[0]!;
  const n = /^-?[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < MIN[key] || n > 2 ** 31 - 1) {
    throw errors.invalidArg(`unable to parse '${key}', got: '${text}' (expected an integer >= ${MIN[key]})`);
  }
  return n;
}
