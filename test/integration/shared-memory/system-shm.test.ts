/**
 * System shared memory over both protocols, against real POSIX shm objects (files under /dev/shm
 * created here, as shm_open + ftruncate would): inputs read from regions, outputs written into
 * them with no bytes in the response, BYTES included; --allow-client-shm off; every bad region
 * reference; unregister while a request uses the region; register → infer → unregister cycles
 * that leave no descriptor behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { status, type ServiceError } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { encodeBytesElements, bytesElementStrings } from '../../../src/core/bytes-tensor.js';
import { errorOf, http, json, postJson } from '../http/http-client.js';
import type { InferParameter } from '../../../src/generated/inference/InferParameter.js';

const SHM = '/dev/shm';
const tag = `infera-test-${process.pid}`;
const created: string[] = [];

/** Creates (or replaces) the shm object `/name` with `bytes` or `size` zero bytes; returns its key. */
function shmObject(name: string, content: Uint8Array | number): string {
  const file = `${SHM}/${tag}-${name}`;
  if (typeof content === 'number') {
    const fd = openSync(file, 'w');
    ftruncateSync(fd, content);
    closeSync(fd);
  } else {
    writeFileSync(file, content);
  }
  created.push(file);
  return `/${tag}-${name}`;
}
const fileOf = (key: string) => `${SHM}${key}`;
const int32s = (values: number[]) => Buffer.from(new Int32Array(values).buffer);
/** `n` bytes at `offset` of the object `key`, in a buffer of their own. */
const bytesAt = (key: string, offset: number, n: number) => Uint8Array.from(readFileSync(fileOf(key)).subarray(offset, offset + n)).buffer;
const readInt32s = (key: string, offset: number, n: number) => Array.from(new Int32Array(bytesAt(key, offset, 4 * n)));

const shmParams = (region: string, byteSize: number, offset = 0): Record<string, InferParameter> => ({
  shared_memory_region: { string_param: region },
  shared_memory_byte_size: { int64_param: byteSize },
  ...(offset === 0 ? {} : { shared_memory_offset: { int64_param: offset } }),
});

const A = Array.from({ length: 16 }, (_, i) => i);
const B = Array.from({ length: 16 }, (_, i) => 100 + 2 * i);

const repo = new TempRepo().addBundled('simple').add('id_bytes', {
  config: `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_STRING dims: [ -1 ] } ]
output [ { name: "OUT" data_type: TYPE_STRING dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`,
  versions: { 1: 'identity_bytes.onnx' },
}).add('slow', {
  config: `
platform: "onnxruntime_onnx"
max_batch_size: 4
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
`,
  versions: { 1: 'slow.onnx' },
});

after(() => {
  repo.remove();
  for (const f of created) rmSync(f, { force: true });
});

function fails(code: status, re: RegExp) {
  return (e: ServiceError) => {
    assert.equal(e.code, code, `${status[e.code]}: ${e.details}`);
    assert.match(e.details, re);
    return true;
  };
}

/** Open descriptors of this process that point into /dev/shm at objects this test created. */
function openShmDescriptors(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes(tag)) n++;
    } catch {
      // closed while listing
    }
  }
  return n;
}

describe('--allow-client-shm=false (the default)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startServer([repo.dir]);
  });
  after(() => ts.close());

  it('register answers UNSUPPORTED saying how to enable it; status and unregister still answer', async () => {
    const key = shmObject('off', 64);
    await assert.rejects(
      call(ts.client.SystemSharedMemoryRegister.bind(ts.client), { name: 'r', key, offset: 0, byte_size: 64 }),
      fails(status.UNIMPLEMENTED, /--allow-client-shm=true/),
    );
    const r = await postJson(`${ts.httpUrl}/v2/systemsharedmemory/region/r/register`, { key, offset: 0, byte_size: 64 });
    assert.equal(r.status, 501);
    assert.match(errorOf(r), /--allow-client-shm=true/);
    assert.deepEqual(await call(ts.client.SystemSharedMemoryStatus.bind(ts.client), { name: '' }), { regions: {} });
    assert.deepEqual(json(await http(`${ts.httpUrl}/v2/systemsharedmemory/status`)), []);
    assert.deepEqual(await call(ts.client.SystemSharedMemoryUnregister.bind(ts.client), { name: '' }), {});
    assert.equal((await http(`${ts.httpUrl}/v2/systemsharedmemory/unregister`, { method: 'POST' })).status, 200);
  });

  it('ServerMetadata does not list system_shared_memory', async () => {
    const m = await call(ts.client.ServerMetadata.bind(ts.client), {});
    assert.ok(!m.extensions.includes('system_shared_memory'));
  });
});

describe('--allow-client-shm=true', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startServer([repo.dir], { allowClientShm: true });
  });
  after(() => ts.close());
  const c = () => ts.client;

  it('ServerMetadata lists system_shared_memory in Triton\'s place, and never cuda_shared_memory', async () => {
    const { extensions } = await call(c().ServerMetadata.bind(c()), {});
    assert.ok(extensions.indexOf('system_shared_memory') > extensions.indexOf('model_configuration'));
    assert.ok(extensions.indexOf('system_shared_memory') < extensions.indexOf('binary_tensor_data'));
    assert.ok(!extensions.includes('cuda_shared_memory'));
  });

  it('gRPC: inputs read from a region, outputs written into one, no output bytes in the response', async () => {
    const inKey = shmObject('g-in', Buffer.concat([int32s(A), int32s(B)]));
    const outKey = shmObject('g-out', 256);
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'g_in', key: inKey, offset: 0, byte_size: 128 });
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'g_out', key: outKey, offset: 64, byte_size: 192 });
    const st = await call(c().SystemSharedMemoryStatus.bind(c()), { name: 'g_out' });
    assert.deepEqual(st.regions, { g_out: { name: 'g_out', key: outKey, offset: 64, byte_size: 192 } });
    const res = await call(c().ModelInfer.bind(c()), {
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: shmParams('g_in', 64) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: shmParams('g_in', 64, 64) },
      ],
      outputs: [
        { name: 'OUTPUT0', parameters: shmParams('g_out', 64) },
        { name: 'OUTPUT1', parameters: shmParams('g_out', 64, 100) },
      ],
    });
    assert.deepEqual(res.outputs.map((o) => [o.name, o.shape]), [['OUTPUT0', [1, 16]], ['OUTPUT1', [1, 16]]]);
    assert.deepEqual(res.raw_output_contents.map((b) => b.length), [0, 0]);
    // The region starts at byte 64 of the object; OUTPUT1 at offset 100 within it.
    assert.deepEqual(readInt32s(outKey, 64, 16), A.map((a, i) => a + B[i]!));
    assert.deepEqual(readInt32s(outKey, 164, 16), A.map((a, i) => a - B[i]!));
    assert.deepEqual(readInt32s(outKey, 0, 16), new Array(16).fill(0), 'bytes before the region are untouched');
  });

  it('gRPC: shared-memory inputs use no raw_input_contents entry; unlisted outputs come back raw', async () => {
    const inKey = shmObject('mix-in', int32s(B));
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'mix_in', key: inKey, offset: 0, byte_size: 64 });
    const res = await call(c().ModelInfer.bind(c()), {
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: shmParams('mix_in', 64) },
      ],
      raw_input_contents: [int32s(A)],
    });
    const out0 = res.raw_output_contents[res.outputs.findIndex((o) => o.name === 'OUTPUT0')]!;
    assert.deepEqual(Array.from(new Int32Array(out0.buffer.slice(out0.byteOffset, out0.byteOffset + 64))), A.map((a, i) => a + B[i]!));
    // Two raw entries for one input that takes raw data: refused.
    await assert.rejects(call(c().ModelInfer.bind(c()), {
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: shmParams('mix_in', 64) },
      ],
      raw_input_contents: [int32s(A), int32s(A)],
    }), fails(status.INVALID_ARGUMENT, /raw_input_contents has 2 entries/));
  });

  it('HTTP: register, status, infer with shared-memory tensors, unregister', async () => {
    const inKey = shmObject('h-in', Buffer.concat([int32s(A), int32s(B)]));
    const outKey = shmObject('h-out', 128);
    assert.equal((await postJson(`${ts.httpUrl}/v2/systemsharedmemory/region/h_in/register`, { key: inKey, offset: 0, byte_size: 128 })).status, 200);
    assert.equal((await postJson(`${ts.httpUrl}/v2/systemsharedmemory/region/h_out/register`, { key: outKey, byte_size: 128 })).status, 200);
    assert.deepEqual(json(await http(`${ts.httpUrl}/v2/systemsharedmemory/region/h_in/status`)), [{ name: 'h_in', key: inKey, offset: 0, byte_size: 128 }]);
    const shm = (region: string, size: number, offset: number) => ({ shared_memory_region: region, shared_memory_byte_size: size, shared_memory_offset: offset });
    const r = await postJson(`${ts.httpUrl}/v2/models/simple/infer`, {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: shm('h_in', 64, 0) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: shm('h_in', 64, 64) },
      ],
      outputs: [{ name: 'OUTPUT0', parameters: shm('h_out', 64, 0) }, { name: 'OUTPUT1' }],
    });
    assert.equal(r.status, 200, r.body.toString());
    const body = json(r) as { outputs: { name: string; data?: number[]; parameters?: Record<string, unknown> }[] };
    const o0 = body.outputs.find((o) => o.name === 'OUTPUT0')!;
    assert.equal(o0.data, undefined);
    assert.deepEqual(o0.parameters, { shared_memory_region: 'h_out', shared_memory_offset: 0, shared_memory_byte_size: 64 });
    assert.deepEqual(body.outputs.find((o) => o.name === 'OUTPUT1')!.data, A.map((a, i) => a - B[i]!));
    assert.deepEqual(readInt32s(outKey, 0, 16), A.map((a, i) => a + B[i]!));
    assert.equal((await http(`${ts.httpUrl}/v2/systemsharedmemory/region/h_in/unregister`, { method: 'POST' })).status, 200);
    assert.deepEqual((json(await http(`${ts.httpUrl}/v2/systemsharedmemory/status`)) as { name: string }[]).some((x) => x.name === 'h_in'), false);
  });

  it('BYTES tensors travel length-prefixed through regions, both ways', async () => {
    const strings = ['shared', '', 'mémoire'];
    const bytes = Buffer.from(encodeBytesElements(strings));
    const inKey = shmObject('b-in', bytes);
    const outKey = shmObject('b-out', 64);
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'b_in', key: inKey, offset: 0, byte_size: bytes.length });
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'b_out', key: outKey, offset: 0, byte_size: 64 });
    const res = await call(c().ModelInfer.bind(c()), {
      model_name: 'id_bytes',
      inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1, 3], parameters: shmParams('b_in', bytes.length) }],
      outputs: [{ name: 'OUT', parameters: shmParams('b_out', 64) }],
    });
    assert.equal(res.raw_output_contents[0]!.length, 0);
    assert.deepEqual(bytesElementStrings(readFileSync(fileOf(outKey)).subarray(0, bytes.length)), strings);
    // An output region too small for the serialized strings is an error, not a truncation.
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'b_small', key: outKey, offset: 0, byte_size: bytes.length - 1 });
    await assert.rejects(call(c().ModelInfer.bind(c()), {
      model_name: 'id_bytes',
      inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1, 3], parameters: shmParams('b_in', bytes.length) }],
      outputs: [{ name: 'OUT', parameters: shmParams('b_small', bytes.length - 1) }],
    }), fails(status.INVALID_ARGUMENT, /output 'OUT'.*should be at least 26 bytes/));
    // BYTES sizes do not follow from the shape: the per-request cap bounds the copy before it is made.
    await assert.rejects(call(c().ModelInfer.bind(c()), {
      model_name: 'id_bytes',
      inputs: [{ name: 'IN', datatype: 'BYTES', shape: [1, 3], parameters: shmParams('b_in', 2 ** 40) }],
    }), fails(status.RESOURCE_EXHAUSTED, /may total at most 2147483647 bytes/));
  });

  it('register errors: missing key, oversize, bad key, duplicate name, bad HTTP bodies; the server keeps serving', async () => {
    const key = shmObject('reg', 100);
    const reg = (name: string, k: string, offset: number, byte_size: number) => call(c().SystemSharedMemoryRegister.bind(c()), { name, key: k, offset, byte_size });
    await assert.rejects(reg('x', `/${tag}-does-not-exist`, 0, 8), fails(status.INVALID_ARGUMENT, /Unable to open shared memory region: '\/infera-test-\d+-does-not-exist'/));
    await assert.rejects(reg('x', key, 0, 101), fails(status.INVALID_ARGUMENT, /failed to register shared memory region 'x': invalid args.*exceeds the 100 bytes/));
    await assert.rejects(reg('x', key, 96, 8), fails(status.INVALID_ARGUMENT, /invalid args/));
    for (const bad of ['/../etc/passwd', '', '/', '/a/b']) await assert.rejects(reg('x', bad, 0, 1), fails(status.INVALID_ARGUMENT, /invalid shared memory key/));
    await assert.rejects(reg('', key, 0, 1), fails(status.INVALID_ARGUMENT, /name is empty/));
    await reg('dup', key, 0, 100);
    await assert.rejects(reg('dup', key, 0, 10), fails(status.ALREADY_EXISTS, /'dup' already in manager/));
    await assert.rejects(call(c().SystemSharedMemoryStatus.bind(c()), { name: 'nope' }), fails(status.NOT_FOUND, /Unable to find system shared memory region: 'nope'/));
    assert.equal((await http(`${ts.httpUrl}/v2/systemsharedmemory/region/nope/status`)).status, 404);
    for (const body of ['{', '[]', '{"key": 5, "byte_size": 1}', `{"key": "${key}"}`, `{"key": "${key}", "byte_size": -1}`, `{"key": "${key}", "byte_size": 1.5}`, '\u0000\u00ff']) {
      const r = await http(`${ts.httpUrl}/v2/systemsharedmemory/region/h/register`, { method: 'POST', body });
      assert.equal(r.status, 400, body);
      assert.ok(errorOf(r).length > 0);
    }
    assert.equal((await http(`${ts.httpUrl}/v2/systemsharedmemory/region/h/register`, { method: 'GET' })).status, 405);
    assert.equal((await http(`${ts.httpUrl}/v2/systemsharedmemory/unregister/extra`, { method: 'POST' })).status, 404);
    assert.deepEqual(await call(c().ServerLive.bind(c()), {}), { live: true });
  });

  it('request errors: unknown region, bounds, overlap, missing byte size, classification, binary_data', async () => {
    const key = shmObject('req', 256);
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'req', key, offset: 128, byte_size: 128 });
    const infer = (in0: Record<string, InferParameter>, outputs: { name: string; parameters: Record<string, InferParameter> }[] = []) =>
      call(c().ModelInfer.bind(c()), {
        model_name: 'simple',
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: in0 },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: shmParams('req', 64) },
        ],
        outputs,
      });
    await assert.rejects(infer(shmParams('ghost', 64)), fails(status.NOT_FOUND, /Unable to find shared memory region: 'ghost' \(input 'INPUT0' of the request to model 'simple'\)/));
    await assert.rejects(infer(shmParams('req', 64, 65)), fails(status.INVALID_ARGUMENT, /Invalid offset \+ byte size for shared memory region: 'req'.*offset 65 \+ byte_size 64 exceeds the region's 128 bytes/));
    await assert.rejects(infer(shmParams('req', 2 ** 40)), fails(status.INVALID_ARGUMENT, /input byte size mismatch for input 'INPUT0'.*Expected 64, got 1099511627776/));
    await assert.rejects(infer(shmParams('req', 60)), fails(status.INVALID_ARGUMENT, /input byte size mismatch for input 'INPUT0'.*Expected 64, got 60/));
    await assert.rejects(infer({ shared_memory_region: { string_param: 'req' } }), fails(status.INVALID_ARGUMENT, /'shared_memory_byte_size' must be given/));
    await assert.rejects(infer({ shared_memory_byte_size: { int64_param: 4 } }), fails(status.INVALID_ARGUMENT, /'shared_memory_byte_size' is set without 'shared_memory_region'/));
    await assert.rejects(infer({ ...shmParams('req', 64), shared_memory_offset: { string_param: 'x' } }), fails(status.INVALID_ARGUMENT, /'shared_memory_offset' must be an integer >= 0/));
    await assert.rejects(
      infer(shmParams('req', 64), [{ name: 'OUTPUT0', parameters: shmParams('req', 64, 0) }, { name: 'OUTPUT1', parameters: shmParams('req', 64, 32) }]),
      fails(status.INVALID_ARGUMENT, /output 'OUTPUT1'.*\[32, 96\) of shared memory region 'req' overlap those of output 'OUTPUT0' \[0, 64\)/),
    );
    await assert.rejects(
      infer(shmParams('req', 64), [{ name: 'OUTPUT0', parameters: { ...shmParams('req', 64), classification: { int64_param: 2 } } }]),
      fails(status.INVALID_ARGUMENT, /cannot also use classification/),
    );
    const r = await postJson(`${ts.httpUrl}/v2/models/simple/infer`, {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: A },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: B, parameters: { shared_memory_region: 'req', shared_memory_byte_size: 64 } },
      ],
    });
    assert.equal(r.status, 400);
    assert.match(errorOf(r), /exactly one of 'data', 'binary_data_size' or 'shared_memory_region'/);
    const r2 = await postJson(`${ts.httpUrl}/v2/models/simple/infer`, {
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: A }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: B }],
      outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true, shared_memory_region: 'req', shared_memory_byte_size: 64 } }],
    });
    assert.equal(r2.status, 400);
    assert.match(errorOf(r2), /cannot set both 'binary_data' and 'shared_memory_region'/);
    await call(c().SystemSharedMemoryUnregister.bind(c()), { name: 'req' });
  });

  it('a region unregistered while a request uses it: the request finishes and writes its output', async () => {
    const inKey = shmObject('busy-in', Buffer.from(new Float32Array([1, 2, 3, 4]).buffer));
    const outKey = shmObject('busy-out', 16);
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'busy_in', key: inKey, offset: 0, byte_size: 16 });
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'busy_out', key: outKey, offset: 0, byte_size: 16 });
    const running = call(c().ModelInfer.bind(c()), {
      model_name: 'slow',
      inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4], parameters: shmParams('busy_in', 16) }],
      outputs: [{ name: 'OUT', parameters: shmParams('busy_out', 16) }],
    });
    // Wait until the request holds its leases (it is queued or running), then pull the regions.
    while (ts.server.registry.get('slow')!.versions.get(1)!.scheduler!.inflightCount === 0) await new Promise((r) => setTimeout(r, 1));
    await call(c().SystemSharedMemoryUnregister.bind(c()), { name: '' });
    assert.deepEqual((await call(c().SystemSharedMemoryStatus.bind(c()), { name: '' })).regions, {});
    const res = await running;
    assert.equal(res.raw_output_contents[0]!.length, 0);
    const out = new Float32Array(bytesAt(outKey, 0, 16));
    assert.ok(out.some((v) => v !== 0), 'the output reached the region');
    assert.equal(openShmDescriptors(), 0, 'the descriptors closed once the request finished');
    // The name is free again, and a new request on an unregistered name is NOT_FOUND.
    await assert.rejects(call(c().ModelInfer.bind(c()), {
      model_name: 'slow',
      inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4], parameters: shmParams('busy_in', 16) }],
    }), fails(status.NOT_FOUND, /busy_in/));
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'busy_in', key: inKey, offset: 0, byte_size: 16 });
    await call(c().SystemSharedMemoryUnregister.bind(c()), { name: 'busy_in' });
  });

  it('perf_analyzer-style register → infer → unregister cycles leak no descriptor and no region', async () => {
    const inKey = shmObject('cyc-in', Buffer.concat([int32s(A), int32s(B)]));
    const outKey = shmObject('cyc-out', 128);
    await call(c().SystemSharedMemoryUnregister.bind(c()), { name: '' });
    const before = openShmDescriptors();
    for (let i = 0; i < 60; i++) {
      await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'in', key: inKey, offset: 0, byte_size: 128 });
      await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'out', key: outKey, offset: 0, byte_size: 128 });
      const failed = i % 3 === 2; // every third request fails validation after taking its leases
      const req = call(c().ModelInfer.bind(c()), {
        model_name: 'simple',
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: shmParams('in', failed ? 60 : 64) },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: shmParams('in', 64, 64) },
        ],
        outputs: [{ name: 'OUTPUT0', parameters: shmParams('out', 64) }, { name: 'OUTPUT1', parameters: shmParams('out', 64, 64) }],
      });
      if (failed) await assert.rejects(req);
      else await req;
      await call(c().SystemSharedMemoryUnregister.bind(c()), { name: '' });
    }
    // perf_analyzer at concurrency > 1: several requests in flight on the same regions.
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'in', key: inKey, offset: 0, byte_size: 128 });
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'out', key: outKey, offset: 0, byte_size: 128 });
    const burst = Array.from({ length: 12 }, () => call(c().ModelInfer.bind(c()), {
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: shmParams('in', 64) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: shmParams('in', 64, 64) },
      ],
      outputs: [{ name: 'OUTPUT0', parameters: shmParams('out', 64) }],
    }));
    await call(c().SystemSharedMemoryUnregister.bind(c()), { name: '' }); // while the burst is in flight
    assert.equal((await Promise.all(burst)).length, 12);
    assert.deepEqual(readInt32s(outKey, 0, 16), A.map((a, i) => a + B[i]!));
    assert.equal(openShmDescriptors(), before);
    assert.equal(ts.server.service.systemShm.size, 0);
    assert.deepEqual(readInt32s(outKey, 64, 16), A.map((a, i) => a - B[i]!));
  });
});
