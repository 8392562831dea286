/**
 * GPU execution end to end on a machine with an NVIDIA GPU: ONNX and TensorFlow models with
 * KIND_GPU (and KIND_AUTO) instances infer through gRPC with dynamic batching, agree with their
 * CPU twins, report their execution provider, and /metrics carries the nv_gpu_* gauges.
 * Every test here skips, printing why, where no GPU is found (CI), or where the runtime it needs
 * (the CUDA provider, tfjs-node-gpu or WebGPU) is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { discoverGpus } from '../../../src/backends/gpu/gpu-devices.js';
import { ortCudaProviderInstalled } from '../../../src/backends/gpu/onnxruntime-providers.js';

const inventory = await discoverGpus({ nvidiaSmi: 'nvidia-smi', cudaVisibleDevices: process.env['CUDA_VISIBLE_DEVICES'] });
const NO_GPU = inventory.devices.length === 0 ? `no GPU: ${inventory.reason}` : false;
if (NO_GPU) console.log(`# gpu-device: skipped: ${NO_GPU}`);

const installed = (pkg: string): boolean => {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
};
const TF_GPU = installed('@tensorflow/tfjs-node-gpu') || (installed('webgpu') && installed('@tensorflow/tfjs-backend-webgpu'));
const MLP_IN = 256;

const mlpConfig = (name: string, group: string) => `name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: 64
input [ { name: "INPUT" data_type: TYPE_FP32 dims: [ ${MLP_IN} ] } ]
output [ { name: "OUTPUT" data_type: TYPE_FP32 dims: [ 16 ] } ]
instance_group [ ${group} ]
dynamic_batching { max_queue_delay_microseconds: 2000 }
`;

describe('GPU execution', { skip: NO_GPU }, () => {
  let repo: TempRepo;
  let ts: TestServer;
  before(async () => {
    const builder = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'onnx-builder.mjs')).href)) as typeof import('../../../scripts/onnx-builder.mjs');
    const mlp = builder.buildMlp({ inputSize: MLP_IN, hidden: [512, 512], outputSize: 16, seed: 3 });
    repo = new TempRepo()
      .add('mlp_gpu', { config: mlpConfig('mlp_gpu', '{ kind: KIND_GPU count: 1 }'), files: { '1/model.onnx': mlp } })
      .add('mlp_auto', { config: mlpConfig('mlp_auto', '{ count: 1 }'), files: { '1/model.onnx': mlp } })
      .add('mlp_cpu', { config: mlpConfig('mlp_cpu', '{ kind: KIND_CPU count: 1 }'), files: { '1/model.onnx': mlp } });
    if (TF_GPU) {
      repo.addBundled('tfjs_mlp');
      const cfg = path.join(repo.dir, 'tfjs_mlp', 'config.pbtxt');
      const { readFileSync, writeFileSync } = await import('node:fs');
      writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('kind: KIND_CPU', 'kind: KIND_GPU'));
    }
    ts = await startServer([repo.dir], { nvidiaSmi: 'nvidia-smi', cudaVisibleDevices: process.env['CUDA_VISIBLE_DEVICES'] });
  });
  after(async () => {
    await ts?.close();
    repo?.remove();
  });

  async function infer(model: string, x: Float32Array): Promise<Float32Array> {
    const res = await call(ts.client.ModelInfer.bind(ts.client), {
      model_name: model, inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, MLP_IN] }], raw_input_contents: [Buffer.from(x.buffer)],
    });
    const b = new Uint8Array(res.raw_output_contents[0]!);
    return new Float32Array(b.slice().buffer);
  }

  it('KIND_GPU and KIND_AUTO load one instance per GPU and report their provider', async () => {
    const index = await call(ts.client.RepositoryIndex.bind(ts.client), { repository_name: '', ready: false });
    for (const m of index.models) assert.equal(m.state, 'READY', `${m.name}: ${m.reason}`);
    const provider = ortCudaProviderInstalled() ? 'cuda' : 'webgpu';
    for (const name of ['mlp_gpu', 'mlp_auto']) {
      const { config } = await call(ts.client.ModelConfig.bind(ts.client), { name, version: '' });
      assert.equal(config!.instance_group[0]!.kind, 'KIND_GPU');
      assert.deepEqual(config!.instance_group[0]!.gpus, inventory.devices.map((d) => d.id));
      assert.equal(config!.parameters['execution_provider']?.string_value, `${name}_0=${provider}`);
    }
  });

  it('GPU results match the CPU instance of the same model', async () => {
    const x = Float32Array.from({ length: MLP_IN }, (_, i) => Math.sin(i) / 2);
    const [gpu, cpu] = await Promise.all([infer('mlp_gpu', x), infer('mlp_cpu', x)]);
    assert.equal(gpu.length, 16);
    gpu.forEach((v, i) => assert.ok(Math.abs(v - cpu[i]!) <= 1e-3 * Math.max(1, Math.abs(cpu[i]!)), `output ${i}: gpu ${v} cpu ${cpu[i]}`));
  });

  it('dynamic batching feeds the GPU instances', async () => {
    const x = Float32Array.from({ length: MLP_IN }, (_, i) => i / MLP_IN);
    await Promise.all(Array.from({ length: 64 }, () => infer('mlp_gpu', x.slice())));
    const stats = await call(ts.client.ModelStatistics.bind(ts.client), { name: 'mlp_gpu', version: '' });
    const s = stats.model_stats[0]!;
    assert.ok(Number(s.execution_count) < Number(s.inference_count), `executions ${s.execution_count}, inferences ${s.inference_count}`);
  });

  it('TensorFlow.js model on a GPU instance', { skip: TF_GPU ? false : 'neither @tensorflow/tfjs-node-gpu nor webgpu + @tensorflow/tfjs-backend-webgpu is installed' }, async () => {
    const res = await call(ts.client.ModelInfer.bind(ts.client), {
      model_name: 'tfjs_mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8] }], raw_input_contents: [Buffer.from(new Float32Array(8).fill(0.5).buffer)],
    });
    assert.equal(res.raw_output_contents[0]!.length, 16);
  });

  it('/metrics carries nv_gpu_* for every GPU', async () => {
    const text = await (await fetch(`${ts.metricsUrl}/metrics`)).text();
    for (const d of inventory.devices) {
      assert.match(text, new RegExp(`nv_gpu_memory_total_bytes\\{gpu_uuid="${d.uuid}"\\} \\d+`));
      assert.match(text, new RegExp(`nv_gpu_memory_used_bytes\\{gpu_uuid="${d.uuid}"\\} \\d+`));
    }
  });
});

