/**
 * Cancellation into TypeScript models and decoupled models over the wire: a model awaiting its
 * signal ends when the client's deadline passes or the client cancels, and its instance serves the
 * next request; the bundled repeat_int32 streams its responses in order over ModelStreamInfer with
 * the final flag (and the empty final response on request); unary ModelInfer / HTTP infer refuse a
 * decoupled model with Triton's message; a stream cancelled mid-request aborts the model and frees
 * its instance; statistics count a decoupled request once; static autoCompleteConfig completes a
 * config at load.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, status } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, fails, serveDuringTests, type TestServer } from '../../helpers/start-server.js';
import { StreamClient, int32, readInt32 } from '../../helpers/stream-client.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import type { ModelStreamInferResponse__Output } from '../../../src/generated/inference/ModelStreamInferResponse.js';

// Waits for its signal unless asked to be quick; OUT = how many aborts it has seen so far.
const WAITS_TS = `import type { InferRequest, InferResponse } from 'infera';
let aborts = 0;
export default class Waits {
  async execute(requests: InferRequest[]): Promise<InferResponse[]> {
    const r = requests[0]!;
    if (r.parameters['quick'] !== true) {
      await new Promise<void>((resolve) => r.signal.addEventListener('abort', () => { aborts++; resolve(); }, { once: true }));
    }
    return [{ outputs: { OUT: { shape: [1], data: Int32Array.of(aborts) } } }];
  }
}
`;
// Decoupled: sends one response, then holds execute() until its signal aborts (unless quick).
const HOLDS_TS = `import type { InferRequest } from 'infera';
let aborts = 0;
export default class Holds {
  async execute(requests: InferRequest[]): Promise<void> {
    const r = requests[0]!;
    r.responseSender!.send({ outputs: { OUT: { shape: [1], data: Int32Array.of(aborts) } } });
    if (r.parameters['quick'] === true) return r.responseSender!.send(undefined, { final: true });
    await new Promise<void>((resolve) => r.signal.addEventListener('abort', () => { aborts++; resolve(); }, { once: true }));
  }
}
`;
const AUTO_TS = `import type { ModelConfig } from 'infera';
export default class Auto {
  static autoCompleteConfig(config: ModelConfig): ModelConfig {
    return {
      ...config, max_batch_size: 4, dynamic_batching: {},
      input: [{ name: 'X', data_type: 'TYPE_INT32', dims: [2] }],
      output: [{ name: 'Y', data_type: 'TYPE_INT32', dims: [2] }],
    };
  }
  execute(requests: { inputs: Map<string, { shape: number[]; data: Int32Array }> }[]) {
    return requests.map((r) => {
      const x = r.inputs.get('X')!;
      return { outputs: { Y: { shape: x.shape, data: Int32Array.from(x.data, (v) => v * 2) } } };
    });
  }
}
`;
const IO = 'input [{ name: "IN" data_type: TYPE_INT32 dims: [1] }]\noutput [{ name: "OUT" data_type: TYPE_INT32 dims: [1] }]\n';

const repo = new TempRepo();
repo.addBundled('repeat_int32');
repo.add('waits', { config: `name: "waits"\nbackend: "typescript"\nmax_batch_size: 0\n${IO}`, files: { '1/model.ts': WAITS_TS } });
repo.add('holds', {
  config: `name: "holds"\nbackend: "typescript"\nmax_batch_size: 0\nmodel_transaction_policy { decoupled: true }\n${IO}`,
  files: { '1/model.ts': HOLDS_TS },
});
repo.add('auto', { config: 'name: "auto"\nbackend: "typescript"\n', files: { '1/model.ts': AUTO_TS } });
repo.add('auto_throws', {
  config: `name: "auto_throws"\nbackend: "typescript"\n${IO}`,
  files: { '1/model.mjs': 'export default class A { static autoCompleteConfig() { throw new Error("no config for you"); } execute() { return []; } }\n' },
});
repo.add('auto_renames', {
  config: `name: "auto_renames"\nbackend: "typescript"\n${IO}`,
  files: { '1/model.mjs': 'export default class A { static autoCompleteConfig(c) { return { ...c, name: "other" }; } execute() { return []; } }\n' },
});
repo.add('onnx_decoupled', {
  config: 'name: "onnx_decoupled"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 0\nmodel_transaction_policy { decoupled: true }\n',
  versions: { 1: 'identity_fp32.onnx' },
});

let ts: TestServer;
serveDuringTests(repo, (s) => (ts = s));

function uint32(xs: number[]): Buffer {
  return Buffer.from(new Uint32Array(xs).buffer);
}

function repeatRequest(id: string, values: number[], delays: number[], waitMs: number, emptyFinal = false): ModelInferRequest {
  return {
    id, model_name: 'repeat_int32',
    inputs: [
      { name: 'IN', datatype: 'INT32', shape: [values.length] },
      { name: 'DELAY', datatype: 'UINT32', shape: [delays.length] },
      { name: 'WAIT', datatype: 'UINT32', shape: [1] },
    ],
    raw_input_contents: [int32(values), uint32(delays), uint32([waitMs])],
    ...(emptyFinal ? { parameters: { triton_enable_empty_final_response: { bool_param: true } } } : {}),
  };
}

function oneInt(id: string, model: string, parameters: ModelInferRequest['parameters'] = {}): ModelInferRequest {
  return { id, model_name: model, parameters, inputs: [{ name: 'IN', datatype: 'INT32', shape: [1] }], raw_input_contents: [int32([0])] };
}

function isFinal(m: ModelStreamInferResponse__Output): boolean {
  return m.infer_response?.parameters?.['triton_final_response']?.bool_param === true;
}

/** Resolves once `s` received `n` messages for request `id` (or one with an error). */
async function messagesFor(s: StreamClient, id: string, n: number, timeoutMs = 10_000): Promise<ModelStreamInferResponse__Output[]> {
  const t0 = Date.now();
  for (;;) {
    const mine = s.received.filter((m) => m.infer_response?.id === id);
    if (mine.length >= n || mine.some((m) => m.error_message !== '')) return mine;
    if (Date.now() - t0 > timeoutMs) throw new Error(`only ${mine.length} of ${n} messages for ${id}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function unary(req: ModelInferRequest, deadlineMs?: number): Promise<ModelInferResponse__Output> {
  return new Promise((resolve, reject) => {
    const opts = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
    ts.client.ModelInfer(req, new Metadata(), opts, (err, res) => (err ? reject(err) : resolve(res!)));
  });
}

describe('typescript models: cancellation', () => {
  it("a model awaiting its signal ends when the deadline passes, and the instance serves the next request", async () => {
    const t0 = Date.now();
    await assert.rejects(unary(oneInt('d', 'waits'), 300), fails(status.DEADLINE_EXCEEDED, /./));
    assert.ok(Date.now() - t0 < 5_000);
    const res = await unary(oneInt('q', 'waits', { quick: { bool_param: true } }), 5_000);
    assert.deepEqual(readInt32(Buffer.from(res.raw_output_contents[0]!)), [1], 'the model saw one abort');
  });

  it('a client cancel aborts the signal in the worker', async () => {
    await new Promise<void>((resolve) => {
      const c = ts.client.ModelInfer(oneInt('c', 'waits'), (err) => {
        assert.equal(err?.code, status.CANCELLED);
        resolve();
      });
      setTimeout(() => c.cancel(), 200);
    });
    const res = await unary(oneInt('q2', 'waits', { quick: { bool_param: true } }), 5_000);
    assert.deepEqual(readInt32(Buffer.from(res.raw_output_contents[0]!)), [2]);
  });
});

describe('typescript models: decoupled', () => {
  it('repeat_int32 streams one response per element in order, then the final flag', async () => {
    const s = new StreamClient(ts.client);
    s.call.write(repeatRequest('r1', [4, 2, 0, 1], [20, 10, 10, 10], 50));
    const got = await messagesFor(s, 'r1', 4);
    assert.equal(await s.end(), null);
    const mine = s.received.filter((m) => m.infer_response?.id === 'r1');
    assert.equal(mine.length, 4, 'no empty final response unless asked');
    const outOf = (m: ModelStreamInferResponse__Output, name: string) => {
      const i = m.infer_response!.outputs.findIndex((o) => o.name === name);
      return Buffer.from(m.infer_response!.raw_output_contents[i]!);
    };
    assert.deepEqual(got.map((m) => readInt32(outOf(m, 'OUT'))[0]), [4, 2, 0, 1]);
    assert.deepEqual(got.map((m) => new Uint32Array(new Uint8Array(outOf(m, 'IDX')).buffer)[0]), [0, 1, 2, 3]);
    assert.deepEqual(got.map(isFinal), [false, false, false, false]);
    assert.ok(got.every((m) => m.error_message === '' && m.infer_response!.model_name === 'repeat_int32'));
  });

  it('with triton_enable_empty_final_response the final flag comes as an empty response', async () => {
    const s = new StreamClient(ts.client);
    s.call.write(repeatRequest('r2', [7, 8], [0, 0], 10, true));
    const got = await messagesFor(s, 'r2', 3);
    await s.end();
    assert.deepEqual(got.map(isFinal), [false, false, true]);
    assert.equal(got[2]!.infer_response!.outputs.length, 0);
  });

  it('the model reports a bad request as the stream error of that request', async () => {
    const s = new StreamClient(ts.client);
    s.call.write(repeatRequest('bad', [1, 2], [0], 0));
    const got = await messagesFor(s, 'bad', 1);
    await s.end();
    assert.match(got[0]!.error_message, /model 'repeat_int32': DELAY has 1 elements, IN has 2/);
  });

  it('ModelConfig reports the decoupled transaction policy (clients choose streaming from it)', async () => {
    const cfg = (await call(ts.client.ModelConfig.bind(ts.client), { name: 'repeat_int32', version: '' })).config!;
    assert.equal(cfg.model_transaction_policy?.decoupled, true);
  });

  it("unary ModelInfer and HTTP infer refuse a decoupled model with Triton's message", async () => {
    await assert.rejects(call(ts.client.ModelInfer.bind(ts.client), repeatRequest('u', [1], [0], 0)),
      fails(status.UNIMPLEMENTED, /^ModelInfer RPC doesn't support models with decoupled transaction policy$/));
    const res = await fetch(`${ts.httpUrl}/v2/models/repeat_int32/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [
        { name: 'IN', datatype: 'INT32', shape: [1], data: [1] }, { name: 'DELAY', datatype: 'UINT32', shape: [1], data: [0] },
        { name: 'WAIT', datatype: 'UINT32', shape: [1], data: [0] },
      ] }),
    });
    assert.equal(res.status, 501);
    assert.deepEqual(await res.json(), { error: "HTTP end point doesn't support models with decoupled transaction policy" });
  });

  it('a decoupled config on a backend that cannot answer that way fails its load', async () => {
    const models = (await call(ts.client.RepositoryIndex.bind(ts.client), { repository_name: '', ready: false })).models;
    const m = models.find((x) => x.name === 'onnx_decoupled')!;
    assert.equal(m.state, 'UNAVAILABLE');
    assert.match(m.reason, /backend 'onnxruntime' does not support decoupled models/);
  });

  it('cancelling the stream mid-request aborts the model and frees its instance', async () => {
    const s = new StreamClient(ts.client);
    s.call.write(oneInt('h1', 'holds'));
    const first = await messagesFor(s, 'h1', 1);
    assert.deepEqual(readInt32(Buffer.from(first[0]!.infer_response!.raw_output_contents[0]!)), [0]);
    s.call.cancel();
    await s.closed;
    // One instance: this runs only once the held execute() returned, and sees the abort.
    const s2 = new StreamClient(ts.client);
    s2.call.write(oneInt('h2', 'holds', { quick: { bool_param: true } }));
    const got = await messagesFor(s2, 'h2', 1);
    assert.equal(await s2.end(), null);
    assert.deepEqual(readInt32(Buffer.from(got[0]!.infer_response!.raw_output_contents[0]!)), [1]);
  });

  it('statistics count a decoupled request once, however many responses it sent', async () => {
    const before = await call(ts.client.ModelStatistics.bind(ts.client), { name: 'repeat_int32', version: '' });
    const n0 = Number(before.model_stats[0]!.inference_stats!.success!.count);
    const s = new StreamClient(ts.client);
    s.call.write(repeatRequest('st', [1, 2, 3], [0, 0, 0], 0));
    await messagesFor(s, 'st', 3);
    await s.end();
    const stats = await call(ts.client.ModelStatistics.bind(ts.client), { name: 'repeat_int32', version: '' });
    assert.equal(Number(stats.model_stats[0]!.inference_stats!.success!.count) - n0, 1);
  });
});

describe('typescript models: autoCompleteConfig', () => {
  it("the model class's static autoCompleteConfig completes the config at load", async () => {
    const cfg = (await call(ts.client.ModelConfig.bind(ts.client), { name: 'auto', version: '' })).config!;
    assert.equal(cfg.max_batch_size, 4);
    assert.deepEqual(cfg.input.map((i) => i.name), ['X']);
    assert.deepEqual(cfg.output.map((o) => o.name), ['Y']);
    const res = await unary({
      model_name: 'auto', inputs: [{ name: 'X', datatype: 'INT32', shape: [1, 2] }], raw_input_contents: [int32([3, 4])],
    }, 5_000);
    assert.deepEqual(readInt32(Buffer.from(res.raw_output_contents[0]!)), [6, 8]);
  });

  it('an autoCompleteConfig that throws, or renames the model, fails the load with the reason', async () => {
    const models = (await call(ts.client.RepositoryIndex.bind(ts.client), { repository_name: '', ready: false })).models;
    const by = (n: string) => models.find((m) => m.name === n)!;
    assert.equal(by('auto_throws').state, 'UNAVAILABLE');
    assert.match(by('auto_throws').reason, /model 'auto_throws'.*autoCompleteConfig\(\) failed: no config for you/);
    assert.equal(by('auto_renames').state, 'UNAVAILABLE');
    assert.match(by('auto_renames').reason, /autoCompleteConfig\(\) changed the model's name from 'auto_renames' to 'other'/);
  });
});
