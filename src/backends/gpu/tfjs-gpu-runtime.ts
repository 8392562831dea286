/**
 * The TensorFlow runtime of a KIND_GPU instance (inside its worker):
 *
 *   TF_RUNTIME auto (default)   tfjs-node-gpu when installed, else webgpu, else the load fails
 *                               with both reasons: a GPU instance never lands on the CPU unasked
 *   TF_RUNTIME tfjs-node-gpu    that, or fail
 *   TF_RUNTIME webgpu           that, or fail (also allowed for CPU instances)
 *   TF_RUNTIME tfjs-node/wasm/cpu   honoured, with a warning: the user asked for a CPU runtime
 *
 * Device choice: libtensorflow (tfjs-node-gpu) places work on its first visible GPU and WebGPU
 * cannot name a device, so an instance whose device id is not 0 logs that it runs on the default
 * GPU. CUDA_VISIBLE_DEVICES on the whole server is the way to steer both.
 */
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import type { RunnerLogger } from '../../workers/worker-messages.js';
import { activateNativeRuntime } from '../tensorflow/tensorflow-runtime.js';
import {
  NATIVE_MODULES, WEBGPU_MODULES, type NativeRuntime, type TfRuntimePreference, type WebgpuModules,
} from '../tensorflow/tensorflow-runtime-name.js';
import { activateWebgpu } from './tfjs-webgpu.js';

export interface GpuRuntimeInit {
  runtime: TfRuntimePreference;
  gpuInstance: boolean;
  deviceId?: number | undefined;
  nativeModules?: Record<NativeRuntime, string> | undefined;
  webgpuModules?: WebgpuModules | undefined;
}

export interface GpuRuntimeChoice {
  runtime: 'tfjs-node-gpu' | 'webgpu';
  details: Record<string, unknown>;
}

async function webgpu(init: GpuRuntimeInit): Promise<GpuRuntimeChoice> {
  const adapter = await activateWebgpu(init.webgpuModules ?? WEBGPU_MODULES);
  return { runtime: 'webgpu', details: { adapter } };
}

function unavailable(message: string): InferenceError {
  return new InferenceError(ErrorCode.UNAVAILABLE, message);
}

async function autoOnGpu(init: GpuRuntimeInit): Promise<GpuRuntimeChoice> {
  const modules = init.nativeModules ?? NATIVE_MODULES;
  // 'auto' on a GPU instance tries tfjs-node-gpu only, and answers undefined when it cannot load.
  if (await activateNativeRuntime('auto', true, modules) !== undefined) return { runtime: 'tfjs-node-gpu', details: {} };
  try {
    return await webgpu(init);
  } catch (e) {
    throw unavailable(`no TensorFlow GPU runtime could start for this KIND_GPU instance: tfjs-node-gpu: ${modules['tfjs-node-gpu']} is not installed or failed to load; webgpu: ${(e as Error).message}`);
  }
}

/**
 * The GPU runtime this instance must use, activated; undefined when the choice is a CPU runtime
 * (the caller's usual path). Rejects with UNAVAILABLE and the runtime's own reason.
 */
export async function activateGpuRuntime(init: GpuRuntimeInit, log: RunnerLogger): Promise<GpuRuntimeChoice | undefined> {
  let choice: GpuRuntimeChoice | undefined;
  if (init.runtime === 'webgpu') {
    choice = await webgpu(init).catch((e: unknown) => {
      throw unavailable(`TF_RUNTIME webgpu cannot start: ${(e as Error).message}`);
    });
  } else if (!init.gpuInstance) {
    return undefined;
  } else if (init.runtime === 'auto') {
    choice = await autoOnGpu(init);
  } else if (init.runtime === 'tfjs-node-gpu') {
    await activateNativeRuntime('tfjs-node-gpu', true, init.nativeModules ?? NATIVE_MODULES);
    choice = { runtime: 'tfjs-node-gpu', details: {} };
  } else {
    log.warn(`KIND_GPU instance runs on the CPU runtime ${init.runtime} because TF_RUNTIME asks for it`, { runtime: init.runtime });
    return undefined;
  }
  if (init.gpuInstance && (init.deviceId ?? 0) !== 0) {
    log.warn(`${choice.runtime} cannot pick GPU ${init.deviceId}: this instance runs on the default GPU`, { deviceId: init.deviceId });
  }
  return { runtime: choice.runtime, details: { ...choice.details, reason: init.runtime === 'auto' ? 'GPU instance' : 'TF_RUNTIME parameter' } };
}
