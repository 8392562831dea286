/**
 * Undecodable or hostile bytes sent to the shared-memory, trace and logging RPCs: each call gets
 * an answer (an error status, or a valid answer when the bytes happen to decode), the server keeps
 * serving, and no region or setting is left changed by garbage.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { noise } from '../../helpers/noise.js';

const repo = new TempRepo().addBundled('simple');
let ts: TestServer;
let raw: Client;
before(async () => {
  ts = await startServer([repo.dir], { allowClientShm: true });
  raw = new Client(ts.target, credentials.createInsecure());
});
after(async () => {
  raw.close();
  await ts.close();
  repo.remove();
});

const identity = (b: Buffer) => b;
function send(method: string, body: Buffer): Promise<ServiceError | Buffer> {
  return new Promise((resolve) => {
    raw.makeUnaryRequest(`/inference.GRPCInferenceService/${method}`, identity, identity, body, (err, res) => resolve(err ?? res!));
  });
}

describe('garbage to the extension RPCs', () => {
  it('every call is answered and the server keeps serving', async () => {
    const traceBefore = await call(ts.client.TraceSetting.bind(ts.client), { model_name: '', settings: {} });
    const logBefore = await call(ts.client.LogSettings.bind(ts.client), { settings: {} });
    const bodies = [Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), ...Array.from({ length: 25 }, (_, i) => Buffer.from(noise(1 + i * 29, 7 + i)))];
    for (const method of ['SystemSharedMemoryRegister', 'SystemSharedMemoryStatus', 'SystemSharedMemoryUnregister', 'CudaSharedMemoryRegister',
      'CudaSharedMemoryStatus', 'CudaSharedMemoryUnregister', 'TraceSetting', 'LogSettings']) {
      for (const body of bodies) {
        const r = await send(method, body);
        assert.ok(Buffer.isBuffer(r) || typeof r.code === 'number', method);
      }
    }
    assert.deepEqual(await call(ts.client.SystemSharedMemoryStatus.bind(ts.client), { name: '' }), { regions: {} });
    assert.deepEqual(await call(ts.client.TraceSetting.bind(ts.client), { model_name: '', settings: {} }), traceBefore);
    assert.deepEqual(await call(ts.client.LogSettings.bind(ts.client), { settings: {} }), logBefore);
    assert.deepEqual(await call(ts.client.ServerLive.bind(ts.client), {}), { live: true });
  });
});
