/**
 * The worker side of the typescript backend (a Runner, workers/worker-messages.ts): imports the
 * model file, constructs its default-exported class, calls initialize(args), and turns each batch
 * into InferRequests and the model's responses back into tensors.
 *
 * Tensors: inputs are typed-array views over the transferred request buffer (no copy) when the
 * buffer offset suits the element size, else one aligned copy. BYTES inputs are Uint8Array views
 * per element; BYTES outputs are framed again with encodeBytesElements (byte-exact).
 *
 * Requests: the batch arrives merged (one copy made by the batcher when it held several); each
 * InferRequest gets row views of it (no further copy), its own parameters and requested outputs,
 * and answers alone: a response that is an Error, or malformed, fails only its request
 * (RunnerResult.perRequest). A thrown execute() fails the whole batch.
 *
 * BLS: execute()'s second argument calls other models of the server (bls-context.ts).
 *
 * Cancellation: each request's signal is the worker channel's (aborted by the main thread's
 * cancel message); a request aborted by the time execute() settles fails with the abort reason,
 * whatever the model answered. Decoupled models (model_transaction_policy.decoupled) answer
 * through request.responseSender (Sender): each send() posts a response message at once, also
 * after execute() returned; the batch result carries no outputs.
 */
import { bytesElementViews, encodeBytesElements } from '../../core/bytes-tensor.js';
import { elementByteSize, elementCount, type DataType } from '../../core/datatype.js';
import type { Tensor } from '../../core/tensor.js';
import { ALL_ERROR_CODES, ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { nowNs } from '../../util/clock.js';
import type { CreateRunner, ExecuteChannel, Runner, RunnerResult } from '../../workers/worker-messages.js';
import type {
  ExecuteContext, InferRequest, InferResponse, ModelArgs, ModelTensor, ResponseSender, TensorData, TypescriptModel,
} from './model-contract.js';
import { importModelFile } from './typescript-source.js';
import { executeContext } from './bls-context.js';

export interface TypescriptRunnerInit {
  modelFile: string;
  args: ModelArgs;
  /** Config datatype of each output, by name. */
  outputTypes: Record<string, DataType>;
}

type ViewCtor = new (b: ArrayBufferLike, o: number, n: number) => Exclude<TensorData, Uint8Array[]>;
const VIEWS: Partial<Record<DataType, ViewCtor>> = {
  BOOL: Uint8Array, UINT8: Uint8Array, INT8: Int8Array, UINT16: Uint16Array, INT16: Int16Array,
  FP16: Uint16Array, BF16: Uint16Array, UINT32: Uint32Array, INT32: Int32Array, FP32: Float32Array,
  UINT64: BigUint64Array, INT64: BigInt64Array, FP64: Float64Array,
};

export function toModelTensor(t: Tensor): ModelTensor {
  if (t.datatype === 'BYTES') return { datatype: t.datatype, shape: t.shape, data: bytesElementViews(t.data) };
  const Ctor = VIEWS[t.datatype] as ViewCtor;
  const size = elementByteSize(t.datatype);
  const bytes = t.data.byteOffset % size === 0 ? t.data : t.data.slice();
  return { datatype: t.datatype, shape: t.shape, data: new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / size) };
}

function fromModelOutput(model: string, name: string, out: InferResponse['outputs'][string], datatype: DataType): Tensor {
  const { data } = out;
  if (datatype === 'BYTES') {
    if (!Array.isArray(data)) throw new InferenceError(ErrorCode.INTERNAL, `model '${model}': output '${name}' is BYTES, so its data must be Uint8Array[]`);
    return { name, datatype, shape: [...out.shape], data: encodeBytesElements(data) };
  }
  if (Array.isArray(data) || !ArrayBuffer.isView(data)) {
    throw new InferenceError(ErrorCode.INTERNAL, `model '${model}': output '${name}' of datatype ${datatype} must be a typed array`);
  }
  return { name, datatype, shape: [...out.shape], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() };
}

/** Rows [from, from + n) of a batched tensor (dim 0), as views: no copy. */
function rowsOf(t: ModelTensor, from: number, n: number): ModelTensor {
  const rest = t.shape.slice(1);
  const perRow = elementCount(rest);
  const shape = [n, ...rest];
  const data = Array.isArray(t.data) ? t.data.slice(from * perRow, (from + n) * perRow) : t.data.subarray(from * perRow, (from + n) * perRow);
  return { datatype: t.datatype, shape, data };
}

/** One response's requested outputs as tensors; throws (INTERNAL) when the response is malformed. */
function responseTensors(model: string, response: InferResponse | Error | undefined, wanted: readonly string[], types: Record<string, DataType>): Tensor[] {
  if (response instanceof Error) throw response;
  if (response === undefined || response === null || typeof response.outputs !== 'object' || response.outputs === null) {
    throw new InferenceError(ErrorCode.INTERNAL, `model '${model}': execute() must return one response (or Error) per request`);
  }
  return wanted.map((o) => {
    const out = response.outputs[o];
    if (out === undefined) throw new InferenceError(ErrorCode.INTERNAL, `model '${model}': execute() returned no output '${o}'`);
    return fromModelOutput(model, o, out, out.datatype ?? types[o] ?? 'BYTES');
  });
}

/** The signal of requests that cannot be cancelled (the batch was not sent cancellable). */
const NEVER_ABORTED = new AbortController().signal;

/** The error an aborted request fails with: the main thread's reason (CANCELLED / DEADLINE_EXCEEDED). */
function abortReason(model: string, signal: AbortSignal): InferenceError {
  const r: unknown = signal.reason;
  return r instanceof InferenceError ? r : new InferenceError(ErrorCode.CANCELLED, `request to model '${model}' was cancelled`);
}

/**
 * A decoupled request's ResponseSender (model-contract.ts): posts each response through the
 * worker's channel. The request closes at its final, its error, or its cancellation (then the
 * abort reason is posted as its end, so both threads forget it even if the model never sends a
 * final again).
 */
class Sender implements ResponseSender {
  #closed = false;
  #cancelled = false;
  constructor(
    readonly index: number, readonly channel: ExecuteChannel, signal: AbortSignal,
    readonly tensors: (r: InferResponse) => Tensor[], readonly model: string,
  ) {
    if (signal.aborted) this.#cancel(signal);
    else signal.addEventListener('abort', () => this.#cancel(signal), { once: true });
  }

  send(response?: InferResponse | Error, options?: { final?: boolean }): void {
    if (this.#closed) {
      if (this.#cancelled) return;
      throw new Error(`model '${this.model}': send() after the request's final response`);
    }
    const final = options?.final === true;
    if (response instanceof Error) return this.end(modelError(this.model, response));
    if (response === undefined && !final) return;
    const outputs = response === undefined ? undefined : this.tensors(response);
    if (final) this.#closed = true;
    this.channel.respond(this.index, outputs, final);
  }

  /** Ends the request with `err` unless it already ended. */
  end(err: InferenceError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.channel.respond(this.index, err, true);
  }

  #cancel(signal: AbortSignal): void {
    if (this.#closed) return;
    this.end(abortReason(this.model, signal));
    this.#cancelled = true;
  }
}

/** An InferenceError (a BLS call's, say) keeps its code, as does any Error with a `code` of the set (model-contract.ts InferError). */
function modelError(model: string, err: unknown): InferenceError {
  if (err instanceof InferenceError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && (ALL_ERROR_CODES as readonly unknown[]).includes(code)) {
    return new InferenceError(code as ErrorCode, `model '${model}': ${err.message}`);
  }
  return new InferenceError(ErrorCode.INTERNAL, `model '${model}': ${err instanceof Error ? err.message : String(err)}`);
}

/** The context of an execute() that has no channel to the server (a runner used outside a worker). */
const NO_BLS: ExecuteContext = {
  infer: () => Promise.reject(new InferenceError(ErrorCode.UNAVAILABLE, 'BLS calls need the server: this runner has no channel to it')),
  inferStream: () => (async function* () {
    yield* [];
    throw new InferenceError(ErrorCode.UNAVAILABLE, 'BLS calls need the server: this runner has no channel to it');
  })(),
};

export const createRunner: CreateRunner = async (raw, ctx) => {
  const init = raw as TypescriptRunnerInit;
  const name = init.args.modelName;
  const mod = await importModelFile(init.modelFile);
  const Model = mod['default'];
  if (typeof Model !== 'function') {
    throw new InferenceError(ErrorCode.INVALID_ARG, `${init.modelFile}: a typescript model must default-export a class`);
  }
  const model = new (Model as new () => TypescriptModel)();
  if (typeof model.execute !== 'function') {
    throw new InferenceError(ErrorCode.INVALID_ARG, `${init.modelFile}: the model class has no execute() method`);
  }
  try {
    await model.initialize?.(init.args);
  } catch (err) {
    throw new InferenceError(ErrorCode.INVALID_ARG, `model '${name}': initialize() failed: ${modelError(name, err).message}`);
  }
  const batching = (init.args.modelConfig.max_batch_size ?? 0) > 0;
  const decoupled = init.args.modelConfig.model_transaction_policy?.decoupled === true;
  const runner: Runner = {
    async execute(inputs, outputNames, batchSize, parts = [{ rows: batchSize, outputNames, parameters: {} }], channel): Promise<RunnerResult> {
      const t0 = nowNs();
      const whole = inputs.map((t) => [t.name, toModelTensor(t)] as const);
      let row = 0;
      const requests: InferRequest[] = parts.map((part, i) => {
        const from = row;
        row += part.rows;
        const request: InferRequest = {
          inputs: new Map(whole.map(([n, t]) => [n, parts.length === 1 || !batching ? t : rowsOf(t, from, part.rows)])),
          requestedOutputs: part.outputNames, parameters: part.parameters, signal: channel?.signal(i) ?? NEVER_ABORTED,
        };
        if (decoupled && channel !== undefined) {
          request.responseSender = new Sender(i, channel, request.signal, (r) => responseTensors(name, r, part.outputNames, init.outputTypes), name);
        }
        return request;
      });
      const t1 = nowNs();
      let responses: unknown;
      let thrown: InferenceError | undefined;
      try {
        responses = await model.execute(requests, ctx.bls === undefined || channel === undefined ? NO_BLS : executeContext(name, ctx.bls, channel.batchId, requests, toModelTensor));
      } catch (err) {
        thrown = modelError(name, err);
      }
      const t2 = nowNs();
      const timings = (): RunnerResult['timings'] => ({ computeInputNs: t1 - t0, computeInferNs: t2 - t1, computeOutputNs: nowNs() - t2 });
      if (decoupled) {
        if (thrown !== undefined) for (const r of requests) (r.responseSender as Sender | undefined)?.end(thrown);
        return { outputs: [], perRequest: requests.map(() => []), timings: timings() };
      }
      // A cancelled request fails with its abort reason whatever execute() made of it.
      const cancelled = requests.map((r) => (r.signal.aborted ? abortReason(name, r.signal) : undefined));
      if (thrown !== undefined) {
        if (cancelled.every((c) => c === undefined)) throw thrown;
        return { outputs: [], perRequest: cancelled.map((c) => c ?? thrown), timings: timings() };
      }
      if (!Array.isArray(responses) || responses.length !== requests.length) {
        throw new InferenceError(ErrorCode.INTERNAL, `model '${name}': execute() must return one response per request (${requests.length}), got ${Array.isArray(responses) ? responses.length : typeof responses}`);
      }
      const list = responses as (InferResponse | Error | undefined)[];
      const perRequest = list.map((response, i) => {
        const c = cancelled[i];
        if (c !== undefined) return c;
        try {
          return responseTensors(name, response, parts[i]!.outputNames, init.outputTypes);
        } catch (err) {
          return modelError(name, err);
        }
      });
      return { outputs: [], perRequest, timings: timings() };
    },
    async dispose(): Promise<void> {
      await model.finalize?.();
    },
  };
  return runner;
};
