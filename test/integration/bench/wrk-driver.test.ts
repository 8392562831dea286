/**
 * Issue #13 part 1: the bench's native HTTP driver. wrk POSTs the prepared KServe v2 JSON body to
 * the real server's REST infer route and the figures it reports (throughput, latency percentiles,
 * server CPU per request) come from real answers; an error status is counted, not hidden.
 * Skipped, with the reason, where wrk is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BUNDLED_REPO } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';
import { runWrk } from '../../../bench/wrk.js';

const hasWrk = spawnSync('sh', ['-c', 'command -v wrk']).status === 0;
const data = Array.from({ length: 16 }, (_, i) => i);
const BODY = JSON.stringify({ inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data })) });

describe('bench native HTTP driver (wrk)', { skip: hasWrk ? false : 'wrk not installed (apt-get install -y wrk)' }, () => {
  let ts: TestServer;
  before(async () => {
    ts = await startServer([BUNDLED_REPO], { allowMetrics: false });
  });
  after(() => ts.close());

  it('drives REST infer with a prepared JSON body and reports answered requests, percentiles and CPU', async () => {
    const r = await runWrk({ url: `${ts.httpUrl}/v2/models/simple/infer`, body: BODY, contentType: 'application/json', concurrency: 4, seconds: 1, warmupSeconds: 0, serverPid: process.pid });
    assert.equal(r.errors, 0);
    assert.ok(r.requests > 0 && r.throughput > 0, `requests ${r.requests}`);
    assert.ok(r.p50Us > 0 && r.p99Us >= r.p50Us);
    assert.ok((r.cpuUsPerRequest ?? 0) > 0);
  });

  it('counts error statuses as errors (a body the model refuses)', async () => {
    const bad = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data }] });
    await assert.rejects(
      runWrk({ url: `${ts.httpUrl}/v2/models/simple/infer`, body: bad, contentType: 'application/json', concurrency: 2, seconds: 1, warmupSeconds: 0 }),
      /no successful answer/,
    );
  });

  it('fails loudly when the server is not there', async () => {
    await assert.rejects(runWrk({ url: 'http://127.0.0.1:1/', body: BODY, contentType: 'application/json', concurrency: 1, seconds: 1, warmupSeconds: 0 }), /wrk/);
  });
});
