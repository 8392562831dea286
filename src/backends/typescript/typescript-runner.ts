/**
 * The worker side of the typescript backend (a Runner, workers/worker-messages.ts): imports the
 * model file, constructs its default-exported class, calls initialize(args), and turns each batch
 * into InferRequests and the model's responses back into tensors.
 *
 * Tensors: inputs are typed-array views over the transferred request buffer (no copy) when the
 * buffer offset suits the element size, else one aligned copy. BYTES inputs are Uint8Array views
 * per element; BYTES outputs are framed again with encodeBytesElements (byte-exact).
 *
 * Not done yet: the seam hands the runner one merged batch, so execute() receives one request
 * holding the whole batch; per-request parameters and per-request responses need the seam to
 * carry request boundaries.
 */
import { bytesElementViews, encodeBytesElements } from '../../core/bytes-tensor.js';
import { elementByteSize, type DataType } from '../../core/datatype.js';
import type { Tensor } from '../../core/tensor.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { nowNs } from '../../util/clock.js';
import type { CreateRunner, Runner, RunnerResult } from '../../workers/worker-messages.js';
import type { InferRequest, InferResponse, ModelArgs, ModelTensor, TensorData, TypescriptModel } from './model-contract.js';
import { importModelFile } from './typescript-source.js';

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

function toModelTensor(t: Tensor): ModelTensor {
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

function modelError(model: string, err: unknown): InferenceError {
  if (err instanceof InferenceError) return err;
  return new InferenceError(ErrorCode.INTERNAL, `model '${model}': ${err instanceof Error ? err.message : String(err)}`);
}

export const createRunner: CreateRunner = async (raw) => {
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
  const runner: Runner = {
    async execute(inputs, outputNames): Promise<RunnerResult> {
      const t0 = nowNs();
      const request: InferRequest = {
        inputs: new Map(inputs.map((t) => [t.name, toModelTensor(t)])),
        requestedOutputs: outputNames, parameters: {}, signal: new AbortController().signal,
      };
      const t1 = nowNs();
      let responses: (InferResponse | Error)[];
      try {
        responses = await model.execute([request]);
      } catch (err) {
        throw modelError(name, err);
      }
      const t2 = nowNs();
      const response = Array.isArray(responses) ? responses[0] : undefined;
      if (response instanceof Error) throw modelError(name, response);
      if (response === undefined || typeof response.outputs !== 'object' || response.outputs === null) {
        throw new InferenceError(ErrorCode.INTERNAL, `model '${name}': execute() must return one response per request`);
      }
      const outputs = outputNames.map((o) => {
        const out = response.outputs[o];
        if (out === undefined) throw new InferenceError(ErrorCode.INTERNAL, `model '${name}': execute() returned no output '${o}'`);
        return fromModelOutput(name, o, out, out.datatype ?? init.outputTypes[o] ?? 'BYTES');
      });
      return { outputs, timings: { computeInputNs: t1 - t0, computeInferNs: t2 - t1, computeOutputNs: nowNs() - t2 } };
    },
    async dispose(): Promise<void> {
      await model.finalize?.();
    },
  };
  return runner;
};
