// Which runtime an instance gets, and that it says so in the log: a native runtime (tfjs-node,
// here a stand-in module) when installed, else wasm or cpu; a runtime asked for by name that is
// not installed is a load error.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { ROOT } from '../../../helpers/repo.js';
import { createTensorflowBackend } from '../../../../src/backends/tensorflow/tensorflow-backend.js';
import type { ModelConfig } from '../../../../src/config/model-config.js';
import type { ModelInstance } from '../../../../src/backends/backend.js';
import { WorkerPool } from '../../../../src/workers/worker-pool.js';

const FIXTURE = path.join(ROOT, '..', 'shared', 'fixtures', 'tensorflow', 'saved_model', 'times_three_float');
const FAKE_NODE = new URL('./fake-tfjs-node.js', import.meta.url).href;
const MISSING = 'infera-no-such-tfjs-node-gpu';

function capture(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const logger: Logger = pino({ level: 'debug' }, { write: (s: string) => void out.push(s) });
  return { logger, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function config(runtime?: string): ModelConfig {
  return {
    name: 'm', max_batch_size: 0,
    input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [1] }],
    output: [{ name: 'output_0', data_type: 'TYPE_FP32', dims: [1] }],
    ...(runtime === undefined ? {} : { parameters: { TF_RUNTIME: { string_value: runtime } } }),
  };
}

const open: ModelInstance[] = [];
after(() => Promise.all(open.map((i) => i.finalize())));

async function instance(runtime: string | undefined, natives: Record<'tfjs-node' | 'tfjs-node-gpu', string>, kind: 'KIND_CPU' | 'KIND_GPU' = 'KIND_CPU') {
  const log = capture();
  const backend = createTensorflowBackend({ nativeModules: natives, restart: { maxConsecutiveFailures: 1 } });
  const model = await backend.createModel({
    modelName: 'm', version: 1, config: config(runtime), modelDir: FIXTURE, modelPath: FIXTURE, logger: log.logger,
  });
  const inst = await model.createInstance({ name: 'm_0', index: 0, kind, deviceId: 0 });
  open.push(inst);
  const res = await inst.execute({ batchSize: 1, inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: new Uint8Array(new Float32Array([5]).buffer) }], outputNames: ['output_0'] });
  assert.deepEqual([...new Float32Array(res.outputs[0]!.data.slice().buffer)], [15]);
  const loaded = log.lines().find((l) => String(l['msg']).startsWith('TensorFlow model loaded on runtime'));
  assert.ok(loaded !== undefined, 'no runtime log line');
  return loaded;
}

describe('runtime selection', () => {
  it('uses tfjs-node when it is installed, and logs it', async () => {
    const line = await instance(undefined, { 'tfjs-node': FAKE_NODE, 'tfjs-node-gpu': MISSING });
    assert.equal(line['runtime'], 'tfjs-node');
    assert.equal(line['model'], 'm');
    assert.equal(line['reason'], 'native runtime installed');
  });

  it('a GPU instance prefers tfjs-node-gpu (no CPU fallback: see test/unit/gpu/tfjs-gpu-runtime)', async () => {
    const gpu = await instance(undefined, { 'tfjs-node': FAKE_NODE, 'tfjs-node-gpu': FAKE_NODE }, 'KIND_GPU');
    assert.equal(gpu['runtime'], 'tfjs-node-gpu');
  });

  it('without native runtimes, auto picks wasm or cpu by a load-time probe', async () => {
    const line = await instance(undefined, { 'tfjs-node': MISSING, 'tfjs-node-gpu': MISSING });
    assert.ok(line['runtime'] === 'wasm' || line['runtime'] === 'cpu');
    assert.deepEqual(Object.keys(line['probeMs'] as object).sort(), ['cpu', 'wasm']);
  });

  it('TF_RUNTIME picks wasm or cpu explicitly', async () => {
    assert.equal((await instance('wasm', { 'tfjs-node': FAKE_NODE, 'tfjs-node-gpu': MISSING }))['runtime'], 'wasm');
    assert.equal((await instance('cpu', { 'tfjs-node': FAKE_NODE, 'tfjs-node-gpu': MISSING }))['runtime'], 'cpu');
  });

  it('a native runtime asked for by name but not installed is a load error', async () => {
    await assert.rejects(instance('tfjs-node-gpu', { 'tfjs-node': FAKE_NODE, 'tfjs-node-gpu': MISSING }),
      /runtime 'tfjs-node-gpu' was requested but infera-no-such-tfjs-node-gpu is not installed/);
  });

  it('every TensorFlow instance gets a worker of its own (tfjs keeps one engine per thread)', async () => {
    const pool = new WorkerPool({ size: 1, guard: false });
    const backend = createTensorflowBackend({ pool });
    const instances = [];
    for (const runtime of ['wasm', 'cpu']) {
      const model = await backend.createModel({ modelName: 'm', version: 1, config: config(runtime), modelDir: FIXTURE, modelPath: FIXTURE, logger: pino({ level: 'silent' }) });
      instances.push(await model.createInstance({ name: 'm_0', index: 0, kind: 'KIND_CPU', deviceId: 0 }));
    }
    assert.deepEqual(pool.stats(), { workers: 2, sharedWorkers: 0, dedicatedWorkers: 2, sessions: 2 });
    await Promise.all(instances.map((i) => i.finalize()));
    assert.equal(pool.stats().workers, 0);
  });

  it('an unknown TF_RUNTIME is refused by config validation', () => {
    const backend = createTensorflowBackend();
    assert.throws(() => backend.validateConfig!(config('gpu-please')), /model 'm': parameter 'TF_RUNTIME' must be one of/);
  });
});
