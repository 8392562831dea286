/**
 * Triton's generate extension and `Accept: text/event-stream` on /infer against the real server
 * and bundled models: `simple` (two INT32 [16] inputs, batching), `simple_identity` (a TypeScript
 * model, BYTES [-1]) and `simple_string` (BYTES [4]). Outputs equal /infer's; the JSON mapping's
 * errors carry the right status and name the model and tensor.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import { TempRepo } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';
import { errorOf, http, json, postJson } from './http-client.js';
import { sseEvents } from './sse-client.js';

let ts: TestServer;
const repo = new TempRepo();
before(async () => {
  repo.addBundled('simple').addBundled('simple_identity').addBundled('simple_string');
  ts = await startServer([repo.dir]);
});
after(async () => {
  await ts.close();
  repo.remove();
});

const url = (model: string, route: string, version = '') => `${ts.httpUrl}/v2/models/${model}${version === '' ? '' : `/versions/${version}`}/${route}`;
const a = Array.from({ length: 16 }, (_, i) => i);
const b = Array.from({ length: 16 }, () => 2);

describe('POST …/generate', () => {
  it('simple: inputs by name, outputs as flat arrays with model_name and model_version', async () => {
    const r = await postJson(url('simple', 'generate'), { INPUT0: a, INPUT1: b });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(json(r), { model_name: 'simple', model_version: '1', OUTPUT0: a.map((x) => x + 2), OUTPUT1: a.map((x) => x - 2) });
  });

  it('an input may come from the parameters object; other keys are request parameters', async () => {
    const r = await postJson(url('simple', 'generate', '1'), { INPUT0: a, parameters: { INPUT1: b, temperature: 0.5, stream: false } });
    assert.equal(r.status, 200);
    assert.deepEqual((json(r) as Record<string, unknown>)['OUTPUT0'], a.map((x) => x + 2));
  });

  it('simple_identity (TypeScript, BYTES): a string in, the same string out; one element is a bare value', async () => {
    const one = await postJson(url('simple_identity', 'generate'), { INPUT0: 'héllo "world"\n' });
    assert.deepEqual(json(one), { model_name: 'simple_identity', model_version: '1', OUTPUT0: 'héllo "world"\n' });
    // The README's curl example, byte for byte.
    const readme = await http(url('simple_identity', 'generate'), { method: 'POST', body: '{"INPUT0": "hello"}' });
    assert.equal(readme.body.toString(), '{"model_name":"simple_identity","model_version":"1","OUTPUT0":"hello"}');
    const many = await postJson(url('simple_identity', 'generate'), { INPUT0: ['a', '', 'z'] });
    assert.deepEqual((json(many) as Record<string, unknown>)['OUTPUT0'], ['a', '', 'z']);
  });

  it('simple_string: the same outputs as /infer', async () => {
    const s = ['1', '2', '30', '-4'];
    const g = json(await postJson(url('simple_string', 'generate'), { INPUT0: s })) as Record<string, unknown>;
    const i = json(await postJson(url('simple_string', 'infer'), { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4], data: s }] })) as { outputs: { name: string; data: unknown }[] };
    assert.deepEqual([g['OUTPUT0'], g['OUTPUT1']], i.outputs.map((o) => o.data));
  });

  it('gzip in, gzip out', async () => {
    const body = gzipSync(Buffer.from(JSON.stringify({ INPUT0: 'zip' })));
    const r = await http(url('simple_identity', 'generate'), { method: 'POST', headers: { 'content-encoding': 'gzip', 'accept-encoding': 'gzip' }, body });
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal((JSON.parse(gunzipSync(r.body).toString()) as Record<string, unknown>)['OUTPUT0'], 'zip');
  });

  const bad: [string, string, unknown, number, RegExp][] = [
    ['not an object', 'simple', [1, 2], 400, /the generate request to model 'simple' must be a JSON object/],
    ['element count does not fit', 'simple', { INPUT0: [1, 2, 3], INPUT1: b }, 400, /input 'INPUT0' of the generate request to model 'simple': 3 element\(s\) cannot fill its shape \[-1,16\]/],
    ['wrong kind', 'simple', { INPUT0: a.map(String), INPUT1: b }, 400, /input 'INPUT0' for model 'simple'.*expected a JSON integer for INT32, got string/],
    ['nested arrays', 'simple', { INPUT0: [a], INPUT1: b }, 400, /input 'INPUT0' of the generate request to model 'simple' must be a scalar or a flat array/],
    ['a missing input', 'simple', { INPUT0: a }, 400, /INPUT1/],
    ['a reserved parameter', 'simple', { INPUT0: a, INPUT1: b, triton_x: 1 }, 400, /parameter 'triton_x' of the request to model 'simple' is reserved/],
    ['an object parameter', 'simple', { INPUT0: a, INPUT1: b, opts: { k: 1 } }, 400, /parameter 'opts' .* must be a string, number or boolean/],
    ['parameters not an object', 'simple', { INPUT0: a, INPUT1: b, parameters: 3 }, 400, /'parameters' of the generate request to model 'simple' must be a JSON object/],
    ['an input given twice', 'simple', { INPUT0: a, INPUT1: b, parameters: { INPUT1: b } }, 400, /input 'INPUT1' is given twice/],
    ['unknown model', 'nope', { INPUT0: 'x' }, 404, /nope/],
  ];
  for (const [what, model, body, status, re] of bad) {
    it(`${what}: ${status}`, async () => {
      const r = await postJson(url(model, 'generate'), body);
      assert.equal(r.status, status, r.body.toString());
      assert.match(errorOf(r), re);
    });
  }

  it('malformed and over-nested JSON are 400 before anything runs', async () => {
    const m = await http(url('simple', 'generate'), { method: 'POST', body: '{"INPUT0": [1,' });
    assert.equal(m.status, 400);
    assert.match(errorOf(m), /failed to parse the generate request for model 'simple'/);
    const deep = await http(url('simple', 'generate'), { method: 'POST', body: `{"INPUT0": ${'['.repeat(5000)}${']'.repeat(5000)}}` });
    assert.equal(deep.status, 400);
    assert.match(errorOf(deep), /nested deeper than/);
  });
});

describe('POST …/generate_stream', () => {
  it('simple: one event with the generate object, text/event-stream', async () => {
    const r = await postJson(url('simple', 'generate_stream'), { INPUT0: a, INPUT1: b });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.deepEqual(sseEvents(r.body), [{ model_name: 'simple', model_version: '1', OUTPUT0: a.map((x) => x + 2), OUTPUT1: a.map((x) => x - 2) }]);
  });

  it('an error before inference is a plain JSON error', async () => {
    const r = await postJson(url('simple', 'generate_stream'), { INPUT0: [1] });
    assert.equal(r.status, 400);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.match(errorOf(r), /cannot fill its shape/);
  });
});

describe('POST …/infer with Accept: text/event-stream (one response per request for these models)', () => {
  const body = { id: 'q', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b }] };

  it('one event: the /infer response with triton_final_response true', async () => {
    const plain = json(await postJson(url('simple', 'infer'), body)) as Record<string, unknown>;
    const r = await postJson(url('simple', 'infer'), body, { accept: 'text/event-stream' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.deepEqual(sseEvents(r.body), [{ ...plain, parameters: { triton_final_response: true } }]);
  });

  it('BYTES through the TypeScript model', async () => {
    const r = await postJson(url('simple_identity', 'infer'), { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 2], data: ['x', 'ÿ'] }] }, { accept: 'application/json;q=0.5, text/event-stream' });
    const [e] = sseEvents(r.body) as { outputs: { data: unknown }[] }[];
    assert.deepEqual(e!.outputs[0]!.data, ['x', 'ÿ']);
  });

  it('a raw binary request streams its outputs as JSON', async () => {
    const r = await http(url('simple_identity', 'infer'), { method: 'POST', headers: { 'inference-header-content-length': '0', accept: 'text/event-stream' }, body: Buffer.from('raw') });
    const [e] = sseEvents(r.body) as { outputs: { data: unknown }[] }[];
    assert.deepEqual(e!.outputs[0]!.data, ['raw']);
  });

  it('setup errors keep their status: unknown model 404, bad shape 400', async () => {
    assert.equal((await postJson(url('nope', 'infer'), body, { accept: 'text/event-stream' })).status, 404);
    const r = await postJson(url('simple', 'infer'), { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 2], data: [1, 2] }] }, { accept: 'text/event-stream' });
    assert.equal(r.status, 400);
    assert.match(String(r.headers['content-type']), /^application\/json/);
  });

  it('Accept without text/event-stream (or with q=0) answers plain JSON as before', async () => {
    for (const accept of ['application/json', '*/*', 'text/event-stream;q=0']) {
      const r = await postJson(url('simple', 'infer'), body, { accept });
      assert.match(String(r.headers['content-type']), /^application\/json/, accept);
    }
  });

  it('the statistics count streamed requests like any other', async () => {
    const count = async () => (json(await http(url('simple', 'stats'))) as { model_stats: { inference_stats: { success: { count: number } } }[] }).model_stats[0]!.inference_stats.success.count;
    const n = await count();
    await postJson(url('simple', 'infer'), body, { accept: 'text/event-stream' });
    await postJson(url('simple', 'generate_stream'), { INPUT0: a, INPUT1: b });
    assert.equal(await count(), n + 2);
  });
});
