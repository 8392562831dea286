/**
 * The sequence batcher over the wire: the bundled simple_sequence (direct) and
 * simple_dyna_sequence (oldest, 2 instances, UINT64 CORRID), over gRPC unary, gRPC streams and
 * HTTP; Triton's errors; state reset; idle release; cancellation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { BUNDLED_REPO, TempRepo } from '../../helpers/repo.js';
import { call, serveDuringTests, type TestServer } from '../../helpers/start-server.js';
import { StreamClient, readInt32 } from '../../helpers/stream-client.js';
import { NOTHING_HELD, seqRequest, sequenceBatcher, type SeqFlags } from '../../helpers/sequence-requests.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import type { ModelStatisticsResponse__Output } from '../../../src/generated/inference/ModelStatisticsResponse.js';
import { errorOf, json, postJson } from '../http/http-client.js';

const IDLE_MS = 400;
const bundledConfig = (m: string) => readFileSync(path.join(BUNDLED_REPO, m, 'config.pbtxt'), 'utf8');
const withIdle = (text: string) => text.replace(/max_sequence_idle_microseconds: \d+/, `max_sequence_idle_microseconds: ${IDLE_MS * 1000}`);
const modelFile = (m: string) => ({ '1/model.onnx': readFileSync(path.join(BUNDLED_REPO, m, '1', 'model.onnx')) });

const repo = new TempRepo()
  .addBundled('simple_sequence').addBundled('simple_dyna_sequence').addBundled('simple')
  .add('idle_sequence', { config: withIdle(bundledConfig('simple_sequence')).replace('"simple_sequence"', '"idle_sequence"'), files: modelFile('simple_sequence') });
let ts: TestServer;
serveDuringTests(repo, (s) => (ts = s));

const infer = (req: ModelInferRequest) => call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req);
const out = (r: ModelInferResponse__Output) => readInt32(r.raw_output_contents[0]!)[0];
const step = async (model: string, id: number | string, v: number, f: SeqFlags = {}) => out(await infer(seqRequest(model, id, v, f)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejects(req: ModelInferRequest, code: status, match: RegExp): Promise<void> {
  await assert.rejects(infer(req), (e: ServiceError) => {
    assert.equal(e.code, code, `expected ${status[code]}, got ${status[e.code]}: ${e.details}`);
    assert.match(e.details, match);
    return true;
  });
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await sleep(20);
  }
}

describe('simple_sequence (direct strategy)', () => {
  it('accumulates within a sequence and releases it at END', async () => {
    assert.equal(await step('simple_sequence', 1001, 5, { start: true }), 5);
    assert.equal(await step('simple_sequence', 1001, 3), 8);
    assert.equal(await step('simple_sequence', 1001, 2, { end: true }), 10);
    assert.deepEqual(sequenceBatcher(ts.server, 'simple_sequence').counts(), NOTHING_HELD);
  });

  it('keeps sequences apart, with integer and string ids', async () => {
    await step('simple_sequence', 7, 1, { start: true });
    await step('simple_sequence', '7', 100, { start: true });
    assert.equal(await step('simple_sequence', 7, 1), 2);
    assert.equal(await step('simple_sequence', '7', 1, { end: true }), 101);
    assert.equal(await step('simple_sequence', 7, 1, { end: true }), 3);
  });

  it('resets the state when START comes again on a live sequence', async () => {
    await step('simple_sequence', 55, 40, { start: true });
    assert.equal(await step('simple_sequence', 55, 2), 42);
    assert.equal(await step('simple_sequence', 55, 1, { start: true }), 1);
    assert.equal(await step('simple_sequence', 55, 1, { end: true }), 2);
  });

  it('refuses what Triton refuses, naming the model, the sequence and the reason', async () => {
    await rejects(seqRequest('simple_sequence', undefined, 1), status.INVALID_ARGUMENT,
      /inference request to model 'simple_sequence' version 1 must specify a non-zero or non-empty correlation ID/);
    await rejects(seqRequest('simple_sequence', 0, 1, { start: true }), status.INVALID_ARGUMENT, /non-zero or non-empty correlation ID/);
    await rejects(seqRequest('simple_sequence', 999, 1), status.INVALID_ARGUMENT,
      /inference request for sequence 999 to model 'simple_sequence' version 1 must specify the START flag on the first request of the sequence: no sequence with this id is active/);
    await step('simple_sequence', 998, 1, { start: true, end: true });
    await rejects(seqRequest('simple_sequence', 998, 1), status.INVALID_ARGUMENT, /sequence 998 .*START flag/);
    const batch2: ModelInferRequest = { ...seqRequest('simple_sequence', 997, 1, { start: true }), inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [2, 1] }], raw_input_contents: [Buffer.alloc(8)] };
    await rejects(batch2, status.INVALID_ARGUMENT, /sequence 997 to model 'simple_sequence' version 1 is refused: a request of a sequence must have batch size 1, got 2/);
    await rejects({ ...seqRequest('simple_sequence', 1, 1), parameters: { sequence_id: { uint64_param: 5 } } }, status.INVALID_ARGUMENT, /sequence_id.*int64_param or string_param/);
    await rejects({ ...seqRequest('simple_sequence', 1, 1), parameters: { sequence_id: { int64_param: 5 }, sequence_start: { int64_param: 1 } } }, status.INVALID_ARGUMENT, /sequence_start.*bool_param/);
  });

  it('releases a sequence idle longer than max_sequence_idle_microseconds', async () => {
    const b = sequenceBatcher(ts.server, 'idle_sequence');
    assert.equal(await step('idle_sequence', 31, 4, { start: true }), 4);
    assert.equal(b.counts().live, 1);
    await waitFor(() => b.counts().live === 0, 3000);
    assert.deepEqual(b.counts(), NOTHING_HELD);
    await rejects(seqRequest('idle_sequence', 31, 1), status.INVALID_ARGUMENT, /sequence 31 .*released after 400000 µs without requests/);
    assert.equal(await step('idle_sequence', 31, 6, { start: true, end: true }), 6);
  });

  it('sequences beyond the slots wait in a bounded backlog, within their timeout, and get a slot when one ends', async () => {
    const b = sequenceBatcher(ts.server, 'simple_sequence');
    for (let i = 0; i < 8; i++) await step('simple_sequence', 2000 + i, i, { start: true });
    assert.equal(b.counts().slotsInUse, 8);
    const waiting = step('simple_sequence', 2100, 50, { start: true });
    await waitFor(() => b.counts().backlog === 1);
    const timed = { ...seqRequest('simple_sequence', 2101, 1, { start: true }), parameters: { ...seqRequest('simple_sequence', 2101, 1, { start: true }).parameters, timeout: { int64_param: 100_000 } } };
    await rejects(timed, status.UNAVAILABLE, /Request timeout expired: sequence 2101 waited 100000 µs for a sequence slot of model 'simple_sequence' version 1/);
    // 2101 never started (its only request timed out), so it holds no place.
    const backlogged = Array.from({ length: 63 }, (_, i) => step('simple_sequence', 3000 + i, 1, { start: true, end: true }));
    await waitFor(() => b.counts().backlog === 64);
    await rejects(seqRequest('simple_sequence', 2999, 1, { start: true }), status.UNAVAILABLE,
      /sequence 2999 for model 'simple_sequence' version 1 cannot be accepted: all 8 sequence slots are in use and 64 sequences already wait for one/);
    await step('simple_sequence', 2000, 0, { end: true });
    assert.equal(await waiting, 50);
    for (let i = 1; i < 8; i++) await step('simple_sequence', 2000 + i, 0, { end: true });
    assert.deepEqual(await Promise.all(backlogged), backlogged.map(() => 1));
    assert.equal(await step('simple_sequence', 2100, 1, { end: true }), 51);
    assert.deepEqual(b.counts(), NOTHING_HELD);
  });
});

describe('simple_dyna_sequence (oldest strategy, 2 instances, UINT64 CORRID)', () => {
  it('adds the correlation id on the END request', async () => {
    assert.equal(await step('simple_dyna_sequence', 500, 1, { start: true }), 1);
    assert.equal(await step('simple_dyna_sequence', 500, 2), 3);
    assert.equal(await step('simple_dyna_sequence', 500, 3, { end: true }), 506);
  });

  it('refuses a string id for its numeric CORRID', async () => {
    await rejects(seqRequest('simple_dyna_sequence', 'abc', 1, { start: true }), status.INVALID_ARGUMENT,
      /sequence 'abc' to model 'simple_dyna_sequence' version 1 is refused: the model's CORRID control 'CORRID' is UINT64, so sequence_id must be an integer/);
  });

  it('64 concurrent sequences give each its own result, and batches form', async () => {
    const before = await stats('simple_dyna_sequence');
    const length = 6;
    const run = async (k: number): Promise<number[]> => {
      const id = 10_000 + k;
      const got: number[] = [];
      for (let j = 0; j < length; j++) got.push(await step('simple_dyna_sequence', id, k + j, { start: j === 0, end: j === length - 1 }));
      return got;
    };
    const results = await Promise.all(Array.from({ length: 64 }, (_, k) => run(k)));
    results.forEach((got, k) => {
      const sums = Array.from({ length }, (_, j) => Array.from({ length: j + 1 }, (_, i) => k + i).reduce((x, y) => x + y, 0));
      sums[length - 1]! += 10_000 + k;
      assert.deepEqual(got, sums, `sequence ${10_000 + k}`);
    });
    const after = await stats('simple_dyna_sequence');
    const inferences = Number(after.inference_count) - Number(before.inference_count);
    const executions = Number(after.execution_count) - Number(before.execution_count);
    assert.equal(inferences, 64 * length);
    assert.ok(executions < inferences, `expected batching: ${executions} executions for ${inferences} inferences`);
    assert.deepEqual(sequenceBatcher(ts.server, 'simple_dyna_sequence').counts(), NOTHING_HELD);
  });
});

describe('sequences on a stream', () => {
  it('interleaves sequences on one stream; each answers in order with its own sums', async () => {
    const s = new StreamClient(ts.client);
    const ids = [301, 302, 303];
    const writes: Promise<unknown>[] = [];
    for (let j = 0; j < 5; j++) {
      for (const id of ids) writes.push(s.infer(seqRequest('simple_sequence', id, id - 300 + j, { start: j === 0, end: j === 4 }, `${id}-${j}`)));
    }
    await Promise.all(writes);
    assert.equal(await s.end(), null);
    for (const id of ids) {
      const mine = s.received.filter((m) => m.infer_response!.id.startsWith(`${id}-`));
      assert.deepEqual(mine.map((m) => m.infer_response!.id), [0, 1, 2, 3, 4].map((j) => `${id}-${j}`));
      let sum = 0;
      assert.deepEqual(mine.map((m) => readInt32(m.infer_response!.raw_output_contents[0]!)[0]), [0, 1, 2, 3, 4].map((j) => (sum += id - 300 + j)));
    }
  });

  it('answers sequence errors on the stream and goes on', async () => {
    const s = new StreamClient(ts.client);
    const e = await s.infer(seqRequest('simple_sequence', 404, 1, {}, 'no-start'));
    assert.match(e.error_message, /sequence 404 .*must specify the START flag/);
    // Refused at admission (Triton's InferAsync fails): the error keeps only the request id.
    assert.deepEqual([e.infer_response!.id, e.infer_response!.model_name, e.infer_response!.parameters], ['no-start', '', {}]);
    const ok = await s.infer(seqRequest('simple_sequence', 404, 9, { start: true, end: true }, 'ok'));
    assert.equal(ok.error_message, '');
    await s.end();
  });

  it('cancelling a stream mid-sequence leaves nothing behind once the sequence idles out', async () => {
    const b = sequenceBatcher(ts.server, 'idle_sequence');
    const s = new StreamClient(ts.client);
    await s.infer(seqRequest('idle_sequence', 77, 1, { start: true }, 'a'));
    for (let j = 0; j < 20; j++) s.call.write(seqRequest('idle_sequence', 77, 1, {}, `m${j}`));
    s.call.cancel();
    assert.equal((await s.closed)?.code, status.CANCELLED);
    await waitFor(() => b.counts().live === 0, 3000);
    assert.deepEqual(b.counts(), NOTHING_HELD);
    assert.equal(await step('idle_sequence', 77, 3, { start: true, end: true }), 3);
  });
});

describe('sequences over HTTP', () => {
  const body = (id: number | string, v: number, params: Record<string, unknown>) => ({
    parameters: { sequence_id: id, ...params },
    inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [v] }],
  });
  const http = (id: number | string, v: number, params: Record<string, unknown> = {}) =>
    postJson(`${ts.httpUrl}/v2/models/simple_sequence/infer`, body(id, v, params));
  const data = async (id: number | string, v: number, params: Record<string, unknown> = {}) =>
    (json(await http(id, v, params)) as { outputs: { data: number[] }[] }).outputs[0]!.data;

  it('takes sequence_id (number or string) and sequence_start/sequence_end booleans from the JSON body', async () => {
    assert.deepEqual(await data(4242, 2, { sequence_start: true }), [2]);
    assert.deepEqual(await data('h-1', 10, { sequence_start: true }), [10]);
    assert.deepEqual(await data(4242, 3, { sequence_end: true }), [5]);
    assert.deepEqual(await data('h-1', 1, { sequence_end: true }), [11]);
  });

  it('answers 400 with the reason for a sequence error', async () => {
    const r = await http(4243, 1);
    assert.equal(r.status, 400);
    assert.match(errorOf(r), /sequence 4243 .*START flag/);
    const bad = await http(4244, 1, { sequence_start: 'yes' });
    assert.equal(bad.status, 400);
    assert.match(errorOf(bad), /sequence_start.*boolean/);
  });
});

async function stats(model: string) {
  const r = await call<{ name: string }, ModelStatisticsResponse__Output>(ts.client.ModelStatistics.bind(ts.client), { name: model });
  return r.model_stats[0]!;
}
