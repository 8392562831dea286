/**
 * Which ONNX Runtime execution provider each instance of a model runs on. Decided on the main
 * thread from the normalized config and from what onnxruntime-node has installed; loads no ORT.
 *
 *   KIND_CPU / KIND_MODEL   cpu
 *   KIND_GPU                gpu_execution_accelerator "tensorrt"  → TensorRT (CUDA for the nodes it leaves)
 *                           gpu_execution_accelerator "cuda"      → CUDA
 *                           gpu_execution_accelerator "webgpu"    → WebGPU (Infera's name)
 *                           none: CUDA when its provider library is installed, else WebGPU
 *
 * There is no silent fallback: a KIND_GPU instance whose provider cannot start fails to load with
 * the provider's own error, so the provider planned here is the one that runs. That is why the
 * plan can be reported in the ModelConfig response (parameter `execution_provider`, see
 * describeExecutionProviders) before any instance exists.
 *
 * onnxruntime-node bundles the CPU and WebGPU (Dawn) providers; CUDA and TensorRT come as extra
 * shared libraries its install script puts beside the binding when ONNXRUNTIME_NODE_INSTALL=cuda12
 * (or --onnxruntime-node-install=cuda12) is given (linux/x64 only). WebGPU takes no device id: its instances all use Dawn's
 * default adapter.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ModelConfig } from '../../config/model-config.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';

export type OrtProviderName = 'cpu' | 'cuda' | 'tensorrt' | 'webgpu';
export type GpuAccelerator = Exclude<OrtProviderName, 'cpu'>;

/** One entry of ORT's `executionProviders` session option (structured-cloneable). */
export type OrtProviderConfig = 'cpu' | { name: 'cuda' | 'tensorrt'; deviceId: number } | { name: 'webgpu' };

export interface OrtProviderPlan {
  /** The provider that runs the instance's nodes (ORT's CPU provider takes what it leaves). */
  name: OrtProviderName;
  /** CUDA device id for cuda/tensorrt; undefined for cpu and webgpu. */
  deviceId: number | undefined;
  executionProviders: OrtProviderConfig[];
}

/** The config parameter reporting the plan in ModelConfig responses; output only (overwritten at load). */
export const EXECUTION_PROVIDER_PARAMETER = 'execution_provider';

const ACCELERATORS: ReadonlySet<string> = new Set<GpuAccelerator>(['tensorrt', 'cuda', 'webgpu']);

/**
 * The GPU accelerator the config asks for, or undefined. Accepts one name, or tensorrt with cuda
 * (Triton's way of passing CUDA options alongside TensorRT). Throws INVALID_ARG otherwise.
 */
export function requestedGpuAccelerator(config: Readonly<ModelConfig>): GpuAccelerator | undefined {
  const names = (config.optimization?.execution_accelerators?.gpu_execution_accelerator ?? []).map((a) => a.name ?? '');
  for (const n of names) {
    if (!ACCELERATORS.has(n)) {
      throw new InferenceError(ErrorCode.INVALID_ARG,
        `unknown gpu_execution_accelerator '${n}' for onnxruntime (known: tensorrt, cuda, webgpu)`);
    }
  }
  const distinct = [...new Set(names)] as GpuAccelerator[];
  if (distinct.length <= 1) return distinct[0];
  if (distinct.length === 2 && distinct.includes('tensorrt') && distinct.includes('cuda')) return 'tensorrt';
  throw new InferenceError(ErrorCode.INVALID_ARG,
    `gpu_execution_accelerator lists ${distinct.join(' and ')}; onnxruntime takes one of them (or tensorrt with cuda)`);
}

/** Plans one instance. `cudaInstalled`: whether onnxruntime-node's CUDA provider library is present. */
export function planOrtProviders(
  kind: 'KIND_CPU' | 'KIND_GPU' | 'KIND_MODEL', deviceId: number, accelerator: GpuAccelerator | undefined, cudaInstalled: boolean,
): OrtProviderPlan {
  if (kind !== 'KIND_GPU') return { name: 'cpu', deviceId: undefined, executionProviders: ['cpu'] };
  const name = accelerator ?? (cudaInstalled ? 'cuda' : 'webgpu');
  switch (name) {
    case 'tensorrt':
      return { name, deviceId, executionProviders: [{ name: 'tensorrt', deviceId }, { name: 'cuda', deviceId }, 'cpu'] };
    case 'cuda':
      return { name, deviceId, executionProviders: [{ name: 'cuda', deviceId }, 'cpu'] };
    case 'webgpu':
      return { name, deviceId: undefined, executionProviders: [{ name: 'webgpu' }, 'cpu'] };
  }
}

/**
 * The value of the `execution_provider` parameter: `<group>=<provider>` per instance group, in
 * config order, joined by ", " (e.g. "mlp_0=cuda, mlp_1=cpu").
 */
export function describeExecutionProviders(config: Readonly<ModelConfig>, cudaInstalled: boolean): string {
  const accelerator = requestedGpuAccelerator(config);
  return (config.instance_group ?? []).map((g) => {
    const kind = g.kind === 'KIND_GPU' ? 'KIND_GPU' : 'KIND_CPU';
    return `${g.name ?? ''}=${planOrtProviders(kind, 0, accelerator, cudaInstalled).name}`;
  }).join(', ');
}

const CUDA_LIBRARY: Readonly<Record<string, string>> = {
  linux: 'libonnxruntime_providers_cuda.so',
  win32: 'onnxruntime_providers_cuda.dll',
};

/** The folder holding onnxruntime-node's binding for this platform, or undefined if it cannot be found. */
export function ortBindingDir(): string | undefined {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node');
    return path.join(path.dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

/** Whether onnxruntime-node's CUDA provider library sits beside its binding (a file check; loads nothing). */
export function ortCudaProviderInstalled(bindingDir: string | undefined = ortBindingDir()): boolean {
  const lib = CUDA_LIBRARY[process.platform];
  return bindingDir !== undefined && lib !== undefined && existsSync(path.join(bindingDir, lib));
}

/** How to get the CUDA provider, appended to load errors that show it is missing. */
export const CUDA_INSTALL_HINT =
  'install the CUDA provider with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` or `npm install onnxruntime-node --onnxruntime-node-install=cuda12` (Linux x64; needs CUDA 12 and cuDNN 9 on the library path)';
