/**
 * The single place where backends are registered: the only module that names concrete backends.
 */
import type { WorkerPool } from '../workers/worker-pool.js';
import type { BackendRegistry } from './backend-registry.js';
import { createOnnxruntimeBackend } from './onnxruntime/onnxruntime-backend.js';
import { createTypescriptBackend } from './typescript/typescript-backend.js';
import { createTensorflowBackend, createTensorflowjsBackend } from './tensorflow/tensorflow-backend.js';

/** `pool` hosts every instance (and auto-complete read) of every backend; default the process-wide pool. */
export function setupBackends(registry: BackendRegistry, options: { pool?: WorkerPool } = {}): void {
  registry.register(createOnnxruntimeBackend(options));
  registry.register(createTensorflowBackend(options));
  registry.register(createTensorflowjsBackend(options));
  registry.register(createTypescriptBackend(options));
}
