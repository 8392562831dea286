/**
 * A ModelInstance on the main thread whose model runs as a session on a host worker of the pool
 * (worker-pool.ts; worker-entry.ts plus a runner module). The scheduler cannot tell it from an
 * in-process instance.
 *
 * Request bookkeeping: every execute() gets an id and one Deferred in #pending; the Deferred is
 * removed from the map before it is settled, and the map is the only way to reach it, so each
 * request settles exactly once whether its result, its error, the worker's death or finalize()
 * comes first.
 *
 * Cancellation and decoupled responses (backends that ask for them, the typescript backend): a
 * batch sent `cancellable` gets an abort listener on each request's signal for as long as the
 * worker may still use it; an abort posts `cancel {id, requestIndex}`, which the worker handles
 * at once. A `decoupled` batch keeps its requests in #live after its result, until each request's
 * final response arrived (or the worker died: UNAVAILABLE), routing `response` messages to
 * BatchRequest.responses. Other batches never read a signal and keep nothing in #live.
 */
import type { Logger } from 'pino';
import type { BatchRequest, ExecuteBatch, ExecuteResult, ExecuteTimings, InternalInfer, ModelInstance } from '../backends/backend.js';
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';
import { nowNs } from '../util/clock.js';
import type { HostWorker } from './host-worker.js';
import { deferred, type Deferred } from '../util/deferred.js';
import {
  fromWireTensor, wireView, type CancelMessage, type ExecuteMessage, type ResponseMessage, type ResultMessage,
  type SessionMessage, type WireRequest, type WireTensor,
} from './worker-messages.js';
import { BlsHost } from './bls-host.js';
import type { PoolSession, RestartPolicy, SessionSpec, SessionState } from './pool-session.js';
import type { SessionChannel } from './session-channel.js';
import { defaultWorkerPool, type WorkerPool } from './worker-pool.js';

/** How a worker-hosted instance is supervised; backends pass these through from their options. */
export interface WorkerTuning {
  restart?: Partial<RestartPolicy>;
  loadTimeoutMs?: number;
  disposeTimeoutMs?: number;
  /** How long an execute() arriving during a restart waits for the new worker; default 30 000 ms. */
  restartWaitMs?: number;
  /** The pool the instance runs in; default the process-wide defaultWorkerPool(). */
  pool?: WorkerPool;
}

/** Only the tuning fields of a backend's options (which also carry backend-specific settings). */
export function workerTuning(o: WorkerTuning): WorkerTuning {
  return {
    restart: o.restart, loadTimeoutMs: o.loadTimeoutMs, disposeTimeoutMs: o.disposeTimeoutMs, restartWaitMs: o.restartWaitMs,
    pool: o.pool,
  };
}

/** The session's runner and placement fields are SessionSpec's (pool-session.ts), documented there. */
export interface WorkerInstanceOptions extends WorkerTuning, Pick<SessionSpec, 'runnerModule' | 'init' | 'dedicated' | 'nativeCalls' | 'modelBytes' | 'threads'> {
  /** Instance name (InstanceContext.name). */
  name: string;
  modelName: string;
  version: number;
  /** The model's logger; the proxy adds model/version/instance bindings that are missing. */
  logger: Logger;
  /** Where the runner's BLS calls go (ModelLoadContext.infer); absent = they fail with UNAVAILABLE. */
  infer?: InternalInfer | undefined;
  /**
   * Send each batch's request boundaries (rows, outputs, parameters) to the runner: model code
   * answers per request. Framework runners run the merged batch, so theirs carry none.
   */
  requestBoundaries?: boolean;
  /** Forward request cancellation into the worker (the runner watches signals). */
  cancellable?: boolean;
  /** The model is decoupled: requests answer with response messages (BatchRequest.responses). */
  decoupled?: boolean;
}

/** A batch whose requests the worker may still cancel or answer (see the header). */
interface LiveBatch {
  readonly requests: readonly BatchRequest[];
  /** Per request: removes its abort listener; undefined once the request is closed. */
  readonly closers: ((() => void) | undefined)[];
  open: number;
}

interface Pending {
  readonly result: Deferred<ExecuteResult>;
  readonly encodeNs: number;
  readonly postedAtNs: bigint;
  /** The batch's requests, for the BLS calls it makes (their parent's signal, trace and call chain). */
  readonly requests: readonly BatchRequest[] | undefined;
  /** BLS calls of the batch not answered yet: while any is, the batch waits on the server, not on its code. */
  blsOutstanding: number;
  /** When the batch's code last started running (posted, or its last BLS call answered): the watchdog's clock. */
  runningSinceNs: bigint;
  /** The worker it was posted to: its `inflight` count includes this batch until it settles. */
  readonly host: HostWorker | undefined;
}

const DEFAULT_RESTART_WAIT_MS = 30_000;

function instanceLogger(opts: WorkerInstanceOptions): Logger {
  const have = opts.logger.bindings();
  const extra: Record<string, unknown> = { instance: opts.name };
  if (have['model'] === undefined) extra['model'] = opts.modelName;
  if (have['version'] === undefined) extra['version'] = opts.version;
  return opts.logger.child(extra);
}

function nonNegative(ns: bigint): number {
  return ns > 0n ? Number(ns) : 0;
}

export class WorkerInstanceProxy implements ModelInstance {
  readonly name: string;
  readonly #label: string;
  readonly #logger: Logger;
  readonly #restartWaitMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #live = new Map<number, LiveBatch>();
  readonly #boundaries: boolean;
  readonly #cancellable: boolean;
  readonly #decoupled: boolean;
  #session!: PoolSession;
  #bls!: BlsHost;
  #nextId = 1;
  #finalizing: Promise<void> | undefined;

  private constructor(opts: WorkerInstanceOptions, logger: Logger) {
    this.name = opts.name;
    this.#label = `instance ${opts.name} of model '${opts.modelName}' version ${opts.version}`;
    this.#logger = logger;
    this.#restartWaitMs = opts.restartWaitMs ?? DEFAULT_RESTART_WAIT_MS;
    this.#boundaries = opts.requestBoundaries === true;
    this.#cancellable = opts.cancellable === true;
    this.#decoupled = opts.decoupled === true;
  }

  /** Loads the session on a pool worker and resolves once its runner loaded; rejects with the load error. */
  static async create(opts: WorkerInstanceOptions): Promise<WorkerInstanceProxy> {
    const proxy = new WorkerInstanceProxy(opts, instanceLogger(opts));
    proxy.#bls = new BlsHost({
      modelName: opts.modelName, infer: opts.infer,
      batchRequests: (id) => proxy.#pending.get(id)?.requests,
      onCall: (id, started) => proxy.#onBlsCall(id, started),
    });
    const pool = opts.pool ?? defaultWorkerPool();
    proxy.#session = await pool.open({
      label: proxy.#label, group: `${opts.modelName}\u0000${opts.version}`,
      runnerModule: opts.runnerModule, init: opts.init, logger: proxy.#logger,
      dedicated: opts.dedicated === true, nativeCalls: opts.nativeCalls === true, modelBytes: opts.modelBytes ?? 0, threads: opts.threads ?? 0,
      onMessage: (msg: SessionMessage, port: SessionChannel) => proxy.#onMessage(msg, port),
      onLost: (reason: string) => {
        proxy.#bls.cancelAll();
        proxy.#failAll(`${proxy.#label} stopped unexpectedly: ${reason}`);
      },
      oldestInflightNs: () => proxy.#oldestRunningNs(),
      ...(opts.restart === undefined ? {} : { restart: opts.restart }),
      ...(opts.loadTimeoutMs === undefined ? {} : { loadTimeoutMs: opts.loadTimeoutMs }),
      ...(opts.disposeTimeoutMs === undefined ? {} : { disposeTimeoutMs: opts.disposeTimeoutMs }),
    });
    return proxy;
  }

  /** The session's state: 'ready', 'restarting', 'failed' (gave up restarting) or 'stopped'. */
  get state(): SessionState {
    return this.#session.state;
  }

  /** ModelInstance.memoryBytes: RSS growth measured while the session loaded. */
  get memoryBytes(): number {
    return this.#session.memoryBytes;
  }

  /** The thread the session runs on now; undefined while restarting. */
  get threadId(): number | undefined {
    return this.#session.host?.threadId;
  }

  /** Requests posted to the worker and not settled yet. */
  get inflightCount(): number {
    return this.#pending.size;
  }

  /**
   * ModelInstance.contention: how much else wants this instance's thread now. Batches in flight
   * on the thread (any session's) dominate, then the number of sessions it hosts: sessions on one
   * worker take turns on its thread, and a long synchronous run (ONNX Runtime's) holds the others.
   */
  contention(): number {
    const host = this.#session.host;
    return host === undefined ? Infinity : host.inflight * 1_000_000 + host.sessions;
  }

  /**
   * Posts the batch to the worker through the session's channel (session-channel.ts): its
   * tensors' bytes are written into the shared ring, or, by the port, their buffers transferred
   * (detached) when a tensor's view covers its whole buffer and copied once otherwise. `signal`
   * is only checked before posting; a started batch is cancelled per request, and only when the
   * instance is `cancellable`.
   */
  async execute(batch: ExecuteBatch, signal?: AbortSignal): Promise<ExecuteResult> {
    if (this.#finalizing !== undefined) {
      throw new InferenceError(ErrorCode.UNAVAILABLE, `${this.#label} has been finalized`);
    }
    // Counted on its worker at once (not after the awaits below), so an instance picked in the
    // same tick already sees this batch's thread as busy (contention()).
    const host = this.#session.host;
    if (host !== undefined) host.inflight++;
    let port: SessionChannel;
    try {
      port = await this.#session.acquire(this.#restartWaitMs);
      if (signal?.aborted === true) {
        throw new InferenceError(ErrorCode.CANCELLED, `batch for ${this.#label} was cancelled before it started`);
      }
    } catch (err) {
      if (host !== undefined) host.inflight--;
      throw err;
    }
    const encodeStart = nowNs();
    const inputs = batch.inputs.map(wireView);
    const id = this.#nextId++;
    const pending: Pending = {
      result: deferred(), encodeNs: nowNs() - encodeStart, postedAtNs: process.hrtime.bigint(), requests: batch.requests,
      blsOutstanding: 0, runningSinceNs: 0n, host,
    };
    pending.runningSinceNs = pending.postedAtNs;
    this.#pending.set(id, pending);
    try {
      const msg: ExecuteMessage = {
        type: 'execute', id, batchSize: batch.batchSize, inputs, outputNames: [...batch.outputNames],
        postedAtNs: pending.postedAtNs,
      };
      if (this.#boundaries && batch.requests !== undefined) msg.requests = batch.requests.map(toWireRequest);
      if (this.#cancellable) msg.cancellable = true;
      if (this.#decoupled) msg.decoupled = true;
      port.postMessage(msg);
      if ((this.#cancellable || this.#decoupled) && batch.requests !== undefined) this.#watch(id, batch.requests, port);
    } catch (err) {
      this.#settled(id);
      this.#drop(id);
      throw new InferenceError(ErrorCode.INTERNAL, `${this.#label}: cannot send the batch to its worker: ${InferenceError.from(err).message}`);
    }
    return pending.result.promise;
  }

  /** Disposes the runner (bounded wait) and leaves its worker; no restart afterwards. */
  finalize(): Promise<void> {
    this.#finalizing ??= this.#finalize();
    return this.#finalizing;
  }

  async #finalize(): Promise<void> {
    await this.#session.close();
    this.#bls.cancelAll();
    this.#failAll(`${this.#label} was finalized before the batch finished`);
  }

  /**
   * For the watchdog: when the oldest batch whose code is running (no BLS call outstanding)
   * started running. A batch waiting on its BLS calls waits on the server's queues, not on a
   * hung thread, so that time does not count; its clock restarts when the last call answers.
   */
  #oldestRunningNs(): bigint | undefined {
    let oldest: bigint | undefined;
    for (const p of this.#pending.values()) {
      if (p.blsOutstanding === 0 && (oldest === undefined || p.runningSinceNs < oldest)) oldest = p.runningSinceNs;
    }
    return oldest;
  }

  #onBlsCall(id: number, started: boolean): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    p.blsOutstanding += started ? 1 : -1;
    if (!started && p.blsOutstanding === 0) p.runningSinceNs = process.hrtime.bigint();
  }

  /** Tracks batch `id`'s requests in #live; an abort of one posts its cancel (best effort: the port may be gone). */
  #watch(id: number, requests: readonly BatchRequest[], port: SessionChannel): void {
    const live: LiveBatch = { requests, closers: [], open: requests.length };
    this.#live.set(id, live);
    requests.forEach((r, i) => {
      const signal = this.#cancellable ? r.signal : undefined;
      if (signal === undefined) {
        live.closers[i] = () => {};
        return;
      }
      const onAbort = (): void => {
        const reason = signal.reason instanceof InferenceError ? signal.reason
          : new InferenceError(ErrorCode.CANCELLED, `request to ${this.#label} was cancelled`);
        try {
          const cancel: CancelMessage = { type: 'cancel', id, requestIndex: i, reason: reason.serialize() };
          port.postMessage(cancel);
        } catch {
          // The session's port closed: its worker is gone and the batch with it.
        }
      };
      live.closers[i] = () => signal.removeEventListener('abort', onAbort);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Closes request i of live batch `id` (its final arrived); the batch leaves #live with its last request. */
  #close(id: number, live: LiveBatch, i: number): void {
    const closer = live.closers[i];
    if (closer === undefined) return;
    closer();
    live.closers[i] = undefined;
    if (--live.open === 0) this.#live.delete(id);
  }

  /** Batch `id` can no longer be cancelled or answered; returns its requests that were still open. */
  #drop(id: number): BatchRequest[] {
    const live = this.#live.get(id);
    if (live === undefined) return [];
    this.#live.delete(id);
    const open: BatchRequest[] = [];
    live.closers.forEach((closer, i) => {
      if (closer === undefined) return;
      closer();
      open.push(live.requests[i]!);
    });
    return open;
  }

  #onResponse(msg: ResponseMessage): void {
    const live = this.#live.get(msg.id);
    const request = live?.requests[msg.requestIndex];
    if (live === undefined || request === undefined || live.closers[msg.requestIndex] === undefined) return;
    const final = msg.final || msg.error !== undefined;
    if (final) this.#close(msg.id, live, msg.requestIndex);
    const sink = request.responses;
    if (sink === undefined) return;
    if (msg.error !== undefined) sink.fail(InferenceError.deserialize(msg.error));
    else sink.send(msg.outputs?.map(fromWireTensor), final);
  }

  #onMessage(msg: SessionMessage, port: SessionChannel): void {
    if (msg.type === 'bls-call') return this.#bls.call(msg, port);
    if (msg.type === 'bls-cancel') return this.#bls.cancel(msg.callId);
    if (msg.type === 'response') {
      this.#onResponse(msg);
      return;
    }
    if (msg.type === 'error' || !this.#decoupled) this.#drop(msg.id);
    const pending = this.#pending.get(msg.id);
    if (pending === undefined) {
      this.#logger.warn({ id: msg.id }, 'worker answered an unknown request id');
      return;
    }
    this.#settled(msg.id);
    if (msg.type === 'error') {
      pending.result.reject(InferenceError.deserialize(msg.error));
      return;
    }
    pending.result.resolve(this.#toResult(msg, pending));
  }

  /**
   * The worker measured its own compute_input/infer/output; the message transit times are added
   * to input (main → worker) and output (worker → main), with the main thread's encode/decode.
   * process.hrtime is one monotonic clock for all threads of the process, so the stamps compare.
   */
  #toResult(msg: ResultMessage, pending: Pending): ExecuteResult {
    const arrivedAtNs = process.hrtime.bigint();
    const decodeStart = nowNs();
    const outputs = msg.outputs.map((w: WireTensor) => fromWireTensor(w));
    const perRequest = msg.perRequest?.map((r) => ('error' in r ? InferenceError.deserialize(r.error) : r.outputs.map(fromWireTensor)));
    const decodeNs = nowNs() - decodeStart;
    const timings: ExecuteTimings = {
      computeInputNs: pending.encodeNs + nonNegative(msg.receivedAtNs - pending.postedAtNs) + msg.timings.computeInputNs,
      computeInferNs: msg.timings.computeInferNs,
      computeOutputNs: msg.timings.computeOutputNs + nonNegative(arrivedAtNs - msg.postedAtNs) + decodeNs,
    };
    return perRequest === undefined ? { outputs, timings } : { outputs, perRequest, timings };
  }

  #failAll(message: string): void {
    for (const id of [...this.#live.keys()]) {
      for (const r of this.#drop(id)) r.responses?.fail(new InferenceError(ErrorCode.UNAVAILABLE, message));
    }
    if (this.#pending.size === 0) return;
    const all = [...this.#pending.values()];
    for (const id of [...this.#pending.keys()]) this.#settled(id);
    for (const p of all) p.result.reject(new InferenceError(ErrorCode.UNAVAILABLE, message));
  }

  /** Forgets batch `id` and takes it off its worker's in-flight count. */
  #settled(id: number): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    if (p.host !== undefined) p.host.inflight--;
  }
}

function toWireRequest(r: BatchRequest): WireRequest {
  return { rows: r.rows, outputNames: [...r.outputNames], parameters: r.parameters };
}
