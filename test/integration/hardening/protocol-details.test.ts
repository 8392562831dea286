/**
 * Issue #20 part 7 over HTTP: multi-MiB model uploads, raw deflate bodies, uint64 parameters,
 * fastify's own refusals in the documented `{"error": …}` format, and a client that aborts
 * mid-body, which is the client's doing and no server error in the logs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { InferenceServer } from '../../../src/server.js';
import { FIXTURE_MODELS, IDENTITY_FP32_CONFIG, TempRepo } from '../../helpers/repo.js';
import { captureLogger } from '../../helpers/capture-logger.js';
import { errorOf, http } from '../http/http-client.js';
import { noise } from '../../helpers/noise.js';

const repo = new TempRepo().add('id', { config: IDENTITY_FP32_CONFIG, versions: { 1: 'identity_fp32.onnx' } });
const { logger: capturedLog, records: logLines } = captureLogger();
let server: InferenceServer;
let u = '';
before(async () => {
  server = await InferenceServer.create(
    { modelRepositories: [repo.dir], grpcPort: 0, host: '127.0.0.1', httpPort: 0, httpAddress: '127.0.0.1', allowMetrics: false, allowGrpc: false, modelControlMode: 'explicit', loadModels: ['*'] },
    capturedLog,
  );
  const { httpPort } = await server.start();
  u = `http://127.0.0.1:${httpPort}`;
});
after(async () => {
  await server.stop();
  repo.remove();
});

const inferBody = (extra: Record<string, unknown> = {}) => JSON.stringify({ ...extra, inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 2], data: [5, 6] }] });

describe('HTTP protocol details', () => {
  it('a model upload of several MiB (file: parameters) loads instead of overflowing a regexp', async () => {
    const model = readFileSync(path.join(FIXTURE_MODELS, 'identity_fp32.onnx')).toString('base64');
    const blob = Buffer.from(noise(4 * 1024 * 1024, 7)).toString('base64');
    const body = JSON.stringify({ parameters: { config: JSON.stringify({ platform: 'onnxruntime_onnx', max_batch_size: 4 }), 'file:1/model.onnx': model, 'file:1/extra.bin': blob } });
    const r = await http(`${u}/v2/repository/models/id/load`, { method: 'POST', body });
    assert.equal(r.status, 200, r.body.toString());
    const bad = await http(`${u}/v2/repository/models/id/load`, { method: 'POST', body: JSON.stringify({ parameters: { 'file:1/x.bin': 'abc' } }) });
    assert.equal(bad.status, 400);
    assert.match(errorOf(bad), /load parameter 'file:1\/x\.bin' must be a base64 string/);
  });

  it('raw deflate is accepted even when its first bytes pass the zlib header checksum', async () => {
    // The first two compressed bytes hold the first literals: vary leading JSON whitespace.
    const ws = [' ', '\t', '\n', '\r'];
    let body: Buffer | undefined;
    for (let i = 0; i < 4096 && body === undefined; i++) {
      const lead = Array.from({ length: 6 }, (_, n) => ws[(i >> (2 * n)) & 3]).join('');
      const raw = zlib.deflateRawSync(Buffer.from(lead + inferBody()));
      if ((raw[0]! * 256 + raw[1]!) % 31 === 0) body = raw;
    }
    assert.ok(body !== undefined, 'no raw deflate body with a zlib-like first two bytes found');
    const r = await http(`${u}/v2/models/id/infer`, { method: 'POST', body, headers: { 'content-encoding': 'deflate' } });
    assert.equal(r.status, 200, r.body.toString());
    const wrapped = await http(`${u}/v2/models/id/infer`, { method: 'POST', body: zlib.deflateSync(Buffer.from(inferBody())), headers: { 'content-encoding': 'deflate' } });
    assert.equal(wrapped.status, 200);
  });

  it('priority must fit uint64', async () => {
    const over = await http(`${u}/v2/models/id/infer`, { method: 'POST', body: inferBody().replace('{', '{"parameters":{"priority":18446744073709551616},') });
    assert.equal(over.status, 400);
    assert.match(errorOf(over), /parameter 'priority' of the request to model 'id' must be an unsigned integer, got 18446744073709551616/);
    const max = await http(`${u}/v2/models/id/infer`, { method: 'POST', body: inferBody().replace('{', '{"parameters":{"priority":18446744073709551615},') });
    assert.notEqual(max.status, 500);
    assert.doesNotMatch(max.body.toString(), /must be an unsigned integer/);
  });

  it("fastify's own refusals use the error format: 414 for a long model name, 417 for an unknown Expect", async () => {
    const long = await http(`${u}/v2/models/${'a'.repeat(1100)}`);
    assert.equal(long.status, 414);
    assert.equal(errorOf(long), 'URI Too Long: a path segment (model name or version) is longer than 1024 characters');
    const expect = await http(`${u}/v2/models/id/infer`, { method: 'POST', body: inferBody(), headers: { expect: 'bogus' } });
    assert.equal(expect.status, 417);
    assert.equal(errorOf(expect), "unsupported Expect header 'bogus': only 100-continue is supported");
  });

  it('a client aborting mid-body is no server error', async () => {
    const port = Number(new URL(u).port);
    await new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.write('POST /v2/models/id/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"inputs":');
        setTimeout(() => s.destroy(), 100);
      });
      s.on('close', () => resolve());
      s.on('error', () => undefined);
    });
    await new Promise((r) => setTimeout(r, 300));
    const errorsLogged = logLines.filter((l) => (l['level'] as number) >= 50);
    assert.deepEqual(errorsLogged, []);
    assert.ok(logLines.some((l) => l['code'] === 'CANCELLED' && /closed the connection before the request body arrived/.test(String(l['err']))), 'logged at debug as CANCELLED');
    assert.equal((await http(`${u}/v2/health/live`)).status, 200);
  });
});
