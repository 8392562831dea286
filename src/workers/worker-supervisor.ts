/**
 * Starting, stopping and restarting the worker thread behind one model instance.
 *
 * - spawnWorker() starts a worker on worker-entry.ts and resolves once its runner loaded
 *   (load-done), or rejects with the runner's load error, a timeout or the worker's death; a
 *   worker that failed to load has exited by the time the promise rejects.
 * - WorkerSupervisor keeps one loaded worker alive. When it dies, onWorkerLost runs (so the owner
 *   fails what was in flight), then a new worker is spawned after a backoff delay that doubles
 *   from initialDelayMs up to maxDelayMs. After maxConsecutiveFailures failed spawns in a row it
 *   gives up ('failed'); acquire() then rejects with UNAVAILABLE. The backoff starts again from
 *   initialDelayMs once a worker has stayed up for stableAfterMs.
 *
 * Worker log records are forwarded to the given pino logger whatever the state.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';
import { deferred, type Deferred } from '../util/deferred.js';
import {
  isFromWorkerMessage,
  type ErrorMessage, type FromWorkerMessage, type LogMessage, type ResultMessage, type ToWorkerMessage,
  type WorkerData,
} from './worker-messages.js';

const ENTRY_URL = new URL('./worker-entry.js', import.meta.url);

let liveWorkers = 0;

/** Worker threads started by this module that have not exited yet (for leak checks and metrics). */
export function liveWorkerCount(): number {
  return liveWorkers;
}

export interface SpawnOptions {
  runnerModule: string;
  init: unknown;
  logger: Logger;
  /** Bound on the runner's load; default 300 000 ms. */
  loadTimeoutMs?: number;
  /** Aborting stops a load in progress (the worker is terminated, the spawn rejects). */
  signal?: AbortSignal;
  /** result / error messages of a loaded worker. */
  onMessage?(msg: ResultMessage | ErrorMessage): void;
  /** Called once if a loaded worker dies (error or exit) before stop() was called on it. */
  onLost?(handle: WorkerHandle, reason: string): void;
}

const DEFAULT_LOAD_TIMEOUT_MS = 300_000;

function forwardLog(logger: Logger, msg: LogMessage): void {
  logger[msg.level](msg.fields ?? {}, msg.msg);
}

/** A loaded worker. post() may throw (DataCloneError); stop() is idempotent. */
export class WorkerHandle {
  readonly #worker: Worker;
  readonly info: unknown;
  #exited = false;
  #stopping: Promise<void> | undefined;
  readonly #gone = deferred<void>();

  /** @internal spawnWorker() creates handles. */
  constructor(worker: Worker, info: unknown) {
    this.#worker = worker;
    this.info = info;
  }

  get threadId(): number {
    return this.#worker.threadId;
  }

  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  post(msg: ToWorkerMessage, transfer: ArrayBuffer[] = []): void {
    this.#worker.postMessage(msg, transfer);
  }

  /** @internal the worker exited or sent dispose-done. */
  markGone(exited: boolean): void {
    if (exited) this.#exited = true;
    this.#gone.resolve();
  }

  /** Asks the runner to dispose, waits up to `disposeTimeoutMs` for it, then terminates the thread. */
  stop(disposeTimeoutMs: number, logger: Logger): Promise<void> {
    this.#stopping ??= this.#stop(disposeTimeoutMs, logger);
    return this.#stopping;
  }

  async #stop(disposeTimeoutMs: number, logger: Logger): Promise<void> {
    if (!this.#exited) {
      const ac = new AbortController();
      const timedOut = sleep(disposeTimeoutMs, true, { signal: ac.signal }).catch(() => false);
      try {
        this.post({ type: 'dispose', id: 0 });
      } catch {
        // The worker is already gone; terminate() below settles it.
      }
      const late = await Promise.race([this.#gone.promise.then(() => false), timedOut]);
      ac.abort();
      if (late) logger.warn({ disposeTimeoutMs }, 'worker did not dispose in time; terminating');
    }
    await this.#worker.terminate();
  }
}

function track(worker: Worker): void {
  liveWorkers += 1;
  worker.once('exit', () => {
    liveWorkers -= 1;
  });
}

/**
 * The listeners of one spawned worker, from load to exit. Until load-done the outcome is the
 * spawn promise (the first failure wins: a load-error is followed by the 'exit' that terminate()
 * causes); afterwards it is onMessage / onLost.
 */
class WorkerLoad {
  readonly #worker: Worker;
  readonly #opts: SpawnOptions;
  readonly #resolve: (h: WorkerHandle) => void;
  readonly #reject: (e: InferenceError) => void;
  #timer: NodeJS.Timeout | undefined;
  readonly #onAbort = (): void => this.#fail(new InferenceError(ErrorCode.UNAVAILABLE, 'worker load aborted'));
  #handle: WorkerHandle | undefined;
  #failed = false;
  #lost = false;

  constructor(worker: Worker, opts: SpawnOptions, resolve: (h: WorkerHandle) => void, reject: (e: InferenceError) => void) {
    this.#worker = worker;
    this.#opts = opts;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  start(): void {
    const opts = this.#opts;
    const worker = this.#worker;
    const timeoutMs = opts.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
    this.#timer = setTimeout(() => this.#fail(new InferenceError(ErrorCode.UNAVAILABLE,
      `worker did not finish loading within ${timeoutMs} ms`)), timeoutMs);
    worker.on('message', (raw: unknown) => this.#onMessage(raw));
    // Always listening for 'error': an unhandled 'error' event would crash the main thread.
    worker.on('error', (err: Error) => this.#onError(err));
    worker.once('exit', (code: number) => this.#onExit(code));
    if (opts.signal?.aborted === true) this.#onAbort();
    else opts.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  #cleanup(): void {
    clearTimeout(this.#timer);
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
  }

  #fail(err: InferenceError): void {
    if (this.#handle !== undefined || this.#failed) return;
    this.#failed = true;
    this.#cleanup();
    void this.#worker.terminate().finally(() => this.#reject(err));
  }

  #lose(reason: string): void {
    const handle = this.#handle;
    if (handle === undefined || this.#lost) return;
    this.#lost = true;
    if (!handle.stopping) this.#opts.onLost?.(handle, reason);
  }

  #onMessage(raw: unknown): void {
    if (!isFromWorkerMessage(raw)) {
      this.#opts.logger.warn('ignoring malformed message from worker');
      return;
    }
    if (raw.type === 'log') return forwardLog(this.#opts.logger, raw);
    if (this.#handle === undefined) return this.#onLoadMessage(raw);
    if (raw.type === 'dispose-done') return this.#handle.markGone(false);
    if (raw.type === 'result' || raw.type === 'error') this.#opts.onMessage?.(raw);
  }

  #onLoadMessage(msg: FromWorkerMessage): void {
    if (msg.type === 'load-error') return this.#fail(InferenceError.deserialize(msg.error));
    if (msg.type !== 'load-done' || this.#failed) return;
    this.#cleanup();
    this.#handle = new WorkerHandle(this.#worker, msg.info);
    this.#resolve(this.#handle);
  }

  #onError(err: Error): void {
    this.#fail(new InferenceError(ErrorCode.INTERNAL, `worker failed while loading: ${err.message}`));
    this.#lose(`uncaught exception in worker: ${err.message}`);
    void this.#worker.terminate();
  }

  #onExit(code: number): void {
    this.#fail(new InferenceError(ErrorCode.INTERNAL, `worker exited with code ${code} while loading`));
    this.#handle?.markGone(true);
    this.#lose(`worker exited with code ${code}`);
  }
}

/** Starts a worker running `runnerModule` and resolves once the runner loaded. */
export function spawnWorker(opts: SpawnOptions): Promise<WorkerHandle> {
  const workerData: WorkerData = { runnerModule: opts.runnerModule, init: opts.init };
  const worker = new Worker(ENTRY_URL, { workerData });
  track(worker);
  return new Promise<WorkerHandle>((resolve, reject) => {
    new WorkerLoad(worker, opts, resolve, reject).start();
  });
}

export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  maxConsecutiveFailures: number;
  stableAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = Object.freeze({
  initialDelayMs: 100, maxDelayMs: 5_000, maxConsecutiveFailures: 5, stableAfterMs: 10_000,
});

export interface WorkerSupervisorOptions {
  runnerModule: string;
  init: unknown;
  /** Names the instance in messages, e.g. "instance m_0 of model 'm' version 1". */
  label: string;
  logger: Logger;
  restart?: Partial<RestartPolicy>;
  loadTimeoutMs?: number;
  /** How long stop() waits for the runner's dispose before terminating; default 5 000 ms. */
  disposeTimeoutMs?: number;
  onMessage(msg: ResultMessage | ErrorMessage): void;
  /** The worker died; everything posted to it is lost. A restart is already scheduled. */
  onWorkerLost(reason: string): void;
}

export type SupervisorState = 'ready' | 'restarting' | 'failed' | 'stopped';

/**
 * Owns the worker of one instance. State machine:
 *   ready ──worker died──▶ restarting ──spawned──▶ ready
 *                          restarting ──N failed spawns──▶ failed
 *   any ──stop()──▶ stopped (final)
 */
export class WorkerSupervisor {
  readonly #opts: WorkerSupervisorOptions;
  readonly #policy: RestartPolicy;
  readonly #abort = new AbortController();
  #state: SupervisorState = 'ready';
  #handle: WorkerHandle | undefined;
  #readySinceMs = Date.now();
  #delayMs: number;
  #failures = 0;
  #lastError = '';
  #gate: Deferred<WorkerHandle> = WorkerSupervisor.#newGate();
  #restartLoop: Promise<void> = Promise.resolve();
  #stopping: Promise<void> | undefined;

  private constructor(opts: WorkerSupervisorOptions) {
    this.#opts = opts;
    this.#policy = { ...DEFAULT_RESTART_POLICY, ...opts.restart };
    this.#delayMs = this.#policy.initialDelayMs;
  }

  /** Spawns the first worker; rejects with its load error (there is no restart for a first load). */
  static async start(opts: WorkerSupervisorOptions): Promise<WorkerSupervisor> {
    const sup = new WorkerSupervisor(opts);
    sup.#handle = await spawnWorker(sup.#spawnOptions());
    sup.#readySinceMs = Date.now();
    return sup;
  }

  get state(): SupervisorState {
    return this.#state;
  }

  /** Number of worker restarts that failed in a row (0 once a restart succeeds). */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** The live worker; while restarting, waits up to `waitMs` for the new one. Rejects UNAVAILABLE. */
  async acquire(waitMs: number): Promise<WorkerHandle> {
    if (this.#state === 'ready' && this.#handle !== undefined) return this.#handle;
    if (this.#state !== 'restarting') throw this.#unavailable();
    const ac = new AbortController();
    const timeout = sleep(waitMs, undefined, { signal: ac.signal }).then(() => {
      throw new InferenceError(ErrorCode.UNAVAILABLE, `${this.#opts.label} is restarting and was not ready within ${waitMs} ms`);
    }, () => undefined as never);
    try {
      return await Promise.race([this.#gate.promise, timeout]);
    } finally {
      ac.abort();
    }
  }

  /** Disposes and terminates the worker; no restart happens afterwards. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = 'stopped';
    this.#abort.abort();
    this.#gate.reject(this.#unavailable());
    await this.#restartLoop;
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.stop(this.#opts.disposeTimeoutMs ?? 5_000, this.#opts.logger);
  }

  #unavailable(): InferenceError {
    if (this.#state === 'stopped') {
      return new InferenceError(ErrorCode.UNAVAILABLE, `${this.#opts.label} has been finalized`);
    }
    return new InferenceError(ErrorCode.UNAVAILABLE,
      `${this.#opts.label} is unavailable: its worker failed to restart ${this.#failures} times in a row: ${this.#lastError}`);
  }

  static #newGate(): Deferred<WorkerHandle> {
    const gate = deferred<WorkerHandle>();
    gate.promise.catch(() => undefined); // rejected gates with no waiter are not unhandled
    return gate;
  }

  #spawnOptions(): SpawnOptions {
    const o = this.#opts;
    const spawn: SpawnOptions = {
      runnerModule: o.runnerModule, init: o.init, logger: o.logger, signal: this.#abort.signal,
      onMessage: (msg) => o.onMessage(msg),
      onLost: (handle, reason) => this.#onLost(handle, reason),
    };
    if (o.loadTimeoutMs !== undefined) spawn.loadTimeoutMs = o.loadTimeoutMs;
    return spawn;
  }

  #onLost(handle: WorkerHandle, reason: string): void {
    if (handle !== this.#handle || this.#state !== 'ready') return;
    this.#handle = undefined;
    this.#state = 'restarting';
    this.#gate = WorkerSupervisor.#newGate();
    if (Date.now() - this.#readySinceMs >= this.#policy.stableAfterMs) this.#delayMs = this.#policy.initialDelayMs;
    this.#opts.logger.error({ reason, restartInMs: this.#delayMs }, 'instance worker stopped unexpectedly');
    this.#opts.onWorkerLost(reason);
    this.#restartLoop = this.#restart();
  }

  async #restart(): Promise<void> {
    while (this.#state === 'restarting') {
      const slept = await sleep(this.#delayMs, true, { signal: this.#abort.signal }).catch(() => false);
      if (!slept || this.#state !== 'restarting') return;
      this.#delayMs = Math.min(this.#delayMs * 2, this.#policy.maxDelayMs);
      try {
        const handle = await spawnWorker(this.#spawnOptions());
        // stop() may have run while the new worker was loading; it awaits this loop, so the
        // worker must be stopped here or it would outlive the supervisor.
        if (this.#state === 'restarting') this.#onRestarted(handle);
        else await handle.stop(this.#opts.disposeTimeoutMs ?? 5_000, this.#opts.logger);
        return;
      } catch (err) {
        if (this.#state !== 'restarting') return;
        this.#onRestartFailed(InferenceError.from(err));
      }
    }
  }

  #onRestarted(handle: WorkerHandle): void {
    this.#handle = handle;
    this.#state = 'ready';
    this.#failures = 0;
    this.#readySinceMs = Date.now();
    this.#opts.logger.info({ threadId: handle.threadId }, 'instance worker restarted');
    this.#gate.resolve(handle);
  }

  #onRestartFailed(err: InferenceError): void {
    this.#failures += 1;
    this.#lastError = err.message;
    this.#opts.logger.warn({ err: err.message, failures: this.#failures }, 'instance worker restart failed');
    if (this.#failures < this.#policy.maxConsecutiveFailures) return;
    this.#state = 'failed';
    this.#opts.logger.error({ failures: this.#failures }, 'giving up restarting instance worker');
    this.#gate.reject(this.#unavailable());
  }
}
