import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ErrorCode } from '../../../src/errors/error-codes.js';
import { InferenceError } from '../../../src/errors/inference-error.js';
import type { ModelConfig } from '../../../src/config/model-config.js';
import { normalizeModelConfig } from '../../../src/config/model-config-normalize.js';

const onnx = (extra: ModelConfig = {}): ModelConfig => ({ backend: 'onnxruntime', ...extra });

describe('normalizeModelConfig', () => {
  it('fills name, version policy, max_batch_size, lists, pinned memory and one CPU instance group', () => {
    const config = normalizeModelConfig({ platform: 'onnxruntime_onnx' }, { modelName: 'm' });
    assert.deepEqual(config, {
      name: 'm',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      default_model_filename: 'model.onnx',
      version_policy: { latest: { num_versions: 1 } },
      max_batch_size: 0,
      input: [],
      output: [],
      batch_input: [],
      batch_output: [],
      parameters: {},
      optimization: { input_pinned_memory: { enable: true }, output_pinned_memory: { enable: true } },
      instance_group: [{ name: 'm', kind: 'KIND_CPU', count: 2, gpus: [] }],
    });
  });

  it('rejects a name that differs from the directory name, naming both', () => {
    assert.throws(() => normalizeModelConfig({ name: 'other' }, { modelName: 'm' }), (err: unknown) => {
      assert.ok(err instanceof InferenceError);
      assert.equal(err.code, ErrorCode.INVALID_ARG);
      assert.match(err.message, /'other'.*'m'/);
      return true;
    });
    assert.equal(normalizeModelConfig({ name: '' }, { modelName: 'm' }).name, 'm');
  });

  it('keeps given values and does not mutate its input', () => {
    const input: ModelConfig = onnx({ version_policy: { all: {} }, max_batch_size: 4, optimization: { input_pinned_memory: { enable: false } } });
    const snapshot = structuredClone(input);
    const config = normalizeModelConfig(input, { modelName: 'm' });
    assert.deepEqual(input, snapshot);
    assert.deepEqual(config.version_policy, { all: {} });
    assert.equal(config.max_batch_size, 4);
    assert.deepEqual(config.optimization?.input_pinned_memory, { enable: false });
    assert.deepEqual(config.optimization?.output_pinned_memory, { enable: true });
  });

  it('returns a deep-frozen object', () => {
    const config = normalizeModelConfig(onnx({ input: [{ name: 'x', dims: [1] }] }), { modelName: 'm' });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.input[0]!.dims));
    assert.throws(() => { (config.input[0]!.dims as number[]).push(2); }, TypeError);
  });

  it('sets preferred_batch_size to [max_batch_size] only when empty and batching', () => {
    assert.deepEqual(normalizeModelConfig(onnx({ max_batch_size: 8, dynamic_batching: {} }), { modelName: 'm' }).dynamic_batching,
      { preferred_batch_size: [8] });
    assert.deepEqual(normalizeModelConfig(onnx({ max_batch_size: 8, dynamic_batching: { preferred_batch_size: [2] } }), { modelName: 'm' })
      .dynamic_batching, { preferred_batch_size: [2] });
    assert.deepEqual(normalizeModelConfig(onnx({ dynamic_batching: {} }), { modelName: 'm' }).dynamic_batching, {});
    const oldest = normalizeModelConfig(onnx({ max_batch_size: 3, sequence_batching: { oldest: {} } }), { modelName: 'm' });
    assert.deepEqual(oldest.sequence_batching?.oldest, { preferred_batch_size: [3] });
  });

  it('defaults the sequence idle time to one second when 0 or unset', () => {
    const a = normalizeModelConfig(onnx({ sequence_batching: {} }), { modelName: 'm' });
    const b = normalizeModelConfig(onnx({ sequence_batching: { max_sequence_idle_microseconds: 0 } }), { modelName: 'm' });
    const c = normalizeModelConfig(onnx({ sequence_batching: { max_sequence_idle_microseconds: 5 } }), { modelName: 'm' });
    assert.equal(a.sequence_batching?.max_sequence_idle_microseconds, 1_000_000);
    assert.equal(b.sequence_batching?.max_sequence_idle_microseconds, 1_000_000);
    assert.equal(c.sequence_batching?.max_sequence_idle_microseconds, 5);
  });

  it('names unnamed groups <model>_<index>, resolves KIND_AUTO to CPU without GPUs, defaults counts', () => {
    const config = normalizeModelConfig(onnx({
      instance_group: [{ count: 3 }, { name: 'g', kind: 'KIND_MODEL' }, { kind: 'KIND_CPU', count: 0 }],
    }), { modelName: 'm' });
    assert.deepEqual(config.instance_group, [
      { name: 'm_0', kind: 'KIND_CPU', count: 3, gpus: [] },
      { name: 'g', kind: 'KIND_MODEL', count: 1, gpus: [] },
      { name: 'm_2', kind: 'KIND_CPU', count: 2, gpus: [] },
    ]);
  });

  it('uses 1 instance for CPU groups of backends other than onnxruntime and tensorflow', () => {
    const config = normalizeModelConfig({ backend: 'python' }, { modelName: 'm' });
    assert.deepEqual(config.instance_group, [{ name: 'm', kind: 'KIND_CPU', count: 1, gpus: [] }]);
  });

  it('resolves KIND_AUTO to GPU with all GPUs when gpuCount > 0 and every listed GPU exists', () => {
    const config = normalizeModelConfig(onnx({ instance_group: [{}, { gpus: [1] }, { gpus: [5] }] }), { modelName: 'm', gpuCount: 2 });
    assert.deepEqual(config.instance_group.map((g) => [g.kind, g.count, g.gpus]), [
      ['KIND_GPU', 1, [0, 1]],
      ['KIND_GPU', 1, [1]],
      ['KIND_CPU', 2, [5]],
    ]);
    assert.equal(normalizeModelConfig(onnx(), { modelName: 'm', gpuCount: 1 }).instance_group[0]!.kind, 'KIND_GPU');
  });

  it('fills platform, backend and default_model_filename from each other', () => {
    const fill = (c: ModelConfig) => {
      const n = normalizeModelConfig(c, { modelName: 'm' });
      return [n.platform, n.backend, n.default_model_filename];
    };
    assert.deepEqual(fill({ backend: 'onnxruntime' }), ['onnxruntime_onnx', 'onnxruntime', 'model.onnx']);
    assert.deepEqual(fill({ platform: 'tensorflow_savedmodel' }), ['tensorflow_savedmodel', 'tensorflow', 'model.savedmodel']);
    assert.deepEqual(fill({ platform: 'tensorflow_graphdef' }), ['tensorflow_graphdef', 'tensorflow', 'model.graphdef']);
    assert.deepEqual(fill({ backend: 'tensorflow', default_model_filename: 'model.graphdef' }),
      ['tensorflow_graphdef', 'tensorflow', 'model.graphdef']);
    assert.deepEqual(fill({ backend: 'tensorflow' }), ['', 'tensorflow', '']);
    assert.deepEqual(fill({ platform: 'tensorrt_plan' }), ['tensorrt_plan', 'tensorrt', 'model.plan']);
    assert.deepEqual(fill({ backend: 'pytorch' }), ['pytorch_libtorch', 'pytorch', 'model.pt']);
    assert.deepEqual(fill({ platform: 'torch_aoti' }), ['torch_aoti', 'pytorch', 'model.pt2']);
    assert.deepEqual(fill({ backend: 'python' }), ['', 'python', 'model.py']);
    assert.deepEqual(fill({ backend: 'openvino' }), ['', 'openvino', 'model.xml']);
    assert.deepEqual(fill({ backend: 'identity' }), ['', 'identity', 'model.identity']);
    assert.deepEqual(fill({ backend: 'onnxruntime', default_model_filename: 'net.onnx' }), ['onnxruntime_onnx', 'onnxruntime', 'net.onnx']);
    assert.deepEqual(fill({}), ['', '', '']);
  });

  it('leaves ensembles without instance groups, pinned memory, backend or model file', () => {
    const config = normalizeModelConfig({
      platform: 'ensemble', max_batch_size: 2,
      ensemble_scheduling: { step: [{ model_name: 'a', input_map: { x: 'X' }, output_map: { y: 'Y' } }] },
    }, { modelName: 'ens' });
    assert.deepEqual(config.instance_group, []);
    assert.equal(config.optimization, undefined);
    assert.equal(config.backend, '');
    assert.equal(config.default_model_filename, '');
  });
});
