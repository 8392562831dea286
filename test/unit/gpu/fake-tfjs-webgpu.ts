// Stands in for @tensorflow/tfjs-backend-webgpu: like the real package it registers the "webgpu"
// backend only when navigator.gpu exists at import time (here with the cpu kernels), so a wrong
// setup order shows up as a missing backend.
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
if (nav?.gpu !== undefined && (globalThis as { GPUMapMode?: unknown }).GPUMapMode !== undefined) {
  tf.registerBackend('webgpu', () => new MathBackendCPU(), 0);
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'webgpu' });
}
