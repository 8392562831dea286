/**
 * Density evidence (issue 17): what a host worker and an ONNX Runtime session cost, then 1,000
 * generated, auto-completed models (OUTPUT = INPUT + k, default instance groups: 2 instances on
 * CPU) loaded in this one process: load time, RSS, memory mappings (vs vm.max_map_count), threads,
 * workers and sessions, and one request to every model.
 * Run: `npm run build && node --expose-gc dist/bench/density-bench.js [models] [instances]` (default 1000;
 * instances per model: the default instance group when absent, else a config.pbtxt with that count).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createOnnxruntimeBackend } from '../src/backends/onnxruntime/onnxruntime-backend.js';
import type { BackendModel, ModelInstance } from '../src/backends/backend.js';
import { InferenceServer } from '../src/server.js';
import { silentLogger } from '../src/observability/logger.js';
import { findPackageRoot } from '../src/util/package-root.js';
import { liveWorkerCount } from '../src/workers/host-worker.js';
import { WorkerPool } from '../src/workers/worker-pool.js';

const ROOT = findPackageRoot();
const MODELS = Number(process.argv[2] ?? 1000);
const INSTANCES = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const WIDTH = 4;
const gc = (globalThis as { gc?: () => void }).gc;

interface Sample { rssMiB: number; maps: number; threads: number }

function sample(): Sample {
  gc?.();
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').length - 1;
  const threads = Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  return { rssMiB: process.memoryUsage().rss / 2 ** 20, maps, threads };
}

const diff = (a: Sample, b: Sample, per = 1): string =>
  `${((b.rssMiB - a.rssMiB) / per).toFixed(2)} MiB, ${((b.maps - a.maps) / per).toFixed(1)} mappings, ${((b.threads - a.threads) / per).toFixed(2)} threads`;

async function unitCosts(file: string): Promise<void> {
  const pool = new WorkerPool({ size: 1, guard: false });
  const backend = createOnnxruntimeBackend({ pool });
  const config = {
    name: 'unit', platform: 'onnxruntime_onnx', backend: 'onnxruntime', max_batch_size: 4,
    input: [{ name: 'INPUT', data_type: 'TYPE_FP32' as const, dims: [WIDTH] }],
    output: [{ name: 'OUTPUT', data_type: 'TYPE_FP32' as const, dims: [WIDTH] }],
    instance_group: [{ count: 2, kind: 'KIND_CPU' as const }],
  };
  const model: BackendModel = await backend.createModel({
    modelName: 'unit', version: 1, config, modelDir: path.dirname(file), modelPath: file, logger: silentLogger(),
  });
  const s0 = sample();
  const instances: ModelInstance[] = [await model.createInstance({ name: 'unit_0', index: 0, kind: 'KIND_CPU', deviceId: 0 })];
  const s1 = sample();
  const more = 100;
  for (let i = 1; i <= more; i++) instances.push(await model.createInstance({ name: `unit_${i}`, index: i, kind: 'KIND_CPU', deviceId: 0 }));
  const s2 = sample();
  console.log(`first host worker with one session (V8 isolate, ORT loaded): ${diff(s0, s1)}`);
  console.log(`each further session on that worker (mean of ${more}): ${diff(s1, s2, more)}`);
  await Promise.all(instances.map((i) => i.finalize()));
  await model.finalize();
  await pool.stop();
}

async function main(): Promise<void> {
  const builder = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'onnx-builder.mjs')).href)) as typeof import('../scripts/onnx-builder.mjs');
  const repo = mkdtempSync(path.join(tmpdir(), 'infera-density-bench-'));
  try {
    const name = (i: number): string => `add_${String(i).padStart(4, '0')}`;
    for (let i = 0; i < MODELS; i++) {
      mkdirSync(path.join(repo, name(i), '1'), { recursive: true });
      writeFileSync(path.join(repo, name(i), '1', 'model.onnx'), builder.buildAddConstant({ width: WIDTH, addend: i }));
      if (INSTANCES !== undefined) writeFileSync(path.join(repo, name(i), 'config.pbtxt'), `instance_group [ { count: ${INSTANCES} kind: KIND_CPU } ]\n`);
    }
    await unitCosts(path.join(repo, name(0), '1', 'model.onnx'));
    const maxMaps = Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8'));
    const before = sample();
    const started = performance.now();
    const server = await InferenceServer.create(
      { modelRepositories: [repo], allowGrpc: false, allowHttp: false, allowMetrics: false, modelLoadThreadCount: 4 },
      silentLogger(),
    );
    const loadSecs = (performance.now() - started) / 1000;
    const loaded = sample();
    const ready = server.service.repositoryIndex(true).length;
    const stats = server.workerPool.stats();
    const serveStart = performance.now();
    let wrong = 0;
    for (let i = 0; i < MODELS; i += 32) {
      await Promise.all(Array.from({ length: Math.min(32, MODELS - i) }, async (_, k) => {
        const res = await server.service.infer({
          id: '', modelName: name(i + k), modelVersion: '', parameters: {}, outputs: [],
          inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, WIDTH], data: new Uint8Array(new Float32Array(WIDTH).buffer), parameters: {} }],
        });
        const out = res.outputs[0]!.data;
        if (new Float32Array(out.buffer, out.byteOffset, WIDTH)[0] !== i + k) wrong++;
      }));
    }
    const serveSecs = (performance.now() - serveStart) / 1000;
    console.log(`${MODELS} models loaded in ${loadSecs.toFixed(1)} s (${(MODELS / loadSecs).toFixed(0)} models/s), ${ready} READY; `
      + `${stats.sessions} instances on ${stats.workers} worker threads (${stats.dedicatedWorkers} dedicated); live workers ${liveWorkerCount()}`);
    console.log(`process after load: RSS ${loaded.rssMiB.toFixed(0)} MiB, ${loaded.maps} mappings of vm.max_map_count ${maxMaps}, ${loaded.threads} threads`);
    console.log(`growth for the load: ${diff(before, loaded)}; per model ${diff(before, loaded, MODELS)}; per instance ${diff(before, loaded, stats.sessions)}`);
    console.log(`one request to each model: ${serveSecs.toFixed(1)} s, ${wrong} wrong answers`);
    await server.stop();
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
