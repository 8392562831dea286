/**
 * Density: several hundred small ONNX models, made at test time and auto-completed (no
 * config.pbtxt for most), load in one process on a two-worker pool and each serves its own
 * answer; health and RepositoryIndex answer while they load; killing one worker leaves every
 * model served (the ones it hosted after their sessions reload).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { liveWorkerCount } from '../../../src/workers/host-worker.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import type { RepositoryIndexResponse__Output } from '../../../src/generated/inference/RepositoryIndexResponse.js';

const MODELS = 300;
const WIDTH = 4;
/** Every third model asks for one instance; the others get the default (two on CPU). */
const ONE_INSTANCE = 'instance_group [ { count: 1 kind: KIND_CPU } ]\n';
const name = (i: number): string => `add_${String(i).padStart(3, '0')}`;

let dir: string;
let ts: TestServer;
const loadingSeen: { live?: boolean; ready?: boolean; index?: RepositoryIndexResponse__Output } = {};

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'infera-density-'));
  const builder = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'onnx-builder.mjs')).href)) as typeof import('../../../scripts/onnx-builder.mjs');
  for (let i = 0; i < MODELS; i++) {
    mkdirSync(path.join(dir, name(i), '1'), { recursive: true });
    writeFileSync(path.join(dir, name(i), '1', 'model.onnx'), builder.buildAddConstant({ width: WIDTH, addend: i }));
    if (i % 3 === 0) writeFileSync(path.join(dir, name(i), 'config.pbtxt'), ONE_INSTANCE);
  }
  ts = await startServer([dir], { workerPoolSize: 2, workerHeapLimitMb: 512, modelLoadThreadCount: 4 }, undefined, { deferLoad: true });
  const c = ts.client;
  loadingSeen.live = (await call(c.ServerLive.bind(c), {})).live;
  loadingSeen.ready = (await call(c.ServerReady.bind(c), {})).ready;
  // The repository scan takes a few milliseconds; from then on every model is listed.
  for (let i = 0; i < 400 && (loadingSeen.index?.models.length ?? 0) === 0; i++) {
    loadingSeen.index = await call(c.RepositoryIndex.bind(c), {});
    if (loadingSeen.index.models.length === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await ts.loading;
});

after(async () => {
  await ts?.close();
  rmSync(dir, { recursive: true, force: true });
});

function infer(i: number): Promise<number[]> {
  const input = Float32Array.from({ length: WIDTH }, (_, k) => k);
  const req = {
    model_name: name(i),
    inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, WIDTH] }],
    raw_input_contents: [Buffer.from(input.buffer)],
  };
  return call<typeof req, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req).then((res) => {
    const b = res.raw_output_contents[0]!;
    return [...new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))];
  });
}

/** Infers every listed model (16 at a time) and checks each answers with its own addend. */
async function serveAll(models: number[]): Promise<void> {
  for (let start = 0; start < models.length; start += 16) {
    await Promise.all(models.slice(start, start + 16).map(async (i) => {
      assert.deepEqual(await infer(i), [0, 1, 2, 3].map((k) => k + i), `model ${name(i)}`);
    }));
  }
}

const all = Array.from({ length: MODELS }, (_, i) => i);
const modelsOn = (labels: string[]): Set<number> => new Set(labels.map((l) => Number(/model 'add_(\d+)'/.exec(l)![1])));

describe(`${MODELS} auto-completed models in one process`, () => {
  it('answers health and RepositoryIndex while loading (live, not ready, models listed as LOADING)', () => {
    assert.equal(loadingSeen.live, true);
    assert.equal(loadingSeen.ready, false);
    const states = loadingSeen.index!.models.map((m) => m.state);
    assert.equal(states.length, MODELS, 'every model is listed from the start');
    assert.ok(states.includes('LOADING'), 'some were still loading');
    assert.ok(states.every((s) => s === 'LOADING' || s === 'READY'));
  });

  it('loads every model on two shared workers and serves each with its own answer', async () => {
    const c = ts.client;
    assert.equal((await call(c.ServerReady.bind(c), {})).ready, true);
    const index = await call(c.RepositoryIndex.bind(c), { ready: true });
    assert.equal(index.models.length, MODELS);
    const pool = ts.server.workerPool;
    assert.deepEqual([pool.size, pool.heapLimitMb, pool.watchdogMs], [2, 512, 60_000], 'the worker flags reach the pool');
    const stats = pool.stats();
    assert.deepEqual(stats, { workers: 2, sharedWorkers: 2, dedicatedWorkers: 0, sessions: MODELS * 2 - MODELS / 3 });
    assert.ok(liveWorkerCount() <= 2, `${liveWorkerCount()} worker threads for ${stats.sessions} instances`);
    await serveAll(all);
    const modelStats = await call(c.ModelStatistics.bind(c), { name: '', version: '' });
    assert.equal(modelStats.model_stats.length, MODELS);
    const memory = modelStats.model_stats.flatMap((s) => s.memory_usage);
    assert.ok(memory.every((m) => m.type === 'CPU' && Number(m.byte_size) > 0));
    assert.ok(memory.length > 0, 'the sessions\' memory measured at load is shown per model');
  });

  it('killing one worker leaves every model served; its sessions reload', async () => {
    const pool = ts.server.workerPool;
    const [victim, survivor] = pool.workers();
    const onVictimOnly = [...modelsOn(victim!.sessions)].filter((i) => !modelsOn(survivor!.sessions).has(i));
    assert.ok(onVictimOnly.length > 0, 'some one-instance models ran on the killed worker');
    victim!.host.kill('killed by the test');
    for (let i = 0; i < 200 && pool.workers().some((w) => w.host === victim!.host); i++) await new Promise((r) => setTimeout(r, 10));
    // Models on the surviving worker answer at once; the others wait for their session's reload.
    const elsewhere = all.filter((i) => !onVictimOnly.includes(i));
    await serveAll(elsewhere);
    await serveAll(onVictimOnly);
    assert.equal(pool.stats().sessions, MODELS * 2 - MODELS / 3, 'every session was reloaded');
    assert.ok(pool.stats().sharedWorkers <= 2);
    const c = ts.client;
    assert.equal((await call(c.ServerReady.bind(c), {})).ready, true);
  });
});
