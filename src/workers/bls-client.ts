/**
 * The worker side of BLS calls (the main side is bls-host.ts): one BlsClient per session posts
 * bls-call messages on the session's port and settles them from bls-response messages, which
 * worker-entry.ts hands over as they arrive, not queued behind the session's executes (the
 * execute making the call is what the queue is waiting on).
 *
 * Invariants: each call is in #calls from the moment it is posted until its final response (or
 * error, or the port closing), and nothing else settles it. Calls go through the session's
 * SessionChannel (session-channel.ts), in order with the batch's other messages: by the shared
 * ring, the input bytes are copied into shared memory and the model's arrays stay as they are; by
 * the port (the 'port' channel, or a frame too big for the ring), they travel in the transfer
 * list (detached here) and a view over part of a buffer is copied once (transferableBuffer).
 */
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';
import type { SessionChannel } from './session-channel.js';
import {
  fromWireTensor, wireView, type BlsCall, type BlsCallMessage, type BlsPort, type BlsResponse,
  type BlsResponseMessage, type WireBlsResponse,
} from './worker-messages.js';

interface CallSink {
  response(r: BlsResponse): void;
  end(err: InferenceError | undefined): void;
}

function fromWire(r: WireBlsResponse): BlsResponse {
  return { model: r.model, version: r.version, outputs: r.outputs.map(fromWireTensor), parameters: r.parameters };
}

export class BlsClient implements BlsPort {
  readonly #port: SessionChannel;
  readonly #calls = new Map<number, CallSink>();
  #nextCallId = 1;
  #closed = false;

  constructor(port: SessionChannel) {
    this.#port = port;
  }

  infer(batchId: number, call: BlsCall): Promise<BlsResponse> {
    return this.#infer(batchId, call);
  }

  inferStream(batchId: number, call: BlsCall): AsyncIterable<BlsResponse> {
    return this.#stream(batchId, call);
  }

  /** A bls-response from the main thread. */
  onResponse(msg: BlsResponseMessage): void {
    const sink = this.#calls.get(msg.id);
    if (sink === undefined) return;
    if (msg.response !== undefined) sink.response(fromWire(msg.response));
    if (msg.error !== undefined) {
      this.#calls.delete(msg.id);
      sink.end(InferenceError.deserialize(msg.error));
    } else if (msg.final) {
      this.#calls.delete(msg.id);
      sink.end(undefined);
    }
  }

  /** The session's port closed: no answer can come any more. */
  close(): void {
    this.#closed = true;
    const all = [...this.#calls.values()];
    this.#calls.clear();
    for (const sink of all) sink.end(new InferenceError(ErrorCode.UNAVAILABLE, 'BLS call abandoned: the instance is shutting down'));
  }

  #post(batchId: number, call: BlsCall, stream: boolean, sink: CallSink): number {
    if (this.#closed) throw new InferenceError(ErrorCode.UNAVAILABLE, 'BLS call refused: the instance is shutting down');
    const callId = this.#nextCallId++;
    const msg: BlsCallMessage = {
      type: 'bls-call', id: batchId, callId, request: call.request, model: call.model, version: call.version,
      inputs: call.inputs.map(wireView), outputs: call.outputs, parameters: call.parameters, stream,
    };
    if (call.timeoutMs !== undefined) msg.timeoutMs = call.timeoutMs;
    this.#calls.set(callId, sink);
    try {
      this.#port.postMessage(msg);
    } catch (err) {
      this.#calls.delete(callId);
      throw new InferenceError(ErrorCode.INVALID_ARG, `BLS call to model '${call.model}' could not be sent: ${InferenceError.from(err).message}`);
    }
    return callId;
  }

  #infer(batchId: number, call: BlsCall): Promise<BlsResponse> {
    return new Promise((resolve, reject) => {
      let got: BlsResponse | undefined;
      this.#post(batchId, call, false, {
        response: (r) => (got = r),
        end: (err) => {
          if (err !== undefined) reject(err);
          else if (got === undefined) reject(new InferenceError(ErrorCode.INTERNAL, `BLS call to model '${call.model}' ended without a response`));
          else resolve(got);
        },
      });
    });
  }

  /** Responses are buffered until read; leaving the loop early sends bls-cancel. */
  async *#stream(batchId: number, call: BlsCall): AsyncGenerator<BlsResponse> {
    const queue: BlsResponse[] = [];
    let ended = false;
    let failure: InferenceError | undefined;
    let wake: (() => void) | undefined;
    const callId = this.#post(batchId, call, true, {
      response: (r) => {
        queue.push(r);
        wake?.();
      },
      end: (err) => {
        ended = true;
        failure = err;
        wake?.();
      },
    });
    try {
      for (;;) {
        if (queue.length > 0) {
          yield queue.shift()!;
          continue;
        }
        if (ended) break;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      if (failure !== undefined) throw failure;
    } finally {
      if (!ended && this.#calls.delete(callId)) {
        try {
          this.#port.postMessage({ type: 'bls-cancel', id: batchId, callId });
        } catch {
          // The port closed: the main side cancels what it still runs.
        }
      }
    }
  }
}
