/**
 * A worker inside an ONNX Runtime run is never terminated mid-call: onnxruntime-node 1.30 aborts
 * the whole process when its thread is terminated during session.run (a C++ Napi::Error escapes),
 * and exiting the process while a run is in flight does the same. The watchdog therefore reports
 * such a worker dead at once (its request fails, its session reloads on a fresh worker) and ends
 * the old thread only when the run returns; stopping the server waits for that too. If any of
 * this regressed, this test file's process would abort instead of passing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status, type ServiceError } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { addSlowModel, writeSlowModel } from '../../helpers/slow-model.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { liveWorkerCount } from '../../../src/workers/host-worker.js';

const repo = addSlowModel(new TempRepo(), 'slow');
let ts: TestServer;
before(async () => {
  // One run takes ~2 s on an idle core (longer under load): beyond the 1 s watchdog.
  await writeSlowModel(repo, 'slow');
  ts = await startServer([repo.dir], { workerWatchdogSecs: 1, allowMetrics: false });
});
let closed = false;
after(async () => {
  if (!closed) await ts.close();
  repo.remove();
});

const request = {
  model_name: 'slow',
  inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4] }],
  raw_input_contents: [Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)],
};

describe('ending workers that run native model code', () => {
  it('the watchdog fails a run that overstays without aborting the process; the model serves again; stop waits for the old thread', async () => {
    const c = ts.client;
    const err = await call(c.ModelInfer.bind(c), request).then(() => undefined, (e: ServiceError) => e);
    assert.ok(err !== undefined, 'the run must outlast the 1 s watchdog');
    assert.equal(err.code, status.UNAVAILABLE, err.details);
    assert.match(err.details, /watchdog: instance slow_0_0 of model 'slow' version 1 did not finish a batch within 1000 ms/);
    // Reloaded on a fresh worker while the old thread finishes its run: the server answers.
    const ready = await call(c.ServerReady.bind(c), {});
    assert.equal(ready.ready, true);
    closed = true;
    await ts.close();
    assert.equal(liveWorkerCount(), 0, 'the old thread was ended once its run returned');
  });
});
