/**
 * A decoupled model over HTTP: the bundled repeat_int32 (n responses per request) answers
 * `POST …/infer` with `Accept: text/event-stream` as one event per response in order and a final
 * event, `generate_stream` as one event per response, and refuses what cannot carry many
 * responses (plain /infer: 501 as Triton; /generate: 400). A client that disconnects mid-stream
 * ends the request on the server (it fails, counted in the model's statistics).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TempRepo } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';
import { errorOf, http, postJson } from './http-client.js';
import { openStream, sseEvents } from './sse-client.js';

let ts: TestServer;
const repo = new TempRepo();
before(async () => {
  repo.addBundled('repeat_int32');
  ts = await startServer([repo.dir]);
});
after(async () => {
  await ts.close();
  repo.remove();
});

const url = (route: string) => `${ts.httpUrl}/v2/models/repeat_int32/${route}`;
const inferBody = (values: number[], delays: number[], wait = 0) => ({
  inputs: [
    { name: 'IN', datatype: 'INT32', shape: [values.length], data: values },
    { name: 'DELAY', datatype: 'UINT32', shape: [delays.length], data: delays },
    { name: 'WAIT', datatype: 'UINT32', shape: [1], data: [wait] },
  ],
});

interface Event { outputs?: { name: string; data: number[] }[]; parameters?: Record<string, unknown>; error?: string }

async function statistics(): Promise<{ success: number; fail: number }> {
  const r = await http(url('stats'));
  const s = (JSON.parse(r.body.toString()) as { model_stats: { inference_stats: { success: { count: number }; fail: { count: number } } }[] }).model_stats[0]!;
  return { success: s.inference_stats.success.count, fail: s.inference_stats.fail.count };
}

describe('decoupled repeat_int32 over HTTP', () => {
  it('/infer with Accept: text/event-stream: one event per response in order, then the final marker', async () => {
    const r = await postJson(url('infer'), inferBody([4, 5, 6], [0, 10, 0]), { accept: 'text/event-stream' });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/event-stream/);
    const events = sseEvents(r.body) as Event[];
    const data = events.filter((e) => e.outputs !== undefined && e.outputs.length > 0);
    assert.deepEqual(data.map((e) => e.outputs!.find((o) => o.name === 'OUT')!.data), [[4], [5], [6]]);
    assert.deepEqual(data.map((e) => e.outputs!.find((o) => o.name === 'IDX')!.data), [[0], [1], [2]]);
    assert.deepEqual(events.map((e) => e.parameters?.['triton_final_response']), [false, false, false, true]);
  });

  it('generate_stream: one event per response', async () => {
    const r = await postJson(url('generate_stream'), { IN: [7, 8], DELAY: [0, 0], WAIT: [0] });
    assert.equal(r.status, 200);
    const events = sseEvents(r.body) as Record<string, unknown>[];
    assert.deepEqual(events.map((e) => [e['OUT'], e['IDX']]), [[7, 0], [8, 1]]);
  });

  it('plain /infer is refused as in Triton (501), /generate with 400 pointing to generate_stream', async () => {
    const plain = await postJson(url('infer'), inferBody([1], [0]));
    assert.equal(plain.status, 501);
    assert.match(errorOf(plain), /HTTP end point doesn't support models with decoupled transaction policy/);
    const gen = await postJson(url('generate'), { IN: [1, 2], DELAY: [0, 0], WAIT: [0] });
    assert.equal(gen.status, 400);
    assert.match(errorOf(gen), /generate_stream/);
  });

  it('a client that disconnects mid-stream ends the request on the server', async () => {
    const before = await statistics();
    const s = await openStream(url('infer'), JSON.stringify(inferBody([1, 2, 3], [0, 30_000, 0])));
    const [first] = (await s.next(1)) as Event[];
    assert.deepEqual(first!.outputs!.find((o) => o.name === 'OUT')!.data, [1]);
    s.req.destroy();
    const deadline = Date.now() + 10_000;
    let now = await statistics();
    while (now.fail === before.fail && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      now = await statistics();
    }
    assert.equal(now.fail, before.fail + 1, 'the abandoned request failed (cancelled) long before its 30 s delay');
    assert.equal(now.success, before.success);
  });
});
