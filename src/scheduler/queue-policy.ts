/**
 * Resolves a model's dynamic_batching section into the numbers the batcher uses: priority level of
 * a request and its queue policy (PROTOCOL.md §3.3 ModelQueuePolicy, §5.7). Done once per model
 * load; per request only `levelFor` and `timeoutNsFor` run.
 */
import type { ScheduleParameters } from '../core/request-parameters.js';

export interface QueuePolicyConfig {
  timeout_action?: string;
  default_timeout_microseconds?: number;
  allow_timeout_override?: boolean;
  max_queue_size?: number;
}

export interface DynamicBatchingConfig {
  preferred_batch_size?: number[];
  max_queue_delay_microseconds?: number;
  preserve_ordering?: boolean;
  priority_levels?: number;
  default_priority_level?: number;
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
  /** Number of queues: priority_levels, or 1 when priorities are off. Index 0 = level 1 = highest. */
  readonly levels: number;
  readonly defaultLevel: number;
  readonly perLevel: readonly LevelPolicy[];
}

function toLevelPolicy(p: QueuePolicyConfig | undefined): LevelPolicy {
  return {
    rejectOnTimeout: (p?.timeout_action ?? 'REJECT') !== 'DELAY',
    defaultTimeoutUs: p?.default_timeout_microseconds ?? 0,
    allowOverride: p?.allow_timeout_override ?? false,
    maxQueueSize: p?.max_queue_size ?? 0,
  };
}

export function resolveQueuePolicy(db: DynamicBatchingConfig | undefined): ResolvedQueuePolicy {
  const levels = Math.max(1, db?.priority_levels ?? 0);
  const perLevel: LevelPolicy[] = [];
  for (let l = 1; l <= levels; l++) {
    perLevel.push(toLevelPolicy(db?.priority_queue_policy?.[String(l)] ?? db?.default_queue_policy));
  }
  const def = db?.default_priority_level ?? 0;
  return { levels, defaultLevel: def >= 1 && def <= levels ? def : 1, perLevel };
}

/** Queue index (0-based) for a request: 0 or out-of-range priorities get the default level (Triton). */
export function levelFor(p: ResolvedQueuePolicy, s: ScheduleParameters): number {
  const level = s.priority >= 1 && s.priority <= p.levels ? s.priority : p.defaultLevel;
  return level - 1;
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
