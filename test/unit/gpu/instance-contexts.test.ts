// One instance per listed GPU × count, each with its own device id, named <group>_<k>; CPU
// groups keep count instances; KIND_AUTO resolves with the GPU count.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { instanceContexts } from '../../../src/repository/model-loader.js';
import { normalizeModelConfig } from '../../../src/config/model-config-normalize.js';
import type { ModelConfig } from '../../../src/config/model-config.js';

const onnx = (instance_group: ModelConfig['instance_group']): ModelConfig => ({ platform: 'onnxruntime_onnx', instance_group });
const summary = (config: ModelConfig) => instanceContexts(config, 'm').map((c) => `${c.index}:${c.name}:${c.kind}:${c.deviceId}`);

describe('instanceContexts', () => {
  it('creates count instances on each listed GPU, alternating GPUs, each with its device id', () => {
    const config = normalizeModelConfig(onnx([{ kind: 'KIND_GPU', count: 2, gpus: [1, 3] }, { kind: 'KIND_CPU', count: 2 }]), { modelName: 'm', gpuCount: 4 });
    assert.deepEqual(summary(config), [
      '0:m_0_0:KIND_GPU:1', '1:m_0_1:KIND_GPU:3', '2:m_0_2:KIND_GPU:1', '3:m_0_3:KIND_GPU:3',
      '4:m_1_0:KIND_CPU:0', '5:m_1_1:KIND_CPU:0',
    ]);
  });

  it('KIND_GPU with no gpus listed means every GPU; KIND_AUTO too when GPUs exist', () => {
    const gpu = normalizeModelConfig(onnx([{ name: 'g', kind: 'KIND_GPU' }]), { modelName: 'm', gpuCount: 2 });
    assert.deepEqual(summary(gpu), ['0:g_0:KIND_GPU:0', '1:g_1:KIND_GPU:1']);
    const auto = normalizeModelConfig(onnx([{ name: 'a', count: 1 }]), { modelName: 'm', gpuCount: 3 });
    assert.deepEqual(summary(auto), ['0:a_0:KIND_GPU:0', '1:a_1:KIND_GPU:1', '2:a_2:KIND_GPU:2']);
    const none = normalizeModelConfig(onnx(undefined), { modelName: 'm', gpuCount: 2 });
    assert.deepEqual(summary(none), ['0:m_0:KIND_GPU:0', '1:m_1:KIND_GPU:1']);
  });

  it('the same repository on a machine without GPUs: KIND_AUTO runs on the CPU with the CPU default count', () => {
    const auto = normalizeModelConfig(onnx([{ name: 'a' }]), { modelName: 'm', gpuCount: 0 });
    assert.deepEqual(summary(auto), ['0:a_0:KIND_CPU:0', '1:a_1:KIND_CPU:0']);
    const listed = normalizeModelConfig(onnx([{ name: 'a', count: 1, gpus: [2] }]), { modelName: 'm', gpuCount: 2 });
    assert.deepEqual(summary(listed), ['0:a_0:KIND_CPU:0']);
  });

  it('KIND_MODEL groups keep their count', () => {
    assert.deepEqual(summary(normalizeModelConfig(onnx([{ name: 'x', kind: 'KIND_MODEL', count: 2 }]), { modelName: 'm' })),
      ['0:x_0:KIND_MODEL:0', '1:x_1:KIND_MODEL:0']);
  });
});
