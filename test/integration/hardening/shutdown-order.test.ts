/**
 * Shutdown when the exit timeout runs out: every unfinished request, executing or queued, is
 * answered UNAVAILABLE "server stopping" (not a bare CANCELLED, not "not accepting new requests")
 * before the listeners close, and a request arriving on an open keep-alive HTTP connection during
 * the drain gets the documented 503.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { status, type ServiceError } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { addSlowModel, writeSlowModel } from '../../helpers/slow-model.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';

const repo = addSlowModel(new TempRepo(), 'slowest');
let ts: TestServer;
before(async () => {
  // One execution (whatever its batch size) takes ~2 s on an idle core and longer under load: always
  // beyond the 0.5 s wait plus the 1 s exit timeout.
  await writeSlowModel(repo, 'slowest');
  ts = await startServer([repo.dir], { exitTimeoutSecs: 1, allowMetrics: false });
});
after(() => repo.remove());

function httpCall(agent: Agent, method: string, p: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const port = Number(new URL(ts.httpUrl).port);
    const req = request({ host: '127.0.0.1', port, method, path: p, agent, headers: body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const grpcRequest = (k: number) => ({
  model_name: 'slowest',
  inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4] }],
  raw_input_contents: [Buffer.from(new Float32Array([k, k, k, k]).buffer)],
});
const httpBody = JSON.stringify({ inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });

describe('SIGTERM ordering when the exit timeout runs out', () => {
  it('answers executing and queued requests with UNAVAILABLE "server stopping", then closes', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await httpCall(agent, 'GET', '/v2/health/live')).status, 200); // opens the keep-alive connection
    const c = ts.client;
    const grpc = [0, 1, 2].map((k) => call(c.ModelInfer.bind(c), grpcRequest(k)).then(() => undefined, (e: ServiceError) => e));
    const httpAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const httpInflight = httpCall(httpAgent, 'POST', '/v2/models/slowest/infer', httpBody);
    await new Promise((r) => setTimeout(r, 500)); // one executing, the rest queued
    const t0 = performance.now();
    const stopping = ts.server.stop();
    const late = await httpCall(agent, 'POST', '/v2/models/slowest/infer', httpBody);
    assert.equal(late.status, 503, late.text);
    assert.match(late.text, /Server exiting: not accepting new requests/);
    for (const e of await Promise.all(grpc)) {
      assert.ok(e !== undefined, 'a slow request must not finish within the exit timeout');
      assert.equal(e.code, status.UNAVAILABLE, `${status[e.code]}: ${e.details}`);
      assert.match(e.details, /^server stopping: the request for model 'slowest' did not finish within the exit timeout \(--exit-timeout-secs=1\)$/);
    }
    const h = await httpInflight;
    assert.equal(h.status, 503, h.text);
    assert.match(h.text, /server stopping: the request for model 'slowest'/);
    assert.ok(performance.now() - t0 < 15_000);
    await stopping;
    agent.destroy();
    httpAgent.destroy();
    await ts.close();
  });
});
