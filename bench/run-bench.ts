/**
 * `npm run bench`: Infera over gRPC against its two ceilings, printed as a markdown table and
 * written to bench-results/bench.json.
 *
 * Scenarios (issue 3): `simple` at c=1 (1 instance) and c=16 (2 instances, batching on); an FP32
 * MLP (3 × 1024 hidden, generated here, never committed) at c=1, 8, 32, 64 with batching off and
 * on. Ceilings: raw in-process ORT session.run at the batch size the server actually formed, a
 * bare grpc-js echo server answering a same-sized message, and the naive Node server
 * (bench/naive-server.ts: session.run on the main thread per request).
 *
 * Load (issue 13): unary rows are driven by h2load (bench/h2load.ts) sending a prepared gRPC
 * frame, so the generator is not the bottleneck; it must be installed (the bench says how).
 * Each row prints the server's CPU per request from /proc. Stream and sequence rows need a real
 * gRPC client and use the grpc-js one: they are labelled client-bound. HTTP/REST rows (`simple`
 * at c=1 and c=16, JSON body) are driven by wrk (bench/wrk.ts) against two HTTP ceilings measured
 * the same way: a bare node:http server answering a same-sized body (bench/http-echo-server.ts)
 * and the naive server's HTTP form (bench/naive-server.ts). Both tools must be installed.
 *
 * GPU section (issue 8): bench/gpu-bench.ts, after the table above; it prints
 * "GPU benchmark skipped: <reason>" on a machine without a GPU.
 *
 * Stream and sequence rows (issue 11): bench/stream-bench.ts; `simple` over one ModelStreamInfer
 * stream against unary at the same concurrency, and N concurrent sequences of length L on the
 * bundled simple_dyna_sequence (oldest strategy, 2 instances).
 *
 * BLS rows (issue 12): bench/bls-bench.ts; the bundled bls_pipeline (TypeScript model calling two
 * ONNX models through ctx.infer) against the equivalent `pipeline` ensemble, c=1 and c=16.
 *
 * TypeScript rows (issue 12): bench/typescript-bench.ts; an empty TS identity on [1,16] INT32
 * against the same identity in ONNX at c=1 and c=16 (h2load), and the decoupled repeat_int32's
 * responses/s over one stream (grpc-js, client-bound).
 *
 * Options (env): BENCH_SECONDS (h2load run length, default 3), BENCH_WINDOW_MS (default 2000), BENCH_MAX_WINDOWS (default 6),
 * BENCH_ONLY=simple|http|stream|typescript|mlp|bls|gpu to run one family, BENCH_STREAM_C, BENCH_SEQ_N, BENCH_SEQ_L, BENCH_MLP_C (concurrency list, default 1,8,32,64),
 * BENCH_MLP_INSTANCES (default 1), BENCH_INTRA_OP (default 1).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import { findPackageRoot } from '../src/util/package-root.js';
import { loadInferenceProtos } from '../src/frontends/grpc/proto-loader.js';
import type { ModelStatistics__Output } from '../src/generated/inference/ModelStatistics.js';
import { runLoad, type LoadResult } from './load-generator.js';
import { startChild } from './child-process.js';
import { ortCeiling } from './ort-ceiling.js';
import { runGpuBench } from './gpu-bench.js';
import { runSequenceLoad, runStreamLoad } from './stream-bench.js';
import type { ModelInferRequest } from '../src/generated/inference/ModelInferRequest.js';
import { requireNativeTools, runH2load, type NativeLoadResult } from './h2load.js';
import { addBlsModels, BLS_CONCURRENCY, pipelineInput } from './bls-bench.js';
import { addTypescriptModels, runRepeatLoad } from './typescript-bench.js';
import { runWrk } from './wrk.js';

const ROOT = findPackageRoot();
const WINDOW_MS = Number(process.env['BENCH_WINDOW_MS'] ?? 2000);
const MAX_WINDOWS = Number(process.env['BENCH_MAX_WINDOWS'] ?? 6);
const ONLY = process.env['BENCH_ONLY'] ?? '';
const MLP_IN = 256;
const MLP_OUT = 16;
const MLP_MAX_BATCH = 64;
const MLP_DELAY_US = 500;
/**
 * ORT intra-op threads for the MLP instance and the raw ceiling alike (BENCH_INTRA_OP). Default 1:
 * the load generator runs on the same machine, and on 2 cores a 2-thread ORT pool measured ~35%
 * slower under that contention than a single thread (barrier waits on a descheduled thread).
 */
const INTRA_OP = Number(process.env['BENCH_INTRA_OP'] ?? 1);
/** MLP instances (BENCH_MLP_INSTANCES, default 1). */
const MLP_INSTANCES = Number(process.env['BENCH_MLP_INSTANCES'] ?? 1);
const MLP_CONCURRENCY = (process.env['BENCH_MLP_C'] ?? '1,8,32,64').split(',').map(Number);
const METHOD = '/inference.GRPCInferenceService/ModelInfer';
/** Concurrency of the stream row (BENCH_STREAM_C, default 16). */
const STREAM_C = Number(process.env['BENCH_STREAM_C'] ?? 16);
/** Concurrent sequences and their length for the sequence row (BENCH_SEQ_N, BENCH_SEQ_L; default 32, 8). */
const SEQ_N = Number(process.env['BENCH_SEQ_N'] ?? 32);
const SEQ_L = Number(process.env['BENCH_SEQ_L'] ?? 8);

interface Row {
  scenario: string;
  model: string;
  concurrency: number;
  batching: boolean;
  instances: number;
  result: LoadResult;
  avgBatch: number;
  queueUs: number;
  computeUs: number;
  ceiling?: { name: string; throughput: number; ratio: number };
  /** The naive Node server (session.run on the main thread) at the same concurrency. */
  naive?: { throughput: number; ratio: number; p50Us: number };
  /** Echo p50 at the same concurrency (for the latency-overhead target). */
  echoP50Us?: number;
  /** Load generator: h2load or wrk (native), or the grpc-js client (client-bound). */
  generator: 'h2load' | 'wrk' | 'grpc-js (client-bound)';
}

function mlpConfig(name: string, batching: boolean): string {
  return `name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: ${MLP_MAX_BATCH}
input [ { name: "INPUT" data_type: TYPE_FP32 dims: [ ${MLP_IN} ] } ]
output [ { name: "OUTPUT" data_type: TYPE_FP32 dims: [ ${MLP_OUT} ] } ]
instance_group [ { count: ${MLP_INSTANCES} kind: KIND_CPU } ]
parameters { key: "intra_op_thread_count" value: { string_value: "${INTRA_OP}" } }
${batching ? `dynamic_batching { max_queue_delay_microseconds: ${MLP_DELAY_US} }` : ''}
`;
}

function simpleConfig(name: string, instances: number): string {
  return `name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
instance_group [ { count: ${instances} kind: KIND_CPU } ]
dynamic_batching { }
`;
}

async function buildRepo(): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'infera-bench-'));
  const add = (name: string, config: string, model: Uint8Array | string) => {
    mkdirSync(path.join(dir, name, '1'), { recursive: true });
    writeFileSync(path.join(dir, name, 'config.pbtxt'), config);
    if (typeof model === 'string') cpSync(model, path.join(dir, name, '1', 'model.onnx'));
    else writeFileSync(path.join(dir, name, '1', 'model.onnx'), model);
  };
  const simpleOnnx = path.join(ROOT, 'model-repository', 'simple', '1', 'model.onnx');
  add('simple_1i', simpleConfig('simple_1i', 1), simpleOnnx);
  add('simple_2i', simpleConfig('simple_2i', 2), simpleOnnx);
  const builder = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'onnx-builder.mjs')).href)) as typeof import('../scripts/onnx-builder.mjs');
  const mlp = builder.buildMlp({ inputSize: MLP_IN, hidden: [1024, 1024, 1024], outputSize: MLP_OUT, seed: 7 });
  add('mlp_off', mlpConfig('mlp_off', false), mlp);
  add('mlp_on', mlpConfig('mlp_on', true), mlp);
  cpSync(path.join(ROOT, 'model-repository', 'simple_dyna_sequence'), path.join(dir, 'simple_dyna_sequence'), { recursive: true });
  addBlsModels(ROOT, dir);
  await addTypescriptModels(dir, ROOT);
  return dir;
}

function encodeRequest(model: string, inputs: { name: string; datatype: string; shape: number[]; data: Buffer }[]): Buffer {
  const { packageDefinition } = loadInferenceProtos();
  const def = packageDefinition['inference.GRPCInferenceService'] as unknown as Record<string, { requestSerialize: (m: object) => Buffer }>;
  return def['ModelInfer']!.requestSerialize({
    model_name: model,
    inputs: inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
    raw_input_contents: inputs.map((i) => i.data),
  });
}

function decodeResponseSize(model: string, req: Buffer): number {
  // Size of Infera's answer for `simple`: two INT32 [1,16] outputs plus names and shapes.
  void model;
  return req.length + 16;
}

async function statsOf(target: string, model: string): Promise<ModelStatistics__Output> {
  const { grpcObject } = loadInferenceProtos();
  const client = new grpcObject.inference.GRPCInferenceService(target, credentials.createInsecure());
  const res = await new Promise<ModelStatistics__Output>((resolve, reject) =>
    client.ModelStatistics({ name: model, version: '' }, (e, r) => (e ? reject(e) : resolve(r!.model_stats[0]!))));
  client.close();
  return res;
}

/** Seconds of each h2load run (BENCH_SECONDS, default 3): other processes share the cores. */
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);

/** One real gRPC call first: h2load counts HTTP 200 as success, and gRPC errors arrive with 200. */
async function verifyOnce(target: string, method: string, request: Buffer): Promise<void> {
  const client = new Client(target, credentials.createInsecure());
  try {
    await new Promise<void>((resolve, reject) => client.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, request,
      (err: ServiceError | null) => (err ? reject(new Error(`${method} on ${target} failed before the load: ${err.message}`)) : resolve())));
  } finally {
    client.close();
  }
}

/** h2load against a gRPC server (verified with one real call first), with its CPU from /proc. */
async function nativeLoad(target: string, method: string, request: Buffer, concurrency: number, pid: number | undefined): Promise<NativeLoadResult> {
  await verifyOnce(target, method, request);
  return runH2load({ target, path: method, request, concurrency, seconds: SECONDS, ...(pid !== undefined ? { serverPid: pid } : {}) });
}

async function measure(target: string, model: string, request: Buffer, concurrency: number, pid?: number): Promise<Omit<Row, 'scenario' | 'batching' | 'instances'>> {
  return { ...(await measureWith(target, model, concurrency, () => nativeLoad(target, METHOD, request, concurrency, pid))), generator: 'h2load' };
}

/** Runs `load` and reads the model's statistics around it. */
async function measureWith(target: string, model: string, concurrency: number, load: () => Promise<LoadResult>): Promise<Omit<Row, 'scenario' | 'batching' | 'instances' | 'generator'>> {
  const before = await statsOf(target, model);
  const result = await load();
  const after = await statsOf(target, model);
  const d = (f: (s: ModelStatistics__Output) => number) => f(after) - f(before);
  const reqs = Math.max(1, d((s) => s.inference_stats!.success!.count));
  return {
    model,
    concurrency,
    result,
    avgBatch: d((s) => s.inference_count) / Math.max(1, d((s) => s.execution_count)),
    queueUs: d((s) => s.inference_stats!.queue!.ns) / reqs / 1000,
    computeUs: (d((s) => s.inference_stats!.compute_input!.ns) + d((s) => s.inference_stats!.compute_infer!.ns) + d((s) => s.inference_stats!.compute_output!.ns)) / reqs / 1000,
  };
}

function simpleRequest(model: string): Buffer {
  const a = Buffer.from(Int32Array.from({ length: 16 }, (_, i) => i).buffer);
  return encodeRequest(model, [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: a },
  ]);
}

function mlpRequest(model: string): Buffer {
  const x = Buffer.from(Float32Array.from({ length: MLP_IN }, (_, i) => (i % 13) / 13).buffer);
  return encodeRequest(model, [{ name: 'INPUT', datatype: 'FP32', shape: [1, MLP_IN], data: x }]);
}

/** The server listens before its models load: wait for ServerReady. */
async function untilReady(target: string): Promise<void> {
  const { grpcObject } = loadInferenceProtos();
  const client = new grpcObject.inference.GRPCInferenceService(target, credentials.createInsecure());
  try {
    for (let i = 0; i < 600; i++) {
      const ready = await new Promise<boolean>((resolve) => client.ServerReady({}, (e, r) => resolve(e === null && r?.ready === true)));
      if (ready) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server at ${target} not ready after 60 s`);
  } finally {
    client.close();
  }
}

async function withServer<T>(repo: string, fn: (target: string, pid: number | undefined, httpBase: string) => Promise<T>): Promise<T> {
  const child = await startChild(
    [path.join(ROOT, 'dist', 'src', 'main.js'), '--model-repository', repo, '--grpc-port', '0', '--grpc-address', '127.0.0.1',
      '--http-port', '0', '--http-address', '127.0.0.1', '--metrics-port', '0', '--log-format', 'json'],
    (r) => r['msg'] === 'startup complete',
  );
  try {
    const target = `127.0.0.1:${child.info['grpcPort'] as number}`;
    await untilReady(target);
    return await fn(target, child.proc.pid, `http://127.0.0.1:${child.info['httpPort'] as number}`);
  } finally {
    await child.stop();
  }
}

async function echoCeiling(request: Buffer, responseBytes: number, concurrency: number): Promise<NativeLoadResult> {
  const echo = await startChild([path.join(ROOT, 'dist', 'bench', 'echo-server.js'), String(responseBytes)], (r) => typeof r['port'] === 'number');
  try {
    return await nativeLoad(`127.0.0.1:${echo.info['port'] as number}`, '/bench.Echo/Echo', request, concurrency, echo.proc.pid);
  } finally {
    await echo.stop();
  }
}

/** The naive Node server (bench/naive-server.ts) on `modelPath`, loaded at `concurrency`. */
async function naiveCeiling(modelPath: string, request: Buffer, concurrency: number): Promise<NativeLoadResult> {
  const naive = await startChild([path.join(ROOT, 'dist', 'bench', 'naive-server.js'), modelPath, String(INTRA_OP)], (r) => typeof r['port'] === 'number');
  try {
    return await nativeLoad(`127.0.0.1:${naive.info['port'] as number}`, METHOD, request, concurrency, naive.proc.pid);
  } finally {
    await naive.stop();
  }
}

function attachNaive(row: Row, naive: NativeLoadResult): void {
  row.naive = { throughput: naive.throughput, ratio: row.result.throughput / naive.throughput, p50Us: naive.p50Us };
}

/** `simple`'s infer body as KServe v2 JSON (what an HTTP user sends). */
function simpleJsonBody(): string {
  const data = Array.from({ length: 16 }, (_, i) => i);
  return JSON.stringify({ inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data })) });
}

/** One real request first (a wrong URL or a 4xx fails here, loudly); returns the answer's size for the echo ceiling. */
async function verifyHttpOnce(url: string, body: string): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${url} answered ${res.status} before the load: ${text.slice(0, 500)}`);
  return Buffer.byteLength(text);
}

async function httpLoad(url: string, body: string, concurrency: number, pid: number | undefined): Promise<NativeLoadResult> {
  await verifyHttpOnce(url, body);
  return runWrk({ url, body, contentType: 'application/json', concurrency, seconds: SECONDS, ...(pid !== undefined ? { serverPid: pid } : {}) });
}

/** `simple` over HTTP/REST (JSON) at c=1 and c=16 with wrk, against node:http echo and the naive server's HTTP form. */
async function httpRows(repo: string, rows: Row[]): Promise<void> {
  const body = simpleJsonBody();
  const mine: Row[] = [];
  let responseBytes = 0;
  await withServer(repo, async (target, pid, httpBase) => {
    for (const [c, model, instances] of [[1, 'simple_1i', 1], [16, 'simple_2i', 2]] as const) {
      const url = `${httpBase}/v2/models/${model}/infer`;
      responseBytes = await verifyHttpOnce(url, body);
      mine.push({ scenario: `simple http c=${c}`, batching: true, instances, ...(await measureWith(target, model, c, () => httpLoad(url, body, c, pid))), generator: 'wrk' });
    }
  });
  for (const row of mine) {
    const echo = await startChild([path.join(ROOT, 'dist', 'bench', 'http-echo-server.js'), String(responseBytes)], (r) => typeof r['port'] === 'number');
    try {
      const r = await httpLoad(`http://127.0.0.1:${echo.info['port'] as number}/`, body, row.concurrency, echo.proc.pid);
      row.ceiling = { name: 'node:http echo', throughput: r.throughput, ratio: row.result.throughput / r.throughput };
      row.echoP50Us = r.p50Us;
    } finally {
      await echo.stop();
    }
    const naive = await startChild([path.join(ROOT, 'dist', 'bench', 'naive-server.js'), path.join(repo, row.model, '1', 'model.onnx'), String(INTRA_OP), 'http'], (r) => typeof r['port'] === 'number');
    try {
      attachNaive(row, await httpLoad(`http://127.0.0.1:${naive.info['port'] as number}/`, body, row.concurrency, naive.proc.pid));
    } finally {
      await naive.stop();
    }
  }
  rows.push(...mine);
}

async function main(): Promise<void> {
  requireNativeTools(['h2load', 'wrk']);
  const repo = await buildRepo();
  const rows: Row[] = [];
  try {
    if (ONLY === '' || ONLY === 'simple') {
      await withServer(repo, async (target, pid) => {
        await warmUp(target, ['simple_1i', 'simple_2i'].map(simpleRequest));
        rows.push({ scenario: 'simple c=1', batching: true, instances: 1, ...(await measure(target, 'simple_1i', simpleRequest('simple_1i'), 1, pid)) });
        rows.push({ scenario: 'simple c=16', batching: true, instances: 2, ...(await measure(target, 'simple_2i', simpleRequest('simple_2i'), 16, pid)) });
      });
      for (const row of rows.filter((r) => r.model.startsWith('simple'))) {
        const req = simpleRequest(row.model);
        const echo = await echoCeiling(req, decodeResponseSize(row.model, req), row.concurrency);
        row.ceiling = { name: 'grpc-js echo', throughput: echo.throughput, ratio: row.result.throughput / echo.throughput };
        row.echoP50Us = echo.p50Us;
        attachNaive(row, await naiveCeiling(path.join(repo, row.model, '1', 'model.onnx'), req, row.concurrency));
      }
    }
    if (ONLY === '' || ONLY === 'http') await httpRows(repo, rows);
    if (ONLY === '' || ONLY === 'stream') await streamRows(repo, rows);
    if (ONLY === '' || ONLY === 'bls') await blsRows(repo, rows);
    if (ONLY === '' || ONLY === 'typescript') await typescriptRows(repo, rows);
    if (ONLY === '' || ONLY === 'mlp') {
      await withServer(repo, async (target, pid) => {
        for (const c of MLP_CONCURRENCY) {
          for (const batching of [false, true]) {
            const model = batching ? 'mlp_on' : 'mlp_off';
            rows.push({ scenario: `mlp c=${c}`, batching, instances: MLP_INSTANCES, ...(await measure(target, model, mlpRequest(model), c, pid)) });
          }
        }
      });
      const modelPath = path.join(repo, 'mlp_on', '1', 'model.onnx');
      for (const row of rows.filter((r) => r.model.startsWith('mlp'))) {
        const batch = Math.max(1, Math.round(row.avgBatch));
        const raw = await ortCeiling(modelPath, { inputName: 'INPUT', featureSize: MLP_IN, batch, intraOpThreads: INTRA_OP, seconds: 2, dtype: 'float32' });
        row.ceiling = { name: `raw ORT b=${batch}`, throughput: raw.inferencesPerSec, ratio: row.result.throughput / raw.inferencesPerSec };
      }
      const naiveByC = new Map<number, NativeLoadResult>();
      for (const row of rows.filter((r) => r.model.startsWith('mlp'))) {
        if (!naiveByC.has(row.concurrency)) naiveByC.set(row.concurrency, await naiveCeiling(modelPath, mlpRequest(row.model), row.concurrency));
        attachNaive(row, naiveByC.get(row.concurrency)!);
      }
    }
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
  if (ONLY !== 'gpu') report(rows);
  if (ONLY === '' || ONLY === 'gpu') await runGpuBench({ windowMs: WINDOW_MS, maxWindows: MAX_WINDOWS });
}

/** bls_pipeline (branch "both") vs the pipeline ensemble computing the same outputs, each at c=1 and c=16. */
async function blsRows(repo: string, rows: Row[]): Promise<void> {
  await withServer(repo, async (target, pid) => {
    for (const c of BLS_CONCURRENCY) {
      const ens = await measure(target, 'pipeline', encodeRequest('pipeline', pipelineInput()), c, pid);
      const bls = await measure(target, 'bls_pipeline', encodeRequest('bls_pipeline', pipelineInput()), c, pid);
      rows.push({ scenario: `ensemble pipeline c=${c}`, batching: true, instances: 1, ...ens });
      rows.push({
        scenario: `bls_pipeline c=${c}`, batching: true, instances: 2, ...bls,
        ceiling: { name: `ensemble c=${c}`, throughput: ens.result.throughput, ratio: bls.result.throughput / ens.result.throughput },
      });
    }
  });
}

/** `simple` over one ModelStreamInfer stream vs unary at c=16; N sequences of length L on the oldest strategy. */
async function streamRows(repo: string, rows: Row[]): Promise<void> {
  const loop = { concurrency: STREAM_C, windowMs: WINDOW_MS, maxWindows: MAX_WINDOWS };
  await withServer(repo, async (target) => {
    // Both sides through grpc-js clients, so the ratio compares like with like (client-bound).
    const unary = await measureWith(target, 'simple_2i', STREAM_C, () => runLoad({ target, method: METHOD, request: simpleRequest('simple_2i'), ...loop }));
    const streamed = await measureWith(target, 'simple_2i', STREAM_C, () => runStreamLoad(target, simpleMessage('simple_2i'), loop));
    rows.push({
      scenario: `simple stream c=${STREAM_C}`, batching: true, instances: 2, ...streamed, generator: 'grpc-js (client-bound)',
      ceiling: { name: `grpc-js unary c=${STREAM_C}`, throughput: unary.result.throughput, ratio: streamed.result.throughput / unary.result.throughput },
    });
    const seq = await measureWith(target, 'simple_dyna_sequence', SEQ_N, () => runSequenceLoad(target, SEQ_L, sequenceStep, { ...loop, concurrency: SEQ_N }));
    rows.push({ scenario: `sequence N=${SEQ_N} L=${SEQ_L} oldest`, batching: true, instances: 2, ...seq, generator: 'grpc-js (client-bound)' });
  });
}

/**
 * Unmeasured load on each request's model first: the first row after a server starts would pay
 * the JIT of the shared main-thread path alone (measured: about half the first row's throughput).
 */
async function warmUp(target: string, requests: Buffer[]): Promise<void> {
  for (const request of requests) {
    await verifyOnce(target, METHOD, request);
    await runH2load({ target, path: METHOD, request, concurrency: 4, seconds: 1 });
  }
}

/** TS identity vs ONNX identity at c=1 and c=16 (h2load); repeat_int32 responses/s over one stream. */
async function typescriptRows(repo: string, rows: Row[]): Promise<void> {
  const identityRequest = (model: string) => encodeRequest(model, [
    { name: 'IN', datatype: 'INT32', shape: [1, 16], data: Buffer.from(Int32Array.from({ length: 16 }, (_, i) => i).buffer) },
  ]);
  await withServer(repo, async (target, pid) => {
    await warmUp(target, ['ts_identity', 'onnx_identity'].map(identityRequest));
    for (const c of [1, 16]) {
      for (const model of ['ts_identity', 'onnx_identity']) {
        rows.push({ scenario: `${model} c=${c}`, batching: true, instances: 1, ...(await measure(target, model, identityRequest(model), c, pid)) });
      }
    }
    const rep = await measureWith(target, 'repeat_int32', REPEAT_INFLIGHT,
      async () => (await runRepeatLoad(target, { n: REPEAT_N, inflight: REPEAT_INFLIGHT, seconds: SECONDS })).result);
    rows.push({ scenario: `repeat_int32 n=${REPEAT_N} responses/s, 1 stream`, batching: false, instances: 1, ...rep, generator: 'grpc-js (client-bound)' });
  });
}

/** repeat_int32 row: elements per request and requests outstanding on the stream. */
const REPEAT_N = 64;
const REPEAT_INFLIGHT = 4;

function simpleMessage(model: string): ModelInferRequest {
  const a = Buffer.from(Int32Array.from({ length: 16 }, (_, i) => i).buffer);
  return {
    model_name: model,
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }],
    raw_input_contents: [a, a],
  };
}

function sequenceStep(id: number, value: number, start: boolean, end: boolean): ModelInferRequest {
  return {
    model_name: 'simple_dyna_sequence',
    inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1] }],
    raw_input_contents: [Buffer.from(Int32Array.of(value).buffer)],
    parameters: { sequence_id: { int64_param: id }, sequence_start: { bool_param: start }, sequence_end: { bool_param: end } },
  };
}

function report(rows: Row[]): void {
  const f = (n: number, d = 0) => n.toFixed(d);
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${availableParallelism()} cores, Node ${process.version}; MLP intra-op threads ${INTRA_OP}`;
  const lines = [
    `Machine: ${machine}; load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' / ')} (1/5/15 min: above the core count, other processes share the cores and absolute figures drop); h2load runs of ${SECONDS} s (1 connection, c streams in flight), wrk runs of ${SECONDS} s (c connections, 1 request in flight on each); client-bound rows: grpc-js windows of ${WINDOW_MS} ms.`,
    '',
    '| scenario | generator | batching | inst | infer/s | p50 ms | p99 ms | avg batch | queue µs | compute µs | server CPU µs/req | ceiling | ceiling infer/s | ratio | naive infer/s | / naive |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const cpu = (r.result as Partial<NativeLoadResult>).cpuUsPerRequest;
      return `| ${r.scenario} | ${r.generator} | ${r.batching ? 'on' : 'off'} | ${r.instances} | ${f(r.result.throughput)} | ${f(r.result.p50Us / 1000, 2)} | ${f(r.result.p99Us / 1000, 2)} | ${f(r.avgBatch, 1)} | ${f(r.queueUs)} | ${f(r.computeUs)} | ${cpu !== undefined ? f(cpu) : ''} | ${r.ceiling?.name ?? ''} | ${r.ceiling ? f(r.ceiling.throughput) : ''} | ${r.ceiling ? f(r.ceiling.ratio, 2) : ''} | ${r.naive ? f(r.naive.throughput) : ''} | ${r.naive ? f(r.naive.ratio, 2) : ''} |`;
    }),
  ];
  const mlp = (c: number, b: boolean) => rows.find((r) => r.scenario === `mlp c=${c}` && r.batching === b);
  const targets: string[] = [];
  const on64 = mlp(64, true);
  const off64 = mlp(64, false);
  if (on64 && off64) {
    targets.push(`- MLP c=64 batching on / off: ${f(on64.result.throughput / off64.result.throughput, 2)}× (target ≥ 3×)`);
    targets.push(`- MLP c=64 batching on / raw ORT at b=${f(on64.avgBatch, 0)}: ${f((on64.ceiling?.ratio ?? 0) * 100)}% (target ≥ 70%)`);
  }
  const on1 = mlp(1, true);
  const off1 = mlp(1, false);
  if (on1 && off1) {
    targets.push(`- MLP c=1 p99 on − off: ${f((on1.result.p99Us - off1.result.p99Us) / 1000, 2)} ms (target ≤ ${MLP_DELAY_US / 1000} ms delay + 1 ms)`);
  }
  const st = rows.find((r) => r.scenario.startsWith('simple stream'));
  if (st?.ceiling) targets.push(`- ${st.scenario} (one stream) / unary at the same concurrency: ${f(st.ceiling.ratio * 100)}%`);
  const sq = rows.find((r) => r.scenario.startsWith('sequence'));
  if (sq) targets.push(`- ${sq.scenario}: ${f(sq.result.throughput)} infer/s, average batch ${f(sq.avgBatch, 1)} (batches form across sequences)`);
  for (const b of rows.filter((r) => r.scenario.startsWith('bls_pipeline'))) {
    const e = rows.find((r) => r.scenario === `ensemble pipeline c=${b.concurrency}`);
    if (e) targets.push(`- ${b.scenario} / ensemble: ${f(b.ceiling?.ratio ?? 0, 2)} throughput, p50 ${f(b.result.p50Us / 1000, 2)} vs ${f(e.result.p50Us / 1000, 2)} ms`);
  }
  const s16 = rows.find((r) => r.scenario === 'simple c=16');
  if (s16?.ceiling) targets.push(`- simple c=16 (2 instances, batching) / grpc-js echo: ${f(s16.ceiling.ratio, 2)} (target ≥ 0.8)`);
  if (s16?.naive) targets.push(`- simple c=16 / naive Node server: ${f(s16.naive.ratio, 2)} (target ≥ 1.0)`);
  const s16cpu = (s16?.result as Partial<NativeLoadResult> | undefined)?.cpuUsPerRequest;
  if (s16cpu !== undefined) targets.push(`- server CPU per request, simple c=16: ${f(s16cpu)} µs (target ≤ 200 µs)`);
  for (const c of [1, 16]) {
    const tsr = rows.find((r) => r.scenario === `ts_identity c=${c}`);
    const ox = rows.find((r) => r.scenario === `onnx_identity c=${c}`);
    if (tsr && ox) targets.push(`- TS identity / ONNX identity [1,16] INT32 at c=${c}: ${f(tsr.result.throughput / ox.result.throughput, 2)} (target ≥ 1.0: the TS path costs no more)`);
  }
  const rep = rows.find((r) => r.scenario.startsWith('repeat_int32'));
  if (rep) targets.push(`- ${rep.scenario}: ${f(rep.result.throughput)} responses/s (infer/s column; client-bound)`);
  const s1 = rows.find((r) => r.scenario === 'simple c=1');
  if (s1?.echoP50Us !== undefined) targets.push(`- simple c=1 p50 − grpc-js echo c=1 p50: ${f(s1.result.p50Us - s1.echoP50Us)} µs (target ≤ 60 µs)`);
  for (const h of rows.filter((r) => r.generator === 'wrk')) {
    if (h.ceiling) targets.push(`- ${h.scenario} (HTTP/REST, JSON) / node:http echo: ${f(h.ceiling.ratio, 2)}; / naive Node HTTP server: ${h.naive ? f(h.naive.ratio, 2) : '?'}`);
  }
  if (on64?.naive) targets.push(`- MLP c=64 batching on / naive Node server: ${f(on64.naive.ratio, 2)} (target ≥ 3)`);
  const text = [...lines, '', 'Targets:', ...targets].join('\n');
  console.log(text);
  mkdirSync(path.join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench-results', 'bench.json'), JSON.stringify({ machine, windowMs: WINDOW_MS, rows }, null, 2));
  writeFileSync(path.join(ROOT, 'bench-results', 'bench.md'), `${text}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
