/**
 * Evidence for the TensorFlow backends (issue 5), printed as markdown:
 *   1. which TensorFlow fixtures (../shared/fixtures/tensorflow) load and run, and the runtime
 *      each instance got (read from the server's own "TensorFlow model loaded" log lines);
 *   2. gRPC ModelInfer latency of one TF model (tfjs_mlp, batch 1) at c=1 and c=16;
 *   3. process RSS after 1k and after TF_BENCH_REQUESTS (default 100k) requests to a SavedModel,
 *      showing that tfjs tensors are disposed (the server and its worker threads share the
 *      process, so RSS covers them).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/tf-bench.js
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { InferenceServer } from '../src/server.js';
import { loadInferenceProtos } from '../src/frontends/grpc/proto-loader.js';
import { findPackageRoot } from '../src/util/package-root.js';
import type { GRPCInferenceServiceClient } from '../src/generated/inference/GRPCInferenceService.js';
import type { ModelInferRequest } from '../src/generated/inference/ModelInferRequest.js';
import type { RepositoryIndexResponse__Output } from '../src/generated/inference/RepositoryIndexResponse.js';

const ROOT = findPackageRoot();
const FIX = path.join(ROOT, '..', 'shared', 'fixtures', 'tensorflow');
const TOTAL = Number(process.env['TF_BENCH_REQUESTS'] ?? 100_000);
const ONE = 'instance_group [ { count: 1, kind: KIND_CPU } ]\n';

function buildRepo(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'infera-tf-bench-'));
  for (const m of ['times_three_float', 'times_two_int', 'int64_multiply', 'uint8_multiply', 'model_multi_output',
    'model_single_input_multi_output', 'module_with_multiple_signatures']) {
    mkdirSync(path.join(dir, m, '1'), { recursive: true });
    cpSync(path.join(FIX, 'saved_model', m), path.join(dir, m, '1', 'model.savedmodel'), { recursive: true });
    writeFileSync(path.join(dir, m, 'config.pbtxt'), ONE);
  }
  for (const m of ['graph_model', 'layers_model']) cpSync(path.join(FIX, 'tfjs', m), path.join(dir, m, '1'), { recursive: true });
  cpSync(path.join(ROOT, 'model-repository', 'tfjs_mlp'), path.join(dir, 'tfjs_mlp'), { recursive: true });
  return dir;
}

function unary<Req, Res>(fn: (req: Req, cb: (err: Error | null, res?: Res) => void) => unknown, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, (err, res) => (err ? reject(err) : resolve(res as Res))));
}

async function load(client: GRPCInferenceServiceClient, req: ModelInferRequest, concurrency: number, count: number): Promise<number[]> {
  const lat: number[] = [];
  let next = 0;
  const infer = client.ModelInfer.bind(client);
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++;
      const t = process.hrtime.bigint();
      await unary(infer, req);
      lat.push(Number(process.hrtime.bigint() - t) / 1e3);
    }
  }));
  return lat;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function latencyRow(client: GRPCInferenceServiceClient, c: number): Promise<string> {
  const req: ModelInferRequest = { model_name: 'tfjs_mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8] }], raw_input_contents: [Buffer.from(new Float32Array(8).fill(0.5).buffer)] };
  await load(client, req, c, 500);
  const t0 = performance.now();
  const lat = (await load(client, req, c, 5000)).sort((a, b) => a - b);
  const secs = (performance.now() - t0) / 1000;
  return `| tfjs_mlp | ${c} | ${(lat.length / secs).toFixed(0)} | ${pct(lat, 50).toFixed(0)} | ${pct(lat, 99).toFixed(0)} |`;
}

const mb = (): string => (process.memoryUsage().rss / 2 ** 20).toFixed(1);

async function main(): Promise<void> {
  const repo = buildRepo();
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const server = await InferenceServer.create({ modelRepositories: [repo], grpcPort: 0, host: '127.0.0.1', exitTimeoutSecs: 5, allowHttp: false, allowMetrics: false }, logger);
  const { grpcPort } = await server.start();
  const { grpcObject } = loadInferenceProtos();
  const client = new grpcObject.inference.GRPCInferenceService(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
  try {
    const idx = await unary<object, RepositoryIndexResponse__Output>(client.RepositoryIndex.bind(client), {});
    console.log('| model | state | runtime | load-time probe (ms) |\n|---|---|---|---|');
    for (const m of idx.models) {
      const l = lines.find((x) => x['model'] === m.name && String(x['msg']).startsWith('TensorFlow model loaded'));
      console.log(`| ${m.name} | ${m.state}${m.reason ? ` (${m.reason})` : ''} | ${String(l?.['runtime'] ?? '-')} | ${JSON.stringify(l?.['probeMs'] ?? '')} |`);
    }
    console.log('\n| model | concurrency | req/s | p50 µs | p99 µs |\n|---|---|---|---|---|');
    console.log(await latencyRow(client, 1));
    console.log(await latencyRow(client, 16));
    const req: ModelInferRequest = { model_name: 'times_three_float', inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }], raw_input_contents: [Buffer.from(new Float32Array([2]).buffer)] };
    await load(client, req, 16, 1000);
    global.gc?.();
    const after1k = mb();
    const t0 = performance.now();
    await load(client, req, 16, TOTAL - 1000);
    global.gc?.();
    console.log(`\nRSS after 1k requests: ${after1k} MiB; after ${TOTAL} requests: ${mb()} MiB (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  } finally {
    client.close();
    await server.stop();
    rmSync(repo, { recursive: true, force: true });
  }
}

await main();
