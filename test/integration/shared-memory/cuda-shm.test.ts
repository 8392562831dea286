/**
 * Triton's cuda_shared_memory API on a server without CUDA, over both protocols: status lists
 * nothing, unregister (one or all) succeeds, register fails UNSUPPORTED with the reason, and the
 * extension is not listed. Region names share one namespace with system regions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, rmSync } from 'node:fs';
import { status, type ServiceError } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { errorOf, http, json, postJson } from '../http/http-client.js';

const repo = new TempRepo().addBundled('simple');
const key = `/infera-cuda-test-${process.pid}`;
after(() => {
  repo.remove();
  rmSync(`/dev/shm${key}`, { force: true });
});

const fails = (code: status, re: RegExp) => (e: ServiceError) => {
  assert.equal(e.code, code, `${status[e.code]}: ${e.details}`);
  assert.match(e.details, re);
  return true;
};

describe('CUDA shared memory without CUDA', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startServer([repo.dir], { allowClientShm: true });
    const fd = openSync(`/dev/shm${key}`, 'w');
    ftruncateSync(fd, 16);
    closeSync(fd);
  });
  after(() => ts.close());
  const c = () => ts.client;

  it('status is empty and unregister succeeds, one region or all', async () => {
    assert.deepEqual(await call(c().CudaSharedMemoryStatus.bind(c()), { name: '' }), { regions: {} });
    assert.deepEqual(await call(c().CudaSharedMemoryUnregister.bind(c()), { name: '' }), {});
    assert.deepEqual(await call(c().CudaSharedMemoryUnregister.bind(c()), { name: 'r' }), {});
    assert.deepEqual(json(await http(`${ts.httpUrl}/v2/cudasharedmemory/status`)), []);
    assert.equal((await http(`${ts.httpUrl}/v2/cudasharedmemory/unregister`, { method: 'POST' })).status, 200);
    assert.equal((await http(`${ts.httpUrl}/v2/cudasharedmemory/region/r/unregister`, { method: 'POST' })).status, 200);
  });

  it('status of a named region is NOT_FOUND, and says so when the name is a system region', async () => {
    await assert.rejects(call(c().CudaSharedMemoryStatus.bind(c()), { name: 'r' }), fails(status.NOT_FOUND, /Unable to find cuda shared memory region: 'r'/));
    await call(c().SystemSharedMemoryRegister.bind(c()), { name: 'sys', key, offset: 0, byte_size: 16 });
    const r = await http(`${ts.httpUrl}/v2/cudasharedmemory/region/sys/status`);
    assert.equal(r.status, 404);
    assert.match(errorOf(r), /registered as system shared memory, not CUDA shared memory/);
    await call(c().SystemSharedMemoryUnregister.bind(c()), { name: 'sys' });
  });

  it('register fails UNSUPPORTED with the reason; the extension is not listed', async () => {
    await assert.rejects(
      call(c().CudaSharedMemoryRegister.bind(c()), { name: 'g', raw_handle: Buffer.alloc(64), device_id: 0, byte_size: 64 }),
      fails(status.UNIMPLEMENTED, /CUDA shared memory is not supported by this server/),
    );
    const r = await postJson(`${ts.httpUrl}/v2/cudasharedmemory/region/g/register`, { raw_handle: { b64: 'AAAA' }, device_id: 0, byte_size: 64 });
    assert.equal(r.status, 501);
    assert.match(errorOf(r), /CUDA shared memory is not supported/);
    const { extensions } = await call(c().ServerMetadata.bind(c()), {});
    assert.ok(!extensions.includes('cuda_shared_memory'));
    assert.deepEqual(await call(c().CudaSharedMemoryStatus.bind(c()), { name: '' }), { regions: {} });
  });
});
