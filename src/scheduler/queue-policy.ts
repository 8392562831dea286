/**
 * Resolves a model's dynamic_batching section into the numbers the batcher uses: priority level of
 * a request and its queue policy (PROTOCOL.md §3.3 ModelQueuePolicy, §5.7). Done once per model
 * load; per request only `levelFor`, `policyOf` and `timeoutUsFor` run.
 *
 * uint64 config values may be exact bigints beyond 2^53 (see config/model-config.ts Uint64); here
 * they become JS numbers, because only their magnitude matters to the scheduler: 2^64 - 1 µs is
 * "never", and levels beyond 2^53 (which no request's priority can name exactly) may share a queue.
 */
import type { ScheduleParameters } from '../core/request-parameters.js';
import type { Uint64 } from '../config/model-config.js';

export interface QueuePolicyConfig {
  timeout_action?: string;
  default_timeout_microseconds?: Uint64;
  allow_timeout_override?: boolean;
  max_queue_size?: number;
}

export interface DynamicBatchingConfig {
  preferred_batch_size?: number[];
  max_queue_delay_microseconds?: Uint64;
  preserve_ordering?: boolean;
  priority_levels?: Uint64;
  default_priority_level?: Uint64;
  default_queue_policy?: QueuePolicyConfig;
  priority_queue_policy?: Record<string, QueuePolicyConfig>;
}

export interface LevelPolicy {
  readonly rejectOnTimeout: boolean;
  readonly defaultTimeoutUs: number;
  readonly allowOverride: boolean;
  /** 0 = unbounded. */
  readonly maxQueueSize: number;
}

export interface ResolvedQueuePolicy {
  /** priority_levels, or 1 when priorities are off. Level 1 = highest. */
  readonly levels: number;
  readonly defaultLevel: number;
  /** Levels with their own priority_queue_policy entry; every other level has `fallback`. */
  readonly explicit: ReadonlyMap<number, LevelPolicy>;
  readonly fallback: LevelPolicy;
}

function toLevelPolicy(p: QueuePolicyConfig | undefined): LevelPolicy {
  return {
    rejectOnTimeout: (p?.timeout_action ?? 'REJECT') !== 'DELAY',
    defaultTimeoutUs: Number(p?.default_timeout_microseconds ?? 0),
    allowOverride: p?.allow_timeout_override ?? false,
    maxQueueSize: p?.max_queue_size ?? 0,
  };
}

export function resolveQueuePolicy(db: DynamicBatchingConfig | undefined): ResolvedQueuePolicy {
  const levels = Math.max(1, Number(db?.priority_levels ?? 0));
  const explicit = new Map<number, LevelPolicy>();
  for (const [key, policy] of Object.entries(db?.priority_queue_policy ?? {})) {
    const level = Number(key);
    if (level >= 1 && level <= levels) explicit.set(level, toLevelPolicy(policy));
  }
  const def = Number(db?.default_priority_level ?? 0);
  return { levels, defaultLevel: def >= 1 && def <= levels ? def : 1, explicit, fallback: toLevelPolicy(db?.default_queue_policy) };
}

/** The level (1-based) of a request: 0 or out-of-range priorities get the default level (Triton). */
export function levelFor(p: ResolvedQueuePolicy, s: ScheduleParameters): number {
  return s.priority >= 1 && s.priority <= p.levels ? s.priority : p.defaultLevel;
}

export function policyOf(p: ResolvedQueuePolicy, level: number): LevelPolicy {
  return p.explicit.get(level) ?? p.fallback;
}

/**
 * Effective queue timeout: the level's default; the request's own timeout only when overriding is
 * allowed, it is non-zero and smaller than the default (Triton's scheduler_utils rule). So with a
 * default of 0 (no timeout) request timeouts are ignored, as in Triton.
 */
export function timeoutUsFor(lp: LevelPolicy, s: ScheduleParameters): number {
  if (lp.allowOverride && s.timeoutUs > 0 && s.timeoutUs < lp.defaultTimeoutUs) {
    return s.timeoutUs;
  }
  return lp.defaultTimeoutUs;
}
