/**
 * The single place where backends are registered: the only module that names concrete backends.
 */
import type { BackendRegistry } from './backend-registry.js';
import { createOnnxruntimeBackend } from './onnxruntime/onnxruntime-backend.js';
import { createTensorflowBackend, createTensorflowjsBackend } from './tensorflow/tensorflow-backend.js';

export function setupBackends(registry: BackendRegistry): void {
  registry.register(createOnnxruntimeBackend());
  registry.register(createTensorflowBackend());
  registry.register(createTensorflowjsBackend());
}
