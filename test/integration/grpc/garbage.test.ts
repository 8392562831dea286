/**
 * Undecodable bytes on the wire: every RPC answers an error status for garbage and the server
 * keeps serving (nothing crashes, nothing hangs).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { BUNDLED_REPO } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';

let ts: TestServer;
let raw: Client;
before(async () => {
  ts = await startServer([BUNDLED_REPO]);
  raw = new Client(ts.target, credentials.createInsecure());
});
after(async () => {
  raw.close();
  await ts.close();
});

const identity = (b: Buffer) => b;
function send(method: string, body: Buffer): Promise<ServiceError | Buffer> {
  return new Promise((resolve) => {
    raw.makeUnaryRequest(`/inference.GRPCInferenceService/${method}`, identity, identity, body, (err, res) => resolve(err ?? res!));
  });
}

describe('garbage on the wire', () => {
  it('answers errors for random and truncated messages on every unary RPC and keeps serving', async () => {
    const valid = Buffer.from([0x0a, 0x06, 0x73, 0x69, 0x6d, 0x70, 0x6c, 0x65, 0x2a, 0xff, 0xff, 0xff]); // model_name "simple" + broken field 5
    const bodies = [valid, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), ...Array.from({ length: 30 }, (_, i) => randomBytes(1 + i * 37))];
    let errorsSeen = 0;
    for (const method of ['ModelInfer', 'ModelMetadata', 'ModelConfig', 'ModelStatistics', 'RepositoryIndex', 'RepositoryModelLoad']) {
      for (const body of bodies) {
        const r = await send(method, body);
        if (!Buffer.isBuffer(r)) {
          errorsSeen++;
          assert.ok(r.code !== status.OK);
          assert.ok([status.INTERNAL, status.INVALID_ARGUMENT, status.NOT_FOUND, status.UNIMPLEMENTED, status.UNAVAILABLE].includes(r.code), `${method}: unexpected ${status[r.code]} ${r.details}`);
        }
      }
    }
    assert.ok(errorsSeen > 100, `most garbage must be refused (${errorsSeen})`);
    const a = Buffer.from(new Int32Array(16).fill(2).buffer);
    const res = await call(ts.client.ModelInfer.bind(ts.client), {
      model_name: 'simple',
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }],
      raw_input_contents: [a, a],
    });
    assert.equal(res.outputs.length, 2);
  });

  it('an unknown method is UNIMPLEMENTED', async () => {
    const r = await send('NoSuchRpc', Buffer.alloc(0));
    assert.ok(!Buffer.isBuffer(r));
    assert.equal(r.code, status.UNIMPLEMENTED);
  });
});
