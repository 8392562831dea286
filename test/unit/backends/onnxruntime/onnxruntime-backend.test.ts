import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { BackendModel, ExecuteResult, InstanceContext, ModelInstance } from '../../../../src/backends/backend.js';
import {
  createOnnxruntimeBackend, sessionOptionsFromConfig, tensorSpecsFromConfig, totalInstanceCount,
} from '../../../../src/backends/onnxruntime/onnxruntime-backend.js';
import { encodeBytesElements } from '../../../../src/backends/onnxruntime/onnxruntime-types.js';
import { ortCudaProviderInstalled } from '../../../../src/backends/gpu/onnxruntime-providers.js';
import type { ModelConfig } from '../../../../src/config/model-config.js';
import type { DataType } from '../../../../src/core/datatype.js';
import type { Tensor } from '../../../../src/core/tensor.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';
import { liveWorkerCount } from '../../../../src/workers/host-worker.js';
import type { WorkerInstanceProxy } from '../../../../src/workers/worker-instance-proxy.js';
import { WorkerPool } from '../../../../src/workers/worker-pool.js';

const MODELS = fileURLToPath(new URL('../../../../../test/fixtures/models/', import.meta.url));
const silent = pino({ level: 'silent' });
const pool = new WorkerPool({ size: 3, guard: false });
const backend = createOnnxruntimeBackend({ cpuCount: 2, restart: { initialDelayMs: 10 }, pool });
const cpu = (index = 0): InstanceContext => ({ name: `m_${index}`, index, kind: 'KIND_CPU', deviceId: 0 });
const open: Array<BackendModel> = [];

function cfg(name: string, dt: string, dims: number[], maxBatchSize: number, extra: Partial<ModelConfig> = {}): ModelConfig {
  return {
    name, platform: 'onnxruntime_onnx', backend: 'onnxruntime', max_batch_size: maxBatchSize,
    input: [{ name: 'IN', data_type: dt as never, dims }],
    output: [{ name: 'OUT', data_type: dt as never, dims }],
    ...extra,
  };
}

async function load(file: string, config: ModelConfig, logger = silent): Promise<BackendModel> {
  backend.validateConfig?.(config);
  const model = await backend.createModel({
    modelName: config.name ?? 'm', version: 1, config, modelDir: MODELS, modelPath: join(MODELS, file), logger,
  });
  open.push(model);
  return model;
}

async function instance(file: string, config: ModelConfig): Promise<ModelInstance> {
  return (await load(file, config)).createInstance(cpu());
}

const tensor = (name: string, datatype: DataType, shape: number[], data: ArrayBufferView): Tensor => ({
  name, datatype, shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
});

function out(res: ExecuteResult, name = 'OUT'): Tensor {
  const t = res.outputs.find((o) => o.name === name);
  assert.ok(t !== undefined, `output ${name}`);
  return t;
}

const loadError = (code: string, pattern: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof InferenceError);
  assert.equal(err.code, code);
  assert.match(err.message, pattern);
  return true;
};

after(async () => {
  await Promise.all(open.map((m) => m.finalize()));
  assert.equal(liveWorkerCount(), 0);
});

describe('onnxruntime session options from the config', () => {
  it('shares the CPUs between the instances of a model by default', () => {
    const config = cfg('m', 'TYPE_FP32', [2], 0, { instance_group: [{ count: 2 }, { count: 1 }] });
    assert.equal(totalInstanceCount(config), 3);
    assert.deepEqual(sessionOptionsFromConfig(config, 8), {
      intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    });
    assert.equal(sessionOptionsFromConfig(cfg('m', 'TYPE_FP32', [2], 0, { instance_group: [{ count: 4 }] }), 2).intraOpNumThreads, 1);
  });

  it("reads Triton's parameter names and graph level mapping", () => {
    const params = (p: Record<string, string>, level?: number): ModelConfig => cfg('m', 'TYPE_FP32', [2], 0, {
      parameters: Object.fromEntries(Object.entries(p).map(([k, v]) => [k, { string_value: v }])),
      ...(level === undefined ? {} : { optimization: { graph: { level } } }),
    });
    const o = sessionOptionsFromConfig(params({ intra_op_thread_count: '3', inter_op_thread_count: '2', execution_mode: '1' }), 8);
    assert.deepEqual([o.intraOpNumThreads, o.interOpNumThreads, o.executionMode], [3, 2, 'parallel']);
    const level = (l: number | undefined): string => sessionOptionsFromConfig(params({}, l), 1).graphOptimizationLevel;
    assert.deepEqual([level(-1), level(0), level(1), level(2), level(undefined), level(7)], ['basic', 'all', 'extended', 'disabled', 'all', 'all']);
  });

  it('rejects garbage parameter values with INVALID_ARG', () => {
    for (const [key, value] of [['intra_op_thread_count', '2x'], ['intra_op_thread_count', '-1'], ['inter_op_thread_count', ''],
      ['execution_mode', '2'], ['execution_mode', 'parallel'], ['intra_op_thread_count', '1e3']] as const) {
      const config = cfg('bad', 'TYPE_FP32', [2], 0, { parameters: { [key]: { string_value: value } } });
      assert.throws(() => sessionOptionsFromConfig(config, 2), loadError('INVALID_ARG', new RegExp(`parameter '${key}'`)));
      assert.throws(() => backend.validateConfig?.(config), loadError('INVALID_ARG', /^model 'bad': parameter/));
    }
  });

  it('rejects BF16 tensors as UNSUPPORTED and keeps reshape in the tensor specs', () => {
    assert.throws(() => backend.validateConfig?.(cfg('b', 'TYPE_BF16', [2], 0)), loadError('UNSUPPORTED', /model 'b': input 'IN' has datatype TYPE_BF16/));
    const specs = tensorSpecsFromConfig({ input: [{ name: 'S', data_type: 'TYPE_STRING', dims: [1], reshape: {} }], output: [] });
    assert.deepEqual(specs.inputs, [{ name: 'S', datatype: 'BYTES', dims: [1], reshape: [] }]);
  });
});

describe('onnxruntime backend: executing models', () => {
  const identityCases: Array<[string, DataType, ArrayBufferView]> = [
    ['TYPE_BOOL', 'BOOL', new Uint8Array([1, 0, 1, 1])],
    ['TYPE_INT8', 'INT8', new Int8Array([-128, 0, 5, 127])],
    ['TYPE_UINT8', 'UINT8', new Uint8Array([0, 1, 200, 255])],
    ['TYPE_INT16', 'INT16', new Int16Array([-32768, 1, 2, 32767])],
    ['TYPE_UINT16', 'UINT16', new Uint16Array([0, 1, 2, 65535])],
    ['TYPE_INT32', 'INT32', new Int32Array([-(2 ** 31), 1, 2, 2 ** 31 - 1])],
    ['TYPE_UINT32', 'UINT32', new Uint32Array([0, 1, 2, 2 ** 32 - 1])],
    ['TYPE_INT64', 'INT64', new BigInt64Array([-(2n ** 63n), 1n, 2n, 2n ** 63n - 1n])],
    ['TYPE_UINT64', 'UINT64', new BigUint64Array([0n, 1n, 2n, 2n ** 64n - 1n])],
    ['TYPE_FP16', 'FP16', new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001])],
    ['TYPE_FP32', 'FP32', new Float32Array([1.5, -0, Number.POSITIVE_INFINITY, 3.25])],
    ['TYPE_FP64', 'FP64', new Float64Array([Math.PI, -1e300, 0, Number.NaN])],
  ];

  it('round-trips every datatype through an ORT Identity model, byte for byte', async () => {
    for (const [configType, dt, data] of identityCases) {
      const inst = await instance(`identity_${dt.toLowerCase()}.onnx`, cfg(`identity_${dt}`, configType, [2], 4));
      const sent = new Uint8Array(data.buffer.slice(0));
      const res = await inst.execute({ batchSize: 2, inputs: [tensor('IN', dt, [2, 2], data)], outputNames: ['OUT'] });
      assert.deepEqual(out(res).shape, [2, 2], dt);
      assert.equal(out(res).datatype, dt);
      assert.deepEqual([...out(res).data], [...sent], dt);
      await inst.finalize();
    }
  });

  it('round-trips BYTES (UTF-8, empty elements) through Identity', async () => {
    const inst = await instance('identity_bytes.onnx', cfg('identity_bytes', 'TYPE_STRING', [3], 2));
    const framed = encodeBytesElements(['héllo', '', 'x', 'tail']);
    const res = await inst.execute({ batchSize: 1, inputs: [tensor('IN', 'BYTES', [1, 4], framed)], outputNames: ['OUT'] });
    assert.deepEqual(out(res).shape, [1, 4]);
    assert.deepEqual([...out(res).data], [...encodeBytesElements(['héllo', '', 'x', 'tail'])]);
    await inst.finalize();
  });

  it('runs several instances of one model concurrently, each on its own pool worker', async () => {
    const model = await load('fixed_shape.onnx', cfg('fixed', 'TYPE_FP32', [2, 3], 0, { instance_group: [{ count: 3 }] }));
    const instances = await Promise.all([0, 1, 2].map((i) => model.createInstance(cpu(i))));
    const threads = new Set(instances.map((i) => (i as WorkerInstanceProxy).threadId));
    assert.equal(threads.size, 3, 'the pool spreads one model\'s instances over its three workers');
    assert.ok(pool.stats().sharedWorkers <= 3);
    // Instances run concurrently; each runs its own batches one at a time (the execute contract).
    await Promise.all(instances.map(async (inst, i) => {
      for (let j = 0; j < 3; j += 1) {
        const base = i * 10 + j;
        const input = new Float32Array([0, 1, 2, 3, 4, 5].map((v) => v + base));
        const res = await inst.execute({ batchSize: 1, inputs: [tensor('IN', 'FP32', [2, 3], input)], outputNames: ['OUT'] });
        const o = out(res);
        assert.deepEqual([...new Float32Array(o.data.buffer, o.data.byteOffset, 6)], [1, 2, 3, 4, 5, 6].map((v) => v + base));
        assert.ok(res.timings.computeInferNs > 0);
      }
    }));
    await Promise.all(instances.map((inst) => inst.finalize()));
  });

  it('serves a model stored as a directory containing model.onnx', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'infera-ort-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await mkdir(join(dir, 'model.onnx'));
    await copyFile(join(MODELS, 'fixed_shape.onnx'), join(dir, 'model.onnx', 'model.onnx'));
    const model = await backend.createModel({
      modelName: 'dir', version: 3, config: cfg('dir', 'TYPE_FP32', [2, 3], 0), modelDir: dir, modelPath: join(dir, 'model.onnx'), logger: silent,
    });
    open.push(model);
    const inst = await model.createInstance(cpu());
    const res = await inst.execute({ batchSize: 1, inputs: [tensor('IN', 'FP32', [2, 3], new Float32Array(6))], outputNames: ['OUT'] });
    assert.deepEqual([...new Float32Array(out(res).data.slice().buffer)], [1, 1, 1, 1, 1, 1]);
    await inst.finalize();
  });

  it('maps scalar tensors to config dims [1] (unbatched) and reshapes batches of scalars', async () => {
    const sum = await instance('scalar_sum.onnx', {
      name: 'scalar_sum', max_batch_size: 0,
      input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [-1] }], output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [1] }],
    });
    const s = await sum.execute({ batchSize: 1, inputs: [tensor('IN', 'FP32', [3], new Float32Array([1, 2, 3]))], outputNames: ['OUT'] });
    assert.deepEqual(out(s).shape, [1]);
    assert.deepEqual([...new Float32Array(out(s).data.slice().buffer)], [6]);
    const dbl = await instance('batched_scalar_double.onnx', {
      name: 'double', max_batch_size: 4,
      input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [1], reshape: { shape: [] } }],
      output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [1], reshape: { shape: [] } }],
    });
    const d = await dbl.execute({ batchSize: 3, inputs: [tensor('IN', 'FP32', [3, 1], new Float32Array([1, 2, 3]))], outputNames: ['OUT'] });
    assert.deepEqual(out(d).shape, [3, 1]);
    assert.deepEqual([...new Float32Array(out(d).data.slice().buffer)], [2, 4, 6]);
    await Promise.all([sum.finalize(), dbl.finalize()]);
  });

  it('fails a batch ORT cannot run with INTERNAL and keeps serving', async () => {
    const inst = await instance('runtime_error.onnx', {
      name: 'rt', max_batch_size: 8,
      input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [-1] }], output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [3] }],
    });
    await assert.rejects(inst.execute({ batchSize: 1, inputs: [tensor('IN', 'FP32', [1, 2], new Float32Array(2))], outputNames: ['OUT'] }),
      loadError('INTERNAL', /^onnx runtime error while running model 'rt' version 1: /));
    const ok = await inst.execute({ batchSize: 2, inputs: [tensor('IN', 'FP32', [2, 3], new Float32Array(6))], outputNames: ['OUT'] });
    assert.deepEqual(out(ok).shape, [2, 3]);
    await assert.rejects(inst.execute({ batchSize: 1, inputs: [tensor('IN', 'FP32', [1, 3], new Float32Array(3))], outputNames: ['NOPE'] }),
      loadError('INVALID_ARG', /unexpected output 'NOPE' requested from model 'rt' version 1/));
    await inst.finalize();
  });

  it('a KIND_GPU instance whose provider cannot start fails with the provider\'s error, never runs on CPU', async (t) => {
    if (ortCudaProviderInstalled()) return t.skip('the CUDA provider is installed here; GPU loads are covered by test/integration/gpu');
    const config = cfg('gpu', 'TYPE_FP32', [2, 3], 0, { optimization: { execution_accelerators: { gpu_execution_accelerator: [{ name: 'cuda' }] } } });
    const model = await load('fixed_shape.onnx', config);
    await assert.rejects(model.createInstance({ name: 'gpu_0', index: 0, kind: 'KIND_GPU', deviceId: 0 }),
      loadError('UNAVAILABLE', /^unable to load model 'gpu' version 1 from .* on GPU 0 with the cuda execution provider: .*Failed to load shared library.*--onnxruntime-node-install=cuda12/));
  });
});

describe('onnxruntime backend: load failures', () => {
  let tmp = '';
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'infera-ort-bad-'));
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  it('fails to load a garbage model file with the model name and ORT reason; the process survives', async () => {
    await assert.rejects(instance('invalid.onnx', cfg('garbage', 'TYPE_FP32', [2], 0)),
      loadError('INVALID_ARG', /^unable to load model 'garbage' version 1 from .*invalid\.onnx: .*protobuf parsing failed/i));
    await writeFile(join(tmp, 'random.onnx'), Buffer.from(Array.from({ length: 512 }, (_v, i) => (i * 197 + 13) % 256)));
    const good = await readFile(join(MODELS, 'slow.onnx'));
    await writeFile(join(tmp, 'truncated.onnx'), good.subarray(0, Math.floor(good.byteLength / 2)));
    for (const file of ['random.onnx', 'truncated.onnx']) {
      await assert.rejects(backend.createModel({
        modelName: 'garbage', version: 2, config: cfg('garbage', 'TYPE_FP32', [2], 0), modelDir: tmp, modelPath: join(tmp, file), logger: silent,
      }).then((m) => m.createInstance(cpu())), loadError('INVALID_ARG', /^unable to load model 'garbage' version 2 from .*: \S/));
    }
    await assert.rejects(instance('no-such-file.onnx', cfg('missing', 'TYPE_FP32', [2], 0)),
      loadError('INVALID_ARG', /unable to load model 'missing' version 1: cannot read .*no-such-file\.onnx/));
  });

  it('names tensor, expected and actual when the config does not match the model', async () => {
    const cases: Array<[string, ModelConfig, RegExp]> = [
      ['identity_fp32.onnx', cfg('wrong_type', 'TYPE_INT32', [2], 4),
        /model 'wrong_type' version 1: input 'IN': expected datatype INT32 but the model's is FP32; output 'OUT': expected datatype INT32/],
      ['fixed_shape.onnx', cfg('wrong_dims', 'TYPE_FP32', [2, 4], 0),
        /input 'IN': expected shape \[2,4\] \(config dims\) but the model's is \[2,3\]/],
      ['fixed_shape.onnx', cfg('no_batch', 'TYPE_FP32', [3], 4),
        /input 'IN': max_batch_size > 0 needs a variable first dimension but the model's shape is \[2,3\]/],
      ['fixed_shape.onnx', { ...cfg('renamed', 'TYPE_FP32', [2, 3], 0), input: [{ name: 'X', data_type: 'TYPE_FP32', dims: [2, 3] }] },
        /input 'X': the model has no such input \(model inputs: IN\); input 'IN': the model requires it but the configuration does not list it/],
    ];
    for (const [file, config, pattern] of cases) {
      await assert.rejects(instance(file, config), loadError('INVALID_ARG', pattern));
    }
  });
});

describe('onnxruntime backend: worker lifecycle', () => {
  it('20 createInstance/finalize cycles leave no worker behind', async () => {
    const own = createOnnxruntimeBackend({ pool: new WorkerPool({ size: 1, guard: false }) });
    const config = cfg('cycle', 'TYPE_FP32', [-1], 4);
    const model = await own.createModel({
      modelName: 'cycle', version: 1, config, modelDir: MODELS, modelPath: join(MODELS, 'identity_fp32.onnx'), logger: silent,
    });
    open.push(model);
    const baseline = liveWorkerCount();
    for (let i = 0; i < 20; i += 1) {
      const inst = await model.createInstance(cpu(i));
      assert.equal(liveWorkerCount(), baseline + 1);
      const res = await inst.execute({ batchSize: 1, inputs: [tensor('IN', 'FP32', [1, 1], new Float32Array([i]))], outputNames: ['OUT'] });
      assert.equal(new Float32Array(out(res).data.slice().buffer)[0], i);
      await inst.finalize();
      assert.equal(liveWorkerCount(), baseline);
    }
  });
});

describe('onnxruntime backend: hosting on the worker pool', () => {
  it('dedicated_worker "true" gives each instance a worker of its own; garbage values are INVALID_ARG', async () => {
    const own = new WorkerPool({ size: 1, guard: false });
    const dedicatedBackend = createOnnxruntimeBackend({ pool: own });
    const config = cfg('heavy', 'TYPE_FP32', [-1], 4, { parameters: { dedicated_worker: { string_value: 'true' } } });
    dedicatedBackend.validateConfig?.(config);
    const model = await dedicatedBackend.createModel({
      modelName: 'heavy', version: 1, config, modelDir: MODELS, modelPath: join(MODELS, 'identity_fp32.onnx'), logger: silent,
    });
    open.push(model);
    const instances = [await model.createInstance(cpu(0)), await model.createInstance(cpu(1))];
    assert.deepEqual(own.stats(), { workers: 2, sharedWorkers: 0, dedicatedWorkers: 2, sessions: 2 });
    const res = await instances[1]!.execute({ batchSize: 1, inputs: [tensor('IN', 'FP32', [1, 1], new Float32Array([5]))], outputNames: ['OUT'] });
    assert.equal(new Float32Array(out(res).data.slice().buffer)[0], 5);
    await Promise.all(instances.map((i) => i.finalize()));
    assert.equal(own.stats().workers, 0);
    assert.throws(() => backend.validateConfig?.(cfg('bad', 'TYPE_FP32', [-1], 4, { parameters: { dedicated_worker: { string_value: 'sometimes' } } })),
      loadError('INVALID_ARG', /^model 'bad': parameter 'dedicated_worker' must be true or false, got 'sometimes'$/));
  });
});
