/**
 * Which TensorFlow.js backend ("runtime") an instance worker computes with. Runs inside the worker
 * (each worker thread has its own tfjs engine).
 *
 *   tfjs-node-gpu, tfjs-node   libtensorflow through @tensorflow/tfjs-node(-gpu), optional peer
 *                              dependencies loaded only with import(); they register the
 *                              "tensorflow" tfjs backend. Not installed → not used.
 *   wasm                       @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD; single-threaded:
 *                              parallelism comes from instances, one worker each).
 *   cpu                        @tensorflow/tfjs-backend-cpu, plain JavaScript.
 *
 *   webgpu                     @tensorflow/tfjs-backend-webgpu on Dawn (npm `webgpu`), optional
 *                              peer dependencies loaded only with import(); see gpu/tfjs-webgpu.ts.
 *
 * `auto` (the default): for a KIND_GPU instance tfjs-node-gpu, else webgpu, else the load fails
 * (gpu/tfjs-gpu-runtime.ts: a GPU instance never runs on the CPU unasked). For a CPU instance
 * tfjs-node then tfjs-node-gpu; when neither is installed, wasm or cpu, whichever runs the model
 * faster (the runner measures both at load: cpu has less per-op overhead and wins on tiny
 * graphs, wasm wins as soon as there is real arithmetic).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import {
  NATIVE_MODULES, type NativeRuntime, type PureRuntime, type TfRuntimeName, type TfRuntimePreference,
} from './tensorflow-runtime-name.js';

/** tfjs backend name of each runtime. */
const BACKEND: Readonly<Record<TfRuntimeName, string>> = {
  'tfjs-node-gpu': 'tensorflow', 'tfjs-node': 'tensorflow', webgpu: 'webgpu', wasm: 'wasm', cpu: 'cpu',
};

let configured = false;

/** Process-wide (per worker) tfjs flags, set once before any backend initialises. */
export function configureTfjs(): typeof tf {
  if (!configured) {
    // PROD: no debug checks and no "install tfjs-node" console banners inside a server.
    tf.env().set('PROD', true);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    configured = true;
  }
  return tf;
}

async function tryNative(specifier: string): Promise<boolean> {
  try {
    await import(specifier);
  } catch {
    return false;
  }
  return tf.setBackend('tensorflow').catch(() => false);
}

/**
 * Loads and activates a native runtime when the preference allows one and it is installed; the
 * name of the one activated, or undefined. Throws UNSUPPORTED when a native runtime was asked for
 * by name and cannot be loaded.
 */
export async function activateNativeRuntime(
  pref: TfRuntimePreference, gpuInstance: boolean, modules: Readonly<Record<NativeRuntime, string>> = NATIVE_MODULES,
): Promise<NativeRuntime | undefined> {
  configureTfjs();
  const order: NativeRuntime[] = pref === 'auto'
    ? (gpuInstance ? ['tfjs-node-gpu'] : ['tfjs-node', 'tfjs-node-gpu'])
    : pref === 'tfjs-node' || pref === 'tfjs-node-gpu' ? [pref] : [];
  for (const name of order) if (await tryNative(modules[name])) return name;
  if (pref === 'tfjs-node' || pref === 'tfjs-node-gpu') {
    throw new InferenceError(ErrorCode.UNSUPPORTED,
      `runtime '${pref}' was requested but ${modules[pref]} is not installed or failed to load`);
  }
  return undefined;
}

/** The pure-JavaScript runtimes to consider for a preference (empty for a native one). */
export function pureCandidates(pref: TfRuntimePreference): PureRuntime[] {
  if (pref === 'auto') return ['wasm', 'cpu'];
  return pref === 'wasm' || pref === 'cpu' ? [pref] : [];
}

/** Makes `name` the active tfjs backend; false when it cannot initialise here. */
export async function activatePureRuntime(name: PureRuntime): Promise<boolean> {
  configureTfjs();
  return tf.setBackend(BACKEND[name]).catch(() => false);
}
