/**
 * The worker_threads entry point of every host worker (see worker-pool.ts). It knows no backend:
 * for each `open` message on its parentPort it imports the runner module named there, reports
 * load-done / load-error on the session's own port, then serves that session's execute and
 * dispose messages one at a time, in arrival order (answers to a runner's BLS calls are the
 * exception: they settle as they arrive, bls-client.ts). Sessions are independent: one session's
 * messages never wait for another's, except that they share this thread (a synchronous run in
 * one session delays the others; the pool sizes and places sessions with that in mind).
 *
 * Transport: each session's messages go through a SessionChannel (session-channel.ts): with the
 * rings from workerData, by this worker's shared rings, waited on with Atomics.waitAsync so that
 * the ports of every session (and the host port) keep being served; otherwise by the session's
 * port. Whatever the transport, the channel hands this file's listener every message as it
 * arrives, in the order it was sent: cancel and bls-response are acted on in that listener (never
 * chained behind the session's executes), and a batch's response messages and its result leave
 * through the same channel, so the main thread sees them in the order they were posted. The stop
 * handshake (StopHostMessage) uses the parentPort, outside every session channel.
 *
 * Failure model: an exception thrown by a runner while serving a message fails that message
 * only. An uncaught exception, process.exit() or running out of heap ends this thread and every
 * session on it; the main thread sees the exit, fails what was in flight and reloads the sessions.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';
import { nowNs } from '../util/clock.js';
import type { Tensor } from '../core/tensor.js';
import { BlsClient } from './bls-client.js';
import { RingLink, type RingPair } from './ring-link.js';
import { SessionChannel } from './session-channel.js';
import {
  fromWireTensor, isOpenSessionMessage, isStopHostMessage, isToWorkerMessage, wireView,
  type CreateRunner, type ExecuteMessage, type FromWorkerMessage, type LogLevel, type OpenSessionMessage, type Runner,
  type ExecuteChannel, type ResponseMessage, type ResultMessage, type RunnerLogger, type WirePerRequest,
} from './worker-messages.js';

/** Wire tensors in `msg` are views (wireView): a SessionChannel makes them transferable for its port path. */
function post(port: MessagePort | SessionChannel, msg: FromWorkerMessage): void {
  port.postMessage(msg);
}

/**
 * Log records travel as messages (a session's on its channel, in order with its results, so a
 * record a runner writes before answering arrives first); fields that cannot be cloned are sent
 * as their JSON text.
 */
function createPortLogger(port: MessagePort | SessionChannel): RunnerLogger {
  const write = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>): void => {
    try {
      post(port, fields === undefined ? { type: 'log', id: 0, level, msg } : { type: 'log', id: 0, level, msg, fields });
    } catch {
      try {
        post(port, { type: 'log', id: 0, level, msg, fields: { fields: safeJson(fields) } });
      } catch {
        // The session's port is closed: nobody is listening any more.
      }
    }
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

function safeJson(x: unknown): string {
  try {
    return JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return String(x);
  }
}

/**
 * The runner, and the process's RSS growth while createRunner ran. The module is imported first,
 * so the first session on a worker is not charged with loading the framework (that is the
 * worker's cost). RSS is process-wide: loads running at the same time on other workers blur it.
 */
async function loadRunner(msg: OpenSessionMessage, log: RunnerLogger, bls: BlsClient): Promise<{ runner: Runner; memoryBytes: number }> {
  const mod = (await import(msg.runnerModule)) as { createRunner?: CreateRunner };
  if (typeof mod.createRunner !== 'function') {
    throw new InferenceError(ErrorCode.INTERNAL, `runner module ${msg.runnerModule} does not export createRunner()`);
  }
  const before = process.memoryUsage.rss();
  const runner = await mod.createRunner(msg.init, { log, bls });
  return { runner, memoryBytes: Math.max(0, process.memoryUsage.rss() - before) };
}

/** Set once the main thread asked this worker to stop: no new load or batch starts. */
let stopping = false;
/**
 * What `stop` waits for: loads in progress, and each live session's chain of batches and dispose
 * (read through the session's getter when stop arrives, so a batch costs no bookkeeping here).
 */
const loads = new Set<Promise<unknown>>();
const sessionTails = new Set<() => Promise<unknown>>();
function workInProgress(): Promise<unknown>[] {
  return [...loads, ...[...sessionTails].map((tail) => tail())];
}

/**
 * The live side of a batch sent cancellable or decoupled: one AbortController per request,
 * made on first use (a cancel, or the runner asking for the signal), and the response messages
 * of a decoupled model. It lives in `live` (serve) until the batch can no longer be cancelled or
 * answered: execute settled (not decoupled), or every request sent its final (decoupled).
 */
class BatchChannel implements ExecuteChannel {
  readonly #port: SessionChannel;
  readonly #msg: ExecuteMessage;
  readonly #release: () => void;
  readonly #controllers: (AbortController | undefined)[] = [];
  readonly #final: boolean[] = [];
  #open: number;

  constructor(port: SessionChannel, msg: ExecuteMessage, release: () => void) {
    this.#port = port;
    this.#msg = msg;
    this.#release = release;
    this.#open = msg.requests?.length ?? 1;
  }

  get decoupled(): boolean {
    return this.#msg.decoupled === true;
  }

  get batchId(): number {
    return this.#msg.id;
  }

  signal(i: number): AbortSignal | undefined {
    if (this.#msg.cancellable !== true) return undefined;
    return (this.#controllers[i] ??= new AbortController()).signal;
  }

  abort(i: number, reason: InferenceError): void {
    const c = (this.#controllers[i] ??= new AbortController());
    if (!c.signal.aborted) c.abort(reason);
  }

  respond(i: number, response: Tensor[] | InferenceError | undefined, final: boolean): void {
    if (!this.decoupled || this.#final[i] === true) return;
    const msg: ResponseMessage = { type: 'response', id: this.#msg.id, requestIndex: i, final: final || response instanceof InferenceError };
    if (response instanceof InferenceError) msg.error = response.serialize();
    else if (response !== undefined) msg.outputs = response.map(wireView);
    if (msg.final) {
      this.#final[i] = true;
      if (--this.#open === 0) this.#release();
    }
    post(this.#port, msg);
  }

  /** Execute settled: a batch that is not decoupled can no longer be cancelled. */
  settled(ok: boolean): void {
    if (!ok || !this.decoupled) this.#release();
  }
}

async function serveExecute(port: SessionChannel, runner: Runner, msg: ExecuteMessage, channel: BatchChannel | undefined): Promise<void> {
  const receivedAtNs = process.hrtime.bigint();
  if (stopping) {
    channel?.settled(false);
    post(port, { type: 'error', id: msg.id, error: new InferenceError(ErrorCode.UNAVAILABLE, 'the worker is stopping').serialize() });
    return;
  }
  try {
    const decodeStart = nowNs();
    const inputs = msg.inputs.map(fromWireTensor);
    const decodeNs = nowNs() - decodeStart;
    const requests = msg.requests ?? [{ rows: msg.batchSize, outputNames: msg.outputNames, parameters: {} }];
    const result = await runner.execute(inputs, msg.outputNames, msg.batchSize, requests, channel);
    channel?.settled(true);
    const encodeStart = nowNs();
    const outputs = result.outputs.map(wireView);
    const perRequest = result.perRequest?.map((r): WirePerRequest => (
      Array.isArray(r) ? { outputs: r.map(wireView) } : { error: InferenceError.from(r).serialize() }));
    const timings = {
      computeInputNs: result.timings.computeInputNs + decodeNs,
      computeInferNs: result.timings.computeInferNs,
      computeOutputNs: result.timings.computeOutputNs + (nowNs() - encodeStart),
    };
    const done: ResultMessage = { type: 'result', id: msg.id, outputs, timings, receivedAtNs, postedAtNs: process.hrtime.bigint() };
    if (perRequest !== undefined) done.perRequest = perRequest;
    post(port, done);
  } catch (err) {
    channel?.settled(false);
    post(port, { type: 'error', id: msg.id, error: InferenceError.from(err).serialize() });
  }
}

/**
 * One session: messages are chained so that execute and dispose never overlap, as the Runner
 * contract says. A cancel is not chained: it aborts its request's signal on arrival, so an
 * execute() that awaits the signal (or a queued batch) sees it at once. The runner is disposed
 * once, on a dispose message or when the main thread closes the port without one (abandoned).
 */
function serve(port: SessionChannel, runner: Runner, log: RunnerLogger, bls: BlsClient): void {
  let queue = Promise.resolve();
  const tail = (): Promise<unknown> => queue;
  sessionTails.add(tail);
  let disposed: Promise<void> | undefined;
  const dispose = (): Promise<void> => (disposed ??= runner.dispose().catch((err: unknown) => {
    log.warn('runner dispose failed', { err: InferenceError.from(err).message });
  }));
  const live = new Map<number, BatchChannel>();
  port.onMessage((raw: unknown) => {
    if (!isToWorkerMessage(raw)) {
      log.warn('ignoring malformed message from the main thread');
      return;
    }
    // Answers to BLS calls settle at once: the execute that made the call is what the queue waits on.
    if (raw.type === 'bls-response') return bls.onResponse(raw);
    if (raw.type === 'cancel') {
      live.get(raw.id)?.abort(raw.requestIndex, InferenceError.deserialize(raw.reason));
      return;
    }
    let channel: BatchChannel | undefined;
    if (raw.type === 'execute' && (raw.cancellable === true || raw.decoupled === true)) {
      const id = raw.id;
      channel = new BatchChannel(port, raw, () => live.delete(id));
      live.set(id, channel);
    }
    queue = queue.then(() => (raw.type === 'execute'
      ? serveExecute(port, runner, raw, channel)
      : dispose().then(() => post(port, { type: 'dispose-done', id: raw.id }))));
  });
  port.port.once('close', () => {
    bls.close();
    queue = queue.then(dispose).finally(() => sessionTails.delete(tail));
  });
}

async function open(msg: OpenSessionMessage): Promise<void> {
  const port = new SessionChannel(msg.port, msg.id, link);
  const log = createPortLogger(port);
  const bls = new BlsClient(port);
  let runner: Runner;
  let memoryBytes: number;
  try {
    ({ runner, memoryBytes } = await loadRunner(msg, log, bls));
  } catch (err) {
    // The main thread closes the port once it has read the reason.
    post(port, { type: 'load-error', id: 0, error: InferenceError.from(err).serialize() });
    return;
  }
  serve(port, runner, log, bls);
  try {
    post(port, runner.info === undefined ? { type: 'load-done', id: 0, memoryBytes } : { type: 'load-done', id: 0, info: runner.info, memoryBytes });
  } catch (err) {
    post(port, { type: 'load-error', id: 0, error: InferenceError.from(err).serialize() });
  }
}

if (parentPort === null) {
  throw new Error('worker-entry must be started as a worker thread');
}
const rings = (workerData as { rings?: RingPair } | null)?.rings;
const link = rings === undefined ? undefined : RingLink.forWorker(rings);
const host = parentPort;
const hostLog = createPortLogger(host);
host.on('message', (raw: unknown) => {
  if (isStopHostMessage(raw)) {
    stopping = true;
    // Answered only once nothing runs: this handler itself runs only after a synchronous native
    // call in progress has returned, and workInProgress() covers the loads and batches started before.
    void Promise.allSettled(workInProgress()).then(() => host.postMessage({ type: 'stopped' }));
    return;
  }
  if (!isOpenSessionMessage(raw)) {
    hostLog.warn('ignoring malformed message on the host port');
    return;
  }
  if (stopping) {
    post(raw.port, { type: 'load-error', id: 0, error: new InferenceError(ErrorCode.UNAVAILABLE, 'the worker is stopping').serialize() });
    return;
  }
  const load = open(raw);
  loads.add(load);
  void load.finally(() => loads.delete(load));
});
