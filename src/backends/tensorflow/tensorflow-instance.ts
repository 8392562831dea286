/**
 * The part of the TensorFlow runner that needs TensorFlow.js, imported by tensorflow-runner.ts
 * only for instance loads: runtime choice, model build, config check, and execution.
 * Execute: v2 tensors → tfjs tensors (tensorflow-types.ts rules) → run → raw bytes; every tfjs
 * tensor created is disposed before execute settles, so memory stays flat over a long run.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '../../core/tensor.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { nowNs } from '../../util/clock.js';
import type { Runner, RunnerContext, RunnerResult } from '../../workers/worker-messages.js';
import { configProblems, type TfTensorSpec } from './tensorflow-config.js';
import { feedShape, reportedShape, sentScalar } from '../config-vs-model.js';
import { loadModel, type LoadedModel } from './tensorflow-model.js';
import { chooseRuntime } from './tensorflow-runtime-choice.js';
import type { TfRunnerInfo, TfRunnerInit } from './tensorflow-runner.js';
import type { ModelSource } from './tensorflow-source.js';
import { fromTfjsValues, tfjsDtypeOf, toTfjsValues } from './tensorflow-types.js';
import type { TfIoInfo } from './tf-io.js';

function modelId(init: TfRunnerInit): string {
  return init.version === undefined ? `model '${init.modelName}'` : `model '${init.modelName}' version ${init.version}`;
}

export class TfRunner implements Runner {
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

  async #fetch(spec: TfTensorSpec, t: tf.Tensor, batching: boolean, scalarRequest: boolean): Promise<Tensor> {
    const values = t.dtype === 'string' ? await t.bytes() as Uint8Array[] : t.dataSync() as Float32Array | Int32Array | Uint8Array;
    const data = fromTfjsValues(values, t.dtype, spec.datatype, spec.name);
    return { name: spec.name, datatype: spec.datatype, shape: reportedShape(spec, t.shape, batching, scalarRequest), data };
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
      const scalar = sentScalar(inputs, batching);
      const outputs = await Promise.all(specs.map((s, i) => this.#fetch(s, results[i]!, batching, scalar)));
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

/**
 * Picks the runtime, builds the model on it and checks the config against it (skipped for a
 * metadata-only load). Rejects with an InferenceError naming the model.
 */
export async function createTfRunner(init: TfRunnerInit, source: ModelSource, ctx: RunnerContext): Promise<TfRunner> {
  const chosen = await chooseRuntime(init, source, (s) => loadModel(s), ctx.log).catch((err: unknown) => {
    if (err instanceof InferenceError) throw err;
    throw new InferenceError(ErrorCode.INVALID_ARG, `unable to load ${modelId(init)}: ${(err as Error).message}`);
  });
  const info: TfRunnerInfo = { io: chosen.model.io, format: source.format, runtime: chosen.runtime };
  if (init.metadataOnly !== true) {
    const problems = configProblems(init, chosen.model.io, init.maxBatchSize > 0);
    if (problems.length > 0) {
      chosen.model.dispose();
      throw new InferenceError(ErrorCode.INVALID_ARG, `unable to load ${modelId(init)}: ${problems.join('; ')}`);
    }
    ctx.log.info(`TensorFlow model loaded on runtime ${chosen.runtime}`, {
      runtime: chosen.runtime, format: source.format, ...source.details, ...chosen.details,
    });
  }
  return new TfRunner(init, chosen.model, info);
}
