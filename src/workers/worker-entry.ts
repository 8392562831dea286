/**
 * The worker_threads entry point of every model instance worker. It knows no backend: it imports
 * the runner module named in workerData, reports load-done / load-error, then serves execute and
 * dispose messages one at a time, in arrival order.
 *
 * Failure model: an exception thrown by the runner while serving a message fails that message
 * only. An uncaught exception or process.exit() ends this thread; the main thread's supervisor
 * sees the exit, fails what was in flight and starts a new worker.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';
import { nowNs } from '../util/clock.js';
import {
  fromWireTensor, isToWorkerMessage, toWireTensor,
  type CreateRunner, type ExecuteMessage, type FromWorkerMessage, type LogLevel, type Runner,
  type RunnerLogger, type WorkerData,
} from './worker-messages.js';

function post(port: MessagePort, msg: FromWorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

/** Log records travel as messages; fields that cannot be cloned are sent as their JSON text. */
function createPortLogger(port: MessagePort): RunnerLogger {
  const write = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>): void => {
    try {
      post(port, fields === undefined ? { type: 'log', id: 0, level, msg } : { type: 'log', id: 0, level, msg, fields });
    } catch {
      post(port, { type: 'log', id: 0, level, msg, fields: { fields: safeJson(fields) } });
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

async function loadRunner(data: WorkerData, log: RunnerLogger): Promise<Runner> {
  const mod = (await import(data.runnerModule)) as { createRunner?: CreateRunner };
  if (typeof mod.createRunner !== 'function') {
    throw new InferenceError(ErrorCode.INTERNAL, `runner module ${data.runnerModule} does not export createRunner()`);
  }
  return mod.createRunner(data.init, { log });
}

async function serveExecute(port: MessagePort, runner: Runner, msg: ExecuteMessage): Promise<void> {
  const receivedAtNs = process.hrtime.bigint();
  try {
    const decodeStart = nowNs();
    const inputs = msg.inputs.map(fromWireTensor);
    const decodeNs = nowNs() - decodeStart;
    const result = await runner.execute(inputs, msg.outputNames, msg.batchSize);
    const encodeStart = nowNs();
    const transfer: ArrayBuffer[] = [];
    const outputs = result.outputs.map((t) => toWireTensor(t, transfer));
    const timings = {
      computeInputNs: result.timings.computeInputNs + decodeNs,
      computeInferNs: result.timings.computeInferNs,
      computeOutputNs: result.timings.computeOutputNs + (nowNs() - encodeStart),
    };
    post(port, { type: 'result', id: msg.id, outputs, timings, receivedAtNs, postedAtNs: process.hrtime.bigint() }, transfer);
  } catch (err) {
    post(port, { type: 'error', id: msg.id, error: InferenceError.from(err).serialize() });
  }
}

async function serveDispose(port: MessagePort, runner: Runner, id: number, log: RunnerLogger): Promise<void> {
  try {
    await runner.dispose();
  } catch (err) {
    log.warn('runner dispose failed', { err: InferenceError.from(err).message });
  }
  post(port, { type: 'dispose-done', id });
}

/** Messages are chained so that execute and dispose never overlap, as the Runner contract says. */
function serve(port: MessagePort, runner: Runner, log: RunnerLogger): void {
  let queue = Promise.resolve();
  port.on('message', (raw: unknown) => {
    if (!isToWorkerMessage(raw)) {
      log.warn('ignoring malformed message from the main thread');
      return;
    }
    queue = queue.then(() => (raw.type === 'execute'
      ? serveExecute(port, runner, raw)
      : serveDispose(port, runner, raw.id, log)));
  });
}

async function main(port: MessagePort): Promise<void> {
  const log = createPortLogger(port);
  let runner: Runner;
  try {
    runner = await loadRunner(workerData as WorkerData, log);
  } catch (err) {
    // Stay alive until the main thread reads load-error and terminates this worker: exiting
    // right away can deliver 'exit' to the main thread before the message, losing the reason.
    port.on('message', () => undefined);
    post(port, { type: 'load-error', id: 0, error: InferenceError.from(err).serialize() });
    return;
  }
  serve(port, runner, log);
  try {
    post(port, runner.info === undefined ? { type: 'load-done', id: 0 } : { type: 'load-done', id: 0, info: runner.info });
  } catch (err) {
    post(port, { type: 'load-error', id: 0, error: InferenceError.from(err).serialize() });
  }
}

if (parentPort === null) {
  throw new Error('worker-entry must be started as a worker thread');
}
void main(parentPort);
