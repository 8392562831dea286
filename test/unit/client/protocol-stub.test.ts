/**
 * The calls Infera does not serve yet (ModelStreamInfer, system shared memory), over the wire: a
 * grpc-js server built from the same protos implements only those RPCs, the way Triton answers
 * them (one stream response per request here, echoing the inputs as outputs, or an
 * `error_message` response; a map of registered regions). Checks that stream requests are written
 * as the caller's iterable yields them, responses come back typed and in order, an error response
 * ends the iterator with its message, leaving the loop cancels the call, and the shared-memory
 * helpers send and read Triton's fields.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { InferenceClient, InferenceClientError, type InferRequest } from 'infera/client';
import { loadInferenceProtos } from '../../../src/frontends/grpc/proto-loader.js';
import type { ModelInferRequest__Output } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelStreamInferResponse } from '../../../src/generated/inference/ModelStreamInferResponse.js';

let server: Server;
let target = '';
let cancelled = 0;
const regions = new Map<string, { name: string; key: string; offset: number; byte_size: number }>();
type Unary<Req> = (call: { request: Req }, cb: (e: null, r: object) => void) => void;

before(async () => {
  server = new Server();
  server.addService(loadInferenceProtos().inference, {
    ModelStreamInfer: (call: ServerDuplexStream<ModelInferRequest__Output, ModelStreamInferResponse>) => {
      call.on('cancelled', () => cancelled++);
      call.on('data', (r: ModelInferRequest__Output) => {
        if (r.model_name === 'broken') {
          call.write({ error_message: `model '${r.model_name}' failed` });
          return;
        }
        call.write({
          infer_response: {
            model_name: r.model_name, model_version: '1', id: r.id,
            outputs: r.inputs.map((i) => ({ name: `${i.name}_OUT`, datatype: i.datatype, shape: i.shape })),
            raw_output_contents: r.raw_input_contents,
          },
        });
      });
      call.on('end', () => call.end());
    },
    SystemSharedMemoryRegister: ((call, cb) => {
      regions.set(call.request.name, call.request);
      cb(null, {});
    }) as Unary<{ name: string; key: string; offset: number; byte_size: number }>,
    SystemSharedMemoryStatus: ((call, cb) => {
      cb(null, { regions: Object.fromEntries([...regions].filter(([n]) => call.request.name === '' || n === call.request.name)) });
    }) as Unary<{ name: string }>,
    SystemSharedMemoryUnregister: ((call, cb) => {
      if (call.request.name === '') regions.clear();
      else regions.delete(call.request.name);
      cb(null, {});
    }) as Unary<{ name: string }>,
  } as never);
  const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
  target = `127.0.0.1:${port}`;
});
after(() => server.forceShutdown());

const req = (id: string, model = 'echo'): InferRequest => ({
  model, id, inputs: [{ name: 'X', datatype: 'INT64', shape: [2], data: new BigInt64Array([BigInt(id), -(2n ** 63n)]) }],
});

describe('inferStream (gRPC ModelStreamInfer)', () => {
  it('yields a typed response per request, in order, from a lazy async source', async () => {
    const c = new InferenceClient(target);
    async function* requests() {
      for (const id of ['1', '2', '3']) {
        await new Promise((r) => setTimeout(r, 5));
        yield req(id);
      }
    }
    const got: [string, bigint[]][] = [];
    for await (const r of c.inferStream(requests())) got.push([r.id, Array.from(r.output('X_OUT', 'INT64').data)]);
    assert.deepEqual(got, [['1', [1n, -(2n ** 63n)]], ['2', [2n, -(2n ** 63n)]], ['3', [3n, -(2n ** 63n)]]]);
    c.close();
  });

  it('an error_message response ends the iterator with the server\'s message', async () => {
    const c = new InferenceClient(target);
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const r of c.inferStream([req('1'), req('2', 'broken'), req('3')])) seen.push(r.id);
    }, (e: unknown) => e instanceof InferenceClientError && e.code === 'UNKNOWN' && e.message === "model 'broken' failed");
    assert.deepEqual(seen, ['1']);
    c.close();
  });

  it('leaving the loop early cancels the call; a bad request is refused before the stream sends it', async () => {
    const c = new InferenceClient(target);
    const before = cancelled;
    async function* endless() {
      for (let i = 1; ; i++) {
        yield req(String(i));
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    for await (const r of c.inferStream(endless())) if (r.id === '2') break;
    for (let i = 0; i < 100 && cancelled === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(cancelled, before + 1, 'the server saw the call cancelled');
    const bad = { model: 'echo', inputs: [{ name: 'X', datatype: 'INT64', shape: [3], data: new BigInt64Array(1) }] } as InferRequest;
    await assert.rejects(async () => {
      for await (const _ of c.inferStream([bad])) assert.fail('no response expected');
    }, (e: unknown) => e instanceof InferenceClientError && e.code === 'INVALID_ARG' && /3 elements but data has 1/.test(e.message));
    c.close();
  });
});

describe('system shared-memory helpers (gRPC)', () => {
  it('register, status and unregister carry Triton\'s fields', async () => {
    const c = new InferenceClient(target);
    await c.registerSystemSharedMemory({ name: 'in0', key: '/infera_in0', byteSize: 64 });
    await c.registerSystemSharedMemory({ name: 'out0', key: '/infera_out0', byteSize: 128, offset: 16 });
    assert.deepEqual(await c.systemSharedMemoryStatus('out0'), [{ name: 'out0', key: '/infera_out0', offset: 16, byte_size: 128 }]);
    assert.deepEqual((await c.systemSharedMemoryStatus()).map((r) => r.name).sort(), ['in0', 'out0']);
    await c.unregisterSystemSharedMemory('in0');
    assert.deepEqual((await c.systemSharedMemoryStatus()).map((r) => r.name), ['out0']);
    await c.unregisterSystemSharedMemory();
    assert.deepEqual(await c.systemSharedMemoryStatus(), []);
    c.close();
  });
});
