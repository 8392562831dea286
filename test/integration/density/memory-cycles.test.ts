/**
 * Memory comes back: a model with 32 MiB of weights loaded and unloaded (through the load /
 * unload API, the path an eviction takes) over and over leaves the server's RSS flat, and each
 * load's measured memory is shown in statistics and as infera_model_memory_bytes.
 * (Smaller than the 100 cycles of 100 MB so the suite stays quick on a 2-core machine;
 * the README gives a longer measured run.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, TempRepo } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';
import { http } from '../http/http-client.js';
import type { InferenceRequest } from '../../../src/core/inference-request.js';

const CYCLES = 16;
const CONFIG = `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "INPUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

let ts: TestServer;
const repo = new TempRepo();
before(async () => {
  const b = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'onnx-builder.mjs')).href)) as typeof import('../../../scripts/onnx-builder.mjs');
  // Two 2900-wide hidden layers: about 8.4 M FP32 weights (32 MiB), held by the session.
  const model = b.buildMlp({ inputSize: 4, hidden: [2900, 2900], outputSize: 4 });
  mkdirSync(path.join(repo.dir, 'weights', '1'), { recursive: true });
  writeFileSync(path.join(repo.dir, 'weights', 'config.pbtxt'), CONFIG);
  writeFileSync(path.join(repo.dir, 'weights', '1', 'model.onnx'), model);
  ts = await startServer([repo.dir], { modelControlMode: 'explicit' });
});
after(async () => {
  await ts.close();
  repo.remove();
});

const request = (): InferenceRequest => ({
  id: '', modelName: 'weights', modelVersion: '', parameters: {},
  inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 4], data: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer), parameters: {} }], outputs: [],
});

describe('load / unload cycles', () => {
  it('leave RSS flat and show each load\'s measured memory', async () => {
    const svc = ts.server.service;
    const cycle = async () => {
      await svc.loadModel('weights', {});
      await svc.infer(request());
      await svc.unloadModel('weights', false);
    };
    for (let i = 0; i < 3; i++) await cycle(); // allocator and worker warm-up
    // RSS after one cycle swings by ±10 % with GC and allocator timing; a leak grows with every
    // cycle. Compared: the mean of the first four samples against the mean of the last four (a
    // 32 MiB model leaked per cycle would add ~380 MiB between them).
    const samples: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      await cycle();
      samples.push(process.memoryUsage.rss());
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const base = mean(samples.slice(0, 4));
    const end = mean(samples.slice(-4));
    const growth = (end - base) / base;
    assert.ok(growth < 0.05, `RSS grew ${(growth * 100).toFixed(1)} % over ${CYCLES} cycles (mean of the first four ${base.toFixed(0)} → of the last four ${end.toFixed(0)})`);
    await svc.loadModel('weights', {});
    const [s] = svc.modelStatistics('weights', '');
    assert.equal(s!.memory_usage[0]?.type, 'CPU');
    const metrics = (await http(`${ts.metricsUrl}/metrics`)).body.toString();
    const shown = Number(/infera_model_memory_bytes\{model="weights",version="1"\} (\d+)/.exec(metrics)?.[1]);
    assert.equal(shown, s!.memory_usage[0]?.byte_size ?? 0);
    assert.ok(shown >= 16 * 1024 * 1024, `a session holding 32 MiB of weights measures ${shown} bytes`);
  });
});
