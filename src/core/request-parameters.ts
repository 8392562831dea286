/**
 * Request-level parameters the scheduler interprets (schedule_policy extension, PROTOCOL.md §5.7).
 * Protocol-specific typing rules (which gRPC oneof case is allowed) live in the front-ends; here
 * only the values are checked.
 */
import type { Parameters, ParameterValue } from './tensor.js';
import { errors } from '../errors/catalogue.js';

export interface ScheduleParameters {
  /** 0 = the model's default priority level; 1 = highest. */
  readonly priority: number;
  /** Queue timeout in microseconds requested by the client; 0 = none. */
  readonly timeoutUs: number;
}

const NO_SCHEDULE: ScheduleParameters = Object.freeze({ priority: 0, timeoutUs: 0 });

export function readScheduleParameters(p: Parameters, ref: string): ScheduleParameters {
  const priority = p['priority'];
  const timeout = p['timeout'];
  if (priority === undefined && timeout === undefined) return NO_SCHEDULE;
  return {
    priority: priority === undefined ? 0 : nonNegativeInt(priority, 'priority', ref),
    timeoutUs: timeout === undefined ? 0 : nonNegativeInt(timeout, 'timeout', ref),
  };
}

function nonNegativeInt(v: ParameterValue, name: string, ref: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw errors.invalidArg(`parameter '${name}' for ${ref} must be an integer >= 0, got ${String(v)}`);
  }
  return n;
}

/**
 * A correlation id as the sequence batcher keys it: numeric ids as uint64 (gRPC int64_param is
 * reinterpreted as unsigned, as Triton does), string ids as given. 0 and '' mean "no sequence".
 */
export type CorrelationId = bigint | string;

export interface SequenceParameters {
  /** undefined = the request names no sequence (absent, 0 or ''). */
  readonly id: CorrelationId | undefined;
  readonly start: boolean;
  readonly end: boolean;
}

/** Request parameters `sequence_id`, `sequence_start`, `sequence_end` (PROTOCOL.md §5.6). */
export function readSequenceParameters(p: Parameters, ref: string): SequenceParameters {
  return { id: correlationId(p['sequence_id'], ref), start: flag(p, 'sequence_start', ref), end: flag(p, 'sequence_end', ref) };
}

function correlationId(v: ParameterValue | undefined, ref: string): CorrelationId | undefined {
  if (v === undefined || v === '' || v === 0 || v === 0n) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt.asUintN(64, BigInt(v));
  throw errors.invalidArg(`parameter 'sequence_id' for ${ref} must be an unsigned integer or a string, got ${String(v)}`);
}

function flag(p: Parameters, name: string, ref: string): boolean {
  const v = p[name];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw errors.invalidArg(`parameter '${name}' for ${ref} must be a boolean, got ${String(v)}`);
  return v;
}
