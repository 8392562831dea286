// The runner (normally inside a worker; here on the test's thread so tfjs's tensor count can be
// read): every tfjs tensor an execute creates is disposed, on success and on error alike.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ROOT } from '../../../helpers/repo.js';
import { createRunner, type TfRunnerInit } from '../../../../src/backends/tensorflow/tensorflow-runner.js';
import type { Tensor } from '../../../../src/core/tensor.js';
import type { RunnerLogger } from '../../../../src/workers/worker-messages.js';

const FIX = path.join(ROOT, '..', 'shared', 'fixtures', 'tensorflow');
const quiet: RunnerLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function init(over: Partial<TfRunnerInit>): TfRunnerInit {
  return {
    modelName: 'm', version: 1, modelPath: '', format: 'savedmodel', tag: 'serve', signature: 'serving_default',
    runtime: 'cpu', gpuInstance: false, maxBatchSize: 0, inputs: [], outputs: [], ...over,
  };
}

const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

describe('TensorFlow runner memory', () => {
  it('leaves no tfjs tensor behind over 300 executes of a SavedModel, or after a failed one', async () => {
    const r = await createRunner(init({
      modelPath: path.join(FIX, 'saved_model', 'int64_multiply'),
      inputs: [{ name: 'x', datatype: 'INT64', dims: [2] }], outputs: [{ name: 'output_0', datatype: 'INT64', dims: [2] }],
    }), { log: quiet });
    const x = (a: bigint, b: bigint): Tensor[] => [{ name: 'x', datatype: 'INT64', shape: [2], data: bytes(new BigInt64Array([a, b])) }];
    await r.execute(x(1n, 2n), ['output_0'], 1);
    const base = tf.memory().numTensors;
    for (let i = 0; i < 300; i++) {
      const res = await r.execute(x(BigInt(i), 2n), ['output_0'], 1);
      assert.deepEqual([...new BigInt64Array(res.outputs[0]!.data.slice().buffer)], [BigInt(6 * i), 12n]);
    }
    await assert.rejects(r.execute(x(0n, 2n ** 33n), ['output_0'], 1), /tensor 'x': element 1 \(8589934592\)/);
    await assert.rejects(r.execute(x(0n, 1n), ['nope'], 1), /unexpected output 'nope' requested from model 'm' version 1/);
    assert.equal(tf.memory().numTensors, base);
    await r.dispose();
  });

  it('leaves no tfjs tensor behind over 300 batched executes of a layers model', async () => {
    const r = await createRunner(init({
      format: 'tfjs', modelPath: path.join(ROOT, 'model-repository', 'tfjs_mlp', '1', 'model.json'), maxBatchSize: 8,
      inputs: [{ name: 'input', datatype: 'FP32', dims: [8] }], outputs: [{ name: 'output', datatype: 'FP32', dims: [4] }],
    }), { log: quiet });
    const batch = (n: number): Tensor[] => [{ name: 'input', datatype: 'FP32', shape: [n, 8], data: bytes(new Float32Array(n * 8).fill(1)) }];
    await r.execute(batch(1), ['output'], 1);
    const base = tf.memory().numTensors;
    for (let i = 0; i < 300; i++) {
      const n = (i % 8) + 1;
      const res = await r.execute(batch(n), ['output'], n);
      assert.deepEqual(res.outputs[0]!.shape, [n, 4]);
    }
    assert.equal(tf.memory().numTensors, base);
    await r.dispose();
  });

  it('refuses a config that contradicts the signature, naming every problem', async () => {
    await assert.rejects(createRunner(init({
      modelPath: path.join(FIX, 'saved_model', 'int64_multiply'), maxBatchSize: 4,
      inputs: [{ name: 'x', datatype: 'INT64', dims: [2] }], outputs: [{ name: 'output_0', datatype: 'INT32', dims: [2] }],
    }), { log: quiet }), (e: Error) => {
      assert.match(e.message, /unable to load model 'm' version 1: input 'x': max_batch_size > 0 needs a variable first dimension but the model's shape is \[2\]/);
      assert.match(e.message, /output 'output_0': expected datatype INT32 but the model's is INT64 \(DT_INT64\)/);
      return true;
    });
  });
});
