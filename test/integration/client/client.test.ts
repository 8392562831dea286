/**
 * infera/client against the real server, every call over both transports: the same calls give the
 * same results over gRPC and HTTP, every v2 datatype round-trips through an ONNX Identity model as
 * typed arrays, and errors carry the server's code, the transport status and the server's message.
 * Imported by the package's own name, as users import it (the package.json `exports` map).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InferenceClient, InferenceClientError, type InferInput } from 'infera/client';
import { BUNDLED_REPO, FIXTURE_MODELS, SLOW_CONFIG, TempRepo } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';

const identity = (name: string, type: string) => `
name: "${name}"
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: ${type} dims: [ -1 ] } ]
output [ { name: "OUT" data_type: ${type} dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`;

/** One input per datatype, with the values that stress its encoding. */
const DATATYPE_INPUTS: readonly InferInput[] = [
  { name: 'IN', datatype: 'BOOL', shape: [1, 4], data: new Uint8Array([1, 0, 1, 1]) },
  { name: 'IN', datatype: 'INT8', shape: [1, 4], data: new Int8Array([-128, 127, 0, -1]) },
  { name: 'IN', datatype: 'UINT8', shape: [1, 4], data: new Uint8Array([0, 255, 7, 128]) },
  { name: 'IN', datatype: 'INT16', shape: [1, 4], data: new Int16Array([-32768, 32767, 1, -2]) },
  { name: 'IN', datatype: 'UINT16', shape: [1, 4], data: new Uint16Array([0, 65535, 3, 4]) },
  { name: 'IN', datatype: 'INT32', shape: [1, 4], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 5, 6]) },
  { name: 'IN', datatype: 'UINT32', shape: [1, 4], data: new Uint32Array([0, 2 ** 32 - 1, 9, 10]) },
  { name: 'IN', datatype: 'INT64', shape: [1, 4], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -1n]) },
  { name: 'IN', datatype: 'UINT64', shape: [1, 4], data: new BigUint64Array([0n, 2n ** 64n - 1n, 2n ** 53n + 1n, 12n]) },
  { name: 'IN', datatype: 'FP16', shape: [1, 4], data: new Uint16Array([0x3c00, 0x7bff, 0x0001, 0xfc00]) },
  { name: 'IN', datatype: 'FP32', shape: [1, 4], data: new Float32Array([1.5, -0, Infinity, NaN]) },
  { name: 'IN', datatype: 'FP64', shape: [1, 4], data: new Float64Array([Math.PI, -1e300, 5e-324, NaN]) },
  { name: 'IN', datatype: 'BYTES', shape: [1, 4], data: ['a', '', 'ünïcode', new Uint8Array([0xe2, 0x9c, 0x93, 10])] },
];

const TYPE_NAMES: Record<string, [string, string]> = {
  BOOL: ['bool', 'TYPE_BOOL'], INT8: ['int8', 'TYPE_INT8'], UINT8: ['uint8', 'TYPE_UINT8'], INT16: ['int16', 'TYPE_INT16'],
  UINT16: ['uint16', 'TYPE_UINT16'], INT32: ['int32', 'TYPE_INT32'], UINT32: ['uint32', 'TYPE_UINT32'],
  INT64: ['int64', 'TYPE_INT64'], UINT64: ['uint64', 'TYPE_UINT64'], FP16: ['fp16', 'TYPE_FP16'],
  FP32: ['fp32', 'TYPE_FP32'], FP64: ['fp64', 'TYPE_FP64'], BYTES: ['bytes', 'TYPE_STRING'],
};

function expectedOf(input: InferInput): unknown[] {
  if (input.datatype === 'BYTES') return input.data.map((e) => Buffer.from(typeof e === 'string' ? Buffer.from(e) : e));
  return Array.from(input.data as ArrayLike<unknown>);
}

let ts: TestServer;
const repo = new TempRepo();
before(async () => {
  for (const [file, type] of Object.values(TYPE_NAMES)) repo.add(`id_${file}`, { config: identity(`id_${file}`, type), versions: { 1: `identity_${file}.onnx` } });
  repo.add('slow', { config: SLOW_CONFIG, versions: { 1: 'slow.onnx' } }).addBundled('simple').addBundled('classifier');
  for (const m of ['pipeline', 'preprocess', 'branch_a', 'branch_b', 'combine']) repo.addBundled(m);
  repo.add('spare', { config: identity('spare', 'TYPE_FP32'), versions: { 1: 'identity_fp32.onnx' } });
  ts = await startServer([repo.dir], { modelControlMode: 'explicit', loadModels: ['*'], allowClientShm: true });
});
after(async () => {
  await ts?.close();
  repo.remove();
});

const clients: Record<'grpc' | 'http', () => InferenceClient> = {
  grpc: () => new InferenceClient(ts.target),
  http: () => new InferenceClient(ts.httpUrl),
};

/** The rejection of `p`, which must be an InferenceClientError. */
async function rejection(p: Promise<unknown> | (() => Promise<unknown>)): Promise<InferenceClientError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof InferenceClientError, `expected InferenceClientError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

const a16 = Int32Array.from({ length: 16 }, (_, i) => i);
const simpleInputs: InferInput[] = [
  { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a16 },
  { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Int32Array(16).fill(1) },
];

for (const transport of ['grpc', 'http'] as const) {
  describe(`InferenceClient over ${transport}`, () => {
    let c: InferenceClient;
    before(() => {
      c = clients[transport]();
      assert.equal(c.protocol, transport);
    });
    after(() => c.close());

    it('health and server metadata', async () => {
      assert.equal(await c.serverLive(), true);
      assert.equal(await c.serverReady(), true);
      const md = await c.serverMetadata();
      assert.equal(md.name, 'infera');
      assert.equal(md.version, JSON.parse(readFileSync(path.join(BUNDLED_REPO, '..', 'package.json'), 'utf8')).version);
      assert.ok(md.extensions.includes('binary_tensor_data') && md.extensions.includes('model_repository'));
    });

    it('model metadata, config, readiness', async () => {
      const md = await c.modelMetadata('simple');
      assert.deepEqual(md.inputs.map((i) => [i.name, i.datatype, i.shape]), [['INPUT0', 'INT32', [-1, 16]], ['INPUT1', 'INT32', [-1, 16]]]);
      assert.deepEqual(md.versions, ['1']);
      const cfg = await c.modelConfig('simple', '1');
      assert.equal(cfg.name, 'simple');
      assert.equal(cfg.max_batch_size, 8);
      assert.equal(cfg.input[0]!.data_type, 'TYPE_INT32');
      assert.equal(await c.modelReady('simple'), true);
      assert.equal(await c.modelReady('simple', '7'), false);
    });

    it('infer: typed inputs in, typed outputs out', async () => {
      const r = await c.infer({ model: 'simple', id: 'req-1', inputs: simpleInputs });
      assert.equal(r.model, 'simple');
      assert.equal(r.version, '1');
      assert.equal(r.id, 'req-1');
      const out0 = r.output('OUTPUT0', 'INT32');
      assert.ok(out0.data instanceof Int32Array);
      assert.deepEqual(out0.shape, [1, 16]);
      assert.deepEqual(Array.from(out0.data), Array.from(a16, (v) => v + 1));
      assert.deepEqual(Array.from(r.output('OUTPUT1', 'INT32').data), Array.from(a16, (v) => v - 1));
      assert.throws(() => r.output('OUTPUT0', 'FP32'), (e: unknown) => e instanceof InferenceClientError && /is INT32, not FP32/.test(e.message));
    });

    it('infer: requested outputs and classification', async () => {
      const one = await c.infer({ model: 'simple', inputs: simpleInputs, outputs: ['OUTPUT1'] });
      assert.deepEqual(one.outputs.map((o) => o.name), ['OUTPUT1']);
      const labels = readFileSync(path.join(BUNDLED_REPO, 'classifier', 'labels.txt'), 'utf8').trim().split('\n');
      const x = Float32Array.from({ length: 8 }, (_, i) => i / 8);
      const cls = await c.infer({ model: 'classifier', inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, 8], data: x }], outputs: [{ name: 'PROBS', classification: 2 }] });
      const probs = cls.output('PROBS', 'BYTES');
      assert.deepEqual(probs.shape, [1, 2]);
      for (const entry of probs.data.map((b) => Buffer.from(b).toString())) {
        const [value, index, label] = entry.split(':');
        assert.match(value!, /^[0-9.]+$/);
        assert.equal(label, labels[Number(index)]);
      }
    });

    for (const input of DATATYPE_INPUTS) {
      it(`${input.datatype} round-trips`, async () => {
        const [file] = TYPE_NAMES[input.datatype]!;
        const r = await c.infer({ model: `id_${file}`, inputs: [input] });
        const out = r.output('OUT');
        assert.equal(out.datatype, input.datatype);
        assert.deepEqual(out.shape, [1, 4]);
        if (input.datatype !== 'BYTES') assert.equal(out.data.constructor, input.data.constructor);
        const got = out.datatype === 'BYTES' ? out.data.map((b) => Buffer.from(b)) : Array.from(out.data as ArrayLike<unknown>);
        assert.deepEqual(got, expectedOf(input));
      });
    }

    it('BOOL also takes booleans, BYTES also byte strings only', async () => {
      const r = await c.infer({ model: 'id_bool', inputs: [{ name: 'IN', datatype: 'BOOL', shape: [1, 3], data: [true, false, true] }] });
      assert.deepEqual(Array.from(r.output('OUT', 'BOOL').data), [1, 0, 1]);
      // Printable bytes: the ONNX Identity model holds BYTES as strings, so NULs and invalid UTF-8 would not survive it.
      const big = new Uint8Array(100_000).map((_, i) => 32 + (i % 95));
      const b = await c.infer({ model: 'id_bytes', inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1, 1], data: [big] }] });
      assert.ok(Buffer.from(b.output('OUT', 'BYTES').data[0]!).equals(big));
    });

    it('server errors carry the code, the transport status and the message', async () => {
      const bad = await rejection(c.infer({ model: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 8], data: new Int32Array(8) }, simpleInputs[1]!] }));
      assert.equal(bad.code, 'INVALID_ARG');
      assert.deepEqual([bad.grpcStatus, bad.httpStatus], transport === 'grpc' ? [3, undefined] : [undefined, 400]);
      assert.match(bad.message, /simple/);
      assert.match(bad.message, /INPUT0/);
      const ghost = await rejection(c.modelMetadata('ghost'));
      assert.equal(ghost.code, 'NOT_FOUND');
      assert.deepEqual([ghost.grpcStatus, ghost.httpStatus], transport === 'grpc' ? [5, undefined] : [undefined, 404]);
      assert.match(ghost.message, /ghost/);
      assert.equal((await rejection(c.modelReady('ghost'))).code, 'NOT_FOUND');
      assert.equal((await rejection(c.infer({ model: 'ghost', inputs: simpleInputs }))).code, 'NOT_FOUND');
    });

    it('the client refuses malformed inputs before sending them', async () => {
      const short = await rejection(() => c.infer({ model: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Int32Array(3) }] }));
      assert.equal(short.code, 'INVALID_ARG');
      assert.equal(short.grpcStatus ?? short.httpStatus, undefined);
      assert.match(short.message, /input 'INPUT0'.*16 elements but data has 3/);
      const wrongArray = { name: 'IN', datatype: 'INT64', shape: [1], data: new Int32Array(1) } as unknown as InferInput;
      assert.match((await rejection(() => c.infer({ model: 'id_int64', inputs: [wrongArray] }))).message, /INT64 data must be a BigInt64Array, got Int32Array/);
      const badBytes = { name: 'IN', datatype: 'BYTES', shape: [1], data: [42] } as unknown as InferInput;
      assert.match((await rejection(() => c.infer({ model: 'id_bytes', inputs: [badBytes] }))).message, /BYTES element 0 must be a string or a Uint8Array/);
      assert.match((await rejection(() => c.infer({ model: 'simple', inputs: [{ ...simpleInputs[0]!, shape: [1, -16] }] }))).message, /non-negative integers/);
    });

    it('timeoutMs → DEADLINE_EXCEEDED, AbortSignal → CANCELLED; the server keeps serving', async () => {
      const x = (k: number): InferInput[] => [{ name: 'IN', datatype: 'FP32', shape: [1, 4], data: new Float32Array([k, k, k, k]) }];
      // Queue work on the one slow instance so the timed call must wait behind it.
      const queued = Array.from({ length: 6 }, (_, k) => c.infer({ model: 'slow', inputs: x(k) }));
      const late = await rejection(c.infer({ model: 'slow', inputs: x(9), timeoutMs: 5 }));
      assert.equal(late.code, 'DEADLINE_EXCEEDED');
      const ac = new AbortController();
      const pending = c.infer({ model: 'slow', inputs: x(10), signal: ac.signal });
      setTimeout(() => ac.abort(), 2);
      assert.equal((await rejection(pending)).code, 'CANCELLED');
      assert.equal((await rejection(c.infer({ model: 'slow', inputs: x(11), signal: AbortSignal.abort() }))).code, 'CANCELLED');
      const done = await Promise.all(queued);
      assert.deepEqual(done.map((r) => r.output('OUT', 'FP32').data[0]), [0, 1, 2, 3, 4, 5]);
    });

    it('statistics count the client\'s inferences', async () => {
      const before = (await c.modelStatistics('simple'))[0]!;
      await c.infer({ model: 'simple', inputs: simpleInputs });
      const [s] = await c.modelStatistics('simple', '1');
      assert.equal(s!.name, 'simple');
      assert.equal(s!.inference_count, before.inference_count + 1);
      assert.equal(s!.inference_stats!.success!.count, before.inference_stats!.success!.count + 1);
      assert.ok((await c.modelStatistics()).some((m) => m.name === 'id_fp32'));
    });

    it('repository index, load with config and files, unload', async () => {
      const index = await c.repositoryIndex();
      assert.ok(index.some((m) => m.name === 'spare' && m.state === 'READY'));
      await c.unloadModel('spare');
      assert.equal(await c.modelReady('spare'), false);
      assert.ok((await c.repositoryIndex({ ready: true })).every((m) => m.name !== 'spare'));
      // A config override plus the model file sent by the client: version 3 from bytes.
      const onnx = readFileSync(path.join(FIXTURE_MODELS, 'identity_fp32.onnx'));
      const config = { name: 'spare', platform: 'onnxruntime_onnx', max_batch_size: 2, input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [-1] }], output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [-1] }] };
      await c.loadModel('spare', { config, files: { '3/model.onnx': onnx } });
      assert.deepEqual((await c.modelMetadata('spare')).versions, ['3']);
      assert.equal((await c.modelConfig('spare')).max_batch_size, 2);
      const r = await c.infer({ model: 'spare', version: '3', inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 2], data: new Float32Array([7, 8]) }] });
      assert.deepEqual(Array.from(r.output('OUT', 'FP32').data), [7, 8]);
      await c.loadModel('spare');
      assert.deepEqual((await c.modelMetadata('spare')).versions, ['1']);
      assert.equal((await rejection(c.loadModel('spare', { config: '{not json' }))).code, 'INVALID_ARG');
    });

    it('unloadDependents also unloads the ensemble using the model', async () => {
      assert.equal(await c.modelReady('pipeline'), true);
      await c.unloadModel('preprocess', { unloadDependents: true });
      assert.deepEqual([await c.modelReady('preprocess'), await c.modelReady('pipeline')], [false, false]);
      await c.loadModel('preprocess');
      await c.loadModel('pipeline');
      assert.deepEqual([await c.modelReady('preprocess'), await c.modelReady('pipeline')], [true, true]);
    });

    it('system shared memory: register, status, unregister a real POSIX shm object', async () => {
      const key = `/infera_client_${transport}_${process.pid}`;
      writeFileSync(path.join('/dev/shm', key.slice(1)), Buffer.alloc(64));
      try {
        await c.registerSystemSharedMemory({ name: `r_${transport}`, key, offset: 16, byteSize: 32 });
        const regions = await c.systemSharedMemoryStatus(`r_${transport}`);
        assert.deepEqual(regions.map((r) => [r.name, r.key, Number(r.offset), Number(r.byte_size)]), [[`r_${transport}`, key, 16, 32]]);
        const dup = await rejection(() => c.registerSystemSharedMemory({ name: `r_${transport}`, key, byteSize: 8 }));
        // HTTP carries ALREADY_EXISTS as a bare 400, as Triton's status table does; gRPC keeps the code.
        if (transport === 'grpc') assert.equal(dup.code, 'ALREADY_EXISTS');
        else assert.equal(dup.httpStatus, 400);
        assert.match(dup.message, /already/);
        await c.unregisterSystemSharedMemory(`r_${transport}`);
        assert.deepEqual(await c.systemSharedMemoryStatus(), []);
        const missing = await rejection(() => c.registerSystemSharedMemory({ name: 'gone', key: '/infera_no_such_key', byteSize: 8 }));
        assert.match(missing.message, /infera_no_such_key/);
      } finally {
        rmSync(path.join('/dev/shm', key.slice(1)), { force: true });
      }
    });

    it(`inferStream runs requests over ${transport === 'grpc' ? 'one ModelStreamInfer call' : 'event streams (Accept: text/event-stream)'}`, async () => {
      const requests = [3, 5, 7].map((k) => ({
        model: 'simple', id: `s-${k}`,
        inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Int32Array.from(a16, (v) => v * k) }, simpleInputs[1]!] as InferInput[],
      }));
      const got = new Map<string, number[]>();
      for await (const r of c.inferStream(requests)) got.set(r.id, Array.from(r.output('OUTPUT0', 'INT32').data));
      assert.deepEqual([...got.keys()].sort(), ['s-3', 's-5', 's-7']);
      for (const k of [3, 5, 7]) assert.deepEqual(got.get(`s-${k}`), Array.from(a16, (v) => v * k + 1));
      // A failed request ends the iterator with the server's message.
      const bad = await rejection(async () => {
        for await (const r of c.inferStream([{ model: 'no_such_model', inputs: simpleInputs }])) assert.fail(`unexpected ${r.model}`);
      });
      assert.match(bad.message, /no_such_model/);
    });
  });
}

describe('InferenceClient: both transports, one API', () => {
  it('metadata, config, index and statistics are identical over gRPC and HTTP', async () => {
    const g = clients.grpc();
    const h = clients.http();
    try {
      for (const call of [
        (c: InferenceClient) => c.serverMetadata(),
        (c: InferenceClient) => c.modelMetadata('classifier'),
        (c: InferenceClient) => c.modelConfig('classifier'),
        (c: InferenceClient) => c.modelConfig('id_bytes'),
        (c: InferenceClient) => c.repositoryIndex(),
        (c: InferenceClient) => c.modelStatistics('id_uint8'),
      ]) {
        assert.deepEqual(await call(h), await call(g));
      }
    } finally {
      g.close();
      h.close();
    }
  });

  it('a server that is not there is UNAVAILABLE over both transports', async () => {
    for (const address of ['127.0.0.1:1', 'http://127.0.0.1:1']) {
      const c = new InferenceClient(address, { timeoutMs: 5000 });
      try {
        const e = await rejection(c.serverLive());
        assert.ok(e.code === 'UNAVAILABLE' || e.code === 'DEADLINE_EXCEEDED', `${address}: ${e.code} ${e.message}`);
      } finally {
        c.close();
      }
    }
  });
});
