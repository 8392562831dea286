/**
 * The HTTP and metrics listeners in the server's lifecycle: --allow-http/--allow-grpc/
 * --allow-metrics, readiness during shutdown (HTTP and gRPC agree), draining of HTTP requests,
 * and the command line.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, SLOW_CONFIG, TempRepo } from '../../helpers/repo.js';
import { call, startServer } from '../../helpers/start-server.js';
import { InferenceServer } from '../../../src/server.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { errorOf, http, postJson } from './http-client.js';

const repo = new TempRepo().add('slow', { config: SLOW_CONFIG, versions: { 1: 'slow.onnx' } });
after(() => repo.remove());

const slowRequest = (k: number) => ({ inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, 4], data: [k, k + 1, k + 2, k + 3] }] });

describe('front-end switches', () => {
  it('--allow-http=false: no HTTP listener, gRPC serves', async () => {
    const ts = await startServer([repo.dir], { allowHttp: false });
    try {
      assert.equal(ts.httpUrl, '');
      assert.deepEqual(await call(ts.client.ServerLive.bind(ts.client), {}), { live: true });
      assert.equal((await http(`${ts.metricsUrl}/metrics`)).status, 200);
    } finally {
      await ts.close();
    }
  });

  it('--allow-grpc=false and --allow-metrics=false: HTTP alone serves', async () => {
    const server = await InferenceServer.create(
      { modelRepositories: [repo.dir], allowGrpc: false, allowMetrics: false, httpPort: 0, httpAddress: '127.0.0.1' },
      silentLogger(),
    );
    try {
      const ports = await server.start();
      assert.deepEqual({ ...ports, httpPort: typeof ports.httpPort }, { grpcPort: undefined, metricsPort: undefined, httpPort: 'number' });
      assert.equal((await http(`http://127.0.0.1:${ports.httpPort}/v2/health/ready`)).status, 200);
    } finally {
      await server.stop();
    }
  });

  it('no front-end at all is refused at start', async () => {
    const server = await InferenceServer.create({ modelRepositories: [repo.dir], allowGrpc: false, allowHttp: false, allowMetrics: false }, silentLogger());
    try {
      await assert.rejects(server.start(), /no front-end enabled/);
    } finally {
      await server.stop();
    }
  });

  it('a port already taken fails start() and leaves no listener behind', async () => {
    const ts = await startServer([repo.dir]);
    try {
      const port = Number(new URL(ts.httpUrl).port);
      const server = await InferenceServer.create(
        { modelRepositories: [repo.dir], grpcPort: 0, host: '127.0.0.1', metricsPort: 0, metricsAddress: '127.0.0.1', httpPort: port, httpAddress: '127.0.0.1' },
        silentLogger(),
      );
      await assert.rejects(server.start(), /EADDRINUSE/);
      await server.stop();
    } finally {
      await ts.close();
    }
  });
});

describe('shutdown over HTTP', () => {
  it('readiness turns false (HTTP 400, gRPC NOT_SERVING), new infers get 503, in-flight ones finish', async () => {
    const ts = await startServer([repo.dir], { exitTimeoutSecs: 20 });
    const infer = `${ts.httpUrl}/v2/models/slow/infer`;
    let answered = 0;
    const inflight = Array.from({ length: 6 }, (_, k) => postJson(infer, slowRequest(k)).finally(() => answered++));
    // Stop only once every request reached the core (accepted and queued, or already answered).
    const scheduler = ts.server.registry.get('slow')!.versions.get(1)!.scheduler!;
    while (scheduler.inflightCount + answered < inflight.length) await new Promise((r) => setTimeout(r, 2));
    const stopping = ts.server.stop();
    assert.equal((await http(`${ts.httpUrl}/v2/health/ready`)).status, 400);
    assert.equal((await http(`${ts.httpUrl}/v2/health/live`)).status, 200);
    assert.equal((await call(ts.health.Check.bind(ts.health), { service: '' })).status, 'NOT_SERVING');
    assert.deepEqual(await call(ts.client.ServerReady.bind(ts.client), {}), { ready: false });
    const late = await postJson(infer, slowRequest(99));
    assert.equal(late.status, 503);
    assert.match(errorOf(late), /exiting/i);
    const done = await Promise.all(inflight);
    done.forEach((r, k) => {
      assert.equal(r.status, 200);
      assert.deepEqual((JSON.parse(r.body.toString()) as { outputs: { data: number[] }[] }).outputs[0]!.data, [k, k + 1, k + 2, k + 3]);
    });
    await stopping;
    await assert.rejects(http(`${ts.httpUrl}/v2/health/live`), /ECONNREFUSED/);
    await ts.close();
  });
});

describe('command line', () => {
  const main = path.join(ROOT, 'dist', 'src', 'main.js');

  it('serves HTTP and metrics on the ports given, then exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [main, '--model-repository', repo.dir, '--allow-grpc=false', '--http-port', '0',
      '--http-address', '127.0.0.1', '--metrics-port', '0', '--metrics-address', '127.0.0.1', '--http-max-input-size', '1000', '--log-format', 'json'], { cwd: ROOT });
    const lines = createInterface({ input: child.stdout });
    // 'server started' (listening) comes before the models load; 'models loaded' ends the start-up.
    const ports = await new Promise<{ httpPort: number; metricsPort: number; grpcPort?: number }>((resolve, reject) => {
      let started: { httpPort: number; metricsPort: number } | undefined;
      lines.on('line', (l) => {
        const rec = JSON.parse(l) as { msg?: string; httpPort: number; metricsPort: number };
        if (rec.msg === 'server started') started = rec;
        if (rec.msg?.startsWith('models loaded') === true && started !== undefined) resolve(started);
      });
      child.on('exit', (code) => reject(new Error(`server exited early with ${code}`)));
    });
    assert.equal(ports.grpcPort, undefined);
    assert.equal((await http(`http://127.0.0.1:${ports.httpPort}/v2/health/ready`)).status, 200);
    const big = await postJson(`http://127.0.0.1:${ports.httpPort}/v2/models/slow/infer`, { pad: 'x'.repeat(2000) });
    assert.equal(big.status, 400);
    assert.match(errorOf(big), /maximum input size of 1000 bytes/);
    assert.equal((await http(`http://127.0.0.1:${ports.metricsPort}/metrics`)).status, 200);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('--help lists the HTTP and metrics flags', async () => {
    const out = await new Promise<string>((resolve) => {
      const c = spawn(process.execPath, [main, '--help'], { cwd: ROOT });
      let s = '';
      c.stdout.on('data', (d: Buffer) => (s += d.toString()));
      c.on('exit', () => resolve(s));
    });
    for (const flag of ['--http-port', '--http-address', '--http-max-input-size', '--metrics-port', '--metrics-address', '--allow-http', '--allow-metrics', '--allow-grpc']) {
      assert.ok(out.includes(flag), flag);
    }
  });
});
