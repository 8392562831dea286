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
 * - With the 'ring' channel the worker gets its pair of shared rings in workerData (ring-link.ts);
 *   the main thread's link closes when the thread ends, so its receive loop does not outlive it.
 */
import { MessageChannel, Worker, type ResourceLimits } from 'node:worker_threads';
import type { Logger } from 'pino';
import { RingLink } from './ring-link.js';
import { SessionChannel } from './session-channel.js';
import { isFromWorkerMessage, type LogMessage, type OpenSessionMessage } from './worker-messages.js';

const ENTRY_URL = new URL('./worker-entry.js', import.meta.url);

let liveWorkers = 0;

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
  readonly #worker: Worker;
  readonly #link: RingLink | undefined;
  #alive = true;
  #stopping: Promise<void> | undefined;
  #cause: string | undefined;

  constructor(opts: HostWorkerOptions) {
    this.dedicated = opts.dedicated;
    const rings = opts.ringBytes > 0 ? RingLink.createPair(opts.ringBytes) : undefined;
    this.#link = rings?.link;
    this.#worker = new Worker(ENTRY_URL, { resourceLimits: opts.resourceLimits, workerData: { rings: rings?.pair } });
    liveWorkers += 1;
    this.#worker.on('message', (raw: unknown) => {
      if (isFromWorkerMessage(raw) && raw.type === 'log') forwardLog(opts.logger, raw);
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
      if (this.#stopping === undefined) opts.onDeath(this, this.#cause ?? `worker exited with code ${code}`);
    });
  }

  get threadId(): number {
    return this.#worker.threadId;
  }

  get alive(): boolean {
    return this.#alive && this.#stopping === undefined;
  }

  /** Opens a session channel on this worker; the returned channel is the main thread's end. */
  open(runnerModule: string, init: unknown): SessionChannel {
    const { port1, port2 } = new MessageChannel();
    const msg: OpenSessionMessage = { type: 'open', id: nextOpenId++, runnerModule, init, port: port2 };
    const channel = new SessionChannel(port1, msg.id, this.#link);
    this.#worker.postMessage(msg, [port2]);
    return channel;
  }

  /** Ends the thread as a failure (the watchdog): onDeath runs with `reason`. */
  kill(reason: string): void {
    if (!this.#alive || this.#stopping !== undefined) return;
    this.#cause = reason;
    void this.#worker.terminate();
  }

  /** Ends the thread on purpose (no sessions left, pool stopping). Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#worker.terminate().then(() => undefined);
    return this.#stopping;
  }
}
