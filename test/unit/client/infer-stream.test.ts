/**
 * inferStream over the wire, before Infera's own ModelStreamInfer exists: a grpc-js server built
 * from the same protos implements only that RPC, the way Triton answers it (one response per
 * request here, echoing the inputs as outputs, or an `error_message` response). Checks that
 * requests are written as the caller's iterable yields them, responses come back typed and in
 * order, an error response ends the iterator with its message, and leaving the loop cancels the call.
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
