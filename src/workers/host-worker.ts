/**
 * One host worker thread (worker-entry.ts) and the sessions it hosts. The pool (worker-pool.ts)
 * decides what runs where; this class only starts the thread with its resource limits, opens
 * session channels on it, and reports its death once.
 *
 * Invariants:
 * - `onDeath` runs at most once, and only for a death the pool did not ask for with stop():
 *   an uncaught exception, process.exit(), running out of heap, or kill() (the watchdog).
 * - The reason names the cause: the exit code, the uncaught error, the heap limit, or the
 *   caller's kill reason.
 * - A thread that has hosted a native session (SessionSpec.nativeCalls: ONNX Runtime, tfjs-node)
 *   is never terminated inside a native call: onnxruntime-node 1.30 aborts the whole process
 *   ("terminate called after throwing an instance of 'Napi::Error'") when its thread is
 *   terminated during session.run, and so does exiting the process while one runs (Node joins
 *   its workers). stop() asks such a worker to finish what it runs first (StopHostMessage) and
 *   terminates it after it answers, or after NATIVE_STOP_GRACE_MS; kill() reports the death at
 *   once (its sessions reload elsewhere) and ends the thread the same way. The pool's stop()
 *   waits for every thread it is ending, so the process exits only when none is inside model code.
 * - With the 'ring' channel the worker gets its pair of shared rings in workerData (ring-link.ts);
 *   the main thread's link closes when the thread ends (not at stop(): a stopping native worker
 *   still sends the results of the calls it finishes), so its receive loop does not outlive it.
 *   The stop handshake itself goes by the worker's parentPort, outside any session channel.
 */
import { MessageChannel, Worker, type ResourceLimits } from 'node:worker_threads';
import type { Logger } from 'pino';
import { RingLink } from './ring-link.js';
import { SessionChannel } from './session-channel.js';
import { isFromWorkerMessage, isHostStoppedMessage, type LogMessage, type OpenSessionMessage, type StopHostMessage } from './worker-messages.js';

const ENTRY_URL = new URL('./worker-entry.js', import.meta.url);

let liveWorkers = 0;

/** How long stop() waits for a worker with native sessions to finish its current call. */
export const NATIVE_STOP_GRACE_MS = 120_000;

/** Worker threads started by this module that have not exited yet (for leak checks and metrics). */
export function liveWorkerCount(): number {
  return liveWorkers;
}

export function forwardLog(logger: Logger, msg: LogMessage): void {
  logger[msg.level](msg.fields ?? {}, msg.msg);
}

export interface HostWorkerOptions {
  /** Hosts only one session, never shared (not counted in the pool's size). */
  dedicated: boolean;
  resourceLimits: ResourceLimits;
  logger: Logger;
  /** Data bytes of each of the worker's two shared rings; 0 = no rings (every message by port). */
  ringBytes: number;
  /** The thread ended without stop(); every session on it is gone. */
  onDeath(host: HostWorker, reason: string): void;
}

let nextHostId = 1;
let nextOpenId = 1;

export class HostWorker {
  readonly id = nextHostId++;
  readonly dedicated: boolean;
  readonly startedAtMs = Date.now();
  /** Batches posted to this worker's sessions and not settled (kept by worker-instance-proxy.ts). */
  inflight = 0;
  /** Sessions placed here (kept by worker-pool.ts). */
  sessions = 0;
  readonly #worker: Worker;
  readonly #link: RingLink | undefined;
  #alive = true;
  #stopping: Promise<void> | undefined;
  #cause: string | undefined;
  /** Some session here makes synchronous native calls: end the thread only between calls. */
  #native = false;
  #quiet: (() => void) | undefined;
  readonly #logger: Logger;
  readonly #onDeath: (host: HostWorker, reason: string) => void;

  constructor(opts: HostWorkerOptions) {
    this.dedicated = opts.dedicated;
    this.#logger = opts.logger;
    this.#onDeath = opts.onDeath;
    const rings = opts.ringBytes > 0 ? RingLink.createPair(opts.ringBytes) : undefined;
    this.#link = rings?.link;
    this.#worker = new Worker(ENTRY_URL, { resourceLimits: opts.resourceLimits, workerData: { rings: rings?.pair } });
    liveWorkers += 1;
    this.#worker.on('message', (raw: unknown) => {
      if (isHostStoppedMessage(raw)) this.#quiet?.();
      else if (isFromWorkerMessage(raw) && raw.type === 'log') forwardLog(opts.logger, raw);
    });
    // Always listening for 'error': an unhandled 'error' event would crash the main thread.
    this.#worker.on('error', (err: Error & { code?: string }) => {
      this.#cause ??= err.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? `worker ran out of memory (heap limit ${opts.resourceLimits.maxOldGenerationSizeMb ?? '?'} MiB): ${err.message}`
        : `uncaught exception in worker: ${err.message}`;
    });
    this.#worker.once('exit', (code: number) => {
      liveWorkers -= 1;
      this.#alive = false;
      this.#link?.close();
      this.#quiet?.();
      if (this.#stopping === undefined) opts.onDeath(this, this.#cause ?? `worker exited with code ${code}`);
    });
  }

  get threadId(): number {
    return this.#worker.threadId;
  }

  get alive(): boolean {
    return this.#alive && this.#stopping === undefined;
  }

  /**
   * Opens a session channel on this worker; the returned channel is the main thread's end.
   * `nativeCalls`: the runner makes synchronous native calls (see the module header).
   */
  open(runnerModule: string, init: unknown, nativeCalls = false): SessionChannel {
    if (nativeCalls) this.#native = true;
    const { port1, port2 } = new MessageChannel();
    const msg: OpenSessionMessage = { type: 'open', id: nextOpenId++, runnerModule, init, port: port2 };
    const channel = new SessionChannel(port1, msg.id, this.#link);
    this.#worker.postMessage(msg, [port2]);
    return channel;
  }

  /** Ends the thread as a failure (the watchdog, a stuck load): onDeath runs with `reason`. */
  kill(reason: string): void {
    if (!this.#alive || this.#stopping !== undefined) return;
    this.#cause = reason;
    if (!this.#native) {
      void this.#worker.terminate();
      return;
    }
    // Not terminated inside a native call: reported dead now, ended once the call returns.
    void this.stop();
    this.#onDeath(this, reason);
  }

  /** Ends the thread on purpose (no sessions left, pool stopping). Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#end();
    return this.#stopping;
  }

  async #end(): Promise<void> {
    if (this.#native && this.#alive) await this.#quiesce();
    await this.#worker.terminate();
  }

  /** Asks the worker to finish what it runs; resolves when it says so, exits, or the grace ends. */
  #quiesce(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#logger.warn({ threadId: this.threadId, graceMs: NATIVE_STOP_GRACE_MS }, 'worker still inside model code after the grace period; terminating it');
        resolve();
      }, NATIVE_STOP_GRACE_MS);
      this.#quiet = () => {
        clearTimeout(timer);
        this.#quiet = undefined;
        resolve();
      };
      const msg: StopHostMessage = { type: 'stop' };
      this.#worker.postMessage(msg);
    });
  }
}
