/**
 * What KServe's multi-model agent sends, against the real server in explicit mode: it loads with
 * `POST /v2/repository/models/{model}/load` and the body `{}` (no parameters), unloads the same
 * way, and expects 200 for each; a load of a loaded model reloads it (200 again).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InferenceClient } from 'infera/client';
import { TempRepo } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';

let ts: TestServer;
let c: InferenceClient;
const repo = new TempRepo().addBundled('simple');
before(async () => {
  ts = await startServer([repo.dir], { modelControlMode: 'explicit' });
  c = new InferenceClient(ts.httpUrl);
});
after(async () => {
  c.close();
  await ts.close();
  repo.remove();
});

const post = (p: string) => fetch(`${ts.httpUrl}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });

describe("KServe's model agent", () => {
  it('load with body {} answers 200 and the model serves', async () => {
    assert.equal(await c.modelReady('simple'), false);
    const r = await post('/v2/repository/models/simple/load');
    assert.equal(r.status, 200, await r.text());
    assert.equal(await c.modelReady('simple'), true);
    const a = new Int32Array(16).fill(2);
    const out = await c.infer({ model: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: a }] });
    assert.equal(out.output('OUTPUT0', 'INT32').data[0], 4);
  });

  it('loading it again (a reload) and unloading with {} answer 200', async () => {
    assert.equal((await post('/v2/repository/models/simple/load')).status, 200);
    assert.equal((await post('/v2/repository/models/simple/unload')).status, 200);
    assert.equal(await c.modelReady('simple'), false);
  });

  it('a model the repository lacks is an error with a message, not a 200', async () => {
    const r = await post('/v2/repository/models/ghost/load');
    assert.ok(r.status >= 400, String(r.status));
    assert.match(((await r.json()) as { error: string }).error, /ghost/);
  });
});
