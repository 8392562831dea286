// The TensorFlow runtime of KIND_GPU instances: tfjs-node-gpu, else WebGPU (Dawn + tfjs's WebGPU
// backend), else the load fails with both reasons and never lands on the CPU unasked. Dawn and
// the WebGPU backend are stand-in modules here (no GPU on CI); their real counterparts are
// exercised by test/integration/gpu when a GPU is present.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { ROOT } from '../../helpers/repo.js';
import { createTensorflowBackend } from '../../../src/backends/tensorflow/tensorflow-backend.js';
import type { ModelConfig } from '../../../src/config/model-config.js';
import type { InstanceContext, ModelInstance } from '../../../src/backends/backend.js';
import { InferenceError } from '../../../src/errors/inference-error.js';

const FIXTURE = path.join(ROOT, '..', 'shared', 'fixtures', 'tensorflow', 'saved_model', 'times_three_float');
const here = (f: string) => new URL(f, import.meta.url).href;
const FAKE_NODE = here('../backends/tensorflow/fake-tfjs-node.js');
const MISSING = 'infera-no-such-package';
const NO_NATIVE = { 'tfjs-node': MISSING, 'tfjs-node-gpu': MISSING };
const WEBGPU_OK = { dawn: here('./fake-dawn.js'), backend: here('./fake-tfjs-webgpu.js') };
const NO_ADAPTER = { dawn: here('./fake-dawn-no-adapter.js'), backend: here('./fake-tfjs-webgpu.js') };
const NOT_INSTALLED = { dawn: MISSING, backend: MISSING };

const open: ModelInstance[] = [];
after(() => Promise.all(open.map((i) => i.finalize())));

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

interface Setup {
  runtime?: string;
  natives?: Record<'tfjs-node' | 'tfjs-node-gpu', string>;
  webgpu?: { dawn: string; backend: string };
  instance?: Partial<InstanceContext>;
}

/** Loads one instance, runs x=5 through it (expects 15) and returns the log lines. */
async function run(s: Setup): Promise<Record<string, unknown>[]> {
  const log = capture();
  const backend = createTensorflowBackend({
    nativeModules: s.natives ?? NO_NATIVE, webgpuModules: s.webgpu ?? NOT_INSTALLED, restart: { maxConsecutiveFailures: 1 },
  });
  const model = await backend.createModel({ modelName: 'm', version: 1, config: config(s.runtime), modelDir: FIXTURE, modelPath: FIXTURE, logger: log.logger });
  const inst = await model.createInstance({ name: 'm_0', index: 0, kind: 'KIND_GPU', deviceId: 0, ...s.instance });
  open.push(inst);
  const res = await inst.execute({ batchSize: 1, inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: new Uint8Array(new Float32Array([5]).buffer) }], outputNames: ['output_0'] });
  assert.deepEqual([...new Float32Array(res.outputs[0]!.data.slice().buffer)], [15]);
  return log.lines();
}

const loadedOn = (lines: Record<string, unknown>[]) => lines.find((l) => String(l['msg']).startsWith('TensorFlow model loaded on runtime'));

const rejectsWith = (code: string, pattern: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof InferenceError, String(err));
  assert.equal(err.code, code);
  assert.match(err.message, pattern);
  return true;
};

describe('TensorFlow runtime of a KIND_GPU instance', () => {
  it('tfjs-node-gpu when installed, even with tfjs-node and WebGPU present', async () => {
    const lines = await run({ natives: { 'tfjs-node': FAKE_NODE, 'tfjs-node-gpu': FAKE_NODE }, webgpu: WEBGPU_OK });
    assert.equal(loadedOn(lines)?.['runtime'], 'tfjs-node-gpu');
  });

  it('else WebGPU through Dawn, logging the adapter', async () => {
    const lines = await run({ natives: { 'tfjs-node': FAKE_NODE, 'tfjs-node-gpu': MISSING }, webgpu: WEBGPU_OK });
    const line = loadedOn(lines);
    assert.equal(line?.['runtime'], 'webgpu');
    assert.equal(line?.['adapter'], 'fake-vendor Fake GPU');
    assert.equal(line?.['reason'], 'GPU instance');
  });

  it('else the load fails with both reasons, even though tfjs-node (a CPU runtime) is installed', async () => {
    await assert.rejects(run({ natives: { 'tfjs-node': FAKE_NODE, 'tfjs-node-gpu': MISSING }, webgpu: NOT_INSTALLED }), rejectsWith('UNAVAILABLE',
      /no TensorFlow GPU runtime could start for this KIND_GPU instance: tfjs-node-gpu: infera-no-such-package is not installed or failed to load; webgpu: Dawn binding infera-no-such-package is not installed/));
    await assert.rejects(run({ webgpu: NO_ADAPTER }), rejectsWith('UNAVAILABLE', /webgpu: Dawn found no WebGPU adapter/));
  });

  it('TF_RUNTIME webgpu asks for WebGPU by name (CPU instances too) and fails without an adapter', async () => {
    const lines = await run({ runtime: 'webgpu', webgpu: WEBGPU_OK, instance: { kind: 'KIND_CPU' } });
    assert.equal(loadedOn(lines)?.['runtime'], 'webgpu');
    assert.equal(loadedOn(lines)?.['reason'], 'TF_RUNTIME parameter');
    await assert.rejects(run({ runtime: 'webgpu', webgpu: NO_ADAPTER }), rejectsWith('UNAVAILABLE', /^TF_RUNTIME webgpu cannot start: Dawn found no WebGPU adapter/));
  });

  it('TF_RUNTIME naming a CPU runtime is honoured on a GPU instance, with a warning', async () => {
    const lines = await run({ runtime: 'cpu', webgpu: WEBGPU_OK });
    assert.equal(loadedOn(lines)?.['runtime'], 'cpu');
    assert.ok(lines.some((l) => l['level'] === 40 && String(l['msg']).includes('KIND_GPU instance runs on the CPU runtime cpu')));
  });

  it('an instance on GPU 1 says that these runtimes run it on the default GPU', async () => {
    const lines = await run({ webgpu: WEBGPU_OK, instance: { deviceId: 1, name: 'm_1' } });
    assert.ok(lines.some((l) => String(l['msg']) === 'webgpu cannot pick GPU 1: this instance runs on the default GPU'));
  });

  it('TF_RUNTIME accepts webgpu in config validation', () => {
    assert.doesNotThrow(() => createTensorflowBackend().validateConfig!(config('webgpu')));
    assert.throws(() => createTensorflowBackend().validateConfig!(config('gpu')), /must be one of auto, tfjs-node-gpu, tfjs-node, webgpu, wasm, cpu/);
  });
});
