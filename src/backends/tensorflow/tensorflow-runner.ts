/**
 * The TensorFlow runner module: loaded INSIDE a worker by worker-entry.ts, never on the main
 * thread (converting a SavedModel and running tfjs kernels block the thread that does it). One
 * runner owns one tfjs model on one runtime (tensorflow-runtime.ts) and logs which.
 *
 * Load: read/convert the files (tensorflow-source.ts), then, for an instance, pick the runtime,
 * build the model and check the config against it (tensorflow-instance.ts). A metadata-only load
 * (auto-complete) of a SavedModel or graph model stops after the files and never imports tfjs.
 */
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import type { Runner, RunnerContext } from '../../workers/worker-messages.js';
import { UnsupportedOpsError } from './savedmodel/saved-model-freezer.js';
import { TfFormatError } from './savedmodel/tf-proto.js';
import type { TfTensorSpec } from './tensorflow-config.js';
import type { NativeRuntime, TfRuntimeName, TfRuntimePreference, WebgpuModules } from './tensorflow-runtime-name.js';
import { prepareModelSource, type ModelSource } from './tensorflow-source.js';
import { tfjsSupportedOps } from './tfjs-ops.js';
import type { TfModelIo } from './tf-io.js';

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
  /** CUDA device id of a KIND_GPU instance (see gpu/tfjs-gpu-runtime.ts for what it can steer). */
  deviceId?: number;
  maxBatchSize: number;
  inputs: TfTensorSpec[];
  outputs: TfTensorSpec[];
  metadataOnly?: boolean;
  /** Replaces the native runtime package names (tests). */
  nativeModules?: Record<NativeRuntime, string>;
  /** Replaces the WebGPU runtime's package names (tests). */
  webgpuModules?: WebgpuModules;
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
  const e = err as NodeJS.ErrnoException;
  const why = err instanceof TfFormatError || e.code === undefined ? e.message : `cannot read it: ${e.message}`;
  return new InferenceError(code, `unable to load ${modelId(init)} from ${init.modelPath}: ${why}`);
}

async function prepare(init: TfRunnerInit): Promise<ModelSource> {
  try {
    return await prepareModelSource({
      path: init.modelPath, format: init.format, tag: init.tag, signature: init.signature,
      supportedOps: tfjsSupportedOps(),
    }, init.metadataOnly === true);
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
    const unusable = (): Promise<never> => Promise.reject(new InferenceError(ErrorCode.INTERNAL, 'metadata-only runner cannot execute'));
    return { info, execute: unusable, dispose: async () => undefined };
  }
  const { createTfRunner } = await import('./tensorflow-instance.js');
  return createTfRunner(init, source, ctx);
}
