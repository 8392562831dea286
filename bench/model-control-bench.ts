/**
 * Evidence for model control (issue 7): requests failed during 20 reloads under a steady stream
 * of requests, and RSS growth over 50 load/unload cycles (worker threads end and ONNX Runtime
 * sessions are released on unload). Run: `node --expose-gc dist/bench/model-control-bench.js`.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InferenceServer } from '../src/server.js';
import { silentLogger } from '../src/observability/logger.js';
import { findPackageRoot } from '../src/util/package-root.js';
import { liveWorkerCount } from '../src/workers/host-worker.js';

const ROOT = findPackageRoot();
const CONFIG = `platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
instance_group [ { count: 2 kind: KIND_CPU } ]
dynamic_batching { }
`;

const gc = (globalThis as { gc?: () => void }).gc;
const rssMiB = () => {
  gc?.();
  return process.memoryUsage().rss / 2 ** 20;
};

async function main(): Promise<void> {
  const repo = mkdtempSync(path.join(tmpdir(), 'infera-mc-'));
  mkdirSync(path.join(repo, 'simple', '1'), { recursive: true });
  writeFileSync(path.join(repo, 'simple', 'config.pbtxt'), CONFIG);
  cpSync(path.join(ROOT, 'model-repository', 'simple', '1', 'model.onnx'), path.join(repo, 'simple', '1', 'model.onnx'));
  const server = await InferenceServer.create(
    { modelRepositories: [repo], grpcPort: 0, allowHttp: false, allowMetrics: false, allowGrpc: false, modelControlMode: 'explicit', loadModels: ['simple'] },
    silentLogger(),
  );
  const svc = server.service;
  // Fresh buffers per request: instances take ownership of input buffers (they are transferred
  // to the worker thread, which detaches them here).
  const a = () => new Uint8Array(new Int32Array(16).fill(3).buffer);
  const request = () => svc.infer({
    id: '', modelName: 'simple', modelVersion: '', parameters: {}, outputs: [],
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a(), parameters: {} },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: a(), parameters: {} },
    ],
  });
  let stop = false;
  let ok = 0;
  let failed = 0;
  const reasons = new Set<string>();
  const clients = Array.from({ length: 8 }, async () => {
    while (!stop) {
      await request().then(() => ok++, (e: Error) => {
        failed++;
        reasons.add(e.message);
      });
      // An immediate rejection settles in a microtask; yield so a failing loop cannot starve I/O.
      await new Promise((r) => setImmediate(r));
    }
  });
  const t0 = Date.now();
  for (let i = 0; i < 20; i++) await svc.loadModel('simple', {});
  stop = true;
  await Promise.all(clients);
  console.log(`20 reloads under load (8 concurrent in-process clients, ${((Date.now() - t0) / 1000).toFixed(1)} s): ${ok} requests succeeded, ${failed} failed${reasons.size ? ` (${[...reasons].join('; ')})` : ''}`);

  await svc.unloadModel('simple', false);
  for (let i = 0; i < 5; i++) {
    await svc.loadModel('simple', {});
    await svc.unloadModel('simple', false);
  }
  const base = rssMiB();
  for (let i = 0; i < 50; i++) {
    await svc.loadModel('simple', {});
    await request();
    await svc.unloadModel('simple', false);
  }
  await new Promise((r) => setTimeout(r, 500));
  const end = rssMiB();
  console.log(`RSS over 50 load/unload cycles (2 instances each, after 5 warm-up cycles): ${base.toFixed(1)} MiB → ${end.toFixed(1)} MiB (${(end - base >= 0 ? '+' : '')}${(end - base).toFixed(1)} MiB); live workers after unload: ${liveWorkerCount()}`);
  await server.stop();
  rmSync(repo, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
