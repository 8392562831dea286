/**
 * The TensorFlow runner: loaded INSIDE an instance worker by worker-entry.ts, never on the main
 * thread (converting a SavedModel and running tfjs kernels block the thread that does it). One
 * runner owns one tfjs model on one runtime (tensorflow-runtime.ts), and logs which.
 *
 * Load: read/convert the files, pick the runtime, build the model, check the config against the
 * model's declared inputs/outputs. With `metadataOnly` (auto-complete) it only reports them.
 * Execute: v2 tensors → tfjs tensors (tensorflow-types.ts rules) → run → raw bytes; every tfjs
 * tensor created is disposed before execute settles, so memory stays flat over a long run.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '../../core/tensor.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { nowNs } from '../../util/clock.js';
import type { Runner, RunnerContext, RunnerResult } from '../../workers/worker-messages.js';
import { UnsupportedOpsError } from './savedmodel/saved-model-freezer.js';
import { TfFormatError } from './savedmodel/tf-proto.js';
import {
  configProblems, feedShape, reportedShape, type TfTensorSpec,
} from './tensorflow-config.js';
import { loadModel, prepareModelSource, type LoadedModel, type ModelSource } from './tensorflow-model.js';
import type { NativeRuntime, TfRuntimeName, TfRuntimePreference } from './tensorflow-runtime-name.js';
import { chooseRuntime } from './tensorflow-runtime-choice.js';
import { fromTfjsValues, tfjsDtypeOf, toTfjsValues } from './tensorflow-types.js';
import { tfjsSupportedOps } from './tfjs-ops.js';
import type { TfIoInfo, TfModelIo } from './tf-io.js';

export interface TfRunnerInit {
  modelName: string;
  version?: number;
  /** `<version>/model.savedmodel` folder or `<version>/model.json` file. */
  modelPath: string;
  format: 'savedmodel' | 'tfjs';
  tag: string;
  signature: string;
  runtime: TfRuntimePreference;
  gpuInstance: boolean;
  maxBatchSize: number;
  inputs: TfTensorSpec[];
  outputs: TfTensorSpec[];
  metadataOnly?: boolean;
  /** Replaces the native runtime package names (tests). */
  nativeModules?: Record<NativeRuntime, string>;
}

/** The runner's `info`, sent with load-done. */
export interface TfRunnerInfo {
  io: TfModelIo;
  format: string;
  runtime: TfRuntimeName;
}

function modelId(init: TfRunnerInit): string {
  return init.version === undefined ? `model '${init.modelName}'` : `model '${init.modelName}' version ${init.version}`;
}

function loadError(init: TfRunnerInit, err: unknown): InferenceError {
  if (err instanceof InferenceError) return err;
  const code = err instanceof UnsupportedOpsError ? ErrorCode.UNSUPPORTED : ErrorCode.INVALID_ARG;
  const why = err instanceof TfFormatError ? err.message : `cannot read it: ${(err as Error).message}`;
  return new InferenceError(code, `unable to load ${modelId(init)} from ${init.modelPath}: ${why}`);
}

class TfRunner implements Runner {
  readonly info: TfRunnerInfo;
  readonly #init: TfRunnerInit;
  readonly #model: LoadedModel;
  readonly #inputs: Map<string, { spec: TfTensorSpec; info: TfIoInfo }>;
  readonly #outputs: Map<string, TfTensorSpec>;

  constructor(init: TfRunnerInit, model: LoadedModel, info: TfRunnerInfo) {
    this.#init = init;
    this.#model = model;
    this.info = info;
    const infos = new Map(model.io.inputs.map((m) => [m.name, m]));
    this.#inputs = new Map(init.inputs.flatMap((spec) => {
      const i = infos.get(spec.name);
      return i === undefined ? [] : [[spec.name, { spec, info: i }] as const];
    }));
    this.#outputs = new Map(init.outputs.map((s) => [s.name, s]));
  }

  #feed(t: Tensor, batching: boolean): tf.Tensor {
    const entry = this.#inputs.get(t.name);
    if (entry === undefined) throw new InferenceError(ErrorCode.INVALID_ARG, `unexpected input '${t.name}' for ${modelId(this.#init)}`);
    const values = toTfjsValues(t.datatype, t.data, t.name);
    const shape = feedShape(entry.spec, entry.info, t.shape, batching);
    return tf.tensor(values as tf.TensorLike, shape, tfjsDtypeOf(t.datatype));
  }

  async #fetch(spec: TfTensorSpec, t: tf.Tensor, batching: boolean): Promise<Tensor> {
    const values = t.dtype === 'string' ? await t.bytes() as Uint8Array[] : t.dataSync() as Float32Array | Int32Array | Uint8Array;
    const data = fromTfjsValues(values, t.dtype, spec.datatype, spec.name);
    return { name: spec.name, datatype: spec.datatype, shape: reportedShape(spec, t.shape, batching), data };
  }

  async execute(inputs: Tensor[], outputNames: string[]): Promise<RunnerResult> {
    const batching = this.#init.maxBatchSize > 0;
    const specs = outputNames.map((n) => {
      const s = this.#outputs.get(n);
      if (s === undefined) throw new InferenceError(ErrorCode.INVALID_ARG, `unexpected output '${n}' requested from ${modelId(this.#init)}`);
      return s;
    });
    const feeds = new Map<string, tf.Tensor>();
    let results: tf.Tensor[] = [];
    try {
      const t0 = nowNs();
      for (const t of inputs) feeds.set(t.name, this.#feed(t, batching));
      const t1 = nowNs();
      results = await this.#run(feeds, outputNames);
      const t2 = nowNs();
      const outputs = await Promise.all(specs.map((s, i) => this.#fetch(s, results[i]!, batching)));
      return { outputs, timings: { computeInputNs: t1 - t0, computeInferNs: t2 - t1, computeOutputNs: nowNs() - t2 } };
    } finally {
      for (const t of feeds.values()) t.dispose();
      for (const t of results) t.dispose();
    }
  }

  async #run(feeds: Map<string, tf.Tensor>, outputNames: string[]): Promise<tf.Tensor[]> {
    try {
      return await this.#model.run(feeds, outputNames);
    } catch (err) {
      if (err instanceof InferenceError) throw err;
      throw new InferenceError(ErrorCode.INTERNAL,
        `TensorFlow.js error while running ${modelId(this.#init)}: ${(err as Error).message}`);
    }
  }

  async dispose(): Promise<void> {
    this.#model.dispose();
  }
}

function checkConfig(init: TfRunnerInit, io: TfModelIo): void {
  const problems = configProblems(init, io, init.maxBatchSize > 0);
  if (problems.length > 0) {
    throw new InferenceError(ErrorCode.INVALID_ARG, `unable to load ${modelId(init)}: ${problems.join('; ')}`);
  }
}

async function prepare(init: TfRunnerInit): Promise<ModelSource> {
  const metadataOnly = init.metadataOnly === true;
  try {
    return await prepareModelSource({
      path: init.modelPath, format: init.format, tag: init.tag, signature: init.signature,
      supportedOps: tfjsSupportedOps(),
    }, metadataOnly);
  } catch (err) {
    throw loadError(init, err);
  }
}

/** The runner module entry (see worker-messages.ts, CreateRunner). */
export async function createRunner(rawInit: unknown, ctx: RunnerContext): Promise<Runner> {
  const init = rawInit as TfRunnerInit;
  const source = await prepare(init);
  if (init.metadataOnly === true && source.io !== undefined) {
    const info: TfRunnerInfo = { io: source.io, format: source.format, runtime: 'cpu' };
    return { info, execute: () => Promise.reject(new InferenceError(ErrorCode.INTERNAL, 'metadata-only runner')), dispose: async () => undefined };
  }
  const chosen = await chooseRuntime(init, source, (s) => loadModel(s), ctx.log).catch((err: unknown) => {
    throw loadError(init, err);
  });
  const info: TfRunnerInfo = { io: chosen.model.io, format: source.format, runtime: chosen.runtime };
  if (init.metadataOnly !== true) {
    try {
      checkConfig(init, chosen.model.io);
    } catch (err) {
      chosen.model.dispose();
      throw err;
    }
    ctx.log.info(`TensorFlow model loaded on runtime ${chosen.runtime}`, {
      runtime: chosen.runtime, format: source.format, ...source.details, ...chosen.details,
    });
  }
  return new TfRunner(init, chosen.model, info);
}
