// Auto-complete from what a TensorFlow model declares, as Triton's TensorFlow backend does it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { completeFromModelInfo } from '../../../../src/backends/tensorflow/tensorflow-autocomplete.js';
import type { TfRunnerInfo } from '../../../../src/backends/tensorflow/tensorflow-runner.js';
import type { TfIoInfo } from '../../../../src/backends/tensorflow/tf-io.js';

const io = (name: string, datatype: TfIoInfo['datatype'], shape: number[] | undefined, sourceType = 'DT_FLOAT'): TfIoInfo =>
  ({ name, tensor: `${name}:0`, datatype, sourceType, shape });
const info = (inputs: TfIoInfo[], outputs: TfIoInfo[], format = 'savedmodel'): TfRunnerInfo => ({ io: { inputs, outputs }, format, runtime: 'cpu' });

describe('completeFromModelInfo', () => {
  it('serves a scalar signature without batching, with dims [1]', () => {
    const c = completeFromModelInfo({}, info([io('x', 'FP32', [])], [io('output_0', 'FP32', [])]), 'm');
    assert.equal(c.platform, 'tensorflow_savedmodel');
    assert.equal(c.max_batch_size ?? 0, 0);
    assert.deepEqual(c.input, [{ name: 'x', data_type: 'TYPE_FP32', dims: [1] }]);
    assert.equal(c.dynamic_batching, undefined);
  });

  it('batches when every tensor has a variable first dim, and enables dynamic batching', () => {
    const c = completeFromModelInfo({}, info([io('in', 'FP32', [-1, 10])], [io('out', 'FP32', [-1, 4])], 'layers-model'), 'm');
    assert.equal(c.platform, 'tensorflowjs_layers');
    assert.equal(c.max_batch_size, 4);
    assert.deepEqual(c.dynamic_batching, {});
    assert.deepEqual(c.input![0]!.dims, [10]);
  });

  it('keeps a given platform, inputs and max_batch_size, and refuses batching a fixed shape', () => {
    const c = completeFromModelInfo({ platform: 'p', max_batch_size: 0, input: [{ name: 'given' }] }, info([io('x', 'INT64', [2], 'DT_INT64')], [io('y', 'INT64', [2], 'DT_INT64')]), 'm');
    assert.equal(c.platform, 'p');
    assert.deepEqual(c.input, [{ name: 'given' }]);
    assert.deepEqual(c.output, [{ name: 'y', data_type: 'TYPE_INT64', dims: [2] }]);
    assert.throws(() => completeFromModelInfo({ max_batch_size: 8 }, info([io('x', 'FP32', [2])], [io('y', 'FP32', [2])]), 'm'),
      /autofill failed for model 'm': model does not support batching/);
  });

  it('names tensors it cannot describe', () => {
    assert.throws(() => completeFromModelInfo({}, info([io('r', undefined, [], 'DT_RESOURCE')], [io('y', 'FP32', [])]), 'm'),
      /tensor 'r' has type DT_RESOURCE, which this backend cannot serve/);
    assert.throws(() => completeFromModelInfo({}, info([io('x', 'FP32', undefined)], [io('y', 'FP32', [])]), 'm'),
      /tensor 'x' has an unknown rank; the configuration must give its dims/);
  });
});
