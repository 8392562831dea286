/**
 * BLS: TypeScript models calling other models with ctx.infer / ctx.inferStream. A call runs
 * through the callee's own scheduler (it shares a batch with direct traffic and shows in the
 * callee's statistics); the callee's errors reach the client with their code; cancelling the
 * parent takes the child out of the callee's queue; a model calling itself (or a model calling
 * it) is refused at once. The bundled bls_pipeline branches per request over gRPC and HTTP.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { status, type ServiceError } from '@grpc/grpc-js';
import { ROOT, TempRepo } from '../../helpers/repo.js';
import { call, fails, startServer, serveDuringTests, type TestServer } from '../../helpers/start-server.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';

// OUT = IN + 1, N = the rows of the batch execute() got (to see batching from outside).
const ADDER_TS = `import type { InferRequest, InferResponse } from 'infera';
export default class Adder {
  execute(requests: InferRequest[]): InferResponse[] {
    const rows = requests.reduce((a, r) => a + r.inputs.get('IN')!.shape[0]!, 0);
    return requests.map((r) => {
      const x = r.inputs.get('IN')!;
      return { outputs: { OUT: { shape: x.shape, data: Int32Array.from(x.data as Int32Array, (v) => v + 1) },
        N: { shape: [x.shape[0]!, 1], data: new Int32Array(x.shape[0]!).fill(rows) } } };
    });
  }
}
`;
// Calls the model named by parameter "target" (passing "next" on as the callee's "target") with
// its IN; OUT/N are the callee's; COUNT = responses seen. "stream": use ctx.inferStream.
const CALLER_TS = `import type { ExecuteContext, InferRequest, InferResponse } from 'infera';
export default class Caller {
  async execute(requests: InferRequest[], ctx: ExecuteContext): Promise<(InferResponse | Error)[]> {
    const r = requests[0]!;
    const call = {
      model: String(r.parameters['target'] ?? 'adder'),
      inputs: { IN: r.inputs.get('IN')! },
      outputs: ['OUT', 'N'],
      parameters: r.parameters['next'] === undefined ? {} : { target: r.parameters['next'] },
      ...(r.parameters['timeout_ms'] === undefined ? {} : { timeoutMs: Number(r.parameters['timeout_ms']) }),
    };
    if (r.parameters['stream'] === true) {
      let last; let count = 0;
      for await (const res of ctx.inferStream(call)) { last = res; count++; }
      return [{ outputs: { ...last!.outputs, COUNT: { shape: [1, 1], data: new Int32Array([count]) } } }];
    }
    const res = await ctx.infer(call);
    return [{ outputs: { ...res.outputs, COUNT: { shape: [1, 1], data: new Int32Array([1]) } } }];
  }
}
`;
// BYTES inputs given as strings and Uint8Array elements, no datatype; OUT = the callee's bytes.
const BYTES_CALLER_MJS = `export default class B {
  async execute(requests, ctx) {
    const res = await ctx.infer({ model: 'simple_identity', inputs: { INPUT0: { shape: [1, 3], data: ['h\u00e9llo', new Uint8Array([0, 255, 0]), ''] } } });
    return requests.map(() => ({ outputs: { OUT: res.outputs['OUTPUT0'] } }));
  }
}
`;
// Hands one typed array to two calls. By the port the first takes it (transferred) and the second
// is refused; by the shared ring the bytes are copied and both calls see them.
const REUSE_MJS = `export default class R {
  async execute(requests, ctx) {
    const x = new Int32Array([1, 2]);
    await ctx.infer({ model: 'quick', inputs: { IN: { shape: [1, 2], data: x } } });
    await ctx.infer({ model: 'quick', inputs: { IN: { shape: [1, 2], data: x } } });
    return requests.map(() => ({ outputs: { OUT: { shape: [1, 2], data: x }, N: { shape: [1, 1], data: new Int32Array(1) } } }));
  }
}
`;
// Streams repeat_int32 (decoupled) over its IN and returns every OUT it got, in order; with
// parameter "unary" it makes a unary ctx.infer call instead, which a decoupled callee refuses.
const REPEAT_CALLER_MJS = `export default class RC {
  async execute(requests, ctx) {
    const r = requests[0];
    const x = r.inputs.get('IN').data;
    const call = { model: 'repeat_int32', inputs: { IN: { shape: [x.length], data: x.slice() },
      DELAY: { shape: [x.length], data: new Uint32Array(x.length) }, WAIT: { shape: [1], data: new Uint32Array(1) } } };
    if (r.parameters['unary'] === true) await ctx.infer(call);
    const got = [];
    for await (const res of ctx.inferStream(call)) got.push(res.outputs['OUT'].data[0]);
    return [{ outputs: { OUT: { shape: [got.length], data: Int32Array.from(got) } } }];
  }
}
`;
const THROWS_TS = `export default class T { execute() { throw new Error('callee says no'); } }\n`;

const io = 'input [{ name: "IN" data_type: TYPE_INT32 dims: [2] }]\n' +
  'output [{ name: "OUT" data_type: TYPE_INT32 dims: [2] }, { name: "N" data_type: TYPE_INT32 dims: [1] }';
const cfg = (name: string, extra: string, outputs = ']') =>
  `name: "${name}"\nbackend: "typescript"\nmax_batch_size: 8\n${extra}\n${io}${outputs}\n`;
const callerCfg = (name: string) => cfg(name, '', ', { name: "COUNT" data_type: TYPE_INT32 dims: [1] }]');

const repo = new TempRepo();
// Waits up to 2 s for a second request: a direct one and a BLS call share a batch.
repo.add('adder', { config: cfg('adder', 'dynamic_batching { preferred_batch_size: [2] max_queue_delay_microseconds: 2000000 }'), files: { '1/model.ts': ADDER_TS } });
// Holds a lone request 10 s in its queue: room to cancel the parent while the child waits.
repo.add('held', { config: cfg('held', 'dynamic_batching { preferred_batch_size: [4] max_queue_delay_microseconds: 10000000 }'), files: { '1/model.ts': ADDER_TS } });
repo.add('quick', { config: cfg('quick', ''), files: { '1/model.ts': ADDER_TS } });
repo.add('callee_throws', { config: cfg('callee_throws', ''), files: { '1/model.mjs': THROWS_TS } });
repo.add('caller', { config: callerCfg('caller'), files: { '1/model.ts': CALLER_TS } });
repo.add('caller2', { config: callerCfg('caller2'), files: { '1/model.ts': CALLER_TS } });
repo.add('bytes_caller', {
  config: 'name: "bytes_caller"\nbackend: "typescript"\ndefault_model_filename: "model.mjs"\nmax_batch_size: 0\n' +
    'input [{ name: "IN" data_type: TYPE_INT32 dims: [1] }]\noutput [{ name: "OUT" data_type: TYPE_STRING dims: [1, 3] }]\n',
  files: { '1/model.mjs': BYTES_CALLER_MJS },
});
// An ensemble whose only step is caller: caller → ens_caller → caller is a cycle through an ensemble.
repo.add('ens_caller', {
  config: 'name: "ens_caller"\nplatform: "ensemble"\nmax_batch_size: 8\ninput [{ name: "IN" data_type: TYPE_INT32 dims: [2] }]\n' +
    'output [{ name: "OUT" data_type: TYPE_INT32 dims: [2] }, { name: "N" data_type: TYPE_INT32 dims: [1] }]\n' +
    'ensemble_scheduling { step [{ model_name: "caller" model_version: -1 input_map { key: "IN" value: "IN" }' +
    ' output_map { key: "OUT" value: "OUT" } output_map { key: "N" value: "N" } }] }\n',
  files: { '1/.keep': '' },
});
repo.add('reuse', { config: cfg('reuse', ''), files: { '1/model.mjs': REUSE_MJS } });
repo.addBundled('simple_identity');
repo.addBundled('repeat_int32');
repo.add('repeat_caller', {
  config: 'name: "repeat_caller"\nbackend: "typescript"\nmax_batch_size: 0\n' +
    'input [{ name: "IN" data_type: TYPE_INT32 dims: [-1] }]\noutput [{ name: "OUT" data_type: TYPE_INT32 dims: [-1] }]\n',
  files: { '1/model.mjs': REPEAT_CALLER_MJS },
});
for (const m of ['bls_pipeline', 'pipeline', 'preprocess', 'branch_a', 'branch_b', 'combine']) repo.addBundled(m);

let ts: TestServer;
serveDuringTests(repo, (s) => (ts = s));

function infer(req: ModelInferRequest): Promise<ModelInferResponse__Output> {
  return call(ts.client.ModelInfer.bind(ts.client), req);
}
const int32 = (xs: number[]) => Buffer.from(new Int32Array(xs).buffer);
const ints = (b: Buffer | Uint8Array) => [...new Int32Array(new Uint8Array(Buffer.from(b)).buffer)];
const floats = (b: Buffer | Uint8Array) => [...new Float32Array(new Uint8Array(Buffer.from(b)).buffer)];
function req(model: string, xs: number[], parameters: ModelInferRequest['parameters'] = {}): ModelInferRequest {
  return { model_name: model, parameters, inputs: [{ name: 'IN', datatype: 'INT32', shape: [1, xs.length] }], raw_input_contents: [int32(xs)] };
}
const out = (r: ModelInferResponse__Output, name: string) => r.raw_output_contents[r.outputs.findIndex((o) => o.name === name)]!;

async function stats(model: string) {
  const { model_stats } = await call(ts.client.ModelStatistics.bind(ts.client), { name: model, version: '' });
  return model_stats[0]!;
}

describe('BLS: ctx.infer from a TypeScript model', () => {
  it("a BLS call is batched with the callee's direct traffic and counted in its statistics", async () => {
    const [viaBls, direct] = await Promise.all([infer(req('caller', [1, 2])), infer(req('adder', [10, 20]))]);
    assert.deepEqual(ints(out(viaBls, 'OUT')), [2, 3]);
    assert.deepEqual(ints(out(direct, 'OUT')), [11, 21]);
    // Both saw a batch of two rows: the BLS call and the direct request ran together.
    assert.deepEqual(ints(out(viaBls, 'N')), [2]);
    assert.deepEqual(ints(out(direct, 'N')), [2]);
    const s = await stats('adder');
    assert.equal(Number(s.inference_count), 2);
    assert.equal(Number(s.execution_count), 1);
    assert.deepEqual(s.batch_stats.map((b) => [Number(b.batch_size), Number(b.compute_infer!.count)]), [[2, 1]]);
  });

  it('ctx.inferStream on a model that is not decoupled yields exactly one response', async () => {
    const res = await infer(req('caller', [5, 6], { target: { string_param: 'quick' }, stream: { bool_param: true } }));
    assert.deepEqual(ints(out(res, 'OUT')), [6, 7]);
    assert.deepEqual(ints(out(res, 'COUNT')), [1]);
  });

  it('ctx.inferStream on a decoupled model yields its 0..N responses in order; a unary ctx.infer on it is refused', async () => {
    const r = (params: ModelInferRequest['parameters'] = {}): ModelInferRequest => ({
      model_name: 'repeat_caller', parameters: params, inputs: [{ name: 'IN', datatype: 'INT32', shape: [4] }], raw_input_contents: [int32([9, 8, 7, 6])],
    });
    assert.deepEqual(ints(out(await infer(r()), 'OUT')), [9, 8, 7, 6]);
    await assert.rejects(infer(r({ unary: { bool_param: true } })), (e: ServiceError) => /decoupled transaction policy/.test(e.details));
  });

  it("the callee's errors reach the client with their code and message", async () => {
    await assert.rejects(infer(req('caller', [1, 2], { target: { string_param: 'no_such_model' } })),
      fails(status.NOT_FOUND, /no_such_model/));
    await assert.rejects(infer(req('caller', [1, 2], { target: { string_param: 'callee_throws' } })),
      fails(status.INTERNAL, /model 'callee_throws'.*callee says no/));
    // A bad input to the callee is the callee's INVALID_ARG (IN is [2]; adder's OUT is not an input).
    await assert.rejects(infer({ ...req('caller', [1, 2], { target: { string_param: 'quick' } }), inputs: [{ name: 'IN', datatype: 'INT32', shape: [1, 3] }], raw_input_contents: [int32([1, 2, 3])] }),
      (e: ServiceError) => e.code === status.INVALID_ARGUMENT);
  });

  it('a model calling itself, or a model that is calling it, is refused at once instead of deadlocking', async () => {
    const t0 = Date.now();
    await assert.rejects(infer(req('caller', [1, 2], { target: { string_param: 'caller' } })),
      fails(status.INVALID_ARGUMENT, /BLS call to model 'caller' refused.*'caller' → 'caller'/));
    await assert.rejects(infer(req('caller', [1, 2], { target: { string_param: 'caller2' }, next: { string_param: 'caller' } })),
      fails(status.INVALID_ARGUMENT, /call chain 'caller' → 'caller2' → 'caller'/));
    assert.ok(Date.now() - t0 < 5000, 'refused without waiting');
    await assert.rejects(infer(req('caller', [1, 2], { target: { string_param: 'ens_caller' }, next: { string_param: 'quick' } })),
      fails(status.INVALID_ARGUMENT, /call chain 'caller' → 'caller'/));
    // caller2 → caller → quick is no cycle and works.
    const ok = await infer(req('caller2', [3, 4], { target: { string_param: 'caller' }, next: { string_param: 'quick' } }));
    assert.deepEqual(ints(out(ok, 'OUT')), [4, 5]);
  });

  it('cancelling the parent request cancels its BLS call in the callee\'s queue', async () => {
    const before = await stats('held');
    const failed = new Promise<ServiceError>((resolve) => {
      const c = ts.client.ModelInfer(req('caller', [1, 2], { target: { string_param: 'held' } }), (err) => resolve(err!));
      setTimeout(() => c.cancel(), 300);
    });
    assert.equal((await failed).code, status.CANCELLED);
    // The child left held's queue as cancelled long before the 10 s queue delay: no execution.
    let s = await stats('held');
    for (let i = 0; i < 50 && Number(s.inference_stats!.fail!.count) === Number(before.inference_stats!.fail!.count); i++) {
      await sleep(20);
      s = await stats('held');
    }
    assert.equal(Number(s.inference_stats!.fail!.count), Number(before.inference_stats!.fail!.count) + 1);
    assert.equal(Number(s.execution_count), Number(before.execution_count));
  });

  it('a call\'s own timeoutMs ends it with DEADLINE_EXCEEDED', async () => {
    const t0 = Date.now();
    await assert.rejects(infer(req('caller', [1, 2], { target: { string_param: 'held' }, timeout_ms: { int64_param: 200 } })),
      fails(status.DEADLINE_EXCEEDED, /held/));
    assert.ok(Date.now() - t0 < 5000);
  });

  it('BYTES inputs may be strings and Uint8Array elements, with the datatype implied; bytes come back exact', async () => {
    const res = await infer({ model_name: 'bytes_caller', inputs: [{ name: 'IN', datatype: 'INT32', shape: [1] }], raw_input_contents: [int32([0])] });
    assert.equal(res.outputs[0]!.datatype, 'BYTES');
    const want = Buffer.concat([[Buffer.from('h\u00e9llo')], [Buffer.from([0, 255, 0])], [Buffer.alloc(0)]].flatMap(([b]) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b!.length);
      return [len, b!];
    }));
    assert.ok(Buffer.from(res.raw_output_contents[0]!).equals(want));
  });

  it('an input typed array belongs to the call it was given to: reused after a transfer (port), a clear INVALID_ARG', async () => {
    if (process.env['INFERA_WORKER_CHANNEL'] === 'port') {
      await assert.rejects(infer(req('reuse', [0, 0])), fails(status.INVALID_ARGUMENT, /ctx.infer to model 'quick': input 'IN' has no bytes: its buffer was transferred/));
      return;
    }
    // The ring copied the 8 bytes: the array is intact for the second call and the answer.
    const res = await infer(req('reuse', [0, 0]));
    assert.deepEqual([...new Int32Array(new Uint8Array(res.raw_output_contents[0]!).slice().buffer)], [1, 2]);
  });

  it("the parent's deadline bounds its BLS call", async () => {
    const t0 = Date.now();
    await assert.rejects(new Promise((resolve, reject) => {
      ts.client.ModelInfer(req('caller', [1, 2], { target: { string_param: 'held' } }), { deadline: Date.now() + 300 }, (err, res) => (err ? reject(err) : resolve(res)));
    }), (e: ServiceError) => e.code === status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 < 5000);
  });
});

describe('the bundled bls_pipeline', () => {
  const RAW = [1, 2, 3, 4, 10, -2, 0.5, 7];
  const raw = Buffer.from(new Float32Array(RAW).buffer);
  const pipelineReq = (model: string, parameters: ModelInferRequest['parameters'] = {}): ModelInferRequest => ({
    model_name: model, parameters, inputs: [{ name: 'RAW', datatype: 'FP32', shape: [2, 4] }], raw_input_contents: [raw],
  });
  const close = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) < 1e-5);

  it('branch "both" computes what the pipeline ensemble does (gRPC)', async () => {
    const [bls, ens] = await Promise.all([infer(pipelineReq('bls_pipeline')), infer(pipelineReq('pipeline'))]);
    assert.ok(close(floats(out(bls, 'PROBS')), floats(out(ens, 'PROBS'))), 'PROBS differ');
    assert.ok(close(floats(out(bls, 'NORMALIZED')), floats(out(ens, 'NORMALIZED'))), 'NORMALIZED differs');
    assert.ok(Buffer.from(out(bls, 'CLASS')).equals(Buffer.from(out(ens, 'CLASS'))));
  });

  it('the "branch" parameter picks one ONNX model per request; a bad one is INVALID_ARG (gRPC)', async () => {
    const a0 = Number((await stats('branch_a')).inference_count);
    const b0 = Number((await stats('branch_b')).inference_count);
    const a = await infer(pipelineReq('bls_pipeline', { branch: { string_param: 'a' } }));
    assert.equal(Number((await stats('branch_a')).inference_count), a0 + 2); // two rows
    assert.equal(Number((await stats('branch_b')).inference_count), b0);
    // Recompute: softmax(branch_a(preprocess(RAW))).
    const norm = await infer({ model_name: 'preprocess', inputs: [{ name: 'RAW', datatype: 'FP32', shape: [2, 4] }], raw_input_contents: [raw] });
    const logits = floats(out(await infer({ model_name: 'branch_a', inputs: [{ name: 'FEATURES', datatype: 'FP32', shape: [2, 4] }], raw_input_contents: [out(norm, 'NORMALIZED')] }), 'LOGITS'));
    const want = [0, 1].flatMap((r) => {
      const row = logits.slice(r * 3, r * 3 + 3);
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      return e.map((v) => v / e.reduce((x, y) => x + y, 0));
    });
    assert.ok(close(floats(out(a, 'PROBS')), want), 'branch a PROBS');
    const b = await infer(pipelineReq('bls_pipeline', { branch: { string_param: 'b' } }));
    assert.equal(Number((await stats('branch_b')).inference_count), b0 + 2);
    assert.ok(!close(floats(out(a, 'PROBS')), floats(out(b, 'PROBS'))), 'the branches score differently');
    await assert.rejects(infer(pipelineReq('bls_pipeline', { branch: { string_param: 'c' } })),
      fails(status.INVALID_ARGUMENT, /model 'bls_pipeline': parameter 'branch' must be "a", "b" or "both", got "c"/));
  });

  it("is the README's complete BLS example, verbatim", () => {
    const model = readFileSync(path.join(ROOT, 'model-repository', 'bls_pipeline', '1', 'model.ts'), 'utf8');
    assert.ok(readFileSync(path.join(ROOT, 'README.md'), 'utf8').includes('```ts\n' + model + '```'));
  });

  it('answers over HTTP with labels and the branch parameter', async () => {
    const post = (body: unknown) => fetch(`${ts.httpUrl}/v2/models/bls_pipeline/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const inputs = [{ name: 'RAW', datatype: 'FP32', shape: [2, 4], data: RAW }];
    const res = await post({ inputs, parameters: { branch: 'b' }, outputs: [{ name: 'CLASS' }, { name: 'PROBS', parameters: { classification: 1 } }] });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { outputs: { name: string; data: unknown[] }[] };
    const grpc = await infer(pipelineReq('bls_pipeline', { branch: { string_param: 'b' } }));
    const cls = [...new BigInt64Array(new Uint8Array(Buffer.from(out(grpc, 'CLASS'))).buffer)].map(Number);
    assert.deepEqual(body.outputs.find((o) => o.name === 'CLASS')!.data, cls);
    const labels = ['low', 'medium', 'high'];
    const top = body.outputs.find((o) => o.name === 'PROBS')!.data as string[];
    assert.deepEqual(top.map((s) => s.split(':')[2]), cls.map((c) => labels[c]));
    const bad = await post({ inputs, parameters: { branch: 'z' } });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /parameter 'branch'/);
  });
});

describe('BLS and tracing', () => {
  it("a traced request's BLS calls are traced as its children", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'infera-bls-trace-'));
    const file = path.join(dir, 'trace.json');
    const traced = await startServer([repo.dir], { traceConfig: ['level=TIMESTAMPS', 'rate=1', `triton,file=${file}`] });
    try {
      await call(traced.client.ModelInfer.bind(traced.client), {
        model_name: 'bls_pipeline', id: 'bls-7', inputs: [{ name: 'RAW', datatype: 'FP32', shape: [1, 4] }],
        raw_input_contents: [Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)],
      });
    } finally {
      await traced.close();
    }
    const heads = (JSON.parse(readFileSync(file, 'utf8')) as { id: number; model_name?: string; request_id?: string; parent_id?: number }[])
      .filter((r) => r.model_name !== undefined);
    rmSync(dir, { recursive: true, force: true });
    const parent = heads.find((r) => r.model_name === 'bls_pipeline' && r.request_id === 'bls-7')!;
    assert.equal(parent.parent_id, undefined);
    assert.deepEqual(heads.filter((r) => r.parent_id === parent.id).map((r) => r.model_name).sort(), ['branch_a', 'branch_b']);
  });
});

describe('BLS and the worker watchdog', () => {
  it("a batch waiting on its BLS calls is not taken for a hung one (the watchdog's clock stops while it waits)", async () => {
    const small = await startServer([repo.dir], { workerWatchdogSecs: 0.5, allowHttp: false, allowMetrics: false });
    try {
      // The call waits 1.5 s in held's queue, three times the watchdog: it must end by its own timeout, not by a restart.
      await assert.rejects(call(small.client.ModelInfer.bind(small.client), req('caller', [1, 2], { target: { string_param: 'held' }, timeout_ms: { int64_param: 1500 } })),
        fails(status.DEADLINE_EXCEEDED, /held/));
      const again = await call(small.client.ModelInfer.bind(small.client), req('caller', [1, 2], { target: { string_param: 'quick' } }));
      assert.deepEqual(ints(out(again, 'OUT')), [2, 3]);
    } finally {
      await small.close();
    }
  });
});
