/**
 * One session (a loaded runner) on a host worker of the pool, and its restart state machine:
 *
 *   loading ──load-done──▶ ready ──host died──▶ restarting ──reloaded──▶ ready
 *                                               restarting ──N failed loads in a row──▶ failed
 *   any ──close()──▶ stopped (final)
 *
 * - The first load rejects with its error (there is no restart for a first load).
 * - When the host worker dies (crash, out of memory, watchdog), onLost runs first (the owner
 *   fails what was in flight), then the session is reloaded on a worker the pool picks, after a
 *   back-off: the first restart after a stable period waits `initialDelayMs` (default 0: at
 *   once), each further one in a row doubles the wait (at least 100 ms) up to `maxDelayMs`, so a
 *   crash loop costs at most one load every maxDelayMs. The back-off starts again once the
 *   session has stayed up for `stableAfterMs`. After `maxConsecutiveFailures` failed reloads in a
 *   row the session gives up ('failed'); acquire() then rejects with UNAVAILABLE.
 * - Quarantine: a session whose worker died twice in a row while it had a batch in flight is
 *   reloaded on a dedicated worker of its own, so a model that crashes its host cannot keep
 *   taking the other sessions down with it.
 *
 * Worker log records of the session are forwarded to its logger whatever the state.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';
import { deferred, type Deferred } from '../util/deferred.js';
import { forwardLog, type HostWorker } from './host-worker.js';
import type { SessionChannel } from './session-channel.js';
import { isFromWorkerMessage, type SessionMessage } from './worker-messages.js';

export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  maxConsecutiveFailures: number;
  stableAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = Object.freeze({
  initialDelayMs: 0, maxDelayMs: 5_000, maxConsecutiveFailures: 5, stableAfterMs: 10_000,
});

/** The smallest back-off step once restarts come in a row. */
const MIN_BACKOFF_STEP_MS = 100;
const DEFAULT_LOAD_TIMEOUT_MS = 300_000;
const DEFAULT_DISPOSE_TIMEOUT_MS = 5_000;
/** Deaths in a row with a batch in flight that move a session to a dedicated worker. */
const QUARANTINE_STRIKES = 2;

export interface SessionSpec {
  /** Names the session in messages, e.g. "instance m_0 of model 'm' version 1". */
  label: string;
  /** Sessions of one group (a model version's instances) are spread over different workers. */
  group: string;
  /** file: URL of an ES module exporting `createRunner` (see worker-messages.ts, CreateRunner). */
  runnerModule: string;
  /** The runner's createRunner argument; structured-cloneable. */
  init: unknown;
  logger: Logger;
  /** Run on a worker of its own (heavy GPU sessions, runners that keep per-thread state). */
  dedicated?: boolean;
  /**
   * The runner makes synchronous native calls (onnxruntime-node, tfjs-node): its worker is only
   * ever ended between calls (host-worker.ts).
   */
  nativeCalls?: boolean;
  /** Size of the model on disk, for the memory guard (0 when unknown). */
  modelBytes?: number;
  /** Native threads the runner starts for the session, for the mapping guard. */
  threads?: number;
  restart?: Partial<RestartPolicy>;
  loadTimeoutMs?: number;
  disposeTimeoutMs?: number;
  /** Results, decoupled responses, errors and BLS calls of the runner; `port` is the session's channel they came on (to answer a BLS call). */
  onMessage?(msg: SessionMessage, port: SessionChannel): void;
  /** The host died; everything posted to the session is lost. A reload is already scheduled. */
  onLost?(reason: string): void;
  /** When the oldest batch in flight was posted (process.hrtime.bigint()), for the watchdog. */
  oldestInflightNs?(): bigint | undefined;
}

export type SessionState = 'loading' | 'ready' | 'restarting' | 'failed' | 'stopped';

/** What the session needs from the pool (worker-pool.ts implements it). */
export interface SessionHost {
  /** Picks (or starts) a worker for `session` and records it there; throws RESOURCE_EXHAUSTED. */
  place(session: PoolSession, dedicated: boolean): HostWorker;
  /** Forgets `session` on `host`, which stops once it hosts nothing (resolves when it has). */
  release(session: PoolSession, host: HostWorker): Promise<void>;
}

interface LoadWait {
  readonly host: HostWorker;
  readonly done: Deferred<{ info: unknown; memoryBytes: number }>;
}

export class PoolSession {
  readonly label: string;
  readonly group: string;
  readonly #spec: SessionSpec;
  readonly #pool: SessionHost;
  readonly #policy: RestartPolicy;
  readonly #abort = new AbortController();
  #state: SessionState = 'loading';
  #host: HostWorker | undefined;
  #port: SessionChannel | undefined;
  #load: LoadWait | undefined;
  #disposed: Deferred<void> | undefined;
  #info: unknown;
  #memoryBytes = 0;
  #readySinceMs = 0;
  #delayMs: number;
  #failures = 0;
  #strikes = 0;
  #quarantined = false;
  #lastError = '';
  #gate: Deferred<SessionChannel> = PoolSession.#newGate();
  #restartLoop: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;

  /** @internal WorkerPool.open() creates sessions. */
  constructor(pool: SessionHost, spec: SessionSpec) {
    this.#pool = pool;
    this.#spec = spec;
    this.label = spec.label;
    this.group = spec.group;
    this.#policy = { ...DEFAULT_RESTART_POLICY, ...spec.restart };
    this.#delayMs = this.#policy.initialDelayMs;
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The runner's `info` from its latest load. */
  get info(): unknown {
    return this.#info;
  }

  /** RSS growth measured while the runner loaded (latest load), bytes. */
  get memoryBytes(): number {
    return this.#memoryBytes;
  }

  /** The worker hosting the session now; undefined while restarting. */
  get host(): HostWorker | undefined {
    return this.#host;
  }

  get dedicated(): boolean {
    return this.#spec.dedicated === true || this.#quarantined;
  }

  get modelBytes(): number {
    return this.#spec.modelBytes ?? 0;
  }

  get threads(): number {
    return this.#spec.threads ?? 0;
  }

  /** Number of reloads that failed in a row (0 once one succeeds). */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** A load of this session is in progress on its host. */
  get loading(): boolean {
    return this.#load !== undefined;
  }

  /** Milliseconds the oldest batch in flight has been waiting, or undefined when none (watchdog). */
  inflightAgeMs(nowNs: bigint): number | undefined {
    const since = this.#state === 'ready' ? this.#spec.oldestInflightNs?.() : undefined;
    return since === undefined ? undefined : Number(nowNs - since) / 1e6;
  }

  /** @internal The first load; rejects with its error. */
  async start(): Promise<void> {
    await this.#loadOnce();
    this.#state = 'ready';
    this.#readySinceMs = Date.now();
  }

  /** The session's port; while restarting, waits up to `waitMs` for the reload. Rejects UNAVAILABLE. */
  async acquire(waitMs: number): Promise<SessionChannel> {
    if (this.#state === 'ready' && this.#port !== undefined) return this.#port;
    if (this.#state !== 'restarting') throw this.#unavailable();
    const ac = new AbortController();
    const timeout = sleep(waitMs, undefined, { signal: ac.signal }).then(() => {
      throw new InferenceError(ErrorCode.UNAVAILABLE, `${this.label} is restarting and was not ready within ${waitMs} ms`);
    }, () => undefined as never);
    try {
      return await Promise.race([this.#gate.promise, timeout]);
    } finally {
      ac.abort();
    }
  }

  /** Disposes the runner (bounded wait) and leaves its worker; no reload afterwards. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** @internal The pool: `host` died with `reason`. */
  lost(host: HostWorker, reason: string): void {
    if (host !== this.#host) return;
    const hadInflight = this.#spec.oldestInflightNs?.() !== undefined;
    void this.#detach();
    this.#disposed?.resolve(); // a close() waiting for dispose-done has nothing left to wait for
    if (this.#load?.host === host) {
      this.#load.done.reject(new InferenceError(ErrorCode.INTERNAL, `the worker died while loading ${this.label}: ${reason}`));
      return;
    }
    if (this.#state !== 'ready') return;
    this.#state = 'restarting';
    this.#gate = PoolSession.#newGate();
    if (Date.now() - this.#readySinceMs >= this.#policy.stableAfterMs) {
      this.#delayMs = this.#policy.initialDelayMs;
      this.#strikes = 0;
    }
    if (hadInflight && ++this.#strikes >= QUARANTINE_STRIKES && !this.dedicated) {
      this.#quarantined = true;
      this.#spec.logger.warn({ strikes: this.#strikes }, `${this.label} moves to a dedicated worker: its worker died ${this.#strikes} times in a row while running it`);
    }
    this.#spec.logger.error({ reason, restartInMs: this.#delayMs, threadId: host.threadId }, 'instance worker stopped unexpectedly');
    this.#spec.onLost?.(reason);
    this.#restartLoop = this.#restart();
  }

  async #loadOnce(): Promise<void> {
    const host = this.#pool.place(this, this.dedicated);
    const port = host.open(this.#spec.runnerModule, this.#spec.init, this.#spec.nativeCalls === true);
    const wait: LoadWait = { host, done: deferred() };
    this.#host = host;
    this.#port = port;
    this.#load = wait;
    port.onMessage((raw: unknown) => this.#onMessage(port, raw));
    const timeoutMs = this.#spec.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
    const timer = setTimeout(() => {
      wait.done.reject(new InferenceError(ErrorCode.UNAVAILABLE, `worker did not finish loading within ${timeoutMs} ms`));
      // A load stuck in synchronous code blocks every session of the worker: end it.
      host.kill(`loading ${this.label} did not finish within ${timeoutMs} ms`);
    }, timeoutMs);
    const onAbort = (): void => wait.done.reject(new InferenceError(ErrorCode.UNAVAILABLE, `${this.label}: load aborted`));
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      ({ info: this.#info, memoryBytes: this.#memoryBytes } = await wait.done.promise);
    } catch (err) {
      if (this.#host === host) await this.#detach();
      throw err;
    } finally {
      clearTimeout(timer);
      this.#abort.signal.removeEventListener('abort', onAbort);
      this.#load = undefined;
    }
  }

  #onMessage(port: SessionChannel, raw: unknown): void {
    if (!isFromWorkerMessage(raw)) {
      this.#spec.logger.warn('ignoring malformed message from worker');
      return;
    }
    if (raw.type === 'log') return forwardLog(this.#spec.logger, raw);
    if (port !== this.#port) return;
    switch (raw.type) {
      case 'load-done': return this.#load?.done.resolve({ info: raw.info, memoryBytes: raw.memoryBytes ?? 0 });
      case 'load-error': return this.#load?.done.reject(InferenceError.deserialize(raw.error));
      case 'dispose-done': return this.#disposed?.resolve();
      default: return this.#spec.onMessage?.(raw, port);
    }
  }

  /** Closes the port and leaves the host (which stops when it hosts nothing else). */
  #detach(): Promise<void> {
    const host = this.#host;
    this.#port?.close();
    this.#port = undefined;
    this.#host = undefined;
    return host === undefined ? Promise.resolve() : this.#pool.release(this, host);
  }

  async #restart(): Promise<void> {
    while (this.#state === 'restarting') {
      const slept = await sleep(this.#delayMs, true, { signal: this.#abort.signal }).catch(() => false);
      if (!slept || this.#state !== 'restarting') return;
      this.#delayMs = Math.min(Math.max(this.#delayMs * 2, MIN_BACKOFF_STEP_MS), this.#policy.maxDelayMs);
      try {
        await this.#loadOnce();
      } catch (err) {
        if (this.#state !== 'restarting') return;
        this.#onRestartFailed(InferenceError.from(err));
        continue;
      }
      if (this.#state !== 'restarting') return; // close() ran meanwhile; it disposes the new load
      this.#state = 'ready';
      this.#failures = 0;
      this.#readySinceMs = Date.now();
      this.#spec.logger.info({ threadId: this.#host?.threadId }, 'instance worker restarted');
      this.#gate.resolve(this.#port!);
      return;
    }
  }

  #onRestartFailed(err: InferenceError): void {
    this.#failures += 1;
    this.#lastError = err.message;
    this.#spec.logger.warn({ err: err.message, failures: this.#failures }, 'instance worker restart failed');
    if (this.#failures < this.#policy.maxConsecutiveFailures) return;
    this.#state = 'failed';
    this.#spec.logger.error({ failures: this.#failures }, 'giving up restarting instance worker');
    this.#gate.reject(this.#unavailable());
  }

  async #close(): Promise<void> {
    this.#state = 'stopped';
    this.#abort.abort();
    this.#gate.reject(this.#unavailable());
    await this.#restartLoop;
    const port = this.#port;
    if (port !== undefined && this.#host?.alive === true) {
      const timeoutMs = this.#spec.disposeTimeoutMs ?? DEFAULT_DISPOSE_TIMEOUT_MS;
      this.#disposed = deferred<void>();
      const ac = new AbortController();
      const late = sleep(timeoutMs, true, { signal: ac.signal }).catch(() => false);
      port.postMessage({ type: 'dispose', id: 0 });
      if (await Promise.race([this.#disposed.promise.then(() => false), late])) {
        this.#spec.logger.warn({ disposeTimeoutMs: timeoutMs }, 'runner did not dispose in time; leaving it');
      }
      ac.abort();
    }
    await this.#detach();
  }

  #unavailable(): InferenceError {
    if (this.#state === 'stopped') return new InferenceError(ErrorCode.UNAVAILABLE, `${this.label} has been finalized`);
    return new InferenceError(ErrorCode.UNAVAILABLE,
      `${this.label} is unavailable: its worker failed to restart ${this.#failures} times in a row: ${this.#lastError}`);
  }

  static #newGate(): Deferred<SessionChannel> {
    const gate = deferred<SessionChannel>();
    gate.promise.catch(() => undefined); // rejected gates with no waiter are not unhandled
    return gate;
  }
}
