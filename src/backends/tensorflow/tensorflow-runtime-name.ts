/**
 * Names of the TensorFlow runtimes (see tensorflow-runtime.ts), without loading any tfjs code:
 * the main thread validates configs with these.
 */
export const RUNTIMES = ['tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu'] as const;
export type TfRuntimeName = (typeof RUNTIMES)[number];
export type TfRuntimePreference = 'auto' | TfRuntimeName;
export type NativeRuntime = 'tfjs-node-gpu' | 'tfjs-node';
export type PureRuntime = 'wasm' | 'cpu';

export function isRuntimePreference(s: string): s is TfRuntimePreference {
  return s === 'auto' || (RUNTIMES as readonly string[]).includes(s);
}

/** Package names of the native runtimes, optional peer dependencies of Infera. */
export const NATIVE_MODULES: Readonly<Record<NativeRuntime, string>> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
};

/** The two optional peer packages of the WebGPU runtime: Dawn's Node binding and tfjs's WebGPU backend. */
export interface WebgpuModules {
  dawn: string;
  backend: string;
}

export const WEBGPU_MODULES: Readonly<WebgpuModules> = {
  dawn: 'webgpu',
  backend: '@tensorflow/tfjs-backend-webgpu',
};
