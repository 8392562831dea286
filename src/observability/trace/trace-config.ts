/**
 * Triton's `--trace-config [<mode>,]<setting>=<value>` flags → the startup trace configuration.
 * Global settings: level (repeatable: level=TIMESTAMPS --trace-config level=TENSORS), rate, count,
 * mode (triton | opentelemetry). Mode-specific ones: triton,file=<path>, triton,log-frequency=<n>;
 * opentelemetry,url=<OTLP/HTTP traces endpoint>, opentelemetry,resource=<key>=<value> (repeatable),
 * opentelemetry,bsp_max_queue_size / bsp_schedule_delay (ms) / bsp_max_export_batch_size.
 * Anything else is INVALID_ARG at startup.
 */
import { errors } from '../../errors/catalogue.js';
import { DEFAULT_TRACE_VALUES, parseLevels, parseNumber, type TraceLevel, type TraceValues } from './trace-settings.js';

export interface OtelConfig {
  url: string;
  resource: Readonly<Record<string, string>>;
  maxQueueSize: number;
  scheduleDelayMs: number;
  maxExportBatchSize: number;
}

export interface TraceConfig {
  values: TraceValues;
  otel: OtelConfig;
}

export const DEFAULT_OTEL: Readonly<OtelConfig> = Object.freeze({
  url: 'http://localhost:4318/v1/traces', resource: {}, maxQueueSize: 2048, scheduleDelayMs: 5000, maxExportBatchSize: 512,
});

const GLOBAL = new Set(['level', 'rate', 'count', 'mode']);

export function parseTraceConfig(entries: readonly string[]): TraceConfig {
  const values: TraceValues = { ...DEFAULT_TRACE_VALUES };
  const otel = { ...DEFAULT_OTEL, resource: {} as Record<string, string> };
  const levels: TraceLevel[] = [];
  for (const entry of entries) {
    try {
      applyEntry(entry, values, otel, levels);
    } catch (e) {
      const msg = (e as Error).message;
      throw msg.startsWith('--trace-config') ? e : errors.invalidArg(`--trace-config '${entry}': ${msg}`);
    }
  }
  if (levels.length > 0) values.trace_level = parseLevels(levels);
  return { values, otel };
}

function applyEntry(entry: string, values: TraceValues, otel: OtelConfig & { resource: Record<string, string> }, levels: TraceLevel[]): void {
  const comma = entry.indexOf(',');
  const eq = entry.indexOf('=');
  const scoped = comma >= 0 && (eq < 0 || comma < eq);
  const mode = scoped ? entry.slice(0, comma) : '';
  const rest = scoped ? entry.slice(comma + 1) : entry;
  const at = rest.indexOf('=');
  if (at <= 0) throw errors.invalidArg(`--trace-config '${entry}': expected [<mode>,]<setting>=<value>`);
  const key = rest.slice(0, at);
  const value = rest.slice(at + 1);
  const bad = (why: string) => errors.invalidArg(`--trace-config '${entry}': ${why}`);
  if (mode === '') {
    if (key === 'level') levels.push(...parseLevels([value]));
    else if (key === 'rate') values.trace_rate = parseNumber('trace_rate', [value]);
    else if (key === 'count') values.trace_count = parseNumber('trace_count', [value]);
    else if (key === 'mode') {
      if (value !== 'triton' && value !== 'opentelemetry') throw bad(`mode must be triton or opentelemetry, got '${value}'`);
      values.trace_mode = value;
    } else throw bad(`unknown setting '${key}' (global settings: ${[...GLOBAL].join(', ')})`);
  } else if (mode === 'triton') {
    if (key === 'file') values.trace_file = value;
    else if (key === 'log-frequency') values.log_frequency = parseNumber('log_frequency', [value]);
    else throw bad(`unknown triton setting '${key}' (file, log-frequency)`);
  } else if (mode === 'opentelemetry') {
    if (key === 'url') otel.url = value;
    else if (key === 'resource') {
      const kv = value.indexOf('=');
      if (kv <= 0) throw bad('resource must be <key>=<value>');
      otel.resource[value.slice(0, kv)] = value.slice(kv + 1);
    } else if (key === 'bsp_max_queue_size') otel.maxQueueSize = positive(value, bad);
    else if (key === 'bsp_schedule_delay') otel.scheduleDelayMs = positive(value, bad);
    else if (key === 'bsp_max_export_batch_size') otel.maxExportBatchSize = positive(value, bad);
    else throw bad(`unknown opentelemetry setting '${key}' (url, resource, bsp_max_queue_size, bsp_schedule_delay, bsp_max_export_batch_size)`);
  } else {
    throw bad(`unknown trace mode '${mode}' (triton or opentelemetry)`);
  }
}

function positive(v: string, bad: (why: string) => Error): number {
  const n = /^[0-9]{1,9}$/.test(v) ? Number(v) : NaN;
  if (!(n > 0)) throw bad(`expected a positive integer, got '${v}'`);
  return n;
}
