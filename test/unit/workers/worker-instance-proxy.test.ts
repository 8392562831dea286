import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { ExecuteBatch } from '../../../src/backends/backend.js';
import type { Tensor } from '../../../src/core/tensor.js';
import { InferenceError } from '../../../src/errors/inference-error.js';
import { WorkerInstanceProxy, type WorkerInstanceOptions } from '../../../src/workers/worker-instance-proxy.js';
import { liveWorkerCount } from '../../../src/workers/host-worker.js';
import { WorkerPool } from '../../../src/workers/worker-pool.js';
import { InstancePool } from '../../../src/scheduler/instance-pool.js';
import type { EchoInit } from '../../fixtures/workers/echo-runner.js';
import { captureLogger } from '../../helpers/capture-logger.js';

const ECHO_RUNNER = new URL('../../fixtures/workers/echo-runner.js', import.meta.url).href;


const silent = pino({ level: 'silent' });
const opened: WorkerInstanceProxy[] = [];
/** Three shared workers: three instances of one model run on three threads. */
const pool = new WorkerPool({ size: 3, guard: false });

async function open(init: EchoInit = {}, extra: Partial<WorkerInstanceOptions> = {}): Promise<WorkerInstanceProxy> {
  const proxy = await WorkerInstanceProxy.create({
    name: 'echo_0', modelName: 'echo', version: 1, runnerModule: ECHO_RUNNER, init, logger: silent, pool,
    restart: { initialDelayMs: 10, maxDelayMs: 40, maxConsecutiveFailures: 2 }, ...extra,
  });
  opened.push(proxy);
  return proxy;
}

after(async () => {
  await Promise.all(opened.map((p) => p.finalize()));
  assert.equal(liveWorkerCount(), 0, 'every worker started by these tests has exited');
});

const u8 = (name: string, bytes: Uint8Array): Tensor => ({ name, datatype: 'UINT8', shape: [bytes.byteLength], data: bytes });
const command = (c: string): Tensor => u8('COMMAND', new Uint8Array(Buffer.from(c, 'utf8')));

function batch(inputs: Tensor[], outputNames = ['OUT', 'INFO']): ExecuteBatch {
  return { batchSize: 1, inputs, outputNames };
}

function info(outputs: Tensor[]): { threadId: number; call: number; seen: { name: string; offset: number; length: number; bufferLength: number }[] } {
  const t = outputs.find((o) => o.name === 'INFO');
  assert.ok(t !== undefined);
  return JSON.parse(Buffer.from(t.data).toString('utf8')) as ReturnType<typeof info>;
}

function isUnavailable(pattern: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof InferenceError);
    assert.equal(err.code, 'UNAVAILABLE');
    assert.match(err.message, pattern);
    return true;
  };
}

describe('WorkerInstanceProxy', () => {
  it('a framework proxy (not cancellable, no request boundaries) never reads a request signal or its parameters', async () => {
    const proxy = await open();
    let reads = 0;
    let parameterReads = 0;
    const request = {
      rows: 1, outputNames: ['OUT', 'INFO'], responses: undefined,
      get parameters(): Record<string, never> {
        parameterReads++;
        return {};
      },
      get signal(): AbortSignal | undefined {
        reads++;
        return new AbortController().signal;
      },
    };
    await proxy.execute({ ...batch([u8('IN', new Uint8Array([1]))]), requests: [request] });
    assert.equal(reads, 0);
    assert.equal(parameterReads, 0);
    assert.equal(proxy.inflightCount, 0);
  });

  it('runs a batch in the worker and returns its outputs with timings', async () => {
    const proxy = await open();
    const res = await proxy.execute(batch([u8('IN', new Uint8Array([1, 2, 3]))]));
    const out = res.outputs.find((o) => o.name === 'OUT');
    assert.deepEqual([...(out?.data ?? [])], [1, 2, 3]);
    assert.deepEqual(out?.shape, [3]);
    assert.equal(res.timings.computeInferNs, 2);
    assert.ok(res.timings.computeInputNs >= 1, 'worker input time plus transit');
    assert.ok(res.timings.computeOutputNs >= 3, 'worker output time plus transit');
  });

  it(`${pool.channel === 'port' ? 'transfers whole-buffer inputs (the sender is detached)' : 'writes inputs into the shared ring (the sender keeps them)'} and hands the runner its own copy of a partial view`, async () => {
    const proxy = await open();
    const whole = new Uint8Array([4, 5, 6, 7]);
    const backing = new Uint8Array(64);
    const part = backing.subarray(8, 12);
    part.set([9, 8, 7, 6]);
    const res = await proxy.execute(batch([u8('IN', whole), u8('PART', part)]));
    if (pool.channel === 'port') assert.equal(whole.byteLength, 0, 'whole-buffer input was transferred, not cloned');
    else assert.deepEqual([...whole], [4, 5, 6, 7], 'the ring copies the bytes; the sender keeps its buffer');
    assert.equal(backing.byteLength, 64, 'the buffer behind a partial view stays with its owner');
    const seen = info(res.outputs).seen.find((s) => s.name === 'PART');
    if (pool.channel === 'port') assert.deepEqual(seen, { name: 'PART', offset: 0, length: 4, bufferLength: 4 });
    else assert.ok(seen !== undefined && seen.length === 4 && seen.offset % 64 === 0, 'a small input lands 64-byte aligned in the reader\'s slab');
    assert.deepEqual([...(res.outputs.find((o) => o.name === 'OUT')?.data ?? [])], [4, 5, 6, 7]);
  });

  it('sends a batch over the frame limit by the port (transferred), in order with the small ones', async () => {
    const small = new WorkerPool({ size: 1, guard: false, channel: 'ring' });
    const proxy = await WorkerInstanceProxy.create({
      name: 'echo_0', modelName: 'echo', version: 1, runnerModule: ECHO_RUNNER, init: {}, logger: silent, pool: small,
    });
    try {
      const big = new Uint8Array(64 * 1024).fill(3);
      const [r1, r2, r3] = await Promise.all([
        proxy.execute(batch([u8('IN', new Uint8Array([1]))])),
        proxy.execute(batch([u8('IN', big)])),
        proxy.execute(batch([u8('IN', new Uint8Array([2]))])),
      ]);
      assert.equal(big.byteLength, 0, 'the big input went by the port, transferred');
      assert.deepEqual([r1, r2, r3].map((r) => info(r.outputs).call), [1, 2, 3], 'the worker ran them in the order posted');
      const out = (r: typeof r1): number[] => [...(r.outputs.find((o) => o.name === 'OUT')?.data ?? [])];
      assert.deepEqual(out(r1), [1]);
      assert.equal(out(r2).length, 64 * 1024);
      assert.ok(out(r2).every((b) => b === 3));
      assert.deepEqual(out(r3), [2]);
    } finally {
      await proxy.finalize();
      await small.stop();
    }
  });

  it('runs several instances concurrently, each in its own thread', async () => {
    const proxies = await Promise.all([open(), open(), open()]);
    const results = await Promise.all(proxies.map((p, i) => p.execute(batch([u8('IN', new Uint8Array([i])), command('sleep:30')]))));
    const threads = new Set(results.map((r) => info(r.outputs).threadId));
    assert.equal(threads.size, 3);
    results.forEach((r, i) => assert.deepEqual([...(r.outputs.find((o) => o.name === 'OUT')?.data ?? [])], [i]));
  });

  it("reports its thread's contention, and the instance pool picks the instance on the quieter thread", async () => {
    const two = new WorkerPool({ size: 2, guard: false });
    const make = (modelName: string) => open({}, { modelName, pool: two });
    const [a0, a1] = [await make('a'), await make('a')];
    const b = await make('b');
    assert.notEqual(a0.threadId, a1.threadId, "one model's instances go to different threads");
    const [shared, alone] = a0.threadId === b.threadId ? [a0, a1] : [a1, a0];
    assert.deepEqual([shared.contention(), alone.contention()], [2, 1], 'sessions hosted on the thread');
    const running = b.execute(batch([u8('IN', new Uint8Array([1])), command('sleep:200')]));
    assert.equal(shared.contention(), 1_000_002, "b's batch in flight on the shared thread");
    // Whatever order they became idle in, a batch of 'a' goes to the thread b is not holding.
    assert.equal(new InstancePool([shared, alone]).acquire(), alone);
    assert.equal(new InstancePool([alone, shared]).acquire(), alone);
    await running;
    assert.equal(shared.contention(), 2, 'settled batches leave the count');
    await Promise.all([a0, a1, b].map((p) => p.finalize()));
    await two.stop();
  });

  it('forwards worker log records to the instance logger with model, version and instance', async () => {
    const { logger, records } = captureLogger();
    await open({}, { logger });
    const rec = records.find((r) => r['msg'] === 'echo runner loaded');
    assert.ok(rec !== undefined);
    assert.equal(rec['model'], 'echo');
    assert.equal(rec['version'], 1);
    assert.equal(rec['instance'], 'echo_0');
    assert.equal(typeof rec['threadId'], 'number');
  });

  it('rejects create() with the runner load error and leaves no worker behind', async () => {
    const before = liveWorkerCount();
    await assert.rejects(open({ failLoad: 'bad weights' }), (err: unknown) => {
      assert.ok(err instanceof InferenceError);
      assert.equal(err.code, 'INVALID_ARG');
      assert.equal(err.message, 'bad weights');
      return true;
    });
    assert.equal(liveWorkerCount(), before);
  });

  it('rejects create() when the runner module has no createRunner export', async () => {
    const notARunner = new URL('../../../src/workers/worker-messages.js', import.meta.url).href;
    await assert.rejects(open({}, { runnerModule: notARunner }), /does not export createRunner/);
  });

  it('fails a batch the runner rejects without disturbing the instance', async () => {
    const proxy = await open();
    await assert.rejects(proxy.execute(batch([command('reject')])), (err: unknown) => err instanceof InferenceError
      && err.code === 'INVALID_ARG' && err.message === 'rejected on request');
    const res = await proxy.execute(batch([u8('IN', new Uint8Array([9]))], ['OUT']));
    assert.deepEqual([...res.outputs[0]!.data], [9]);
    assert.equal(proxy.inflightCount, 0);
  });
});

describe('WorkerInstanceProxy when its worker dies', () => {
  it('fails in-flight batches with UNAVAILABLE on process.exit and serves again after the restart', async () => {
    const proxy = await open();
    const first = info((await proxy.execute(batch([u8('IN', new Uint8Array([1]))]))).outputs).threadId;
    await assert.rejects(proxy.execute(batch([command('exit')])),
      isUnavailable(/^instance echo_0 of model 'echo' version 1 stopped unexpectedly: worker exited with code 3$/));
    assert.equal(proxy.state, 'restarting');
    // Arrives during the restart: waits for the new worker instead of failing.
    const res = await proxy.execute(batch([u8('IN', new Uint8Array([2]))]));
    assert.notEqual(info(res.outputs).threadId, first);
    assert.equal(proxy.state, 'ready');
    assert.equal(proxy.inflightCount, 0);
  });

  it('fails in-flight batches on an uncaught exception in the worker', async () => {
    const proxy = await open();
    await assert.rejects(proxy.execute(batch([command('throw-in-timer')])), isUnavailable(/stopped unexpectedly: .*boom from a timer/));
    const res = await proxy.execute(batch([u8('IN', new Uint8Array([3]))], ['OUT']));
    assert.deepEqual([...res.outputs[0]!.data], [3]);
  });

  it('bounds how long an execute waits for a restart', async () => {
    const proxy = await open({}, { restart: { initialDelayMs: 2_000 }, restartWaitMs: 30 });
    await assert.rejects(proxy.execute(batch([command('exit')])), isUnavailable(/stopped unexpectedly/));
    await assert.rejects(proxy.execute(batch([command('sleep:0')])), isUnavailable(/is restarting and was not ready within 30 ms/));
    await proxy.finalize();
    assert.equal(proxy.state, 'stopped');
  });

  it('gives up after N consecutive failed restarts and then rejects with UNAVAILABLE', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'infera-worker-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const marker = join(dir, 'fail-next-load');
    const proxy = await open({ failLoadIfExists: marker });
    await writeFile(marker, '');
    await assert.rejects(proxy.execute(batch([command('exit')])), isUnavailable(/stopped unexpectedly/));
    await assert.rejects(proxy.execute(batch([command('sleep:0')])),
      isUnavailable(/is unavailable: its worker failed to restart 2 times in a row: load failure requested by marker file/));
    assert.equal(proxy.state, 'failed');
    await assert.rejects(proxy.execute(batch([command('sleep:0')])), isUnavailable(/failed to restart/));
  });
});

describe('WorkerInstanceProxy.finalize', () => {
  it('stops the worker for good: later executes reject and nothing restarts', async () => {
    const before = liveWorkerCount();
    const proxy = await open({}, { pool: new WorkerPool({ size: 1, guard: false }) });
    assert.equal(liveWorkerCount(), before + 1);
    await proxy.finalize();
    assert.equal(liveWorkerCount(), before);
    assert.equal(proxy.state, 'stopped');
    await assert.rejects(proxy.execute(batch([command('sleep:0')])), isUnavailable(/has been finalized/));
    await proxy.finalize(); // idempotent
  });

  it('terminates a runner whose dispose hangs after the bounded wait', async () => {
    const before = liveWorkerCount();
    const proxy = await open({ hangDispose: true }, { disposeTimeoutMs: 50 });
    const started = Date.now();
    await proxy.finalize();
    assert.ok(Date.now() - started < 2_000);
    assert.equal(liveWorkerCount(), before);
  });

  it('finalize while restarting stops the restart and leaves no worker', async () => {
    const before = liveWorkerCount();
    const proxy = await open({}, { restart: { initialDelayMs: 20 } });
    await assert.rejects(proxy.execute(batch([command('exit')])), isUnavailable(/stopped unexpectedly/));
    await proxy.finalize();
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(liveWorkerCount(), before);
    assert.equal(proxy.state, 'stopped');
  });
});
