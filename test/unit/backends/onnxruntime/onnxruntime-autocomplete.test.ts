import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import {
  autoCompleteOnnxConfig, completeFromMetadata,
} from '../../../../src/backends/onnxruntime/onnxruntime-autocomplete.js';
import { createOnnxruntimeBackend } from '../../../../src/backends/onnxruntime/onnxruntime-backend.js';
import type { IoMetadata, SessionIoInfo } from '../../../../src/backends/onnxruntime/onnxruntime-runner.js';
import type { ModelConfig } from '../../../../src/config/model-config.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';
import { liveWorkerCount } from '../../../../src/workers/host-worker.js';

const MODELS = fileURLToPath(new URL('../../../../../test/fixtures/models/', import.meta.url));
const logger = pino({ level: 'silent' });
const backend = createOnnxruntimeBackend();

const io = (name: string, shape: number[], datatype: IoMetadata['datatype'] = 'FP32', ortType = 'float32'): IoMetadata =>
  ({ name, datatype, ortType, shape });
/** A value v2 cannot carry (io()'s default parameter would turn `undefined` into FP32). */
const odd = (name: string, shape: number[], ortType: string): IoMetadata => ({ name, datatype: undefined, ortType, shape });
const meta = (inputs: IoMetadata[], outputs: IoMetadata[]): SessionIoInfo => ({ inputs, outputs });

const autofillError = (pattern: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof InferenceError);
  assert.equal(err.code, 'INVALID_ARG');
  assert.match(err.message, pattern);
  return true;
};

after(() => assert.equal(liveWorkerCount(), 0, 'auto-complete workers are short-lived'));

describe('completeFromMetadata (Triton ORT auto-complete rules)', () => {
  it('makes a model with variable first dims batchable: max_batch_size 4, dynamic_batching, dims without batch', () => {
    const c = completeFromMetadata({ name: 'm' }, meta([io('IN', [-1, 3])], [io('OUT', [-1, 3])]), 'm');
    assert.deepEqual(c, {
      name: 'm', max_batch_size: 4, dynamic_batching: {},
      input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [3] }],
      output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [3] }],
    });
  });

  it('keeps a configured max_batch_size and scheduler, and a max_batch_size of 1 gets no dynamic batching', () => {
    const seq = completeFromMetadata({ max_batch_size: 8, sequence_batching: {} }, meta([io('IN', [-1])], [io('OUT', [-1])]), 'm');
    assert.equal(seq.max_batch_size, 8);
    assert.equal(seq.dynamic_batching, undefined);
    const one = completeFromMetadata({ max_batch_size: 1 }, meta([io('IN', [-1, 2])], [io('OUT', [-1, 2])]), 'm');
    assert.equal(one.dynamic_batching, undefined);
    assert.deepEqual(one.input?.[0]?.dims, [2]);
  });

  it('leaves a model with any fixed first dim unbatched, with full dims', () => {
    const c = completeFromMetadata({}, meta([io('IN', [-1, 3])], [io('OUT', [2, 3])]), 'm');
    assert.equal(c.max_batch_size, undefined);
    assert.equal(c.dynamic_batching, undefined);
    assert.deepEqual(c.input?.[0]?.dims, [-1, 3]);
    assert.deepEqual(c.output?.[0]?.dims, [2, 3]);
  });

  it('rejects a non-zero max_batch_size for a model that cannot batch', () => {
    assert.throws(() => completeFromMetadata({ max_batch_size: 2 }, meta([io('IN', [2, 3])], [io('OUT', [2, 3])]), 'fixed'),
      autofillError(/^autofill failed for model 'fixed': model does not support batching while non-zero max_batch_size is specified$/));
  });

  it('gives scalars dims [1], with reshape [] when batching', () => {
    const batched = completeFromMetadata({}, meta([io('IN', [-1])], [io('OUT', [-1])]), 'm');
    assert.deepEqual(batched.input, [{ name: 'IN', data_type: 'TYPE_FP32', dims: [1], reshape: { shape: [] } }]);
    const unbatched = completeFromMetadata({}, meta([io('IN', [-1])], [io('OUT', [])]), 'm');
    assert.deepEqual(unbatched.output, [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [1] }]);
    assert.deepEqual(unbatched.input?.[0]?.dims, [-1]);
  });

  it('fills only the missing side and never mutates its argument', () => {
    const config: ModelConfig = Object.freeze<ModelConfig>({ input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [7] }] });
    const c = completeFromMetadata(config, meta([io('IN', [-1, 3]), io('B', [-1, 1], 'BYTES', 'string')], [io('OUT', [-1, 3], 'INT64', 'int64')]), 'm');
    assert.deepEqual(c.input, [{ name: 'IN', data_type: 'TYPE_FP32', dims: [7] }]);
    assert.deepEqual(c.output, [{ name: 'OUT', data_type: 'TYPE_INT64', dims: [3] }]);
    assert.equal(config.output, undefined);
  });

  it('rejects tensors whose type v2 cannot carry, and non-tensor values', () => {
    assert.throws(() => completeFromMetadata({}, meta([odd('Q', [-1], 'int4')], [io('OUT', [-1])]), 'q'),
      autofillError(/autofill failed for model 'q': tensor 'Q' has type int4/));
    assert.throws(() => completeFromMetadata({}, meta([io('IN', [-1])], [odd('SEQ', [], 'non-tensor')]), 'q'),
      autofillError(/tensor 'SEQ' has type non-tensor/));
  });
});

describe('autoCompleteOnnxConfig with real models (metadata read in a worker)', () => {
  const ctx = (file: string, modelName = 'm') => ({ modelName, modelPath: join(MODELS, file), logger });

  it('auto-completes a batchable model', async () => {
    const c = await backend.autoCompleteConfig?.({ name: 'identity' }, ctx('identity_fp32.onnx', 'identity'));
    assert.deepEqual(c, {
      name: 'identity', max_batch_size: 4, dynamic_batching: {},
      input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [-1] }],
      output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [-1] }],
    });
  });

  it('auto-completes a non-batchable model and refuses max_batch_size for it', async () => {
    const c = await autoCompleteOnnxConfig({}, ctx('fixed_shape.onnx'));
    assert.deepEqual(c, {
      input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [2, 3] }],
      output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [2, 3] }],
    });
    await assert.rejects(autoCompleteOnnxConfig({ max_batch_size: 8 }, ctx('fixed_shape.onnx', 'fixed')),
      autofillError(/autofill failed for model 'fixed': model does not support batching/));
  });

  it('auto-completes scalars and BYTES', async () => {
    const scalar = await autoCompleteOnnxConfig({}, ctx('batched_scalar_double.onnx'));
    assert.deepEqual(scalar.output, [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [1], reshape: { shape: [] } }]);
    const bytes = await autoCompleteOnnxConfig({}, ctx('identity_bytes.onnx'));
    assert.equal(bytes.input?.[0]?.data_type, 'TYPE_STRING');
  });

  it('skips the model entirely when the config lists inputs and outputs', async () => {
    const config: ModelConfig = { max_batch_size: 0, input: [{ name: 'A' }], output: [{ name: 'B' }] };
    const c = await autoCompleteOnnxConfig(config, ctx('invalid.onnx'), {
      readMetadata: () => Promise.reject(new Error('must not be called')),
    });
    assert.deepEqual(c, config);
    assert.notEqual(c, config);
  });

  it('reports a garbage model as an autofill failure naming the model and ORT reason', async () => {
    await assert.rejects(autoCompleteOnnxConfig({}, ctx('invalid.onnx', 'junk')),
      autofillError(/^autofill failed for model 'junk': unable to load model 'junk' from .*invalid\.onnx: .*protobuf parsing failed/i));
  });
});
