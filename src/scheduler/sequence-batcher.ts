/**
 * The sequence batcher (`sequence_batching` in config.pbtxt), Triton's scheduler for stateful
 * models. Requests name a sequence with the `sequence_id` / `sequence_start` / `sequence_end`
 * parameters (PROTOCOL.md §5.6).
 *
 *   enqueue ─▶ sequence (own FIFO) ─▶ slot of one instance's lane ─formBatch─▶ instance ─▶ split, store state ─▶ settle
 *                 └─ no free slot: backlog (bounded) until a sequence ends or idles out
 *
 * Invariants:
 * - A sequence is bound to one slot of one instance (its lane) from its first request until it
 *   ends or is released after max_sequence_idle_microseconds without queued requests; then the
 *   slot goes to the oldest backlogged sequence. Both strategies bind, as Triton does: `direct`
 *   has max_batch_size slots per instance, `oldest` has max_candidate_sequences candidates.
 * - At most one request per sequence executes at a time, and a sequence's requests execute in
 *   arrival order, so its responses come back in order on any stream.
 * - A lane's batch holds one request from each of its sequences that has one (direct: in slot
 *   order, as soon as the instance is idle, or after max_queue_delay_microseconds when
 *   minimum_slot_utilization is not met; oldest: oldest first, cut at preferred_batch_size,
 *   waiting up to max_queue_delay_microseconds for a fuller batch). Triton pads a direct batch
 *   with READY=false rows for empty slots; Infera sends only the ready rows (READY is true on
 *   each), which gives the same results with less work.
 * - Control tensors (sequence-controls.ts) and implicit state (sequence-state.ts) are added to
 *   every batch; state outputs are stored per sequence and never returned to the client.
 * - Every accepted request's Deferred is settled exactly once; released sequences hold nothing
 *   (counts() is the leak check).
 */
import type { Logger } from 'pino';
import type { ModelInstance } from '../backends/backend.js';
import type { ModelSequenceBatching } from '../config/model-config.js';
import type { Tensor } from '../core/tensor.js';
import type { ValidatedRequest } from '../core/request-validator.js';
import type { InferenceStats } from '../observability/inference-stats.js';
import { readSequenceParameters, type CorrelationId } from '../core/request-parameters.js';
import { InferenceError } from '../errors/inference-error.js';
import { errors, modelRef } from '../errors/catalogue.js';
import { deferred, type Deferred } from '../util/deferred.js';
import { nowNs } from '../util/clock.js';
import { batchRequests, mergeInputs, requestOutputs, resultParts, unionOutputs } from './batch-assembler.js';
import { DeadlineTimer } from './deadline-timer.js';
import { cancelError, type CancelListener } from '../core/cancellation.js';
import type { Scheduler } from './scheduler.js';
import type { SequenceControls } from './sequence-controls.js';
import type { ImplicitState, StateValues } from './sequence-state.js';

/** Sequences that may wait for a slot, per slot of the model, before new sequences are refused. */
export const BACKLOG_PER_SLOT = 8;
/** Requests one sequence may have queued at once. */
export const MAX_QUEUED_PER_SEQUENCE = 64;

export interface SequenceBatcherOptions {
  modelName: string;
  version: string;
  /** 0 = the model does not batch (one slot per instance). */
  maxBatchSize: number;
  /** Normalized: max_sequence_idle_microseconds and oldest.preferred_batch_size filled in. */
  sequenceBatching: Readonly<ModelSequenceBatching>;
  controls: SequenceControls;
  state: ImplicitState | undefined;
  instances: readonly ModelInstance[];
  stats: InferenceStats;
  logger: Logger;
}

/** What the batcher holds right now; all zero when it holds nothing. */
export interface SequenceCounts {
  live: number;
  backlog: number;
  slotsInUse: number;
  statesHeld: number;
  queued: number;
  executing: number;
}

interface SeqRequest {
  readonly vr: ValidatedRequest;
  readonly arrivalNs: number;
  readonly start: boolean;
  readonly end: boolean;
  readonly d: Deferred<Tensor[]>;
  readonly seq: Sequence;
  /** Waiting in seq.queue (not yet executing, not settled). */
  queued: boolean;
  /** Subscribed to the request's cancellation (only while it waits). */
  listening: boolean;
  /** Clears the backlog timeout, when one was armed (#expireInBacklog). */
  stopTimer: (() => void) | undefined;
}

interface Sequence {
  readonly key: string;
  readonly id: CorrelationId;
  /** The id as messages show it. */
  readonly label: string;
  readonly queue: SeqRequest[];
  lane: Lane | undefined;
  slot: number;
  busy: boolean;
  /** undefined until the first request that had state ran. */
  state: StateValues | undefined;
  lastNs: number;
  /** An END request is queued or ran and no START followed. */
  ended: boolean;
  /** Some request of the sequence has executed. */
  ran: boolean;
}

/** A request that passed the sequence rules; `seq` undefined = it starts a new sequence. */
interface Checked {
  readonly id: CorrelationId;
  readonly start: boolean;
  readonly end: boolean;
  readonly key: string;
  readonly label: string;
  readonly seq: Sequence | undefined;
}

interface Lane {
  readonly instance: ModelInstance;
  readonly slots: (Sequence | undefined)[];
  used: number;
  busy: boolean;
}

export class SequenceBatcher implements Scheduler {
  readonly #o: SequenceBatcherOptions;
  readonly #ref: string;
  readonly #batching: boolean;
  readonly #oldest: boolean;
  readonly #maxBatch: number;
  readonly #preferred: readonly number[];
  readonly #delayNs: number;
  readonly #minUtilization: number;
  readonly #idleNs: number;
  readonly #backlogLimit: number;
  readonly #lanes: Lane[];
  readonly #live = new Map<string, Sequence>();
  readonly #backlog: Sequence[] = [];
  readonly #timer = new DeadlineTimer(() => this.#pump());
  /** The one cancellation listener for every waiting request (the item is the SeqRequest). */
  readonly #onCancel: CancelListener<SeqRequest> = {
    onCancel: (p, reason) => {
      p.listening = false;
      this.#cancel(p.seq, p, cancelError(reason, this.#o.modelName, this.#o.version));
    },
  };
  #idleTimer: NodeJS.Timeout | undefined;
  #queued = 0;
  #executing = 0;
  #stopping = false;
  #drained: Deferred<void> | undefined;

  constructor(o: SequenceBatcherOptions) {
    this.#o = o;
    this.#ref = modelRef(o.modelName, o.version);
    const sb = o.sequenceBatching;
    this.#batching = o.maxBatchSize > 0;
    this.#oldest = sb.oldest !== undefined;
    this.#maxBatch = Math.max(1, o.maxBatchSize);
    this.#preferred = (sb.oldest?.preferred_batch_size ?? []).filter((n) => n > 0 && n <= this.#maxBatch).sort((a, b) => a - b);
    this.#delayNs = Number((this.#oldest ? sb.oldest?.max_queue_delay_microseconds : sb.direct?.max_queue_delay_microseconds) ?? 0) * 1000;
    this.#minUtilization = sb.direct?.minimum_slot_utilization ?? 0;
    this.#idleNs = Number(sb.max_sequence_idle_microseconds ?? 1_000_000) * 1000;
    const perLane = this.#oldest ? Math.max(1, sb.oldest?.max_candidate_sequences || this.#maxBatch) : this.#maxBatch;
    this.#lanes = o.instances.map((instance) => ({ instance, slots: new Array<Sequence | undefined>(perLane).fill(undefined), used: 0, busy: false }));
    this.#backlogLimit = BACKLOG_PER_SLOT * perLane * this.#lanes.length;
  }

  get pendingCount(): number {
    return this.#queued;
  }

  get inflightCount(): number {
    return this.#queued + this.#executing;
  }

  counts(): SequenceCounts {
    let statesHeld = 0;
    for (const s of this.#live.values()) if (s.state !== undefined) statesHeld++;
    return {
      live: this.#live.size, backlog: this.#backlog.length, slotsInUse: this.#lanes.reduce((n, l) => n + l.used, 0),
      statesHeld, queued: this.#queued, executing: this.#executing,
    };
  }

  /**
   * Queues a validated request on its sequence. Rejects with INVALID_ARG for a request that names
   * no sequence, a sequence that is not active without START, a correlation id the CORRID control
   * cannot hold or a batch size other than 1; with UNAVAILABLE when no slot or backlog place is
   * left, the sequence has too many queued requests, or the server is stopping.
   */
  enqueue(vr: ValidatedRequest, arrivalNs: number = nowNs()): Promise<Tensor[]> {
    try {
      return this.#accept(vr, arrivalNs);
    } catch (e) {
      return Promise.reject(InferenceError.from(e));
    }
  }

  /** The sequence rules of enqueue(), checked without changing anything (see Scheduler.admit). */
  admit(vr: ValidatedRequest): void {
    this.#check(vr);
  }

  #check(vr: ValidatedRequest): Checked {
    if (this.#stopping) throw errors.serverStopping();
    const sp = readSequenceParameters(vr.request.parameters, this.#ref);
    if (sp.id === undefined) throw errors.noCorrelationId(this.#ref);
    const label = typeof sp.id === 'string' ? `'${sp.id.length > 64 ? `${sp.id.slice(0, 64)}…` : sp.id}'` : String(sp.id);
    const refused = this.#o.controls.refuse(sp.id);
    if (refused !== undefined) throw errors.sequenceRefused(this.#ref, label, refused);
    if (this.#batching && vr.batchSize !== 1) throw errors.sequenceRefused(this.#ref, label, `a request of a sequence must have batch size 1, got ${vr.batchSize}`);
    const key = `${typeof sp.id === 'string' ? 's' : 'n'}:${sp.id}`;
    const seq = this.#live.get(key);
    if ((seq === undefined || seq.ended) && !sp.start) {
      throw errors.sequenceNotStarted(this.#ref, label, seq !== undefined
        ? 'the sequence has ended'
        : `no sequence with this id is active (it never started, it ended, or it was released after ${this.#idleNs / 1000} µs without requests)`);
    }
    if (seq !== undefined && seq.queue.length >= MAX_QUEUED_PER_SEQUENCE) {
      throw errors.sequenceCapacity(this.#ref, label, `it already has ${MAX_QUEUED_PER_SEQUENCE} requests queued`);
    }
    return { id: sp.id, start: sp.start, end: sp.end, key, label, seq };
  }

  #accept(vr: ValidatedRequest, arrivalNs: number): Promise<Tensor[]> {
    const { modelName, version } = this.#o;
    const c = this.#check(vr);
    const cancellation = vr.request.cancellation;
    if (cancellation?.aborted === true) throw cancelError(cancellation.reason, modelName, version);
    const seq = c.seq ?? this.#open(c.key, c.id, c.label);
    const p: SeqRequest = { vr, arrivalNs, start: c.start, end: c.end, d: deferred<Tensor[]>(), seq, queued: true, listening: false, stopTimer: undefined };
    if (seq.lane === undefined && vr.schedule.timeoutUs > 0) this.#expireInBacklog(seq, p, vr.schedule.timeoutUs);
    seq.queue.push(p);
    seq.ended = c.end;
    seq.lastNs = arrivalNs;
    this.#queued++;
    this.#armIdle();
    this.#pump();
    // Only a request still waiting after the pump listens for its cancel (see DynamicBatcher.enqueue).
    if (cancellation !== undefined && p.queued) {
      p.listening = true;
      cancellation.subscribe(this.#onCancel, p);
    }
    return p.d.promise;
  }

  /** A new live sequence in a free slot, or in the backlog. */
  #open(key: string, id: CorrelationId, label: string): Sequence {
    const lane = this.#freeLane();
    if (lane === undefined && this.#backlog.length >= this.#backlogLimit) {
      const slots = this.#lanes.reduce((n, l) => n + l.slots.length, 0);
      throw errors.sequenceCapacity(this.#ref, label, `all ${slots} sequence slots are in use and ${this.#backlog.length} sequences already wait for one`);
    }
    const seq: Sequence = { key, id, label, queue: [], lane: undefined, slot: -1, busy: false, state: undefined, lastNs: 0, ended: false, ran: false };
    if (lane !== undefined) this.#bind(seq, lane);
    else this.#backlog.push(seq);
    this.#live.set(key, seq);
    return seq;
  }

  /** The lane with the most free slots (spreads sequences across instances), or undefined. */
  #freeLane(): Lane | undefined {
    let best: Lane | undefined;
    for (const l of this.#lanes) {
      if (l.used < l.slots.length && (best === undefined || l.slots.length - l.used > best.slots.length - best.used)) best = l;
    }
    return best;
  }

  #bind(seq: Sequence, lane: Lane): void {
    const slot = lane.slots.indexOf(undefined);
    lane.slots[slot] = seq;
    lane.used++;
    seq.lane = lane;
    seq.slot = slot;
  }

  /** Frees the sequence's slot and state and hands the slot to the oldest backlogged sequence. */
  #release(seq: Sequence): void {
    if (this.#live.get(seq.key) === seq) this.#live.delete(seq.key);
    seq.state = undefined;
    const lane = seq.lane;
    if (lane === undefined) {
      const i = this.#backlog.indexOf(seq);
      if (i >= 0) this.#backlog.splice(i, 1);
      return;
    }
    lane.slots[seq.slot] = undefined;
    lane.used--;
    seq.lane = undefined;
    const next = this.#backlog.shift();
    if (next !== undefined) this.#bind(next, lane);
  }

  /**
   * The request's `timeout` bounds how long it waits for its sequence to get a slot (Triton
   * applies request timeouts to sequences waiting for a slot); once the sequence has a slot the
   * timeout no longer applies.
   */
  #expireInBacklog(seq: Sequence, p: SeqRequest, timeoutUs: number): void {
    const timer = setTimeout(() => {
      if (seq.lane !== undefined) return;
      this.#cancel(seq, p, errors.unavailable(
        `Request timeout expired: sequence ${seq.label} waited ${timeoutUs} µs for a sequence slot of ${this.#ref}`,
      ));
    }, Math.max(1, timeoutUs / 1000));
    timer.unref();
    p.stopTimer = () => clearTimeout(timer);
  }

  /** Ends p's cancellation subscription and backlog timeout, whichever it has. */
  #detach(p: SeqRequest): void {
    if (p.listening) {
      p.listening = false;
      p.vr.request.cancellation!.unsubscribe(this.#onCancel, p);
    }
    p.stopTimer?.();
    p.stopTimer = undefined;
  }

  #cancel(seq: Sequence, p: SeqRequest, err: InferenceError): void {
    const i = seq.queue.indexOf(p);
    if (i < 0) return; // executing: best effort, the caller discards the result
    seq.queue.splice(i, 1);
    p.queued = false;
    this.#queued--;
    this.#settle(p, err, undefined);
    if (!seq.ran && !seq.busy && seq.queue.length === 0) {
      // Nothing of it ever ran: it never started, so it holds no place (later requests need START).
      this.#release(seq);
      this.#pump();
    }
  }

  #pump(): void {
    const now = nowNs();
    let waitUntil = Number.POSITIVE_INFINITY;
    for (const lane of this.#lanes) {
      if (lane.busy) continue;
      const batch = this.#formBatch(lane, now);
      if (batch === undefined) continue;
      if (batch.waitUntilNs > 0) waitUntil = Math.min(waitUntil, batch.waitUntilNs);
      else void this.#execute(lane, batch.seqs, now);
    }
    if (Number.isFinite(waitUntil)) this.#timer.arm(waitUntil);
  }

  #formBatch(lane: Lane, now: number): { seqs: Sequence[]; waitUntilNs: number } | undefined {
    const ready: Sequence[] = [];
    for (const s of lane.slots) if (s !== undefined && s.queue.length > 0) ready.push(s);
    if (ready.length === 0) return undefined;
    if (this.#oldest) ready.sort((a, b) => a.queue[0]!.arrivalNs - b.queue[0]!.arrivalNs);
    const key = this.#batchKey(ready[0]!);
    const seqs: Sequence[] = [];
    let oldestNs = Number.POSITIVE_INFINITY;
    for (const s of ready) {
      if (seqs.length >= this.#maxBatch) break;
      if (seqs.length > 0 && this.#batchKey(s) !== key) continue;
      seqs.push(s);
      oldestNs = Math.min(oldestNs, s.queue[0]!.arrivalNs);
    }
    const waited = now - oldestNs >= this.#delayNs;
    if (!this.#oldest) {
      const enough = seqs.length / lane.slots.length >= this.#minUtilization;
      return { seqs, waitUntilNs: enough || waited ? 0 : oldestNs + this.#delayNs };
    }
    const maxPreferred = this.#preferred[this.#preferred.length - 1] ?? this.#maxBatch;
    if (seqs.length < maxPreferred && !waited) return { seqs, waitUntilNs: oldestNs + this.#delayNs };
    const cut = [...this.#preferred].reverse().find((n) => n <= seqs.length);
    return { seqs: cut !== undefined ? seqs.slice(0, cut) : seqs, waitUntilNs: 0 };
  }

  /** Sequences share a batch only when their inputs and state shapes agree. */
  #batchKey(s: Sequence): string {
    const head = s.queue[0]!;
    const st = this.#o.state;
    if (st === undefined) return head.vr.shapeKey;
    return head.vr.shapeKey + st.shapeKey(head.start || s.state === undefined ? st.initial() : s.state);
  }

  async #execute(lane: Lane, seqs: Sequence[], startNs: number): Promise<void> {
    const items = seqs.map((s) => s.queue.shift()!);
    const n = items.length;
    this.#queued -= n;
    this.#executing += n;
    lane.busy = true;
    for (const s of seqs) {
      s.busy = true;
      s.ran = true;
    }
    const { stats, modelName, controls, state } = this.#o;
    for (const p of items) {
      p.queued = false;
      this.#detach(p);
      stats.recordQueue(startNs - p.arrivalNs);
    }
    try {
      const vrs = items.map((p) => p.vr);
      const rows = seqs.map((s, i) => ({ id: s.id, start: items[i]!.start, end: items[i]!.end }));
      const inputs = [...mergeInputs(vrs, this.#batching), ...controls.build(rows)];
      let outputNames = unionOutputs(vrs);
      if (state !== undefined) {
        inputs.push(...state.inputs(seqs.map((s, i) => (items[i]!.start || s.state === undefined ? state.initial() : s.state))));
        outputNames = [...new Set([...outputNames, ...state.outputNames])];
      }
      const result = await lane.instance.execute({ batchSize: n, inputs, outputNames, requests: batchRequests(vrs) });
      stats.recordExecution(n, n, result.timings);
      const sizes = items.map(() => 1);
      const { parts, failed } = resultParts(result, sizes, this.#batching, modelName);
      items.forEach((p, i) => {
        const own = failed?.[i];
        if (state !== undefined && own === undefined) seqs[i]!.state = state.next(parts, i, modelName);
        const mine = own ?? requestOutputs(parts, p.vr.outputNames, i, modelName);
        if (mine instanceof InferenceError) this.#settle(p, mine, undefined);
        else this.#settle(p, undefined, mine);
      });
    } catch (e) {
      const err = InferenceError.from(e);
      for (const p of items) this.#settle(p, err, undefined);
    } finally {
      this.#executing -= n;
      lane.busy = false;
      const now = nowNs();
      seqs.forEach((s) => {
        s.busy = false;
        s.lastNs = now;
        if (s.ended && s.queue.length === 0) this.#release(s);
      });
      this.#pump();
      this.#checkDrained();
    }
  }

  #settle(p: SeqRequest, err: InferenceError | undefined, outputs: Tensor[] | undefined): void {
    this.#detach(p);
    if (err !== undefined) p.d.reject(err);
    else p.d.resolve(outputs!);
    this.#checkDrained();
  }

  /** Idle release runs on a coarse timer (a quarter of the idle limit) while sequences are live. */
  #armIdle(): void {
    if (this.#idleTimer !== undefined || this.#live.size === 0) return;
    const periodMs = Math.max(1, Math.min(1000, this.#idleNs / 4e6));
    this.#idleTimer = setTimeout(() => this.#sweepIdle(), periodMs);
    this.#idleTimer.unref();
  }

  #sweepIdle(): void {
    this.#idleTimer = undefined;
    const now = nowNs();
    for (const s of [...this.#live.values()]) {
      if (s.busy || s.queue.length > 0 || now - s.lastNs < this.#idleNs) continue;
      this.#o.logger.debug({ sequence: s.label }, 'sequence released after being idle');
      this.#release(s);
    }
    this.#armIdle();
    this.#pump();
  }

  stop(): Promise<void> {
    this.#stopping = true;
    this.#drained ??= deferred<void>();
    this.#checkDrained();
    return this.#drained.promise;
  }

  failQueued(err: InferenceError): void {
    for (const s of [...this.#live.values()]) {
      for (const p of s.queue.splice(0)) {
        this.#queued--;
        p.queued = false;
        this.#settle(p, err, undefined);
      }
      if (!s.busy) this.#release(s);
    }
    this.#timer.clear();
  }

  #checkDrained(): void {
    if (this.#drained === undefined || this.inflightCount > 0) return;
    this.#timer.clear();
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#drained.resolve();
  }
}
