/**
 * What the sequence batcher feeds a model, read back through echo models: the START/END/READY
 * controls in each false/true type, CORRID in every type (STRING included); implicit state from
 * an initial_state file, reset at START, under both strategies; the load-time check and metadata.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { BUNDLED_REPO, TempRepo } from '../../helpers/repo.js';
import { call, serveDuringTests, type TestServer } from '../../helpers/start-server.js';
import { readFloat32, readInt32 } from '../../helpers/stream-client.js';
import { NOTHING_HELD, sequenceParameters, seqRequest, sequenceBatcher } from '../../helpers/sequence-requests.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import type { ModelMetadataResponse__Output } from '../../../src/generated/inference/ModelMetadataResponse.js';
import type { ModelStatisticsResponse__Output } from '../../../src/generated/inference/ModelStatisticsResponse.js';
import type { RepositoryIndexResponse__Output } from '../../../src/generated/inference/RepositoryIndexResponse.js';
import { bytesElementStrings } from '../../../src/core/bytes-tensor.js';

function echoConfig(name: string, ctrl: 'int32' | 'fp32' | 'bool', corrid: string, strategy = 'direct { }'): string {
  const [list, values, type] = {
    int32: ['int32_false_true', '[ 7, 9 ]', 'TYPE_INT32'],
    fp32: ['fp32_false_true', '[ 0.25, 1.5 ]', 'TYPE_FP32'],
    bool: ['bool_false_true', '[ false, true ]', 'TYPE_BOOL'],
  }[ctrl];
  const c = (n: string, kind: string) => `{ name: "${n}" control [ { kind: ${kind} ${list}: ${values} } ] }`;
  return `
name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [
  { name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "START_OUT" data_type: ${type} dims: [ 1 ] },
  { name: "END_OUT" data_type: ${type} dims: [ 1 ] },
  { name: "READY_OUT" data_type: ${type} dims: [ 1 ] },
  { name: "CORRID_OUT" data_type: ${corrid} dims: [ 1 ] }
]
sequence_batching {
  ${strategy}
  control_input [
    ${c('START', 'CONTROL_SEQUENCE_START')}, ${c('END', 'CONTROL_SEQUENCE_END')}, ${c('READY', 'CONTROL_SEQUENCE_READY')},
    { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: ${corrid} } ] }
  ]
}
instance_group [ { count: 1 kind: KIND_CPU } ]
`;
}

const emaConfig = readFileSync(path.join(BUNDLED_REPO, 'ema_sequence', 'config.pbtxt'), 'utf8');
const emaFiles = {
  '1/model.onnx': readFileSync(path.join(BUNDLED_REPO, 'ema_sequence', '1', 'model.onnx')),
  'initial_state/ema_start.bin': readFileSync(path.join(BUNDLED_REPO, 'ema_sequence', 'initial_state', 'ema_start.bin')),
};

const repo = new TempRepo()
  .add('echo_int32_uint64', { config: echoConfig('echo_int32_uint64', 'int32', 'TYPE_UINT64'), versions: { 1: 'sequence_echo_int32_uint64.onnx' } })
  .add('echo_fp32_int64', { config: echoConfig('echo_fp32_int64', 'fp32', 'TYPE_INT64', 'oldest { max_candidate_sequences: 4 }'), versions: { 1: 'sequence_echo_fp32_int64.onnx' } })
  .add('echo_bool_string', { config: echoConfig('echo_bool_string', 'bool', 'TYPE_STRING'), versions: { 1: 'sequence_echo_bool_bytes.onnx' } })
  .add('echo_int32_uint32', { config: echoConfig('echo_int32_uint32', 'int32', 'TYPE_UINT32'), versions: { 1: 'sequence_echo_int32_uint32.onnx' } })
  .add('echo_int32_int32', { config: echoConfig('echo_int32_int32', 'int32', 'TYPE_INT32'), versions: { 1: 'sequence_echo_int32_int32.onnx' } })
  .add('ema_sequence', { config: emaConfig, files: emaFiles })
  .add('ema_oldest', { config: emaConfig.replace('"ema_sequence"', '"ema_oldest"').replace('sequence_batching {', 'sequence_batching {\n  oldest { max_candidate_sequences: 8 max_queue_delay_microseconds: 1000 }'), files: emaFiles })
  .add('unbatched_sequence', {
    config: `
platform: "onnxruntime_onnx"
max_batch_size: 0
input [ { name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
sequence_batching {
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] } ] }
  ]
  state [ { input_name: "ACC_IN" output_name: "ACC_OUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
}
instance_group [ { count: 2 kind: KIND_CPU } ]
`,
    versions: { 1: 'sequence_accumulate_unbatched.onnx' },
  })
  .add('direct_delay', {
    config: readFileSync(path.join(BUNDLED_REPO, 'simple_sequence', 'config.pbtxt'), 'utf8')
      .replace('"simple_sequence"', '"direct_delay"').replace('max_batch_size: 8', 'max_batch_size: 2')
      .replace('direct { }', 'direct { max_queue_delay_microseconds: 400000 minimum_slot_utilization: 1.0 }'),
    files: { '1/model.onnx': readFileSync(path.join(BUNDLED_REPO, 'simple_sequence', '1', 'model.onnx')) },
  })
  .add('no_controls', {
    // The echo model needs START/END/READY/CORRID; without control_input the config does not list them.
    config: echoConfig('no_controls', 'int32', 'TYPE_UINT64').replace(/control_input \[[\s\S]*?\n  \]/, ''),
    versions: { 1: 'sequence_echo_int32_uint64.onnx' },
  });
let ts: TestServer;
serveDuringTests(repo, (s) => (ts = s));

const infer = (req: ModelInferRequest) => call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req);
const byName = (r: ModelInferResponse__Output, name: string) => r.raw_output_contents[r.outputs.findIndex((o) => o.name === name)]!;

describe('control tensors', () => {
  it('int32_false_true values for START/END/READY and a UINT64 CORRID (full 64-bit range over HTTP)', async () => {
    const first = await infer(seqRequest('echo_int32_uint64', 12345, 1, { start: true }));
    assert.deepEqual(['START_OUT', 'END_OUT', 'READY_OUT'].map((n) => readInt32(byName(first, n))[0]), [9, 7, 9]);
    assert.equal(byName(first, 'CORRID_OUT').readBigUInt64LE(0), 12345n);
    const last = await infer(seqRequest('echo_int32_uint64', 12345, 2, { end: true }));
    assert.deepEqual(['START_OUT', 'END_OUT', 'READY_OUT'].map((n) => readInt32(byName(last, n))[0]), [7, 9, 9]);
    assert.deepEqual(readInt32(byName(last, 'OUTPUT')), [2]);
    const big = 18446744073709551557n; // 2^64 - 59: beyond a double, exact over HTTP's lossless JSON
    const r = await fetch(`${ts.httpUrl}/v2/models/echo_int32_uint64/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: `{"parameters":{"sequence_id":${big},"sequence_start":true,"sequence_end":true},"inputs":[{"name":"INPUT","datatype":"INT32","shape":[1,1],"data":[1]}],"outputs":[{"name":"CORRID_OUT"}]}`,
    });
    assert.match(await r.text(), new RegExp(`"data":\\[${big}\\]`));
  });

  it('fp32_false_true values and an INT64 CORRID under the oldest strategy', async () => {
    const r = await infer(seqRequest('echo_fp32_int64', 77, 1, { start: true, end: true }));
    assert.deepEqual(['START_OUT', 'END_OUT', 'READY_OUT'].map((n) => readFloat32(byName(r, n))[0]), [1.5, 1.5, 1.5]);
    assert.equal(byName(r, 'CORRID_OUT').readBigInt64LE(0), 77n);
  });

  it('bool_false_true values and a STRING CORRID; numeric ids are refused there', async () => {
    const r = await infer(seqRequest('echo_bool_string', 'user-42', 1, { start: true }));
    assert.deepEqual(['START_OUT', 'END_OUT', 'READY_OUT'].map((n) => [...byName(r, n)]), [[1], [0], [1]]);
    assert.deepEqual(bytesElementStrings(byName(r, 'CORRID_OUT')), ['user-42']);
    await infer(seqRequest('echo_bool_string', 'user-42', 1, { end: true }));
    await assert.rejects(infer(seqRequest('echo_bool_string', 42, 1, { start: true })), (e: ServiceError) => {
      assert.equal(e.code, status.INVALID_ARGUMENT);
      assert.match(e.details, /sequence 42 to model 'echo_bool_string' version 1 is refused: the model's CORRID control 'CORRID' is TYPE_STRING/);
      return true;
    });
  });

  it('a long string id is cut to 64 characters in messages', async () => {
    const id = 'x'.repeat(10_000);
    await assert.rejects(infer(seqRequest('echo_int32_uint64', id, 1, { start: true })), (e: ServiceError) => {
      assert.equal(e.code, status.INVALID_ARGUMENT);
      assert.ok(e.details.includes(`sequence '${'x'.repeat(64)}…' to model 'echo_int32_uint64'`), e.details.slice(0, 200));
      assert.ok(e.details.length < 400);
      return true;
    });
  });

  it('UINT32 and INT32 CORRID hold ids in their range and refuse larger ones', async () => {
    const u = await infer(seqRequest('echo_int32_uint32', 4_000_000_000, 1, { start: true, end: true }));
    assert.equal(byName(u, 'CORRID_OUT').readUInt32LE(0), 4_000_000_000);
    const i = await infer(seqRequest('echo_int32_int32', 2_000_000_000, 1, { start: true, end: true }));
    assert.equal(byName(i, 'CORRID_OUT').readInt32LE(0), 2_000_000_000);
    for (const [model, id] of [['echo_int32_uint32', 2 ** 32], ['echo_int32_int32', 2 ** 31]] as const) {
      await assert.rejects(infer(seqRequest(model, id, 1, { start: true })), (e: ServiceError) => {
        assert.equal(e.code, status.INVALID_ARGUMENT);
        assert.match(e.details, new RegExp(`sequence_id ${id} does not fit the model's (UINT32|INT32) CORRID control 'CORRID'`));
        return true;
      });
    }
  });

  it('ModelMetadata lists neither control nor state tensors', async () => {
    const m = await call<{ name: string }, ModelMetadataResponse__Output>(ts.client.ModelMetadata.bind(ts.client), { name: 'echo_int32_uint64' });
    assert.deepEqual(m.inputs.map((t) => t.name), ['INPUT']);
    const e = await call<{ name: string }, ModelMetadataResponse__Output>(ts.client.ModelMetadata.bind(ts.client), { name: 'ema_sequence' });
    assert.deepEqual([e.inputs.map((t) => t.name), e.outputs.map((t) => t.name)], [['INPUT'], ['OUTPUT']]);
  });

  it('a model whose control inputs the config does not declare fails to load, naming them', async () => {
    const idx = await call<{ ready: boolean }, RepositoryIndexResponse__Output>(ts.client.RepositoryIndex.bind(ts.client), { ready: false });
    const entry = idx.models.find((m) => m.name === 'no_controls')!;
    assert.equal(entry.state, 'UNAVAILABLE');
    assert.match(entry.reason, /input 'START': the model requires it but the configuration does not list it/);
  });
});

describe('direct strategy delay', () => {
  it('waits up to max_queue_delay_microseconds for minimum_slot_utilization, and runs at once when it is met', async () => {
    const step = (id: number, v: number, f: { start?: boolean; end?: boolean }) => infer(seqRequest('direct_delay', id, v, f)).then((r) => readInt32(r.raw_output_contents[0]!)[0]);
    const t0 = Date.now();
    assert.equal(await step(1, 5, { start: true }), 5);
    assert.ok(Date.now() - t0 >= 390, `a lone request ran after ${Date.now() - t0} ms, before the 400 ms delay`);
    const before = await statsOf('direct_delay');
    const t1 = Date.now();
    const both = await Promise.all([step(1, 1, { end: true }), step(2, 7, { start: true, end: true })]);
    assert.deepEqual(both, [6, 7]);
    const after = await statsOf('direct_delay');
    assert.equal(Number(after.execution_count) - Number(before.execution_count), 1, 'both slots ran in one batch');
    assert.ok(Date.now() - t1 < 5000);
  });
});

describe('a sequence model that does not batch', () => {
  it('has one slot per instance; a third sequence waits for one; each keeps its own sum', async () => {
    const step = (id: number, v: number, f: { start?: boolean; end?: boolean }) => infer({
      model_name: 'unbatched_sequence', inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1] }],
      raw_input_contents: [Buffer.from(Int32Array.of(v).buffer)], parameters: sequenceParameters(id, f),
    }).then((r) => readInt32(r.raw_output_contents[0]!)[0]);
    const b = sequenceBatcher(ts.server, 'unbatched_sequence');
    assert.equal(await step(1, 10, { start: true }), 10);
    assert.equal(await step(2, 20, { start: true }), 20);
    const third = step(3, 30, { start: true });
    for (let i = 0; i < 300 && b.counts().backlog === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual([b.counts().slotsInUse, b.counts().backlog], [2, 1]);
    assert.equal(await step(1, 1, { end: true }), 11);
    assert.equal(await third, 30);
    assert.equal(await step(2, 2, { end: true }), 22);
    assert.equal(await step(3, 3, { end: true }), 33);
    assert.deepEqual(b.counts(), NOTHING_HELD);
  });
});

describe('implicit state', () => {
  const ema = (model: string, id: number, x: number, f: { start?: boolean; end?: boolean }) => infer({
    model_name: model, inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 4] }],
    raw_input_contents: [Buffer.from(new Float32Array([x, x, x, x]).buffer)], parameters: sequenceParameters(id, f),
  }).then((r) => readFloat32(r.raw_output_contents[0]!));

  for (const model of ['ema_sequence', 'ema_oldest']) {
    it(`${model}: starts from the initial_state file, carries the state, resets it at START`, async () => {
      assert.deepEqual(await ema(model, 1, 0, { start: true }), [5, 10, 15, 20]);
      assert.deepEqual(await ema(model, 1, 0, {}), [2.5, 5, 7.5, 10]);
      assert.deepEqual(await ema(model, 2, 2, { start: true }), [6, 11, 16, 21]);
      assert.deepEqual(await ema(model, 1, 10, { start: true }), [10, 15, 20, 25]);
      assert.deepEqual(await ema(model, 1, 0, { end: true }), [5, 7.5, 10, 12.5]);
      assert.deepEqual(await ema(model, 2, 0, { end: true }), [3, 5.5, 8, 10.5]);
      assert.deepEqual(sequenceBatcher(ts.server, model).counts(), NOTHING_HELD);
    });
  }

  it('keeps each sequence\'s state apart when they share batches', async () => {
    const ids = Array.from({ length: 8 }, (_, k) => 600 + k);
    await Promise.all(ids.map((id, k) => ema('ema_oldest', id, k, { start: true })));
    const second = await Promise.all(ids.map((id) => ema('ema_oldest', id, 0, { end: true })));
    second.forEach((got, k) => assert.deepEqual(got, [10, 20, 30, 40].map((s) => (s + k) / 4)));
  });
});

async function statsOf(model: string) {
  const r = await call<{ name: string }, ModelStatisticsResponse__Output>(ts.client.ModelStatistics.bind(ts.client), { name: model });
  return r.model_stats[0]!;
}
