/**
 * The typescript backend over the wire: `.ts` and `.mjs` models load without a build step and run
 * in workers; every datatype round-trips byte-exact through a TS identity model (BYTES with NULs
 * and non-UTF-8 bytes); a model's thrown error reaches the client with its message; syntax and
 * import errors fail the load naming file:line; a model that kills its worker is restarted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, fails, serveDuringTests, type TestServer } from '../../helpers/start-server.js';
import { encodeBytesElements } from '../../../src/core/bytes-tensor.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';

const IDENTITY_TS = `import type { InferRequest, InferResponse, ModelArgs } from 'infera';
export default class Identity {
  private name: string = '';
  initialize(args: ModelArgs): void { this.name = args.modelName; }
  execute(requests: InferRequest[]): InferResponse[] {
    return requests.map((r) => ({ outputs: { OUT: r.inputs.get('IN')! } }));
  }
}
`;
const COUNTER_MJS = `let calls = 0;
export default class Counter {
  execute(requests) {
    calls += 1;
    return requests.map((r) => {
      const x = r.inputs.get('IN').data;
      const out = new Int32Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = x[i] + calls;
      return { outputs: { OUT: { shape: [x.length], data: out } } };
    });
  }
}
`;
const THROWS_TS = `export default class Throws {
  execute(_r: unknown[]): never { throw new Error('the model refused: bad input'); }
}
`;
const CRASH_TS = `export default class Crash {
  execute(requests: { inputs: Map<string, { data: Int32Array }> }[]) {
    const x = requests[0]!.inputs.get('IN')!;
    if (x.data[0] === 13) {
      setTimeout(() => { throw new Error('boom'); }, 0);
      return new Promise(() => undefined);
    }
    return [{ outputs: { OUT: x } }];
  }
}
`;
const SYNTAX_TS = `export default class Broken {
  execute(r: unknown[]) {
    const x: number = ;
  }
}
`;
const IMPORT_MJS = `import { nothing } from './missing-helper.mjs';
export default class X { execute() { return nothing; } }
`;

const DEPS_TS = `import { plusOne } from 'helper-pkg';
import { twice } from './util.mjs';
export default class Deps {
  execute(requests: { inputs: Map<string, { data: Int32Array }> }[]) {
    return requests.map((r) => {
      const out = Int32Array.from(r.inputs.get('IN')!.data, (v: number) => twice(plusOne(v)));
      return { outputs: { OUT: { shape: [out.length], data: out } } };
    });
  }
}
`;

// Answers each request of a batch alone: OUT = IN + its "add" parameter, N = how many requests
// execute() was given, and an Error for a request whose "fail" parameter is true.
const PER_REQUEST_TS = `import type { InferRequest, InferResponse } from 'infera';
export default class PerRequest {
  execute(requests: InferRequest[]): (InferResponse | Error)[] {
    return requests.map((r) => {
      if (r.parameters['fail'] === true) return new Error('asked to fail');
      const x = r.inputs.get('IN')!;
      const add = Number(r.parameters['add'] ?? 0);
      const out = Int32Array.from(x.data as Int32Array, (v) => v + add);
      return { outputs: { OUT: { shape: x.shape, data: out }, N: { shape: [x.shape[0]!, 1], data: new Int32Array(x.shape[0]!).fill(requests.length) } } };
    });
  }
}
`;

const DTYPES: [string, number][] = [
  ['BOOL', 1], ['UINT8', 1], ['INT8', 1], ['UINT16', 2], ['INT16', 2], ['FP16', 2], ['BF16', 2],
  ['UINT32', 4], ['INT32', 4], ['FP32', 4], ['UINT64', 8], ['INT64', 8], ['FP64', 8], ['BYTES', 0],
];

function config(name: string, dt: string, extra = ''): string {
  return `name: "${name}"\nbackend: "typescript"\nmax_batch_size: 0\n${extra}` +
    `input [{ name: "IN" data_type: TYPE_${dt === 'FP16' || dt === 'FP32' || dt === 'FP64' ? dt : dt === 'BYTES' ? 'STRING' : dt} dims: [-1] }]\n` +
    `output [{ name: "OUT" data_type: TYPE_${dt === 'BYTES' ? 'STRING' : dt} dims: [-1] }]\n`;
}

const repo = new TempRepo();
for (const [dt] of DTYPES) repo.add(`id_${dt.toLowerCase()}`, { config: config(`id_${dt.toLowerCase()}`, dt), files: { '1/model.ts': IDENTITY_TS } });
repo.add('counter', { config: config('counter', 'INT32', 'default_model_filename: "model.mjs"\n'), files: { '1/model.mjs': COUNTER_MJS } });
repo.add('deps', {
  config: config('deps', 'INT32'),
  files: {
    '1/model.ts': DEPS_TS, '1/util.mjs': 'export const twice = (x) => 2 * x;\n',
    'node_modules/helper-pkg/package.json': '{"name":"helper-pkg","type":"module","exports":"./index.js"}',
    'node_modules/helper-pkg/index.js': 'export const plusOne = (x) => x + 1;\n',
  },
});
repo.addBundled('simple_identity');
repo.add('per_request', {
  config: 'name: "per_request"\nbackend: "typescript"\nmax_batch_size: 8\n' +
    'dynamic_batching { preferred_batch_size: [4] max_queue_delay_microseconds: 2000000 }\n' +
    'input [{ name: "IN" data_type: TYPE_INT32 dims: [2] }]\n' +
    'output [{ name: "OUT" data_type: TYPE_INT32 dims: [2] }, { name: "N" data_type: TYPE_INT32 dims: [1] }]\n',
  files: { '1/model.ts': PER_REQUEST_TS },
});
repo.add('returns_error', { config: config('returns_error', 'INT32'), files: { '1/model.mjs': 'export default class R { execute(rs) { return rs.map(() => new Error("no good")); } }\n' } });
repo.add('throws', { config: config('throws', 'INT32'), files: { '1/model.ts': THROWS_TS } });
repo.add('crash', { config: config('crash', 'INT32'), files: { '1/model.ts': CRASH_TS } });
repo.add('syntax', { config: config('syntax', 'INT32'), files: { '1/model.ts': SYNTAX_TS } });
repo.add('bad_import', { config: config('bad_import', 'INT32'), files: { '1/model.mjs': IMPORT_MJS } });

let ts: TestServer;
serveDuringTests(repo, (s) => (ts = s));

function infer(req: ModelInferRequest): Promise<ModelInferResponse__Output> {
  return call(ts.client.ModelInfer.bind(ts.client), req);
}
function int32(xs: number[]): Buffer {
  return Buffer.from(new Int32Array(xs).buffer);
}

describe('typescript backend', () => {
  it('every datatype round-trips byte-exact through a .ts identity model', async () => {
    for (const [dt, size] of DTYPES) {
      const n = 5;
      let raw: Buffer;
      if (dt === 'BYTES') raw = Buffer.from(encodeBytesElements([Buffer.from([0, 0, 1]), Buffer.from([0xff, 0xfe, 0x80]), Buffer.alloc(0), Buffer.from('héllo'), Buffer.from([0xc3])]));
      else if (dt === 'BOOL') raw = Buffer.from([1, 0, 1, 1, 0]);
      else raw = randomBytes(n * size);
      const res = await infer({ model_name: `id_${dt.toLowerCase()}`, inputs: [{ name: 'IN', datatype: dt, shape: [n] }], raw_input_contents: [raw] });
      assert.equal(res.outputs[0]!.datatype, dt);
      assert.deepEqual(res.outputs[0]!.shape.map(Number), [n]);
      assert.ok(Buffer.from(res.raw_output_contents[0]!).equals(raw), `${dt} differs`);
    }
  });

  it('an .mjs model keeps its module state between calls', async () => {
    const req = { model_name: 'counter', inputs: [{ name: 'IN', datatype: 'INT32', shape: [2] }], raw_input_contents: [int32([10, 20])] };
    const a = new Int32Array(new Uint8Array(Buffer.from((await infer(req)).raw_output_contents[0]!)).buffer);
    const b = new Int32Array(new Uint8Array(Buffer.from((await infer(req)).raw_output_contents[0]!)).buffer);
    assert.deepEqual([...b].map((v, i) => v - a[i]!), [1, 1]);
  });

  it("a .ts model's relative imports and its own node_modules resolve; the stripped copy is removed", async () => {
    const res = await infer({ model_name: 'deps', inputs: [{ name: 'IN', datatype: 'INT32', shape: [2] }], raw_input_contents: [int32([1, 5])] });
    assert.ok(Buffer.from(res.raw_output_contents[0]!).equals(int32([4, 12])));
    assert.deepEqual(readdirSync(path.join(repo.dir, 'deps', '1')).sort(), ['model.ts', 'util.mjs']);
  });

  it("a thrown error becomes the request's error with the model's message", async () => {
    await assert.rejects(infer({ model_name: 'throws', inputs: [{ name: 'IN', datatype: 'INT32', shape: [1] }], raw_input_contents: [int32([1])] }),
      fails(status.INTERNAL, /model 'throws'.*the model refused: bad input/));
  });

  it('an Error returned for a request fails it with the message', async () => {
    await assert.rejects(infer({ model_name: 'returns_error', inputs: [{ name: 'IN', datatype: 'INT32', shape: [1] }], raw_input_contents: [int32([1])] }),
      fails(status.INTERNAL, /model 'returns_error': no good/));
  });

  it('execute() gets each request of a batch with its own rows and parameters, and one error fails only its request', async () => {
    const req = (xs: number[], parameters: ModelInferRequest['parameters']): ModelInferRequest => ({
      model_name: 'per_request', parameters,
      inputs: [{ name: 'IN', datatype: 'INT32', shape: [xs.length / 2, 2] }], raw_input_contents: [int32(xs)],
    });
    const settled = await Promise.allSettled([
      infer(req([1, 2], { add: { int64_param: 10 } })),
      infer(req([3, 4, 5, 6], { add: { int64_param: 100 } })),
      infer(req([7, 8], { fail: { bool_param: true } })),
    ]);
    const [a, b, c] = settled;
    assert.equal(a.status, 'fulfilled');
    assert.equal(b.status, 'fulfilled');
    const out = (r: ModelInferResponse__Output, i: number) => [...new Int32Array(new Uint8Array(Buffer.from(r.raw_output_contents[i]!)).buffer)];
    const ra = (a as PromiseFulfilledResult<ModelInferResponse__Output>).value;
    const rb = (b as PromiseFulfilledResult<ModelInferResponse__Output>).value;
    assert.deepEqual(out(ra, 0), [11, 12]);
    assert.deepEqual(rb.outputs[0]!.shape.map(Number), [2, 2]);
    assert.deepEqual(out(rb, 0), [103, 104, 105, 106]);
    // The three requests (4 rows: the preferred size) ran as one batch of three requests.
    assert.deepEqual(out(ra, 1), [3]);
    assert.deepEqual(out(rb, 1), [3, 3]);
    assert.equal(c.status, 'rejected');
    await assert.rejects(Promise.reject((c as PromiseRejectedResult).reason), fails(status.INTERNAL, /model 'per_request': asked to fail/));
  });

  it('the bundled simple_identity returns BYTES byte-exact, batched', async () => {
    const raw = Buffer.from(encodeBytesElements([Buffer.from([0]), Buffer.from([0xff, 0, 0xc0]), Buffer.from('abc')]));
    const res = await infer({ model_name: 'simple_identity', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 3] }], raw_input_contents: [raw] });
    assert.deepEqual(res.outputs[0]!.shape.map(Number), [1, 3]);
    assert.ok(Buffer.from(res.raw_output_contents[0]!).equals(raw));
  });

  it('syntax and import errors fail the load naming file and line', async () => {
    const models = (await call(ts.client.RepositoryIndex.bind(ts.client), { repository_name: '', ready: false })).models;
    const by = (n: string) => models.find((m) => m.name === n)!;
    assert.equal(by('syntax').state, 'UNAVAILABLE');
    assert.match(by('syntax').reason, /syntax\/1\/model\.ts:3:\d+: /);
    assert.equal(by('bad_import').state, 'UNAVAILABLE');
    assert.match(by('bad_import').reason, /missing-helper\.mjs/);
    assert.equal(by('id_int32').state, 'READY');
  });

  it('a model that crashes its worker fails the request and is restarted', async () => {
    await assert.rejects(infer({ model_name: 'crash', inputs: [{ name: 'IN', datatype: 'INT32', shape: [1] }], raw_input_contents: [int32([13])] }),
      fails(status.UNAVAILABLE, /./));
    // The restarted instance serves again.
    const res = await infer({ model_name: 'crash', inputs: [{ name: 'IN', datatype: 'INT32', shape: [1] }], raw_input_contents: [int32([7])] });
    assert.ok(Buffer.from(res.raw_output_contents[0]!).equals(int32([7])));
  });
});
