/**
 * TensorFlow.js's WebGPU backend in Node, inside an instance worker: Dawn's Node binding (npm
 * `webgpu`) provides `navigator.gpu` and the GPU* constants, then `@tensorflow/tfjs-backend-webgpu`
 * registers the "webgpu" tfjs backend (it checks for navigator.gpu when imported, so the order
 * matters). Both are optional peer dependencies: Infera does not install a 20 MB native binding per
 * platform for everyone; `npm install webgpu @tensorflow/tfjs-backend-webgpu@4.22.0` adds them.
 *
 * Dawn picks the adapter (Vulkan on Linux, D3D12 on Windows, Metal on macOS); WebGPU has no device
 * index, so every WebGPU instance runs on the default high-performance adapter.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebgpuModules } from '../tensorflow/tensorflow-runtime-name.js';

/** The parts of Dawn's binding used here. */
interface DawnModule {
  create(options: string[]): GpuEntry;
  globals: Record<string, unknown>;
}

interface GpuEntry {
  requestAdapter(options?: { powerPreference?: string }): Promise<{ info?: { vendor?: string; architecture?: string; description?: string } } | null>;
}

/** Why the WebGPU runtime cannot start; the message is the reason shown in load errors. */
export class WebgpuUnavailableError extends Error {}

async function importOrExplain(specifier: string, role: string): Promise<unknown> {
  try {
    return await import(specifier);
  } catch (e) {
    throw new WebgpuUnavailableError(`${role} ${specifier} is not installed or failed to load: ${(e as Error).message}`);
  }
}

function installNavigatorGpu(gpu: GpuEntry): void {
  const g = globalThis as { navigator?: object };
  // Node 21+ has a navigator object without `gpu`; Node 20 has none.
  if (g.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
}

/**
 * Makes "webgpu" the active tfjs backend of this worker, or throws WebgpuUnavailableError saying
 * which step failed (package missing, no adapter, backend init). Returns the adapter's description.
 */
export async function activateWebgpu(modules: WebgpuModules): Promise<string> {
  const dawn = (await importOrExplain(modules.dawn, 'Dawn binding')) as Partial<DawnModule>;
  if (typeof dawn.create !== 'function' || typeof dawn.globals !== 'object') {
    throw new WebgpuUnavailableError(`${modules.dawn} does not export create() and globals as Dawn's binding does`);
  }
  const gpu = dawn.create([]);
  let adapter: Awaited<ReturnType<GpuEntry['requestAdapter']>>;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    throw new WebgpuUnavailableError(`Dawn could not request a WebGPU adapter: ${(e as Error).message}`);
  }
  if (adapter === null) throw new WebgpuUnavailableError('Dawn found no WebGPU adapter (no GPU with a Vulkan, D3D12 or Metal driver)');
  Object.assign(globalThis, dawn.globals);
  installNavigatorGpu(gpu);
  await importOrExplain(modules.backend, 'tfjs WebGPU backend');
  if (tf.findBackendFactory('webgpu') === null) {
    throw new WebgpuUnavailableError(`${modules.backend} did not register a "webgpu" tfjs backend`);
  }
  if (!(await tf.setBackend('webgpu').catch(() => false))) {
    throw new WebgpuUnavailableError('the tfjs "webgpu" backend failed to initialise on the adapter Dawn found');
  }
  const info = adapter.info ?? {};
  return [info.vendor, info.architecture, info.description].filter((s) => s !== undefined && s !== '').join(' ') || 'unknown adapter';
}
