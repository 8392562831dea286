import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import type { ModelConfig } from '../../../src/config/model-config.js';
import { findPackageRoot } from '../../../src/util/package-root.js';
import { normalizeModelConfig } from '../../../src/config/model-config-normalize.js';
import { validateModelConfig } from '../../../src/config/model-config-validate.js';
import { parseModelConfigText } from '../../../src/config/pbtxt.js';

const FIXTURES = join(findPackageRoot(), 'test', 'fixtures', 'pbtxt');

/** A valid batching ONNX model; tests spread changes over it. */
function base(extra: Partial<ModelConfig> = {}): ModelConfig {
  return {
    name: 'm',
    backend: 'onnxruntime',
    max_batch_size: 8,
    input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [4] }],
    output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [4] }],
    ...extra,
  };
}

/** Problems of the normalized form of `config`. */
function problems(config: ModelConfig, gpuCount = 0): string[] {
  return validateModelConfig(normalizeModelConfig(config, { modelName: config.name ?? 'm', gpuCount }), { gpuCount });
}

function assertProblem(config: ModelConfig, pattern: RegExp, gpuCount = 0): void {
  const found = problems(config, gpuCount);
  assert.ok(found.some((p) => pattern.test(p)), `no problem matching ${pattern} in ${JSON.stringify(found)}`);
  assert.ok(found.every((p) => p.startsWith("model 'm': ")), JSON.stringify(found));
}

describe('validateModelConfig', () => {
  it('accepts the normalized fixtures', () => {
    for (const [file, name] of [['simple.pbtxt', 'simple'], ['ensemble.pbtxt', 'pipeline'], ['sequence.pbtxt', 'accumulator']]) {
      const parsed = parseModelConfigText(readFileSync(join(FIXTURES, file!), 'utf8'), file!);
      assert.deepEqual(validateModelConfig(normalizeModelConfig(parsed, { modelName: name! })), [], file);
    }
    assert.deepEqual(problems(base()), []);
  });

  it('reports every problem, not just the first', () => {
    const found = problems(base({ max_batch_size: -1, input: [{ name: '', dims: [-5] }] }));
    assert.ok(found.length >= 4, JSON.stringify(found));
  });

  it('checks tensor names: non-empty and unique across inputs and outputs', () => {
    assertProblem(base({ input: [{ data_type: 'TYPE_FP32', dims: [1] }] }), /input #0 must specify a non-empty 'name'/);
    assertProblem(base({ input: [{ name: 'A', data_type: 'TYPE_FP32', dims: [1] }, { name: 'A', data_type: 'TYPE_FP32', dims: [1] }] }),
      /input 'A': the name is already used by an input/);
    assertProblem(base({ output: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [1] }] }), /output 'IN': the name is already used by an input/);
  });

  it('checks data types and dims', () => {
    assertProblem(base({ input: [{ name: 'IN', dims: [1] }] }), /input 'IN' must specify 'data_type'/);
    assertProblem(base({ input: [{ name: 'IN', data_type: 'TYPE_INVALID', dims: [1] }] }), /must specify 'data_type'/);
    assertProblem(base({ input: [{ name: 'IN', data_type: 'TYPE_FP32' }] }), /input 'IN' must specify 'dims'/);
    assertProblem(base({ output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [2, -2] }] }), /every dim must be >= 0, or -1.*\[2, -2\]/);
    assert.deepEqual(problems(base({ output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [2, 0] }] })), [], 'a zero-size dim is valid');
    assert.deepEqual(problems(base({ input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [-1, 3] }] })), []);
  });

  it('checks reshape against dims', () => {
    const withReshape = (dims: number[], shape: number[], maxBatchSize = 8) =>
      base({ max_batch_size: maxBatchSize, input: [{ name: 'IN', data_type: 'TYPE_FP32', dims, reshape: { shape } }] });
    assert.deepEqual(problems(withReshape([1], [])), []);
    assert.deepEqual(problems(withReshape([2, 4, -1, 6], [8, -1, 1, 6])), []);
    assert.deepEqual(problems(withReshape([], [])), [], 'empty dims are allowed when a reshape is given');
    assertProblem(withReshape([2, 3], [5]), /hold different numbers of elements/);
    assertProblem(withReshape([2, -1], [2, 3]), /hold different numbers of elements/);
    assertProblem(withReshape([1], [], 0), /empty reshape in a non-batching model/);
    assertProblem(withReshape([4], [-2, 4]), /every reshape dim must be >= 0 or -1/);
    assertProblem(withReshape([4], [0, 4]), /hold different numbers of elements/);
  });

  it('checks max_batch_size and dynamic batching sizes', () => {
    assertProblem(base({ max_batch_size: -1 }), /'max_batch_size' must be >= 0/);
    assertProblem(base({ max_batch_size: 0, dynamic_batching: { preferred_batch_size: [2] } }), /preferred_batch_size requires max_batch_size > 0/);
    assertProblem(base({ dynamic_batching: { preferred_batch_size: [4, 16] } }), /preferred_batch_size 16 exceeds max_batch_size 8/);
    assertProblem(base({ dynamic_batching: { preferred_batch_size: [0] } }), /must be positive/);
    assert.deepEqual(problems(base({ max_batch_size: 0, dynamic_batching: {} })), []);
  });

  it('checks priority levels and queue policy keys', () => {
    const dyn = (d: NonNullable<ModelConfig['dynamic_batching']>) => base({ dynamic_batching: d });
    assert.deepEqual(problems(dyn({ priority_levels: 3, default_priority_level: 3, priority_queue_policy: { '1': {}, '3': {} } })), []);
    assertProblem(dyn({ priority_levels: 2 }), /default_priority_level must be in \[1, 2\], got 0/);
    assertProblem(dyn({ priority_levels: 2, default_priority_level: 3 }), /default_priority_level must be in \[1, 2\], got 3/);
    assertProblem(dyn({ priority_levels: 2, default_priority_level: 1, priority_queue_policy: { '4': {} } }),
      /priority_queue_policy level 4 is outside \[1, 2\]/);
    assertProblem(dyn({ priority_levels: 2, default_priority_level: 1, preserve_ordering: true }), /preserve_ordering allows only one priority level/);
  });

  it('checks instance groups', () => {
    assertProblem(base({ instance_group: [{ kind: 'KIND_CPU', gpus: [0] }] }), /instance_group 'm_0' has kind KIND_CPU but lists GPUs \[0\]/);
    assertProblem(base({ instance_group: [{ kind: 'KIND_GPU' }] }), /has kind KIND_GPU but no GPUs are available/);
    assertProblem(base({ instance_group: [{ kind: 'KIND_GPU', gpus: [3] }] }), /names unavailable GPU 3/, 2);
    assertProblem(base({ instance_group: [{ kind: 'KIND_CPU', profile: ['0'] }] }), /'profile' is only allowed for platform tensorrt_plan/);
    const raw = validateModelConfig({ ...base(), version_policy: { latest: { num_versions: 1 } }, instance_group: [{ name: 'g', kind: 'KIND_CPU', count: 0 }] });
    assert.ok(raw.some((p) => /instance_group 'g': count must be >= 1, got 0/.test(p)), JSON.stringify(raw));
  });

  it('checks the version policy', () => {
    assertProblem(base({ version_policy: { latest: { num_versions: 0 } } }), /num_versions must be >= 1, got 0/);
    assertProblem(base({ version_policy: { latest: {} } }), /num_versions must be >= 1/);
  });

  it('checks platform and backend agree', () => {
    assertProblem(base({ backend: '', platform: '' }), /must specify 'platform' or 'backend'/);
    assertProblem(base({ platform: 'tensorflow_savedmodel', backend: 'onnxruntime' }), /is run by backend 'tensorflow', not 'onnxruntime'/);
  });

  it('checks ensemble rules', () => {
    const step = { model_name: 'a', input_map: { x: 'IN' }, output_map: { y: 'OUT' } };
    const ensemble = (extra: Partial<ModelConfig>) => base({ backend: undefined, platform: 'ensemble', ensemble_scheduling: { step: [step] }, ...extra });
    assert.deepEqual(problems(ensemble({})), []);
    assertProblem(ensemble({ backend: 'onnxruntime' }), /empty backend, got backend 'onnxruntime'/);
    assertProblem(ensemble({ ensemble_scheduling: undefined }), /platform 'ensemble' requires ensemble_scheduling/);
    assertProblem(ensemble({ instance_group: [{ kind: 'KIND_CPU', count: 1 }] }), /must not specify instance_group/);
    assertProblem(ensemble({ model_warmup: [{ name: 'w' }] }), /must not specify model_warmup/);
    assertProblem(ensemble({ ensemble_scheduling: { step: [] } }), /at least one 'step'/);
    assertProblem(ensemble({ ensemble_scheduling: { step: [{ model_name: '' }] } }), /step 0 must specify 'model_name'/);
    assertProblem(base({ ensemble_scheduling: { step: [step] } }), /ensemble_scheduling is only allowed with platform 'ensemble'/);
  });

  it('checks sequence batching controls and response cache conflicts', () => {
    const seq = (s: NonNullable<ModelConfig['sequence_batching']>, extra: Partial<ModelConfig> = {}) => base({ sequence_batching: s, ...extra });
    assertProblem(seq({ control_input: [{ name: 'S', control: [{ kind: 'CONTROL_SEQUENCE_START', int32_false_true: [0] }] }] }),
      /exactly 2 entries/);
    assertProblem(seq({ control_input: [{ name: 'S', control: [{ kind: 'CONTROL_SEQUENCE_START' }] }] }), /exactly one of int32_false_true/);
    assertProblem(seq({ control_input: [{ name: 'C', control: [{ kind: 'CONTROL_SEQUENCE_CORRID', data_type: 'TYPE_FP32' }] }] }),
      /data_type must be one of TYPE_UINT64/);
    assertProblem(seq({ oldest: { preferred_batch_size: [9] } }), /sequence_batching\.oldest\.preferred_batch_size 9 exceeds/);
    assertProblem(seq({}, { response_cache: { enable: true } }), /response cache cannot be enabled with sequence batching/);
    assertProblem(base({ response_cache: { enable: true }, model_transaction_policy: { decoupled: true } }), /decoupled/);
  });

  it('refuses control and state tensors that clash with the config inputs, and incomplete states', () => {
    const seq = (s: NonNullable<ModelConfig['sequence_batching']>) => base({ sequence_batching: s });
    const input = base().input![0]!.name!;
    assertProblem(seq({ control_input: [{ name: input, control: [{ kind: 'CONTROL_SEQUENCE_START', int32_false_true: [0, 1] }] }] }),
      new RegExp(`control tensor '${input}' must not also be listed in 'input'`));
    assertProblem(seq({ state: [{ input_name: input, output_name: 'O', data_type: 'TYPE_FP32', dims: [1] }] }), new RegExp(`state #0: input_name '${input}' is already a model input`));
    assertProblem(seq({ state: [{ output_name: 'O', data_type: 'TYPE_FP32' }] }), /state #0 must give input_name and output_name/);
    assertProblem(seq({ state: [{ input_name: 'I', output_name: 'O' }] }), /state #0 must give a data_type/);
  });

  it('checks batch inputs/outputs, label files and metrics', () => {
    assertProblem(base({ batch_input: [{ kind: 'BATCH_ELEMENT_COUNT', target_name: ['B'], data_type: 'TYPE_INT64', source_input: ['IN'] }] }),
      /data_type must be TYPE_INT32 or TYPE_FP32/);
    assertProblem(base({ batch_input: [{ data_type: 'TYPE_INT32', source_input: ['NOPE'] }] }), /unknown source input 'NOPE'/);
    assertProblem(base({ batch_output: [{ target_name: ['X'], source_input: ['IN'] }] }), /unknown target output 'X'/);
    assertProblem(base({ output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [4], label_filename: '../../etc/passwd' }] }),
      /label_filename '\.\.\/\.\.\/etc\/passwd' must be a path inside the model directory/);
    assertProblem(base({ model_metrics: { metric_control: [{ metric_identifier: { family: 'f' } }] } }), /histogram_options\.buckets/);
  });
});
