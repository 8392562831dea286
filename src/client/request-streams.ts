/**
 * inferStream for a transport that answers each request on its own (HTTP: one POST with
 * `Accept: text/event-stream` per request): the requests `requests` yields run concurrently, their
 * responses are merged into one iterator, with the semantics of the gRPC transport's single
 * ModelStreamInfer call (inference-client.ts):
 *
 *   requests ──writer──▶ run(req₁) ─┐
 *                    ├─▶ run(req₂) ─┼─push──▶ queue ──▶ the caller's for-await
 *                    └─▶ run(req₃) ─┘
 *
 * Invariants:
 * - Requests start in the order they are yielded, without waiting for each other's responses, so
 *   responses of different requests interleave as they complete (match them by `id`); the
 *   responses of one request keep their order.
 * - Requests of one sequence (the same non-zero `sequence_id` parameter) are sent one after the
 *   other: the next starts once the previous one's stream has ended. Separate HTTP requests carry
 *   no order, and the sequence batcher needs its requests in order (a gRPC stream keeps it).
 * - Bounded: at most MAX_STREAM_REQUESTS requests are in flight (waiting ones included); the writer
 *   stops pulling from `requests` until one ends. Each request hands over one response at a time
 *   (push resolves when the caller takes it), so a slow caller holds at most one response per
 *   request and pushes back on the connections.
 * - The first failure ends the iterator: a request's error (thrown as run gives it), the caller's
 *   iterable throwing (its error unchanged), the signal (CANCELLED), timeoutMs for the whole
 *   stream (DEADLINE_EXCEEDED). Every other request is then aborted. Ending the loop early (break,
 *   return, throw) aborts every request in flight too, so the server sees its clients leave.
 */
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceClientError } from './client-error.js';
import type { CallOptions } from './client-types.js';
import type { WireInferRequest, WireInferResponse } from './transport.js';

/** Requests of one inferStream that may be in flight at once. */
export const MAX_STREAM_REQUESTS = 64;

/** Hands one response to the caller; resolves when the caller has taken it (or the stream ended). */
export type Push = (r: WireInferResponse) => Promise<void>;
/** Runs one request to its end, pushing its responses in order; rejects with InferenceClientError. */
export type RunRequest = (req: WireInferRequest, signal: AbortSignal, push: Push) => Promise<void>;

function sequenceKey(req: WireInferRequest): string | undefined {
  const id = req.parameters['sequence_id'];
  if (id === undefined || id === 0 || id === 0n || id === '' || id === false) return undefined;
  return `${req.model}\0${req.version}\0${typeof id}\0${String(id)}`;
}

export async function* mergeRequestStreams(
  requests: AsyncIterable<WireInferRequest>, o: CallOptions, run: RunRequest,
): AsyncIterable<WireInferResponse> {
  if (o.signal?.aborted === true) throw new InferenceClientError(ErrorCode.CANCELLED, 'inferStream cancelled before it was sent');
  const ac = new AbortController();
  const queue: { r: WireInferResponse; taken: () => void }[] = [];
  const sequences = new Map<string, Promise<void>>();
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let slot: (() => void) | undefined;
  let running = 0;
  let writing = true;

  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const freeSlot = (): void => {
    const s = slot;
    slot = undefined;
    s?.();
  };
  const fail = (error: unknown): void => {
    if (failure === undefined) {
      failure = { error };
      ac.abort();
      freeSlot();
    }
    notify();
  };
  const onAbort = (): void => fail(new InferenceClientError(ErrorCode.CANCELLED, 'inferStream cancelled by the caller'));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => {
    fail(new InferenceClientError(ErrorCode.DEADLINE_EXCEEDED, `inferStream: not finished within ${o.timeoutMs} ms`));
  }, o.timeoutMs);

  const push: Push = (r) => new Promise<void>((taken) => {
    if (ac.signal.aborted) return taken();
    queue.push({ r, taken });
    notify();
  });
  const start = (req: WireInferRequest): void => {
    running++;
    const key = sequenceKey(req);
    const previous = key === undefined ? undefined : sequences.get(key);
    const task = (async () => {
      if (previous !== undefined) await previous;
      if (!ac.signal.aborted) await run(req, ac.signal, push);
    })().catch(fail).finally(() => {
      running--;
      freeSlot();
      notify();
    });
    if (key !== undefined) {
      sequences.set(key, task);
      void task.then(() => {
        if (sequences.get(key) === task) sequences.delete(key);
      });
    }
  };
  void (async () => {
    for await (const req of requests) {
      if (ac.signal.aborted) break;
      if (running >= MAX_STREAM_REQUESTS) await new Promise<void>((ok) => { slot = ok; });
      if (ac.signal.aborted) break;
      start(req);
    }
  })().then(() => {
    writing = false;
    notify();
  }, fail);

  let finished = false;
  try {
    for (;;) {
      if (failure !== undefined) throw failure.error;
      const item = queue.shift();
      if (item !== undefined) {
        item.taken();
        yield item.r;
        continue;
      }
      if (!writing && running === 0) {
        finished = true;
        return;
      }
      await new Promise<void>((ok) => { wake = ok; });
    }
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    if (!finished) ac.abort();
    for (const i of queue.splice(0)) i.taken();
    freeSlot();
  }
}
