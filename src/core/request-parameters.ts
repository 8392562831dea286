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
