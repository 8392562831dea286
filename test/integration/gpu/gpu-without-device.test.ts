/**
 * GPU semantics through the real server on a machine where no GPU can run a model (CI): the same
 * repository serves KIND_AUTO models on the CPU; KIND_GPU models fail to load with a clear reason,
 * either "no GPUs" (with discovery's reason) or, when a stand-in nvidia-smi claims two GPUs, the
 * execution provider's own error; the nv_gpu_* gauges follow nvidia-smi. Skipped, with the reason
 * printed, where a real GPU is present (its providers would start there: see gpu-device.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { discoverGpus } from '../../../src/backends/gpu/gpu-devices.js';
import { ortCudaProviderInstalled } from '../../../src/backends/gpu/onnxruntime-providers.js';
import { fakeSmiDir, TWO_GPUS, type FakeSmiDir } from '../../unit/gpu/fake-nvidia-smi.js';
import type { ModelConfigResponse__Output } from '../../../src/generated/inference/ModelConfigResponse.js';

const real = await discoverGpus({ nvidiaSmi: 'nvidia-smi' });
const SKIP = real.devices.length > 0 ? `a real GPU is present (${real.devices[0]!.name}); GPU loads succeed here and are tested by gpu-device.test.ts` : false;
if (SKIP) console.log(`# gpu-without-device: skipped: ${SKIP}`);

const ID = (group: string) => `
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ ${group} ]
dynamic_batching { max_queue_delay_microseconds: 100 }
`;

function repository(): TempRepo {
  return new TempRepo()
    .add('auto_model', { config: ID('{ count: 1 }'), versions: { 1: 'identity_fp32.onnx' } })
    .add('gpu_model', { config: ID('{ kind: KIND_GPU }'), versions: { 1: 'identity_fp32.onnx' } })
    .add('gpu_three', { config: ID('{ kind: KIND_GPU gpus: [ 3 ] }'), versions: { 1: 'identity_fp32.onnx' } });
}

async function models(ts: TestServer): Promise<Map<string, { state: string; reason: string }>> {
  const res = await call(ts.client.RepositoryIndex.bind(ts.client), { repository_name: '', ready: false });
  return new Map(res.models.map((m) => [m.name, { state: m.state, reason: m.reason }]));
}

async function gpuLines(ts: TestServer): Promise<string[]> {
  const text = await (await fetch(`${ts.metricsUrl}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('nv_gpu_'));
}

describe('no GPU on the machine', { skip: SKIP }, () => {
  let repo: TempRepo;
  let fake: FakeSmiDir;
  let ts: TestServer;
  before(async () => {
    repo = repository();
    fake = await fakeSmiDir();
    ts = await startServer([repo.dir], { nvidiaSmi: `${fake.dir}/absent-nvidia-smi`, metricsIntervalMs: 100 });
  });
  after(async () => {
    await ts.close();
    repo.remove();
    await fake.cleanup();
  });

  it('KIND_AUTO runs on the CPU, reports execution_provider cpu, and infers with batching', async () => {
    const m = await models(ts);
    assert.equal(m.get('auto_model')?.state, 'READY', JSON.stringify(m.get('auto_model')));
    const res: ModelConfigResponse__Output = await call(ts.client.ModelConfig.bind(ts.client), { name: 'auto_model', version: '' });
    assert.deepEqual(res.config!.instance_group.map((g) => [g.name, g.kind, g.count, g.gpus]), [['auto_model_0', 'KIND_CPU', 1, []]]);
    assert.equal(res.config!.parameters['execution_provider']?.string_value, 'auto_model_0=cpu');
    const x = new Float32Array([1, 2, 3]);
    const out = await call(ts.client.ModelInfer.bind(ts.client), {
      model_name: 'auto_model', inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 3] }], raw_input_contents: [Buffer.from(x.buffer)],
    });
    assert.deepEqual([...new Float32Array(new Uint8Array(out.raw_output_contents[0]!).buffer)], [1, 2, 3]);
  });

  it('KIND_GPU fails to load, saying there is no GPU and why', async () => {
    const m = await models(ts);
    assert.equal(m.get('gpu_model')?.state, 'UNAVAILABLE');
    assert.match(m.get('gpu_model')!.reason, /instance_group 'gpu_model_0' has kind KIND_GPU but no GPUs are available \(.*absent-nvidia-smi was not found/);
    assert.match(m.get('gpu_three')!.reason, /names unavailable GPU 3 \(available GPU ids: none\)/);
  });

  it('/metrics has no nv_gpu_* gauges', async () => {
    assert.deepEqual(await gpuLines(ts), []);
  });
});

describe('nvidia-smi claims two GPUs that no provider can use', { skip: SKIP }, () => {
  let repo: TempRepo;
  let fake: FakeSmiDir;
  let ts: TestServer;
  before(async () => {
    repo = repository();
    fake = await fakeSmiDir();
    ts = await startServer([repo.dir], { nvidiaSmi: await fake.script('nvidia-smi', TWO_GPUS), metricsIntervalMs: 100 });
  });
  after(async () => {
    await ts.close();
    repo.remove();
    await fake.cleanup();
  });

  it('KIND_AUTO and KIND_GPU become GPU instances whose provider fails with its own error', async () => {
    const m = await models(ts);
    const provider = ortCudaProviderInstalled() ? /with the cuda execution provider: / : /with the webgpu execution provider: .*Failed to get a WebGPU adapter/;
    for (const name of ['auto_model', 'gpu_model']) {
      assert.equal(m.get(name)?.state, 'UNAVAILABLE', name);
      assert.match(m.get(name)!.reason, new RegExp(`unable to load model '${name}' version 1 from .* on GPU [01] ${provider.source}`), name);
    }
    assert.match(m.get('gpu_three')!.reason, /instance_group 'gpu_three_0' names unavailable GPU 3 \(available GPU ids: 0\.\.1\)/);
  });

  it('/metrics shows the nv_gpu_* gauges per GPU uuid', async () => {
    const lines = await gpuLines(ts);
    assert.ok(lines.includes('nv_gpu_utilization{gpu_uuid="GPU-aaaaaaaa-1111-2222-3333-444444444444"} 0.42'), lines.join('\n'));
    assert.ok(lines.includes(`nv_gpu_memory_total_bytes{gpu_uuid="GPU-bbbbbbbb-1111-2222-3333-444444444444"} ${81559 * 1048576}`), lines.join('\n'));
    assert.equal(lines.length, 5);
  });

  it('--allow-gpu-metrics=false leaves them out', async () => {
    const off = await startServer([repository().dir], { nvidiaSmi: await fake.script('nvidia-smi-2', TWO_GPUS), allowGpuMetrics: false, allowGrpc: true });
    try {
      assert.deepEqual(await gpuLines(off), []);
    } finally {
      await off.close();
    }
  });
});
