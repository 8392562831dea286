/**
 * ModelStreamInfer over the wire: one response per request with the final flag, errors on the
 * stream that leave it open, out-of-order completion, half-close, cancellation, the
 * triton_grpc_error opt-in, ensembles, and shared statistics.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client, credentials, status } from '@grpc/grpc-js';
import { SLOW_CONFIG, TempRepo } from '../../helpers/repo.js';
import { call, startServer, serveDuringTests, type TestServer } from '../../helpers/start-server.js';
import { StreamClient, int32, readFloat32, readInt32 } from '../../helpers/stream-client.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelStatisticsResponse__Output } from '../../../src/generated/inference/ModelStatisticsResponse.js';


const repo = new TempRepo()
  .addBundled('simple')
  .addBundled('pipeline').addBundled('preprocess').addBundled('branch_a').addBundled('branch_b').addBundled('combine')
  .add('slow', { config: SLOW_CONFIG, versions: { 1: 'slow.onnx' } });
let ts: TestServer;
serveDuringTests(repo, (s) => (ts = s));

const a = Array.from({ length: 16 }, (_, i) => i);
const b = Array.from({ length: 16 }, () => 3);

function simple(id: string, extra: Partial<ModelInferRequest> = {}): ModelInferRequest {
  return {
    id, model_name: 'simple',
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }],
    raw_input_contents: [int32(a), int32(b)],
    ...extra,
  };
}
function slow(id: string): ModelInferRequest {
  return { id, model_name: 'slow', inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)] };
}

describe('ModelStreamInfer', () => {
  it('answers each request with its id, outputs and triton_final_response=true', async () => {
    const s = new StreamClient(ts.client);
    const r = await s.infer(simple('one'));
    assert.equal(r.error_message, '');
    const res = r.infer_response!;
    assert.equal(res.id, 'one');
    assert.equal(res.model_name, 'simple');
    assert.equal(res.model_version, '1');
    assert.deepEqual(res.parameters['triton_final_response'], { bool_param: true, parameter_choice: 'bool_param' });
    assert.deepEqual(readInt32(res.raw_output_contents[0]!), a.map((x) => x + 3));
    assert.deepEqual(readInt32(res.raw_output_contents[1]!), a.map((x) => x - 3));
    assert.equal(await s.end(), null);
  });

  it('answers errors on the stream and keeps it open for later requests', async () => {
    const s = new StreamClient(ts.client);
    const unknown = await s.infer({ ...simple('e1'), model_name: 'nope' });
    assert.match(unknown.error_message, /unknown model: 'nope'/);
    assert.deepEqual(unknown.infer_response, { id: 'e1', model_name: '', model_version: '', parameters: {}, outputs: [], raw_output_contents: [] });
    const badShape = await s.infer(simple('e2', { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 15] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }] }));
    assert.match(badShape.error_message, /unexpected shape for input 'INPUT0' for model 'simple' version 1/);
    const badParam = await s.infer(simple('e3', { parameters: { triton_x: { bool_param: true } } }));
    assert.match(badParam.error_message, /reserved/);
    const ok = await s.infer(simple('after-errors'));
    assert.equal(ok.error_message, '');
    assert.deepEqual(readInt32(ok.infer_response!.raw_output_contents[0]!), a.map((x) => x + 3));
    assert.equal(await s.end(), null);
  });

  it('a request the wire scan refuses (more entries than allowed) is answered on the stream, which goes on', async () => {
    const s = new StreamClient(ts.client);
    // Nothing of a refused message is decoded, so its answer carries no id.
    const hostile = await s.infer(simple('', { raw_input_contents: Array.from({ length: 5000 }, () => Buffer.alloc(0)) }));
    assert.match(hostile.error_message, /more than 4096 entries/);
    const ok = await s.infer(simple('after-refusal'));
    assert.equal(ok.error_message, '');
    assert.equal(ok.infer_response!.id, 'after-refusal');
    assert.equal(await s.end(), null);
  });

  it('lets a fast request overtake a slow one and correlates them by id', async () => {
    const s = new StreamClient(ts.client);
    const pSlow = s.infer(slow('slow-1'));
    const pFast = s.infer(simple('fast-1'));
    const [rs, rf] = await Promise.all([pSlow, pFast]);
    assert.deepEqual(readFloat32(rs.infer_response!.raw_output_contents[0]!), [1, 2, 3, 4]);
    assert.equal(rf.error_message, '');
    assert.deepEqual(s.received.map((m) => m.infer_response!.id), ['fast-1', 'slow-1']);
    await s.end();
  });

  it('ends the stream only after every response of a half-closed stream was written', async () => {
    const s = new StreamClient(ts.client);
    for (let i = 0; i < 20; i++) s.call.write(i % 5 === 0 ? slow(`h${i}`) : simple(`h${i}`));
    assert.equal(await s.end(), null);
    assert.deepEqual(s.received.map((m) => m.infer_response!.id).sort(), Array.from({ length: 20 }, (_, i) => `h${i}`).sort());
    assert.ok(s.received.every((m) => m.error_message === ''));
  });

  it('runs ensembles on the stream', async () => {
    const s = new StreamClient(ts.client);
    const r = await s.infer({
      id: 'ens', model_name: 'pipeline',
      inputs: [{ name: 'RAW', datatype: 'FP32', shape: [1, 4] }],
      raw_input_contents: [Buffer.from(new Float32Array(4).fill(1).buffer)],
    });
    assert.equal(r.error_message, '');
    assert.equal(r.infer_response!.model_name, 'pipeline');
    assert.deepEqual(r.infer_response!.parameters['triton_final_response']?.bool_param, true);
    await s.end();
  });

  it('with triton_grpc_error: true the first error ends the stream with its gRPC status', async () => {
    const s = new StreamClient(ts.client, { triton_grpc_error: 'true' });
    s.call.write({ ...simple('x'), model_name: 'nope' });
    const st = await s.closed;
    assert.equal(st?.code, status.NOT_FOUND);
    assert.match(st!.details, /nope/);
  });

  it('cancelling the stream fails its queued requests and the server keeps serving', async () => {
    const before = await stats('slow');
    const sched = ts.server.registry.get('slow')!.versions.get(1)!.scheduler!;
    const s = new StreamClient(ts.client);
    for (let i = 0; i < 12; i++) s.call.write(slow(`c${i}`));
    for (let i = 0; i < 400 && sched.pendingCount < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(sched.pendingCount >= 3, 'requests should be queued behind the running batch');
    s.call.cancel();
    assert.equal((await s.closed)?.code, status.CANCELLED);
    for (let i = 0; i < 500 && sched.inflightCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sched.inflightCount, 0);
    const after = await stats('slow');
    const failed = Number(after.inference_stats!.fail!.count) - Number(before.inference_stats!.fail!.count);
    const ran = Number(after.inference_stats!.success!.count) - Number(before.inference_stats!.success!.count);
    assert.ok(failed >= 1, `expected queued requests to fail as cancelled, got ${failed}`);
    assert.ok(ran < 12, `cancelled requests still ran (${ran} of 12)`);
    const again = new StreamClient(ts.client);
    assert.equal((await again.infer(simple('alive'))).error_message, '');
    await again.end();
  });

  it('a reader that stops reading makes the server stop reading too (bounded buffering), then all answers arrive', { timeout: 60_000 }, async () => {
    const N = 4000;
    const before = Number((await stats('simple')).inference_stats!.success!.count);
    const s = new StreamClient(ts.client);
    s.call.pause();
    for (let i = 0; i < N; i++) s.call.write(simple(`bp${i}`));
    await new Promise((r) => setTimeout(r, 1500));
    const whilePaused = Number((await stats('simple')).inference_stats!.success!.count) - before;
    assert.ok(whilePaused < N, `the server ran all ${N} requests for a reader that reads nothing`);
    s.call.resume();
    assert.equal(await s.end(), null);
    assert.equal(s.received.length, N);
    assert.ok(s.received.every((m) => m.error_message === ''));
  });

  it('garbage on the stream: an error status or an error message, and the server keeps serving', async () => {
    const raw = new Client(ts.target, credentials.createInsecure());
    try {
      for (let i = 0; i < 10; i++) {
        const st = await new Promise<{ code: number; messages: number }>((resolve) => {
          const c = raw.makeBidiStreamRequest('/inference.GRPCInferenceService/ModelStreamInfer', (b: Buffer) => b, (b: Buffer) => b);
          let messages = 0;
          c.on('data', () => messages++);
          c.on('status', (x: { code: number }) => resolve({ code: x.code, messages }));
          c.on('error', () => undefined);
          c.write(randomBytes(5 + i * 41));
          c.write(Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x2a, 0xff]));
          c.end();
        });
        assert.ok(st.code !== status.OK || st.messages > 0, `garbage stream ${i}: OK status without answers`);
      }
    } finally {
      raw.close();
    }
    const s = new StreamClient(ts.client);
    assert.equal((await s.infer(simple('after-garbage'))).error_message, '');
    await s.end();
  });

  it('feeds the same statistics as unary calls', async () => {
    const before = Number((await stats('simple')).inference_stats!.success!.count);
    const s = new StreamClient(ts.client);
    for (let i = 0; i < 5; i++) s.call.write(simple(`st${i}`));
    await s.end();
    await call(ts.client.ModelInfer.bind(ts.client), simple('unary'));
    assert.equal(Number((await stats('simple')).inference_stats!.success!.count), before + 6);
  });
});

describe('ModelStreamInfer and shutdown', () => {
  it('a stream the client keeps open does not keep the server from stopping', { timeout: 30_000 }, async () => {
    const own = await startServer([repo.dir], { exitTimeoutSecs: 2 });
    const s = new StreamClient(own.client);
    assert.equal((await s.infer(simple('before-stop'))).error_message, '');
    const t0 = Date.now();
    await own.server.stop();
    assert.ok(Date.now() - t0 < 10_000, `stop took ${Date.now() - t0} ms`);
    const end = await s.closed;
    assert.notEqual(end?.code, undefined, 'the client sees the stream end with a status');
    own.client.close();
  });
});

async function stats(model: string) {
  const r = await call<{ name: string }, ModelStatisticsResponse__Output>(ts.client.ModelStatistics.bind(ts.client), { name: model });
  return r.model_stats[0]!;
}
