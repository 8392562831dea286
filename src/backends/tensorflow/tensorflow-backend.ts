/**
 * The TensorFlow backends. Both run every instance in a worker thread (tensorflow-runner.ts
 * through the generic host in workers/); the main thread never loads TensorFlow.js.
 *
 *   backend `tensorflow`, platform `tensorflow_savedmodel` (Triton's names): a TF2 or TF1
 *     SavedModel folder `<version>/model.savedmodel/` (saved_model.pb + variables/).
 *   backend `tensorflowjs`, platforms `tensorflowjs_graph` and `tensorflowjs_layers`: a TF.js
 *     model `<version>/model.json` plus the weight files it names. The format is read from
 *     model.json; auto-complete sets the matching platform.
 *
 * Hosting: every TensorFlow instance runs on a dedicated worker of the pool (workers/worker-pool.ts),
 * never on a shared one. TensorFlow.js keeps one engine per thread: one active backend
 * (tf.setBackend is global), one tensor registry and one set of kernel flags. Each instance picks
 * its own runtime at load (the wasm-vs-cpu probe switches the global backend back and forth), and
 * two models on one thread with different runtimes would have their weights moved between
 * backends on every switch. A dedicated worker still gets the pool's containment (heap limit,
 * watchdog, reload on crash); the cost is one V8 isolate per TensorFlow instance.
 *
 * Parameters (TF_SIGNATURE_DEF, TF_GRAPH_TAG, TF_RUNTIME): see tensorflow-config.ts. Runtime
 * choice (tfjs-node-gpu, tfjs-node, webgpu, wasm, cpu): see tensorflow-runtime.ts and, for KIND_GPU
 * instances, gpu/tfjs-gpu-runtime.ts; each instance logs the runtime it got.
 */
import type { Backend, BackendModel, InstanceContext, ModelInstance, ModelLoadContext } from '../backend.js';
import type { ModelConfig } from '../../config/model-config.js';
import { InferenceError } from '../../errors/inference-error.js';
import { workerTuning, type WorkerTuning } from '../../workers/worker-instance-proxy.js';
import {
  autoCompleteTfConfig, DEFAULT_MAX_BATCH_SIZE, TENSORFLOW_RUNNER_URL, TFJS_MODEL_FILE,
} from './tensorflow-autocomplete.js';
import { tensorSpecsFromConfig, tfParameters } from './tensorflow-config.js';
import type { NativeRuntime, WebgpuModules } from './tensorflow-runtime-name.js';
import type { TfRunnerInit } from './tensorflow-runner.js';
import { WorkerInstances } from '../worker-instances.js';

export interface TensorflowBackendOptions extends WorkerTuning {
  /** Auto-complete's max_batch_size for batchable models (Triton's default-max-batch-size); default 4. */
  defaultMaxBatchSize?: number;
  /** Replaces the package names of tfjs-node-gpu / tfjs-node (tests). */
  nativeModules?: Record<NativeRuntime, string>;
  /** Replaces the package names of the WebGPU runtime (tests). */
  webgpuModules?: WebgpuModules;
}

function withModelName(modelName: string | undefined, err: unknown): InferenceError {
  const e = InferenceError.from(err);
  return new InferenceError(e.code, `model '${modelName ?? ''}': ${e.message}`, { cause: e });
}

class TensorflowModel implements BackendModel {
  readonly #ctx: ModelLoadContext;
  readonly #init: TfRunnerInit;
  readonly #options: TensorflowBackendOptions;
  readonly #instances = new WorkerInstances();

  constructor(ctx: ModelLoadContext, init: TfRunnerInit, options: TensorflowBackendOptions) {
    this.#ctx = ctx;
    this.#init = init;
    this.#options = options;
  }

  async createInstance(ictx: InstanceContext): Promise<ModelInstance> {
    const o = this.#options;
    const init: TfRunnerInit = { ...this.#init, gpuInstance: ictx.kind === 'KIND_GPU', deviceId: ictx.deviceId };
    const proxy = await this.#instances.create({
      name: ictx.name, modelName: this.#ctx.modelName, version: this.#ctx.version,
      runnerModule: TENSORFLOW_RUNNER_URL, init, logger: this.#ctx.logger, dedicated: true, nativeCalls: true,
      ...workerTuning(o),
    });
    return proxy;
  }

  finalize(): Promise<void> {
    return this.#instances.finalizeAll();
  }
}

/** Checks that need no model file: datatypes with a v2 name, parameters. */
function validateTfConfig(config: Readonly<ModelConfig>): void {
  try {
    tensorSpecsFromConfig(config);
    tfParameters(config);
  } catch (err) {
    throw withModelName(config.name, err);
  }
}

function makeBackend(
  format: 'savedmodel' | 'tfjs', identity: Pick<Backend, 'name' | 'platforms' | 'defaultModelFilename'>, options: TensorflowBackendOptions,
): Backend {
  return {
    ...identity,
    validateConfig: validateTfConfig,
    autoCompleteConfig: (config, ctx) => autoCompleteTfConfig(config, ctx, {
      format,
      defaultMaxBatchSize: options.defaultMaxBatchSize ?? DEFAULT_MAX_BATCH_SIZE,
      ...(options.pool === undefined ? {} : { pool: options.pool }),
      ...(options.loadTimeoutMs === undefined ? {} : { loadTimeoutMs: options.loadTimeoutMs }),
    }),
    async createModel(ctx: ModelLoadContext): Promise<BackendModel> {
      let init: TfRunnerInit;
      try {
        const params = tfParameters(ctx.config);
        init = {
          modelName: ctx.modelName, version: ctx.version, modelPath: ctx.modelPath, format,
          tag: params.tag, signature: params.signature, runtime: params.runtime, gpuInstance: false,
          maxBatchSize: ctx.config.max_batch_size ?? 0, ...tensorSpecsFromConfig(ctx.config),
          ...(options.nativeModules === undefined ? {} : { nativeModules: options.nativeModules }),
          ...(options.webgpuModules === undefined ? {} : { webgpuModules: options.webgpuModules }),
        };
      } catch (err) {
        throw withModelName(ctx.modelName, err);
      }
      return new TensorflowModel(ctx, init, options);
    },
  };
}

/** Backend `tensorflow`: SavedModels (platform tensorflow_savedmodel). */
export function createTensorflowBackend(options: TensorflowBackendOptions = {}): Backend {
  return makeBackend('savedmodel', {
    name: 'tensorflow', platforms: ['tensorflow_savedmodel'], defaultModelFilename: 'model.savedmodel',
  }, options);
}

/** Backend `tensorflowjs`: TF.js graph and layers models (model.json). */
export function createTensorflowjsBackend(options: TensorflowBackendOptions = {}): Backend {
  return makeBackend('tfjs', {
    name: 'tensorflowjs', platforms: ['tensorflowjs_graph', 'tensorflowjs_layers'], defaultModelFilename: TFJS_MODEL_FILE,
  }, options);
}
