// Which ONNX Runtime execution provider each instance gets, how a config asks for one, and what
// the ModelConfig response reports; the CUDA-installed probe is a file check.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  describeExecutionProviders, ortBindingDir, ortCudaProviderInstalled, planOrtProviders, requestedGpuAccelerator,
} from '../../../src/backends/gpu/onnxruntime-providers.js';
import { createOnnxruntimeBackend } from '../../../src/backends/onnxruntime/onnxruntime-backend.js';
import type { ModelConfig } from '../../../src/config/model-config.js';

const withAccel = (...names: string[]): ModelConfig => ({
  name: 'm', optimization: { execution_accelerators: { gpu_execution_accelerator: names.map((name) => ({ name })) } },
});

describe('requestedGpuAccelerator', () => {
  it('reads one of tensorrt, cuda, webgpu, or tensorrt with cuda', () => {
    assert.equal(requestedGpuAccelerator({ name: 'm' }), undefined);
    assert.equal(requestedGpuAccelerator(withAccel('tensorrt')), 'tensorrt');
    assert.equal(requestedGpuAccelerator(withAccel('cuda')), 'cuda');
    assert.equal(requestedGpuAccelerator(withAccel('webgpu')), 'webgpu');
    assert.equal(requestedGpuAccelerator(withAccel('cuda', 'tensorrt')), 'tensorrt');
    assert.equal(requestedGpuAccelerator(withAccel('cuda', 'cuda')), 'cuda');
  });

  it('refuses unknown names and combinations ORT cannot honour', () => {
    assert.throws(() => requestedGpuAccelerator(withAccel('openvino')), /unknown gpu_execution_accelerator 'openvino' for onnxruntime \(known: tensorrt, cuda, webgpu\)/);
    assert.throws(() => requestedGpuAccelerator(withAccel('')), /unknown gpu_execution_accelerator ''/);
    assert.throws(() => requestedGpuAccelerator(withAccel('webgpu', 'cuda')), /lists webgpu and cuda; onnxruntime takes one of them/);
  });

  it('the backend refuses them at config validation, naming the model', () => {
    const backend = createOnnxruntimeBackend();
    assert.throws(() => backend.validateConfig!(withAccel('TensorRT')), /model 'm': unknown gpu_execution_accelerator 'TensorRT'/);
  });
});

describe('planOrtProviders', () => {
  it('CPU and MODEL instances run on the CPU provider whatever the config asks for GPUs', () => {
    for (const kind of ['KIND_CPU', 'KIND_MODEL'] as const) {
      assert.deepEqual(planOrtProviders(kind, 3, 'tensorrt', true), { name: 'cpu', deviceId: undefined, executionProviders: ['cpu'] });
    }
  });

  it('GPU instances: CUDA when installed, else WebGPU; TensorRT keeps CUDA behind it; device ids go to CUDA/TensorRT', () => {
    assert.deepEqual(planOrtProviders('KIND_GPU', 1, undefined, true), { name: 'cuda', deviceId: 1, executionProviders: [{ name: 'cuda', deviceId: 1 }, 'cpu'] });
    assert.deepEqual(planOrtProviders('KIND_GPU', 1, undefined, false), { name: 'webgpu', deviceId: undefined, executionProviders: [{ name: 'webgpu' }, 'cpu'] });
    assert.deepEqual(planOrtProviders('KIND_GPU', 2, 'tensorrt', false).executionProviders,
      [{ name: 'tensorrt', deviceId: 2 }, { name: 'cuda', deviceId: 2 }, 'cpu']);
    assert.equal(planOrtProviders('KIND_GPU', 0, 'cuda', false).name, 'cuda');
    assert.equal(planOrtProviders('KIND_GPU', 0, 'webgpu', true).name, 'webgpu');
  });
});

describe('the execution_provider parameter of the ModelConfig response', () => {
  const groups: ModelConfig = {
    name: 'm', instance_group: [{ name: 'm_0', kind: 'KIND_GPU', count: 1, gpus: [0, 1] }, { name: 'm_1', kind: 'KIND_CPU', count: 2 }],
  };

  it('names the provider of each instance group', () => {
    assert.equal(describeExecutionProviders(groups, true), 'm_0=cuda, m_1=cpu');
    assert.equal(describeExecutionProviders(groups, false), 'm_0=webgpu, m_1=cpu');
    assert.equal(describeExecutionProviders({ ...groups, ...withAccel('tensorrt') }, false), 'm_0=tensorrt, m_1=cpu');
  });

  it('the backend adds it and overwrites one a user config carries, leaving the rest alone', () => {
    const backend = createOnnxruntimeBackend({ cudaProviderInstalled: false });
    const input: ModelConfig = { ...groups, parameters: { execution_provider: { string_value: 'lies' }, other: { string_value: 'x' } } };
    const out = backend.reportConfig!(input);
    assert.deepEqual(out.parameters, { execution_provider: { string_value: 'm_0=webgpu, m_1=cpu' }, other: { string_value: 'x' } });
    assert.equal(input.parameters!['execution_provider']!.string_value, 'lies');
    assert.deepEqual({ ...out, parameters: undefined }, { ...input, parameters: undefined });
  });
});

describe('ortCudaProviderInstalled', () => {
  it('is a check for the CUDA provider library beside the binding', async (t) => {
    if (process.platform !== 'linux') return t.skip('the library name checked here is the Linux one');
    const dir = await mkdtemp(path.join(tmpdir(), 'infera-ort-bin-'));
    try {
      assert.equal(ortCudaProviderInstalled(dir), false);
      await writeFile(path.join(dir, 'libonnxruntime_providers_cuda.so'), '');
      assert.equal(ortCudaProviderInstalled(dir), true);
      assert.equal(ortCudaProviderInstalled(undefined), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('finds onnxruntime-node\'s binding folder', () => {
    const dir = ortBindingDir();
    assert.ok(dir !== undefined && dir.endsWith(path.join('bin', 'napi-v6', process.platform, process.arch)), dir);
  });
});
