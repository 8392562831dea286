/**
 * The pool of host worker threads that every model instance runs in. An instance is a session
 * (one runner, e.g. one ORT InferenceSession) on a host worker, not a thread of its own: a
 * thousand models need a thousand sessions, not a thousand V8 isolates.
 *
 * Placement: at most `size` shared workers (default: the machine's cores). A session goes to a
 * new worker while there are fewer than `size`, else to the worker that holds the fewest sessions
 * of its group (the instances of one model version), then the fewest sessions in all, so the
 * instances of one model land on different threads and can run concurrently. A session that
 * asks for it (`dedicated`) gets a worker of its own, outside the count. A worker that hosts
 * nothing any more is stopped.
 *
 * Containment: every worker runs with V8 resourceLimits (heap), so running out of memory ends
 * that thread only. When a worker dies, each of its sessions fails its in-flight batches and
 * reloads itself (pool-session.ts); nothing else is affected. The watchdog ends a worker whose
 * session has had a batch in flight for longer than `watchdogMs` (an endless loop; a native call
 * that never returns cannot be interrupted by V8 and is not covered). Before a worker starts or
 * a session loads, the capacity guard checks the process's mapping and memory limits.
 *
 * Channel: sessions exchange their batches with the main thread through a pair of shared rings
 * per worker ('ring', session-channel.ts) or through their MessagePorts only ('port'). The
 * default is 'ring'; the environment variable INFERA_WORKER_CHANNEL=port|ring sets the default of
 * pools created without the option (the server's --worker-channel flag passes it explicitly).
 *
 * Concurrency contract with the scheduler: execute is never concurrent on one session (the
 * scheduler's instance pool, and the worker's per-session queue); sessions on different workers
 * run in parallel; sessions on one worker take turns on its thread.
 */
import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { pino, type Logger } from 'pino';
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';
import { CapacityGuard } from './capacity-guard.js';
import { HostWorker } from './host-worker.js';
import { PoolSession, type SessionHost, type SessionSpec } from './pool-session.js';

export interface WorkerPoolOptions {
  /** Shared host workers at most; default os.availableParallelism(). */
  size?: number;
  /** V8 old-generation heap limit of each worker in MiB; default 2048. */
  heapLimitMb?: number;
  /** A batch in flight longer than this ends its worker; 0 = no watchdog. Default 60 000 ms. */
  watchdogMs?: number;
  logger?: Logger;
  /** Replaces the process-limit guard (tests); false = no guard. */
  guard?: CapacityGuard | false;
  /** How sessions exchange messages with their worker (see the header); default defaultWorkerChannel(). */
  channel?: WorkerChannel;
  /**
   * Data bytes of each of a worker's two shared rings ('ring' channel); default 256 KiB. A message
   * whose frame exceeds 4 KiB (ring-link.ts) or a quarter of the ring goes by the port.
   */
  ringBytes?: number;
}

export type WorkerChannel = 'ring' | 'port';
export const WORKER_CHANNELS: readonly WorkerChannel[] = ['ring', 'port'];
export const DEFAULT_RING_BYTES = 256 * 1024;

/** INFERA_WORKER_CHANNEL when it names a channel, else 'ring'. */
export function defaultWorkerChannel(): WorkerChannel {
  const env = process.env['INFERA_WORKER_CHANNEL'];
  return env === 'port' ? 'port' : 'ring';
}

export const DEFAULT_HEAP_LIMIT_MB = 2048;
export const DEFAULT_WATCHDOG_MS = 60_000;

export interface PoolStats {
  workers: number;
  sharedWorkers: number;
  dedicatedWorkers: number;
  sessions: number;
}

export class WorkerPool implements SessionHost {
  readonly size: number;
  readonly watchdogMs: number;
  readonly heapLimitMb: number;
  readonly channel: WorkerChannel;
  readonly #ringBytes: number;
  readonly #limits: ResourceLimits;
  readonly #logger: Logger;
  readonly #guard: CapacityGuard | undefined;
  readonly #hosts = new Set<HostWorker>();
  readonly #sessionsOf = new Map<HostWorker, Set<PoolSession>>();
  /** Threads being ended (HostWorker.stop() in progress). */
  readonly #ending = new Set<Promise<void>>();
  #watchdog: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: WorkerPoolOptions = {}) {
    this.size = Math.max(1, o.size ?? availableParallelism());
    this.watchdogMs = o.watchdogMs ?? DEFAULT_WATCHDOG_MS;
    this.heapLimitMb = o.heapLimitMb ?? DEFAULT_HEAP_LIMIT_MB;
    this.#limits = { maxOldGenerationSizeMb: this.heapLimitMb };
    this.#logger = o.logger ?? pino({ level: 'silent' });
    this.#guard = o.guard === false ? undefined : (o.guard ?? new CapacityGuard());
    this.channel = o.channel ?? defaultWorkerChannel();
    this.#ringBytes = this.channel === 'ring' ? (o.ringBytes ?? DEFAULT_RING_BYTES) : 0;
  }

  /** Loads a session on a worker of the pool; rejects with its load error. */
  async open(spec: SessionSpec): Promise<PoolSession> {
    if (this.#stopped) throw new InferenceError(ErrorCode.UNAVAILABLE, `${spec.label}: the worker pool is stopped`);
    const session = new PoolSession(this, spec);
    await session.start();
    return session;
  }

  /** Loads a session only to read its runner's `info`, then closes it (auto-complete). */
  async readInfo(spec: SessionSpec): Promise<unknown> {
    const session = await this.open(spec);
    try {
      return session.info;
    } finally {
      await session.close();
    }
  }

  stats(): PoolStats {
    const hosts = [...this.#hosts];
    const dedicated = hosts.filter((h) => h.dedicated).length;
    let sessions = 0;
    for (const s of this.#sessionsOf.values()) sessions += s.size;
    return { workers: hosts.length, sharedWorkers: hosts.length - dedicated, dedicatedWorkers: dedicated, sessions };
  }

  /** Live workers and the labels of their sessions (tests, benchmarks, diagnostics). */
  workers(): { host: HostWorker; sessions: string[] }[] {
    return [...this.#hosts].map((host) => ({ host, sessions: [...(this.#sessionsOf.get(host) ?? [])].map((s) => s.label) }));
  }

  /** @internal SessionHost. */
  place(session: PoolSession, dedicated: boolean): HostWorker {
    if (this.#stopped) throw new InferenceError(ErrorCode.UNAVAILABLE, `${session.label}: the worker pool is stopped`);
    const host = dedicated ? undefined : this.#pick(session.group);
    const problem = this.#guard?.check({ newWorker: host === undefined, modelBytes: session.modelBytes, threads: session.threads });
    if (problem !== undefined) throw new InferenceError(ErrorCode.RESOURCE_EXHAUSTED, `unable to load ${session.label}: ${problem}`);
    const chosen = host ?? this.#spawn(dedicated);
    this.#sessionsOf.get(chosen)!.add(session);
    chosen.sessions = this.#sessionsOf.get(chosen)!.size;
    return chosen;
  }

  /** @internal SessionHost. */
  release(session: PoolSession, host: HostWorker): Promise<void> {
    const sessions = this.#sessionsOf.get(host);
    if (sessions === undefined) return Promise.resolve();
    sessions.delete(session);
    host.sessions = sessions.size;
    if (sessions.size > 0) return Promise.resolve();
    this.#forget(host);
    return this.#end(host);
  }

  /** Ends `host` and keeps its promise until it has ended (stop() waits for it). */
  #end(host: HostWorker): Promise<void> {
    const ended = host.stop();
    this.#ending.add(ended);
    void ended.finally(() => this.#ending.delete(ended));
    return ended;
  }

  /** Stops every worker (sessions should be closed first; any left are abandoned). */
  async stop(): Promise<void> {
    this.#stopped = true;
    const hosts = [...this.#hosts];
    for (const h of hosts) this.#forget(h);
    await Promise.all(hosts.map((h) => h.stop()));
    // Threads ended earlier (released, killed) that may still be finishing a native call.
    while (this.#ending.size > 0) await Promise.all([...this.#ending]);
  }

  #pick(group: string): HostWorker | undefined {
    const shared = [...this.#hosts].filter((h) => !h.dedicated && h.alive);
    if (shared.length < this.size) return undefined;
    let best: HostWorker | undefined;
    let bestKey = [Infinity, Infinity];
    for (const h of shared) {
      const sessions = this.#sessionsOf.get(h)!;
      let same = 0;
      for (const s of sessions) if (s.group === group) same++;
      const key = [same, sessions.size];
      if (key[0]! < bestKey[0]! || (key[0] === bestKey[0] && key[1]! < bestKey[1]!)) {
        best = h;
        bestKey = key;
      }
    }
    return best;
  }

  #spawn(dedicated: boolean): HostWorker {
    const host = new HostWorker({
      dedicated, resourceLimits: this.#limits, logger: this.#logger, ringBytes: this.#ringBytes,
      onDeath: (h, reason) => this.#onDeath(h, reason),
    });
    this.#hosts.add(host);
    this.#sessionsOf.set(host, new Set());
    this.#logger.debug({ threadId: host.threadId, dedicated, workers: this.#hosts.size }, 'host worker started');
    if (this.#watchdog === undefined && this.watchdogMs > 0) {
      this.#watchdog = setInterval(() => this.#checkWatchdog(), Math.min(1_000, Math.max(20, this.watchdogMs / 4)));
      this.#watchdog.unref();
    }
    return host;
  }

  #forget(host: HostWorker): void {
    this.#hosts.delete(host);
    this.#sessionsOf.delete(host);
    if (this.#hosts.size === 0) {
      clearInterval(this.#watchdog);
      this.#watchdog = undefined;
    }
  }

  #onDeath(host: HostWorker, reason: string): void {
    const sessions = [...(this.#sessionsOf.get(host) ?? [])];
    this.#forget(host);
    void this.#end(host); // a killed native host is still finishing its call
    if (this.#stopped) return;
    this.#logger.error({ threadId: host.threadId, sessions: sessions.length, reason }, 'host worker died; reloading its sessions');
    for (const s of sessions) s.lost(host, reason);
  }

  /**
   * A worker counts as hung when one of its sessions has had a batch in flight too long while no
   * session loads there: a long load (a big model) holds the thread legitimately, and a load
   * that never finishes is ended by the load timeout instead.
   */
  #checkWatchdog(): void {
    const now = process.hrtime.bigint();
    for (const [host, sessions] of this.#sessionsOf) {
      if ([...sessions].some((s) => s.loading)) continue;
      for (const s of sessions) {
        const age = s.inflightAgeMs(now);
        if (age === undefined || age <= this.watchdogMs) continue;
        const reason = `watchdog: ${s.label} did not finish a batch within ${this.watchdogMs} ms; its worker was restarted`;
        this.#logger.error({ threadId: host.threadId, sessions: sessions.size }, reason);
        host.kill(reason);
        break;
      }
    }
  }
}

let defaultPool: WorkerPool | undefined;

/** The process-wide pool used by backends created without one (tests, embedders). */
export function defaultWorkerPool(): WorkerPool {
  defaultPool ??= new WorkerPool();
  return defaultPool;
}
