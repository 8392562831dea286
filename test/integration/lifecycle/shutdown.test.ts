/**
 * Shutdown drains: requests already accepted finish with their results, requests arriving during
 * the drain get UNAVAILABLE, and the process-level CLI exits 0 on SIGTERM.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { ROOT, SLOW_CONFIG, TempRepo } from '../../helpers/repo.js';
import { call, startServer } from '../../helpers/start-server.js';
import { loadInferenceProtos } from '../../../src/frontends/grpc/proto-loader.js';


const repo = new TempRepo().add('slow', { config: SLOW_CONFIG, versions: { 1: 'slow.onnx' } });
after(() => repo.remove());

function slowRequest(k: number) {
  return {
    model_name: 'slow',
    inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4] }],
    raw_input_contents: [Buffer.from(new Float32Array([k, k + 1, k + 2, k + 3]).buffer)],
  };
}

describe('shutdown with requests in flight', () => {
  it('finishes accepted requests, refuses new ones with UNAVAILABLE, then closes', async () => {
    const ts = await startServer([repo.dir], { exitTimeoutSecs: 20 });
    const c = ts.client;
    const inflight = Array.from({ length: 8 }, (_, k) => call(c.ModelInfer.bind(c), slowRequest(k)));
    await new Promise((r) => setTimeout(r, 60)); // let them reach the queue
    const stopping = ts.server.stop();
    const late = await call(c.ModelInfer.bind(c), slowRequest(99)).then(
      () => assert.fail('a request during shutdown must be refused'),
      (e: ServiceError) => e,
    );
    assert.equal(late.code, status.UNAVAILABLE);
    assert.match(late.details, /exiting/i);
    const results = await Promise.all(inflight);
    results.forEach((r, k) => {
      const out = r.raw_output_contents[0]!;
      assert.deepEqual([...new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + 16))], [k, k + 1, k + 2, k + 3]);
    });
    await stopping;
    await ts.close();
  });
});

describe('command line', () => {
  const main = path.join(ROOT, 'dist', 'src', 'main.js');

  it('--help lists Triton-named flags and exits 0', async () => {
    const { code, out } = await run([main, '--help']);
    assert.equal(code, 0);
    for (const flag of ['--model-repository', '--grpc-port', '--http-port', '--metrics-port', '--strict-model-config', '--exit-timeout-secs', '--log-verbose']) {
      assert.ok(out.includes(flag), `--help mentions ${flag}`);
    }
  });

  it('an unknown flag exits non-zero with a message', async () => {
    const { code, out } = await run([main, '--no-such-flag']);
    assert.notEqual(code, 0);
    assert.match(out, /unknown option/);
  });

  it('serves, then exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [main, '--model-repository', repo.dir, '--grpc-port', '0', '--grpc-address', '127.0.0.1', '--http-port', '0', '--http-address', '127.0.0.1', '--metrics-port', '0', '--metrics-address', '127.0.0.1', '--log-format', 'json'], { cwd: ROOT });
    const lines = createInterface({ input: child.stdout });
    const port = await new Promise<number>((resolve, reject) => {
      lines.on('line', (l) => {
        const rec = JSON.parse(l) as { msg?: string; grpcPort?: number };
        if (rec.msg === 'startup complete') resolve(rec.grpcPort!);
      });
      child.on('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    });
    const { grpcObject } = loadInferenceProtos();
    const client = new grpcObject.inference.GRPCInferenceService(`127.0.0.1:${port}`, credentials.createInsecure());
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      // The listeners start before the models load (health answers while loading): poll readiness as a probe would.
      let ready = false;
      for (let i = 0; i < 200 && !ready; i++) {
        ready = (await call(client.ServerReady.bind(client), {})).ready;
        if (!ready) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(ready, 'ready once the model has loaded');
    } finally {
      client.close();
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });
});

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}
