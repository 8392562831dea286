/**
 * The per-model scheduler: one queue per priority level feeding a pool of instances. With
 * `dynamic_batching` absent it is the same path with batching off (every request runs alone), as
 * in Triton.
 *
 *   enqueue ─▶ [level 1 queue] [level 2 queue] … [delayed] ─formBatch─▶ idle instance ─▶ split ─▶ settle
 *
 * Ownership: this class is the only code that touches its queues, its timer and its instances'
 * idle/busy state. Every accepted request's Deferred is settled exactly once: by execution, by
 * rejection (timeout, cancel) or by stop(); `#settle` is the single place that settles.
 */
import type { Logger } from 'pino';
import type { ModelInstance } from '../backends/backend.js';
import type { Tensor } from '../core/tensor.js';
import type { ValidatedRequest } from '../core/request-validator.js';
import type { InferenceStats } from '../observability/inference-stats.js';
import { InferenceError } from '../errors/inference-error.js';
import { errors } from '../errors/catalogue.js';
import { deferred, type Deferred } from '../util/deferred.js';
import { nowNs } from '../util/clock.js';
import { batchRequests, mergeInputs, requestOutputs, resultParts, unionOutputs } from './batch-assembler.js';
import { InstancePool } from './instance-pool.js';
import { DeadlineTimer } from './deadline-timer.js';
import type { Scheduler } from './scheduler.js';
import {
  levelFor, policyOf, resolveQueuePolicy, timeoutUsFor,
  type DynamicBatchingConfig, type ResolvedQueuePolicy,
} from './queue-policy.js';
import { DELAYED, LevelQueues } from './level-queues.js';
import { cancelError, type CancelListener } from '../core/cancellation.js';

export interface SchedulerOptions {
  modelName: string;
  version: string;
  /** 0 = the model does not batch. */
  maxBatchSize: number;
  /** undefined = batching off. */
  dynamicBatching: DynamicBatchingConfig | undefined;
  instances: readonly ModelInstance[];
  /**
   * Decoupled model: its responses go through BatchRequest.responses, so a request's part of the
   * result is `[]` and it resolves with no outputs once execute settled (the core waits for its final).
   */
  decoupled?: boolean;
  stats: InferenceStats;
  logger: Logger;
}

/** A request's own outputs, in the order of its `outputNames`. */
export type RequestOutputs = Tensor[];

interface Pending {
  readonly vr: ValidatedRequest;
  readonly arrivalNs: number;
  readonly seq: number;
  /** Priority level (1-based); the request may have moved to DELAYED since. */
  readonly level: number;
  /** Absolute monotonic deadline in the queue, 0 = none. */
  deadlineNs: number;
  readonly rejectOnTimeout: boolean;
  readonly d: Deferred<RequestOutputs>;
  /** In one of the queues (not yet executing, not settled). */
  inQueue: boolean;
  /** Subscribed to the request's cancellation (only while it waits in a queue). */
  listening: boolean;
}

export class DynamicBatcher implements Scheduler {
  readonly #o: SchedulerOptions;
  readonly #policy: ResolvedQueuePolicy;
  readonly #batching: boolean;
  readonly #preferred: ReadonlySet<number>;
  readonly #maxPreferred: number;
  readonly #delayNs: number;
  readonly #preserveOrdering: boolean;
  /** One queue per priority level in use, plus DELAYED for requests moved by a DELAY timeout. */
  readonly #queues = new LevelQueues<Pending>();
  readonly #pool: InstancePool;
  #queued = 0;
  #inflight = 0;
  #seq = 0;
  #nextRelease = 0;
  readonly #held = new Map<number, () => void>();
  readonly #timer = new DeadlineTimer(() => this.#pump());
  /** The one cancellation listener for every queued request (the item is the Pending): no closure per request. */
  readonly #onCancel: CancelListener<Pending> = { onCancel: (p, reason) => this.#cancel(p, reason) };
  #nextDeadlineNs = Number.POSITIVE_INFINITY;
  #stopping = false;
  #drained: Deferred<void> | undefined;

  constructor(o: SchedulerOptions) {
    this.#o = o;
    const db = o.dynamicBatching;
    this.#batching = db !== undefined && o.maxBatchSize > 0;
    this.#policy = resolveQueuePolicy(db);
    const preferred = (db?.preferred_batch_size ?? []).filter((n) => n > 0 && n <= o.maxBatchSize);
    this.#preferred = new Set(preferred);
    this.#maxPreferred = preferred.length > 0 ? Math.max(...preferred) : Math.max(1, o.maxBatchSize);
    this.#delayNs = Number(db?.max_queue_delay_microseconds ?? 0) * 1000;
    this.#preserveOrdering = db?.preserve_ordering ?? false;
    this.#pool = new InstancePool(o.instances);
  }

  /** Requests waiting in the queues (not yet executing). */
  get pendingCount(): number {
    return this.#queued;
  }

  /** Requests accepted and not yet settled. */
  get inflightCount(): number {
    return this.#queued + this.#inflight;
  }

  /**
   * Queues a validated request. Resolves with the request's own outputs; rejects with
   * UNAVAILABLE (queue full, timeout, stopping, worker death), CANCELLED / DEADLINE_EXCEEDED
   * (the request's cancellation fired while it was queued) or the backend's error.
   */
  enqueue(vr: ValidatedRequest, arrivalNs: number = nowNs()): Promise<RequestOutputs> {
    const { modelName, version } = this.#o;
    if (this.#stopping) return Promise.reject(errors.serverStopping());
    const cancellation = vr.request.cancellation;
    if (cancellation?.aborted === true) return Promise.reject(cancelError(cancellation.reason, modelName, version));
    const level = this.#batching ? levelFor(this.#policy, vr.schedule) : 1;
    const lp = policyOf(this.#policy, level);
    if (lp.maxQueueSize > 0 && this.#queues.size(level) >= lp.maxQueueSize) return Promise.reject(errors.queueFull(modelName, version));
    const timeoutUs = this.#batching ? timeoutUsFor(lp, vr.schedule) : 0;
    const p: Pending = {
      vr, arrivalNs, seq: this.#seq++, level,
      deadlineNs: timeoutUs > 0 ? arrivalNs + timeoutUs * 1000 : 0,
      rejectOnTimeout: lp.rejectOnTimeout,
      d: deferred<RequestOutputs>(),
      inQueue: true,
      listening: false,
    };
    if (p.deadlineNs > 0) this.#nextDeadlineNs = Math.min(this.#nextDeadlineNs, p.deadlineNs);
    this.#queues.push(level, p);
    this.#queued++;
    this.#pump();
    // Listen for a cancel only if the request is still waiting: one dispatched by the pump above
    // never costs a subscription (and, over gRPC, never a listener on its call).
    if (cancellation !== undefined && p.inQueue) {
      p.listening = true;
      cancellation.subscribe(this.#onCancel, p);
    }
    return p.d.promise;
  }

  /**
   * Stops accepting requests and resolves once every accepted request has settled (queued ones
   * still execute). Callers bound the wait with their own exit timeout, then call failAll().
   */
  stop(): Promise<void> {
    this.#stopping = true;
    if (this.inflightCount === 0) return Promise.resolve();
    this.#drained ??= deferred<void>();
    return this.#drained.promise;
  }

  /** Fails every queued request with `err` (used when a drain timed out or the model went away). */
  failQueued(err: InferenceError): void {
    for (const p of this.#queues.drain()) {
      this.#queued--;
      p.inQueue = false;
      this.#settle(p, err, undefined);
    }
    this.#clearTimer();
  }

  #cancel(p: Pending, reason: InferenceError | undefined): void {
    p.listening = false; // the Cancellation drops its listeners when it fires
    // Not queued any more means already executing: best effort, the result is discarded by the caller.
    if (!this.#queues.remove(p.level, p) && !this.#queues.remove(DELAYED, p)) return;
    this.#queued--;
    p.inQueue = false;
    this.#settle(p, cancelError(reason, this.#o.modelName, this.#o.version), undefined);
  }

  /** Ends p's subscription to its request's cancellation, if it has one. */
  #detach(p: Pending): void {
    if (!p.listening) return;
    p.listening = false;
    p.vr.request.cancellation!.unsubscribe(this.#onCancel, p);
  }

  #pump(): void {
    if (nowNs() >= this.#nextDeadlineNs) this.#expire(nowNs());
    while (this.#queued > 0 && this.#pool.hasIdle) {
      const now = nowNs();
      const batch = this.#formBatch(now);
      if (batch === undefined) break;
      if (batch.waitUntilNs > 0) {
        this.#armTimer(batch.waitUntilNs);
        break;
      }
      for (const p of batch.items) this.#remove(p);
      void this.#execute(this.#pool.acquire(), batch.items, now);
    }
    if (this.#queued > 0 && Number.isFinite(this.#nextDeadlineNs)) this.#armTimer(this.#nextDeadlineNs);
    else if (this.#queued === 0) this.#clearTimer();
  }

  /**
   * Chooses the next batch: the oldest request of the highest non-empty level, plus later
   * compatible requests (same shapeKey) while the batch fits max_batch_size. Ready when it
   * reached the largest preferred size, when there is no delay, or when the oldest request
   * waited max_queue_delay; then cut at the last preferred size reached, if any.
   */
  #formBatch(now: number): { items: Pending[]; waitUntilNs: number } | undefined {
    const order = this.#queues.ordered();
    const head = order[0]?.[0];
    if (head === undefined) return undefined;
    if (!this.#batching) return { items: [head], waitUntilNs: 0 };
    const items = [head];
    let total = head.vr.batchSize;
    let cut = this.#preferred.has(total) ? 1 : 0;
    outer: for (const q of order) {
      for (const p of q) {
        if (total >= this.#maxPreferred || total >= this.#o.maxBatchSize) break outer;
        if (p === head || p.vr.shapeKey !== head.vr.shapeKey || total + p.vr.batchSize > this.#o.maxBatchSize) continue;
        items.push(p);
        total += p.vr.batchSize;
        if (this.#preferred.has(total)) cut = items.length;
      }
    }
    const full = total >= this.#maxPreferred || total >= this.#o.maxBatchSize;
    const waited = now - head.arrivalNs >= this.#delayNs;
    if (!full && !waited) return { items, waitUntilNs: head.arrivalNs + this.#delayNs };
    return { items: cut > 0 ? items.slice(0, cut) : items, waitUntilNs: 0 };
  }

  /** Applies queue timeouts: REJECT fails the request, DELAY moves it behind every other level. */
  #expire(now: number): void {
    let next = Number.POSITIVE_INFINITY;
    for (const l of this.#queues.levels()) {
      if (l === DELAYED) continue;
      const q = this.#queues.queue(l)!;
      for (let i = 0; i < q.length; i++) {
        const p = q[i]!;
        if (p.deadlineNs === 0) continue;
        if (p.deadlineNs > now) {
          next = Math.min(next, p.deadlineNs);
          continue;
        }
        q.splice(i--, 1);
        p.deadlineNs = 0;
        if (p.rejectOnTimeout) {
          this.#queued--;
          p.inQueue = false;
          this.#settle(p, errors.queueTimeout(this.#o.modelName, this.#o.version), undefined);
        } else {
          this.#queues.push(DELAYED, p);
        }
      }
    }
    this.#queues.prune();
    this.#nextDeadlineNs = next;
  }

  #remove(p: Pending): void {
    if (!this.#queues.remove(p.level, p)) this.#queues.remove(DELAYED, p);
    this.#queued--;
    p.inQueue = false;
    this.#detach(p);
  }

  async #execute(instance: ModelInstance, items: Pending[], startNs: number): Promise<void> {
    this.#inflight += items.length;
    const stats = this.#o.stats;
    for (const p of items) stats.recordQueue(startNs - p.arrivalNs);
    const sizes = items.map((p) => p.vr.batchSize);
    const total = sizes.reduce((a, b) => a + b, 0);
    const batchingShape = this.#o.maxBatchSize > 0;
    try {
      const vrs = items.map((p) => p.vr);
      const outputNames = unionOutputs(vrs);
      const result = await instance.execute({
        batchSize: total, inputs: mergeInputs(vrs, batchingShape), outputNames, requests: batchRequests(vrs),
      });
      stats.recordExecution(total, items.length, result.timings);
      for (const p of items) {
        const t = p.vr.request.trace; // traced requests get the phases just recorded, nothing re-measured
        if (t !== undefined) t.compute(startNs, result.timings, nowNs());
      }
      const { parts, failed } = resultParts(result, sizes, batchingShape, this.#o.modelName);
      for (let i = 0; i < items.length; i++) {
        const p = items[i]!;
        const mine = failed?.[i] ?? (this.#o.decoupled === true ? [] : requestOutputs(parts, p.vr.outputNames, i, this.#o.modelName));
        if (mine instanceof InferenceError) this.#settle(p, mine, undefined);
        else this.#settle(p, undefined, mine);
      }
    } catch (e) {
      const err = InferenceError.from(e);
      for (const p of items) this.#settle(p, err, undefined);
    } finally {
      this.#inflight -= items.length;
      this.#pool.release(instance);
      this.#pump();
      if (this.#drained !== undefined && this.inflightCount === 0) this.#drained.resolve();
    }
  }

  /**
   * Settles p with `err` or else `outputs`: in arrival order when preserve_ordering is on (held
   * as a closure until its turn), immediately and without a closure otherwise.
   */
  #settle(p: Pending, err: InferenceError | undefined, outputs: RequestOutputs | undefined): void {
    this.#detach(p);
    if (!this.#preserveOrdering) {
      if (err !== undefined) p.d.reject(err);
      else p.d.resolve(outputs!);
    } else {
      this.#held.set(p.seq, () => (err !== undefined ? p.d.reject(err) : p.d.resolve(outputs!)));
      for (let f = this.#held.get(this.#nextRelease); f !== undefined; f = this.#held.get(this.#nextRelease)) {
        this.#held.delete(this.#nextRelease++);
        f();
      }
    }
    if (this.#drained !== undefined && this.inflightCount === 0) this.#drained.resolve();
  }

  #armTimer(atNs: number): void {
    this.#timer.arm(atNs);
  }

  #clearTimer(): void {
    this.#timer.clear();
  }
}

