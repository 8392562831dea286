/**
 * Start-up at scale, at the repository manager: every model is listed as LOADING before any has
 * loaded, progress is logged in summary lines (not a line per model), and loads still queued when
 * stop() runs are skipped.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, BackendModel } from '../../../src/backends/backend.js';
import { BackendRegistry } from '../../../src/backends/backend-registry.js';
import { ModelRegistry } from '../../../src/repository/model-registry.js';
import { RepositoryManager } from '../../../src/repository/repository-manager.js';
import { deferred } from '../../../src/util/deferred.js';
import { FakeInstance } from '../../helpers/fake-backend.js';
import { TempRepo } from '../../helpers/repo.js';
import { captureLogger } from '../../helpers/capture-logger.js';

const CONFIG = `backend: "fake"
max_batch_size: 0
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 1 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;
const MODELS = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'];
const repo = new TempRepo();
for (const m of MODELS) repo.add(m, { config: CONFIG, files: { '1/model.fake': '' } });
after(() => repo.remove());

describe('RepositoryManager start-up', () => {
  it('lists every model as LOADING first, logs progress lines, and skips queued loads once stopped', async () => {
    const gate = deferred<void>();
    let created = 0;
    const fake: Backend = {
      name: 'fake', platforms: ['fake'], defaultModelFilename: 'model.fake',
      async createModel(): Promise<BackendModel> {
        created++;
        await gate.promise;
        return { createInstance: async (ictx) => new FakeInstance(ictx.name), finalize: async () => undefined };
      },
    };
    const backends = new BackendRegistry();
    backends.register(fake);
    const { logger, records } = captureLogger('info');
    const registry = new ModelRegistry();
    const manager = new RepositoryManager({
      repositories: [repo.dir], mode: 'none', startupModels: [], pollSecs: 15, loadThreads: 1, autoComplete: true,
      drainTimeoutMs: 1000, backends, registry, logger,
    });
    const startup = manager.startup();
    for (let i = 0; i < 200 && registry.all().length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(registry.all().map((e) => [e.name, e.state]), MODELS.map((m) => [m, 'LOADING']));
    while (created === 0) await new Promise((r) => setTimeout(r, 5));
    const stopped = manager.stop();
    gate.resolve();
    await Promise.all([startup, stopped]);
    assert.equal(created, 1, 'only the load already running went on (--model-load-thread-count 1)');
    const states = registry.all().map((e) => e.state);
    assert.deepEqual(states, ['READY', 'UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE', 'UNAVAILABLE']);
    assert.equal(registry.get('m5')?.reason, 'the server is stopping');
    const msgs = records.map((r) => String(r['msg']));
    assert.ok(msgs.includes('loading 6 models'));
    const summary = records.find((r) => String(r['msg']).startsWith('models loaded: 6/6 (1 ready, 5 failed)'));
    assert.ok(summary !== undefined, msgs.join(' | '));
    assert.equal(summary['total'], 6);
    assert.equal(typeof summary['modelsPerSec'], 'number');
    assert.ok(!msgs.some((m) => m === 'model version ready'), 'no per-model line at info');
  });
});
