/**
 * The GPU section of `npm run bench` (issue 8): an FP32 MLP large enough for a GPU to matter
 * (1024 → 4 × 2048 → 256, ~14.7 M weights, generated here, never committed) served over gRPC at
 * c = 1, 16, 64, 128 with dynamic batching off and on, on a KIND_GPU instance group (one instance
 * per GPU) and on one KIND_CPU instance, with GPU utilization sampled from nvidia-smi while each
 * GPU row runs. Printed as markdown and written to bench-results/gpu-bench.{json,md}.
 *
 * Without a GPU it prints "GPU benchmark skipped: <reason>" and measures nothing, unless
 * BENCH_GPU_CPU_ONLY=1 asks for the CPU rows alone (to check the harness on a CPU machine).
 * GPU discovery follows the server's: INFERA_NVIDIA_SMI, CUDA_VISIBLE_DEVICES.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { credentials } from '@grpc/grpc-js';
import { discoverGpus, queryNvidiaSmi, visibleDevices, type GpuInventory } from '../src/backends/gpu/gpu-devices.js';
import { loadInferenceProtos } from '../src/frontends/grpc/proto-loader.js';
import { findPackageRoot } from '../src/util/package-root.js';
import { startChild, type Child } from './child-process.js';
import { runLoad, type LoadResult } from './load-generator.js';

const ROOT = findPackageRoot();
const IN = 1024;
const OUT = 256;
const HIDDEN = [2048, 2048, 2048, 2048];
const MAX_BATCH = 128;
const DELAY_US = 1000;
const CONCURRENCY = [1, 16, 64, 128];
const METHOD = '/inference.GRPCInferenceService/ModelInfer';

export interface GpuBenchOptions {
  windowMs: number;
  maxWindows: number;
}

export interface GpuBenchRow {
  device: 'gpu' | 'cpu';
  batching: boolean;
  concurrency: number;
  result: LoadResult;
  avgBatch: number;
  /** Mean nv_gpu_utilization over the row (0–1) across GPUs; undefined on CPU rows or without samples. */
  gpuUtilization: number | undefined;
}

function config(name: string, kind: 'KIND_GPU' | 'KIND_CPU', batching: boolean): string {
  return `name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: ${MAX_BATCH}
input [ { name: "INPUT" data_type: TYPE_FP32 dims: [ ${IN} ] } ]
output [ { name: "OUTPUT" data_type: TYPE_FP32 dims: [ ${OUT} ] } ]
instance_group [ { count: 1 kind: ${kind} } ]
${batching ? `dynamic_batching { max_queue_delay_microseconds: ${DELAY_US} }` : ''}
`;
}

const modelName = (device: string, batching: boolean) => `mlp_${device}_${batching ? 'on' : 'off'}`;

async function buildRepo(devices: readonly ('gpu' | 'cpu')[]): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'infera-gpu-bench-'));
  const builder = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'onnx-builder.mjs')).href)) as typeof import('../scripts/onnx-builder.mjs');
  const mlp = builder.buildMlp({ inputSize: IN, hidden: HIDDEN, outputSize: OUT, seed: 11 });
  for (const device of devices) {
    for (const batching of [false, true]) {
      const name = modelName(device, batching);
      mkdirSync(path.join(dir, name, '1'), { recursive: true });
      writeFileSync(path.join(dir, name, 'config.pbtxt'), config(name, device === 'gpu' ? 'KIND_GPU' : 'KIND_CPU', batching));
      writeFileSync(path.join(dir, name, '1', 'model.onnx'), mlp);
    }
  }
  return dir;
}

function request(model: string): Buffer {
  const { packageDefinition } = loadInferenceProtos();
  const def = packageDefinition['inference.GRPCInferenceService'] as unknown as Record<string, { requestSerialize: (m: object) => Buffer }>;
  const x = Buffer.from(Float32Array.from({ length: IN }, (_, i) => (i % 17) / 17).buffer);
  return def['ModelInfer']!.requestSerialize({
    model_name: model, inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, IN] }], raw_input_contents: [x],
  });
}

async function counts(target: string, model: string): Promise<{ inferences: number; executions: number }> {
  const { grpcObject } = loadInferenceProtos();
  const client = new grpcObject.inference.GRPCInferenceService(target, credentials.createInsecure());
  try {
    const s = await new Promise<{ inference_count: string | number; execution_count: string | number }>((resolve, reject) =>
      client.ModelStatistics({ name: model, version: '' }, (e, r) => (e ? reject(e) : resolve(r!.model_stats[0]!))));
    return { inferences: Number(s.inference_count), executions: Number(s.execution_count) };
  } finally {
    client.close();
  }
}

/** Samples GPU utilization every 250 ms until stopped; the mean over samples and GPUs. */
function sampleUtilization(nvidiaSmi: string, visible: string | undefined): () => number | undefined {
  const seen: number[] = [];
  const timer = setInterval(() => {
    queryNvidiaSmi(nvidiaSmi).then((g) => {
      for (const d of visibleDevices(g, visible)) if (d.utilization !== undefined) seen.push(d.utilization);
    }, () => undefined);
  }, 250);
  return () => {
    clearInterval(timer);
    return seen.length === 0 ? undefined : seen.reduce((a, b) => a + b, 0) / seen.length;
  };
}

/** Models that did not load, from the server's "startup complete" log record. */
function unavailable(child: Child): string[] {
  const models = (child.info['unavailable'] ?? []) as { name: string; state: string; reason?: string }[];
  return models.filter((m) => m.state !== 'READY').map((m) => `${m.name}: ${m.reason ?? m.state}`);
}

async function measureAll(target: string, devices: readonly ('gpu' | 'cpu')[], o: GpuBenchOptions, smi: string): Promise<GpuBenchRow[]> {
  const rows: GpuBenchRow[] = [];
  for (const device of devices) {
    for (const concurrency of CONCURRENCY) {
      for (const batching of [false, true]) {
        const model = modelName(device, batching);
        const before = await counts(target, model);
        const stopSampling = device === 'gpu' ? sampleUtilization(smi, process.env['CUDA_VISIBLE_DEVICES']) : () => undefined;
        const result = await runLoad({ target, method: METHOD, request: request(model), concurrency, windowMs: o.windowMs, maxWindows: o.maxWindows });
        const gpuUtilization = stopSampling();
        const after = await counts(target, model);
        const avgBatch = (after.inferences - before.inferences) / Math.max(1, after.executions - before.executions);
        rows.push({ device, batching, concurrency, result, avgBatch, gpuUtilization });
      }
    }
  }
  return rows;
}

function report(rows: GpuBenchRow[], inventory: GpuInventory): string {
  const f = (n: number, d = 0) => n.toFixed(d);
  const gpus = inventory.devices.map((d) => d.name).join(', ') || 'none';
  const row = (r: GpuBenchRow) => `| ${r.device} | ${r.concurrency} | ${r.batching ? 'on' : 'off'} | ${f(r.result.throughput)} | ${f(r.result.p50Us / 1000, 2)} | ${f(r.result.p99Us / 1000, 2)} | ${f(r.avgBatch, 1)} | ${r.gpuUtilization === undefined ? '' : f(r.gpuUtilization * 100)} | ${r.result.errors} | ${r.result.stable ? 'yes' : 'no'} |`;
  const find = (d: string, c: number, b: boolean) => rows.find((r) => r.device === d && r.concurrency === c && r.batching === b);
  const ratios = CONCURRENCY.flatMap((c) => {
    const g = find('gpu', c, true);
    const cpu = find('cpu', c, true);
    return g && cpu ? [`- c=${c}, batching on: GPU / CPU throughput ${f(g.result.throughput / cpu.result.throughput, 2)}×`] : [];
  });
  return [
    `GPU benchmark: MLP ${IN} → ${HIDDEN.join(' → ')} → ${OUT} (FP32), max batch ${MAX_BATCH}, queue delay ${DELAY_US} µs; GPUs: ${gpus}.`,
    '',
    '| device | c | batching | infer/s | p50 ms | p99 ms | avg batch | GPU util % | errors | stable |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(row),
    ...(ratios.length > 0 ? ['', ...ratios] : []),
  ].join('\n');
}

/** Runs the GPU section, or prints why it is skipped. Returns the rows measured (empty when skipped). */
export async function runGpuBench(o: GpuBenchOptions): Promise<GpuBenchRow[]> {
  const smi = process.env['INFERA_NVIDIA_SMI'] ?? 'nvidia-smi';
  const inventory = await discoverGpus({ nvidiaSmi: smi, cudaVisibleDevices: process.env['CUDA_VISIBLE_DEVICES'] });
  const cpuOnly = process.env['BENCH_GPU_CPU_ONLY'] === '1';
  if (inventory.devices.length === 0 && !cpuOnly) {
    console.log(`GPU benchmark skipped: ${inventory.reason}`);
    return [];
  }
  const devices: ('gpu' | 'cpu')[] = inventory.devices.length === 0 ? ['cpu'] : ['gpu', 'cpu'];
  const repo = await buildRepo(devices);
  try {
    const child = await startChild(
      [path.join(ROOT, 'dist', 'src', 'main.js'), '--model-repository', repo, '--grpc-port', '0', '--grpc-address', '127.0.0.1',
        '--allow-http=false', '--allow-metrics=false', '--log-format', 'json'],
      (r) => r['msg'] === 'startup complete',
    );
    try {
      const failed = unavailable(child);
      if (failed.length > 0) {
        console.log(`GPU benchmark skipped: models failed to load: ${failed.join('; ')}`);
        return [];
      }
      const rows = await measureAll(`127.0.0.1:${child.info['grpcPort'] as number}`, devices, o, smi);
      const text = report(rows, inventory);
      console.log(`\n${text}`);
      mkdirSync(path.join(ROOT, 'bench-results'), { recursive: true });
      writeFileSync(path.join(ROOT, 'bench-results', 'gpu-bench.json'), JSON.stringify({ gpus: inventory.devices, rows }, null, 2));
      writeFileSync(path.join(ROOT, 'bench-results', 'gpu-bench.md'), `${text}\n`);
      return rows;
    } finally {
      await child.stop();
    }
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}
