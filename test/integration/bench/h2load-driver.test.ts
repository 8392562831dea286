/**
 * Issue #13 part 1: the bench's native driver. h2load sends the prepared gRPC frame to the real
 * server and the figures it reports (throughput, latency percentiles, server CPU per request)
 * come from real answers; a missing tool is named with how to install it. Skipped, with the
 * reason, where h2load is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BUNDLED_REPO } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';
import { grpcFrame, processCpuUs, requireNativeTools, runH2load } from '../../../bench/h2load.js';
import { loadInferenceProtos } from '../../../src/frontends/grpc/proto-loader.js';

const hasH2load = spawnSync('sh', ['-c', 'command -v h2load']).status === 0;
const METHOD = '/inference.GRPCInferenceService/ModelInfer';

function simpleRequest(model: string): Buffer {
  const def = loadInferenceProtos().packageDefinition['inference.GRPCInferenceService'] as unknown as Record<string, { requestSerialize: (m: object) => Buffer }>;
  const a = Buffer.from(Int32Array.from({ length: 16 }, (_, i) => i).buffer);
  return def['ModelInfer']!.requestSerialize({
    model_name: model,
    inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }],
    raw_input_contents: [a, a],
  });
}

describe('bench native driver', () => {
  it('frames a message as gRPC does: flag byte 0, big-endian length, the message', () => {
    const f = grpcFrame(Buffer.from([1, 2, 3]));
    assert.deepEqual([...f], [0, 0, 0, 0, 3, 1, 2, 3]);
  });

  it('names a missing tool and how to install it', () => {
    assert.throws(() => requireNativeTools(['infera-no-such-tool']), /infera-no-such-tool.*apt-get install -y infera-no-such-tool/s);
  });

  it('reads a live process CPU time from /proc that grows with work', () => {
    const a = processCpuUs(process.pid);
    const t = Date.now();
    while (Date.now() - t < 60) Math.sqrt(Math.random());
    assert.ok(processCpuUs(process.pid) > a);
  });

  describe('against the real server', { skip: hasH2load ? false : 'h2load not installed (apt-get install -y nghttp2-client)' }, () => {
    let ts: TestServer;
    before(async () => {
      ts = await startServer([BUNDLED_REPO], { allowMetrics: false });
    });
    after(() => ts.close());

    it('drives ModelInfer with a prepared frame and reports answered requests, percentiles and CPU', async () => {
      const r = await runH2load({ target: ts.target, path: METHOD, request: simpleRequest('simple'), concurrency: 4, seconds: 1, warmupSeconds: 0.2, serverPid: process.pid });
      assert.equal(r.errors, 0);
      assert.ok(r.requests > 0 && r.throughput > 0, `requests ${r.requests}`);
      assert.ok(r.p50Us > 0 && r.p99Us >= r.p50Us);
      assert.ok((r.cpuUsPerRequest ?? 0) > 0);
    });

    it('fails loudly when the server is not there', async () => {
      await assert.rejects(runH2load({ target: '127.0.0.1:1', path: METHOD, request: simpleRequest('simple'), concurrency: 1, seconds: 0.3, warmupSeconds: 0 }), /h2load|unexpected/);
    });
  });
});
