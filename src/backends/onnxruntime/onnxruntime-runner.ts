/**
 * The ONNX Runtime runner: loaded INSIDE an instance worker by worker-entry.ts (never on the main
 * thread, because ORT's session load and run block the calling thread). One runner owns one
 * InferenceSession.
 *
 * At load it checks the model config against the session's metadata (names, datatypes, dims);
 * with `metadataOnly` it skips the checks and only reports the metadata (auto-complete).
 * The session runs on the execution providers the backend planned (gpu/onnxruntime-providers.ts);
 * a GPU provider that cannot start fails the load with its own error, never falls back to CPU.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { DataType } from '../../core/datatype.js';
import type { Tensor } from '../../core/tensor.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { nowNs } from '../../util/clock.js';
import { releaseBuffers } from '../../workers/release-buffers.js';
import { configProblems, feedShape, reportedShape, sentScalar } from '../config-vs-model.js';
import type { Runner, RunnerContext, RunnerResult } from '../../workers/worker-messages.js';
import { CUDA_INSTALL_HINT, type OrtProviderConfig } from '../gpu/onnxruntime-providers.js';
import {
  bytesOf, checkOutputStrings, datatypeOfOrtType, decodeBytesElements, encodeBytesElements, ortTypeOf, typedView,
  type OrtNumericData,
} from './onnxruntime-types.js';

/** A config input or output as the runner needs it. */
export interface TensorSpec {
  name: string;
  datatype: DataType;
  /** Config dims, without the batch dimension; -1 = variable. */
  dims: number[];
  /** Config reshape.shape: the shape the model sees (without the batch dimension). */
  reshape?: number[];
}

export interface OnnxSessionOptions {
  intraOpNumThreads: number;
  interOpNumThreads: number;
  executionMode: 'sequential' | 'parallel';
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
}

/** createRunner's `init` for this runner (structured-cloned into the worker). */
export interface OnnxRunnerInit {
  modelName: string;
  /** Absent for auto-complete, which runs before versions are loaded. */
  version?: number;
  /** `<version dir>/model.onnx`: the file, or a directory that contains `model.onnx`. */
  modelPath: string;
  sessionOptions: OnnxSessionOptions;
  maxBatchSize: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  metadataOnly?: boolean;
  /** ORT's `executionProviders`; default CPU only (auto-complete, CPU instances). */
  executionProviders?: OrtProviderConfig[];
  /** CUDA device id of a KIND_GPU instance (for messages); undefined on CPU. */
  gpuDeviceId?: number | undefined;
}

/** One session input or output as ORT describes it. */
export interface IoMetadata {
  name: string;
  /** undefined when the value is not a tensor or its type has no v2 datatype (e.g. int4). */
  datatype: DataType | undefined;
  /** ORT's type name ('float32', …) or 'non-tensor'. */
  ortType: string;
  /** -1 for symbolic or unknown dims. */
  shape: number[];
}

/** The runner's `info` (sent with load-done). */
export interface SessionIoInfo {
  inputs: IoMetadata[];
  outputs: IoMetadata[];
  /** Name of the first execution provider the session was created with ('cpu', 'cuda', …); absent in auto-complete fakes. */
  executionProvider?: string;
}

function modelId(init: OnnxRunnerInit): string {
  return init.version === undefined ? `model '${init.modelName}'` : `model '${init.modelName}' version ${init.version}`;
}

async function resolveModelFile(init: OnnxRunnerInit): Promise<string> {
  try {
    const st = await stat(init.modelPath);
    return st.isDirectory() ? join(init.modelPath, 'model.onnx') : init.modelPath;
  } catch (err) {
    throw new InferenceError(ErrorCode.INVALID_ARG,
      `unable to load ${modelId(init)}: cannot read ${init.modelPath}: ${InferenceError.from(err).message}`);
  }
}

function toIoMetadata(m: ort.InferenceSession.ValueMetadata): IoMetadata {
  if (!m.isTensor) return { name: m.name, datatype: undefined, ortType: 'non-tensor', shape: [] };
  return {
    name: m.name,
    datatype: datatypeOfOrtType(m.type),
    ortType: m.type,
    shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
  };
}

function checkAgainstSession(init: OnnxRunnerInit, info: SessionIoInfo): void {
  const problems = configProblems(init, info, init.maxBatchSize > 0, {
    sourceType: (m: IoMetadata) => m.ortType,
    noteSourceTypeOnMismatch: false,
  });
  if (problems.length > 0) {
    throw new InferenceError(ErrorCode.INVALID_ARG, `unable to load ${modelId(init)}: ${problems.join('; ')}`);
  }
}

function toOrtTensor(t: Tensor, shape: number[]): ort.Tensor {
  if (t.datatype === 'BYTES') return new ort.Tensor('string', decodeBytesElements(t.data, t.name), shape);
  if (t.datatype === 'BF16') throw new InferenceError(ErrorCode.UNSUPPORTED, `tensor '${t.name}': BF16 is not supported by onnxruntime`);
  return new ort.Tensor(ortTypeOf(t.datatype) as ort.Tensor.Type, typedView(t.datatype, t.data, t.name), shape);
}

function toRawTensor(spec: TensorSpec, value: ort.OnnxValue | undefined, batching: boolean, model: string, scalarRequest: boolean): Tensor {
  if (!(value instanceof ort.Tensor)) {
    throw new InferenceError(ErrorCode.INTERNAL, `output '${spec.name}' is not a tensor`);
  }
  if (value.type === 'string') {
    try {
      checkOutputStrings(value.data as string[], spec.name);
    } catch (err) {
      throw inTensorOf(model, 'output', err as InferenceError);
    }
  }
  const data = value.type === 'string'
    ? encodeBytesElements(value.data as string[])
    : bytesOf(value.data as OrtNumericData);
  return { name: spec.name, datatype: spec.datatype, shape: reportedShape(spec, value.dims, batching, scalarRequest), data };
}

/** `err` (about `tensor 'X'`) restated as about input/output 'X' of the model, code kept. */
function inTensorOf(model: string, kind: 'input' | 'output', err: InferenceError): InferenceError {
  return new InferenceError(err.code, `${err.message.replace(/^tensor '/, `${kind} '`)} (${model})`);
}

class OnnxRunner implements Runner {
  readonly info: SessionIoInfo;
  readonly #init: OnnxRunnerInit;
  readonly #session: ort.InferenceSession;
  readonly #inputs: Map<string, { spec: TensorSpec; meta: IoMetadata }>;
  readonly #outputs: Map<string, TensorSpec>;

  constructor(init: OnnxRunnerInit, session: ort.InferenceSession, info: SessionIoInfo) {
    this.#init = init;
    this.#session = session;
    this.info = info;
    const metas = new Map(info.inputs.map((m) => [m.name, m]));
    this.#inputs = new Map(init.inputs.flatMap((spec) => {
      const meta = metas.get(spec.name);
      return meta === undefined ? [] : [[spec.name, { spec, meta }] as const];
    }));
    this.#outputs = new Map(init.outputs.map((s) => [s.name, s]));
  }

  async execute(inputs: Tensor[], outputNames: string[]): Promise<RunnerResult> {
    const batching = this.#init.maxBatchSize > 0;
    const t0 = nowNs();
    const feeds = this.#feeds(inputs, batching);
    const fetchSpecs = outputNames.map((n) => this.#outputSpec(n));
    const t1 = nowNs();
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.#session.run(feeds, outputNames);
    } catch (err) {
      throw new InferenceError(ErrorCode.INTERNAL,
        `onnx runtime error while running ${modelId(this.#init)}: ${InferenceError.from(err).message}`);
    } finally {
      for (const t of Object.values(feeds)) t.dispose();
      releaseBuffers(inputs.map((t) => t.data)); // done with them: free a big request's bytes now
    }
    const t2 = nowNs();
    try {
      const scalar = sentScalar(inputs, batching);
      const outputs = fetchSpecs.map((spec) => toRawTensor(spec, results[spec.name], batching, modelId(this.#init), scalar));
      return { outputs, timings: { computeInputNs: t1 - t0, computeInferNs: t2 - t1, computeOutputNs: nowNs() - t2 } };
    } finally {
      for (const v of Object.values(results)) v.dispose();
    }
  }

  #feeds(inputs: Tensor[], batching: boolean): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) {
      const entry = this.#inputs.get(t.name);
      if (entry === undefined) {
        throw new InferenceError(ErrorCode.INVALID_ARG, `unexpected input '${t.name}' for ${modelId(this.#init)}`);
      }
      try {
        feeds[t.name] = toOrtTensor(t, feedShape(entry.spec, entry.meta, t.shape, batching));
      } catch (err) {
        if (err instanceof InferenceError) throw inTensorOf(modelId(this.#init), 'input', err);
        throw new InferenceError(ErrorCode.INVALID_ARG,
          `input '${t.name}' of ${modelId(this.#init)}: ${InferenceError.from(err).message}`);
      }
    }
    return feeds;
  }

  #outputSpec(name: string): TensorSpec {
    const spec = this.#outputs.get(name);
    if (spec === undefined) {
      throw new InferenceError(ErrorCode.INVALID_ARG, `unexpected output '${name}' requested from ${modelId(this.#init)}`);
    }
    return spec;
  }

  async dispose(): Promise<void> {
    await this.#session.release();
  }
}

function providerName(init: OnnxRunnerInit): string {
  const first = init.executionProviders?.[0] ?? 'cpu';
  return typeof first === 'string' ? first : first.name;
}

/** A GPU provider that failed to start: its own message, plus how to install CUDA when its library is missing. */
function providerError(init: OnnxRunnerInit, file: string, err: unknown): InferenceError {
  const message = InferenceError.from(err).message.trim();
  const provider = providerName(init);
  const missingLibrary = /Failed to load (shared )?library/i.test(message) && (provider === 'cuda' || provider === 'tensorrt');
  return new InferenceError(ErrorCode.UNAVAILABLE,
    `unable to load ${modelId(init)} from ${file} on GPU ${init.gpuDeviceId ?? 0} with the ${provider} execution provider: ${message}`
    + (missingLibrary ? ` (${CUDA_INSTALL_HINT})` : ''));
}

async function createSession(init: OnnxRunnerInit, file: string): Promise<ort.InferenceSession> {
  const executionProviders = init.executionProviders ?? ['cpu'];
  try {
    return await ort.InferenceSession.create(file, { ...init.sessionOptions, executionProviders });
  } catch (err) {
    if (init.gpuDeviceId !== undefined) throw providerError(init, file, err);
    throw new InferenceError(ErrorCode.INVALID_ARG,
      `unable to load ${modelId(init)} from ${file}: ${InferenceError.from(err).message}`);
  }
}

/** The runner module entry (see worker-messages.ts, CreateRunner). */
export async function createRunner(rawInit: unknown, ctx: RunnerContext): Promise<Runner> {
  const init = rawInit as OnnxRunnerInit;
  const file = await resolveModelFile(init);
  const session = await createSession(init, file);
  const info: SessionIoInfo = {
    inputs: session.inputMetadata.map(toIoMetadata),
    outputs: session.outputMetadata.map(toIoMetadata),
    executionProvider: providerName(init),
  };
  if (init.metadataOnly !== true) {
    try {
      checkAgainstSession(init, info);
    } catch (err) {
      await session.release();
      throw err;
    }
  }
  ctx.log.debug('onnxruntime session created', { file, sessionOptions: init.sessionOptions, executionProvider: info.executionProvider, gpu: init.gpuDeviceId });
  return new OnnxRunner(init, session, info);
}
