/**
 * `node dist/bench/ensemble-bench.js`: the bundled `pipeline` ensemble (preprocess → branch_a ‖
 * branch_b → combine) against a client that calls the same four models itself, at c=1 and c=16.
 *
 * Modes, all over gRPC to one server process, each caller closed-loop (one request outstanding):
 * - ensemble:          one ModelInfer on `pipeline` per sample;
 * - client, parallel:  preprocess, then branch_a and branch_b concurrently, then combine;
 * - client, sequential: the four calls one after the other.
 * Every mode uses the same generated grpc-js client, so per-call client costs are alike; the client
 * modes pay three extra round trips and (de)serialize the intermediate tensors themselves.
 *
 * Every mode is warmed up first (JIT, ORT sessions, connections), then measured in turn.
 *
 * Options (env): BENCH_WINDOW_MS (default 2000), BENCH_MAX_WINDOWS (default 6), BENCH_ROWS
 * (rows per request, default 1). Writes bench-results/ensemble-bench.{json,md}.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { findPackageRoot } from '../src/util/package-root.js';
import { loadInferenceProtos } from '../src/frontends/grpc/proto-loader.js';
import type { GRPCInferenceServiceClient } from '../src/generated/inference/GRPCInferenceService.js';
import type { ModelInferRequest } from '../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../src/generated/inference/ModelInferResponse.js';
import type { ModelStatistics__Output } from '../src/generated/inference/ModelStatistics.js';
import { percentile } from './load-generator.js';
import { startChild } from './child-process.js';

const ROOT = findPackageRoot();
const WINDOW_MS = Number(process.env['BENCH_WINDOW_MS'] ?? 2000);
const MAX_WINDOWS = Number(process.env['BENCH_MAX_WINDOWS'] ?? 6);
const ROWS = Number(process.env['BENCH_ROWS'] ?? 1);
const WARMUP_MS = 1500;
const MODELS = ['preprocess', 'branch_a', 'branch_b', 'combine', 'pipeline'];
const STEPS = MODELS.slice(0, 4);

type Mode = 'ensemble' | 'client, parallel' | 'client, sequential';

interface Result {
  mode: Mode;
  concurrency: number;
  throughput: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  windows: number;
  stable: boolean;
  errors: number;
  /** Average batch size each composing model formed during the run. */
  avgBatch: Record<string, number>;
}

type Client = GRPCInferenceServiceClient;

function infer(client: Client, req: ModelInferRequest): Promise<ModelInferResponse__Output> {
  return new Promise((resolve, reject) => client.ModelInfer(req, (e, r) => (e ? reject(e) : resolve(r!))));
}

const fp32 = (name: string, shape: number[], raw: Buffer) => ({ req: { name, datatype: 'FP32', shape }, raw });
function request(model: string, inputs: ReturnType<typeof fp32>[]): ModelInferRequest {
  return { model_name: model, inputs: inputs.map((i) => i.req), raw_input_contents: inputs.map((i) => i.raw) };
}

/** One sample of each mode: resolves when the final outputs are in hand. */
function sampler(mode: Mode, raw: Buffer): (client: Client) => Promise<void> {
  const rows = ROWS;
  if (mode === 'ensemble') {
    const req = request('pipeline', [fp32('RAW', [rows, 4], raw)]);
    req.outputs = [{ name: 'PROBS' }, { name: 'CLASS' }];
    return async (c) => void (await infer(c, req));
  }
  return async (c) => {
    const pre = await infer(c, request('preprocess', [fp32('RAW', [rows, 4], raw)]));
    const norm = [fp32('FEATURES', [rows, 4], pre.raw_output_contents[0]!)];
    const branches = mode === 'client, parallel'
      ? await Promise.all([infer(c, request('branch_a', norm)), infer(c, request('branch_b', norm))])
      : [await infer(c, request('branch_a', norm)), await infer(c, request('branch_b', norm))];
    await infer(c, request('combine', [
      fp32('LOGITS_A', [rows, 3], branches[0].raw_output_contents[0]!),
      fp32('LOGITS_B', [rows, 3], branches[1].raw_output_contents[0]!),
    ]));
  };
}

/** perf_analyzer-style closed loop: windows until 3 in a row are within ±10% of their mean. */
async function closedLoop(clients: Client[], concurrency: number, sample: (c: Client) => Promise<void>) {
  let recording: number[] | undefined;
  let errors = 0;
  let stop = false;
  const loops = Array.from({ length: concurrency }, async (_, i) => {
    const client = clients[i % clients.length]!;
    while (!stop) {
      const t0 = performance.now();
      try {
        await sample(client);
        recording?.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  });
  await new Promise((r) => setTimeout(r, Math.min(1000, WINDOW_MS / 2)));
  const windows: { throughput: number; lat: number[] }[] = [];
  let stable = false;
  while (windows.length < MAX_WINDOWS && !stable) {
    recording = [];
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    windows.push({ throughput: recording.length / ((performance.now() - t0) / 1000), lat: recording });
    const last = windows.slice(-3).map((w) => w.throughput);
    const avg = last.reduce((a, b) => a + b, 0) / last.length;
    stable = last.length === 3 && avg > 0 && last.every((t) => Math.abs(t - avg) / avg <= 0.1);
  }
  recording = undefined;
  stop = true;
  await Promise.all(loops);
  const last = windows.slice(-3);
  const lat = last.flatMap((w) => w.lat).sort((a, b) => a - b);
  return {
    throughput: last.reduce((s, w) => s + w.throughput, 0) / last.length,
    p50Ms: percentile(lat, 50), p90Ms: percentile(lat, 90), p99Ms: percentile(lat, 99),
    meanMs: lat.reduce((s, x) => s + x, 0) / Math.max(1, lat.length),
    windows: windows.length, stable, errors,
  };
}

async function allStats(client: Client): Promise<Map<string, ModelStatistics__Output>> {
  const res = await new Promise<ModelStatistics__Output[]>((resolve, reject) =>
    client.ModelStatistics({ name: '', version: '' }, (e, r) => (e ? reject(e) : resolve(r!.model_stats))));
  return new Map(res.map((s) => [s.name, s]));
}

async function measure(clients: Client[], mode: Mode, concurrency: number, raw: Buffer): Promise<Result> {
  const before = await allStats(clients[0]!);
  const r = await closedLoop(clients, concurrency, sampler(mode, raw));
  const after = await allStats(clients[0]!);
  const avgBatch: Record<string, number> = {};
  for (const m of STEPS) {
    const d = (f: (s: ModelStatistics__Output) => number) => f(after.get(m)!) - f(before.get(m)!);
    avgBatch[m] = d((s) => s.inference_count) / Math.max(1, d((s) => s.execution_count)) / ROWS;
  }
  return { mode, concurrency, ...r, avgBatch };
}

/** Every mode for WARMUP_MS at c=1 and c=16 first, so no mode pays for JIT and cold sessions. */
async function warmUp(clients: Client[], raw: Buffer): Promise<void> {
  for (const mode of ['ensemble', 'client, parallel', 'client, sequential'] as Mode[]) {
    for (const c of [1, 16]) {
      const sample = sampler(mode, raw);
      const end = performance.now() + WARMUP_MS;
      await Promise.all(Array.from({ length: c }, async (_, i) => {
        while (performance.now() < end) await sample(clients[i % clients.length]!);
      }));
    }
  }
}

function buildRepo(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'infera-ensemble-bench-'));
  for (const m of MODELS) cpSync(path.join(ROOT, 'model-repository', m), path.join(dir, m), { recursive: true });
  return dir;
}

async function main(): Promise<void> {
  const repo = buildRepo();
  const results: Result[] = [];
  const child = await startChild(
    [path.join(ROOT, 'dist', 'src', 'main.js'), '--model-repository', repo, '--grpc-port', '0', '--grpc-address', '127.0.0.1',
      '--allow-http=false', '--allow-metrics=false', '--log-format', 'json'],
    (r) => r['msg'] === 'startup complete',
  );
  const target = `127.0.0.1:${child.info['grpcPort'] as number}`;
  const { grpcObject } = loadInferenceProtos();
  const clients = Array.from({ length: 4 }, () => new grpcObject.inference.GRPCInferenceService(target, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  try {
    const raw = Buffer.from(Float32Array.from({ length: ROWS * 4 }, (_, i) => Math.sin(i) * 5 + (i % 4)).buffer);
    await warmUp(clients, raw);
    for (const c of [1, 16]) {
      for (const mode of ['ensemble', 'client, parallel', 'client, sequential'] as Mode[]) {
        results.push(await measure(clients, mode, c, raw));
        process.stderr.write(`${mode} c=${c}: ${results[results.length - 1]!.throughput.toFixed(0)} req/s\n`);
      }
    }
  } finally {
    for (const c of clients) c.close();
    await child.stop();
    rmSync(repo, { recursive: true, force: true });
  }
  report(results);
}

function report(rows: Result[]): void {
  const f = (n: number, d = 0) => n.toFixed(d);
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${availableParallelism()} cores, Node ${process.version}`;
  const lines = [
    `Machine: ${machine}; ${ROWS} row(s) per request; windows of ${WINDOW_MS} ms (stable = 3 windows within ±10%).`,
    '',
    '| mode | c | pipelines/s | p50 ms | p90 ms | p99 ms | mean ms | avg batch pre / a / b / combine | stable | errors |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.mode} | ${r.concurrency} | ${f(r.throughput)} | ${f(r.p50Ms, 2)} | ${f(r.p90Ms, 2)} | ${f(r.p99Ms, 2)} | ${f(r.meanMs, 2)} | ${STEPS.map((m) => f(r.avgBatch[m]!, 1)).join(' / ')} | ${r.stable ? 'yes' : 'no'} | ${r.errors} |`),
    '',
  ];
  for (const c of [1, 16]) {
    const e = rows.find((r) => r.mode === 'ensemble' && r.concurrency === c);
    const p = rows.find((r) => r.mode === 'client, parallel' && r.concurrency === c);
    if (e && p) lines.push(`- c=${c}: ensemble / client (parallel branches): ${f(e.throughput / p.throughput, 2)}× throughput, p50 ${f(e.p50Ms, 2)} vs ${f(p.p50Ms, 2)} ms`);
  }
  const text = lines.join('\n');
  console.log(text);
  mkdirSync(path.join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench-results', 'ensemble-bench.json'), JSON.stringify({ machine, rows: ROWS, windowMs: WINDOW_MS, results: rows }, null, 2));
  writeFileSync(path.join(ROOT, 'bench-results', 'ensemble-bench.md'), `${text}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
