/**
 * The worker pool: sessions of many models share a few threads, and a worker that crashes, runs
 * out of heap or hangs takes down only its own batches; its sessions reload and serve again.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { ExecuteBatch } from '../../../src/backends/backend.js';
import type { Tensor } from '../../../src/core/tensor.js';
import { InferenceError } from '../../../src/errors/inference-error.js';
import { CapacityGuard, type CapacityProbe } from '../../../src/workers/capacity-guard.js';
import { liveWorkerCount } from '../../../src/workers/host-worker.js';
import { WorkerInstanceProxy, type WorkerInstanceOptions } from '../../../src/workers/worker-instance-proxy.js';
import { WorkerPool, type WorkerPoolOptions } from '../../../src/workers/worker-pool.js';
import { captureLogger } from '../../helpers/capture-logger.js';

const ECHO_RUNNER = new URL('../../fixtures/workers/echo-runner.js', import.meta.url).href;
const silent = pino({ level: 'silent' });
const pools: WorkerPool[] = [];
const opened: WorkerInstanceProxy[] = [];

after(async () => {
  await Promise.all(opened.map((p) => p.finalize()));
  await Promise.all(pools.map((p) => p.stop()));
  assert.equal(liveWorkerCount(), 0, 'every worker started by these tests has exited');
});

function newPool(o: WorkerPoolOptions = {}): WorkerPool {
  const pool = new WorkerPool({ guard: false, ...o });
  pools.push(pool);
  return pool;
}

async function open(pool: WorkerPool, model: string, index = 0, extra: Partial<WorkerInstanceOptions> = {}): Promise<WorkerInstanceProxy> {
  const proxy = await WorkerInstanceProxy.create({
    name: `${model}_${index}`, modelName: model, version: 1, runnerModule: ECHO_RUNNER, init: {}, logger: silent, pool, ...extra,
  });
  opened.push(proxy);
  return proxy;
}

const u8 = (name: string, bytes: Uint8Array): Tensor => ({ name, datatype: 'UINT8', shape: [bytes.byteLength], data: bytes });
const command = (c: string): Tensor => u8('COMMAND', new Uint8Array(Buffer.from(c, 'utf8')));
const batch = (inputs: Tensor[], outputNames = ['OUT']): ExecuteBatch => ({ batchSize: 1, inputs, outputNames });

async function echo(p: WorkerInstanceProxy, value: number): Promise<number> {
  const res = await p.execute(batch([u8('IN', new Uint8Array([value]))]));
  return res.outputs[0]!.data[0]!;
}

function unavailable(pattern: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof InferenceError);
    assert.equal(err.code, 'UNAVAILABLE');
    assert.match(err.message, pattern);
    return true;
  };
}


describe('WorkerPool placement', () => {
  it('hosts many models on `size` threads, one model\'s instances on different threads', async () => {
    const pool = newPool({ size: 2 });
    const proxies = [];
    for (let m = 0; m < 6; m++) for (let i = 0; i < 2; i++) proxies.push(await open(pool, `m${m}`, i));
    assert.deepEqual(pool.stats(), { workers: 2, sharedWorkers: 2, dedicatedWorkers: 0, sessions: 12 });
    for (let m = 0; m < 6; m++) {
      assert.notEqual(proxies[2 * m]!.threadId, proxies[2 * m + 1]!.threadId, `instances of m${m} run on different threads`);
    }
    const answers = await Promise.all(proxies.map((p, k) => echo(p, k)));
    assert.deepEqual(answers, proxies.map((_, k) => k));
    await Promise.all(proxies.map((p) => p.finalize()));
    assert.deepEqual(pool.stats(), { workers: 0, sharedWorkers: 0, dedicatedWorkers: 0, sessions: 0 }, 'empty workers stop');
  });

  it('measures the memory each session took at load', async () => {
    const pool = newPool({ size: 1 });
    const small = await open(pool, 'small');
    const big = await open(pool, 'big', 0, { init: { holdBytes: 32 * 1024 * 1024 } });
    assert.ok(big.memoryBytes >= 30 * 1024 * 1024, `${big.memoryBytes} bytes measured for a 32 MiB runner`);
    assert.ok(small.memoryBytes < big.memoryBytes);
  });

  it('gives a dedicated session a worker of its own, outside the pool size', async () => {
    const pool = newPool({ size: 1 });
    const shared = [await open(pool, 'a'), await open(pool, 'b')];
    const own = await open(pool, 'heavy', 0, { dedicated: true });
    assert.equal(shared[0]!.threadId, shared[1]!.threadId);
    assert.notEqual(own.threadId, shared[0]!.threadId);
    assert.deepEqual(pool.stats(), { workers: 2, sharedWorkers: 1, dedicatedWorkers: 1, sessions: 3 });
    assert.equal(await echo(own, 7), 7);
  });
});

describe('WorkerPool containment', () => {
  it('a crash fails the batches on that worker only; its sessions reload and every model serves again', async () => {
    const pool = newPool({ size: 2 });
    const [a, b] = [await open(pool, 'a'), await open(pool, 'b')];
    const [c, d] = [await open(pool, 'c'), await open(pool, 'd')];
    assert.equal(a.threadId, c.threadId, 'a and c share a worker');
    assert.equal(b.threadId, d.threadId, 'b and d share the other');
    const crashedThread = a.threadId;
    const bystander = c.execute(batch([command('sleep:300'), u8('IN', new Uint8Array([5]))]));
    const elsewhere = b.execute(batch([command('sleep:300'), u8('IN', new Uint8Array([6]))]));
    await assert.rejects(a.execute(batch([command('exit')])), unavailable(/^instance a_0 of model 'a' version 1 stopped unexpectedly: worker exited with code 3$/));
    await assert.rejects(bystander, unavailable(/^instance c_0 of model 'c' version 1 stopped unexpectedly: worker exited with code 3$/));
    assert.equal((await elsewhere).outputs[0]!.data[0], 6, 'the other worker was not disturbed');
    assert.deepEqual(await Promise.all([echo(a, 1), echo(b, 2), echo(c, 3), echo(d, 4)]), [1, 2, 3, 4]);
    assert.notEqual(a.threadId, crashedThread);
    assert.equal(pool.stats().workers, 2);
  });

  it('a worker that runs out of heap is restarted; the process and the other sessions live on', async () => {
    const pool = newPool({ size: 1, heapLimitMb: 32 });
    const [hog, other] = [await open(pool, 'hog'), await open(pool, 'other')];
    await assert.rejects(hog.execute(batch([command('oom')])), unavailable(/stopped unexpectedly: worker ran out of memory \(heap limit 32 MiB\)/));
    assert.deepEqual(await Promise.all([echo(other, 8), echo(hog, 9)]), [8, 9]);
  });

  it('the watchdog ends a worker stuck in an endless loop and names the instance', async () => {
    const pool = newPool({ size: 1, watchdogMs: 300 });
    const [stuck, other] = [await open(pool, 'stuck'), await open(pool, 'other')];
    const started = Date.now();
    const spinning = stuck.execute(batch([command('spin')]));
    await new Promise((r) => setTimeout(r, 20));
    const queued = other.execute(batch([u8('IN', new Uint8Array([1]))])); // behind the loop on the same thread
    await assert.rejects(spinning,
      unavailable(/stopped unexpectedly: watchdog: instance stuck_0 of model 'stuck' version 1 did not finish a batch within 300 ms; its worker was restarted/));
    assert.ok(Date.now() - started < 10_000);
    await assert.rejects(queued, unavailable(/^instance other_0 of model 'other' version 1 stopped unexpectedly: watchdog: instance stuck_0/));
    assert.deepEqual(await Promise.all([echo(other, 2), echo(stuck, 3)]), [2, 3]);
  });

  it('the watchdog leaves a worker alone while a model loads on it', async () => {
    const pool = newPool({ size: 1, watchdogMs: 200 });
    const early = await open(pool, 'early');
    const loading = open(pool, 'slow_loader', 0, { init: { loadSpinMs: 800 } });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await echo(early, 4), 4, 'a batch queued behind the long load is not a hang');
    const late = await loading;
    assert.equal(await echo(late, 5), 5);
    assert.equal(early.threadId, late.threadId);
  });

  it('restarts at once after a stable period, then backs off; a repeat offender gets a worker of its own', async () => {
    const pool = newPool({ size: 1 });
    const { logger, records } = captureLogger();
    const crashy = await open(pool, 'crashy', 0, { logger });
    const neighbour = await open(pool, 'neighbour');
    assert.equal(crashy.threadId, neighbour.threadId);
    await assert.rejects(crashy.execute(batch([command('exit')])), unavailable(/stopped unexpectedly/));
    assert.equal(await echo(crashy, 1), 1);
    await assert.rejects(crashy.execute(batch([command('exit')])), unavailable(/stopped unexpectedly/));
    assert.equal(await echo(crashy, 2), 2);
    const delays = records.filter((r) => r['msg'] === 'instance worker stopped unexpectedly').map((r) => r['restartInMs']);
    assert.deepEqual(delays, [0, 100], 'first restart at once, the next one in a row after 100 ms');
    assert.ok(records.some((r) => /moves to a dedicated worker/.test(String(r['msg']))));
    assert.notEqual(crashy.threadId, neighbour.threadId, 'quarantined on its own worker');
    assert.equal(pool.stats().dedicatedWorkers, 1);
    assert.equal(await echo(neighbour, 3), 3);
  });
});

describe('WorkerPool capacity guard', () => {
  const probe = (p: Partial<Record<keyof CapacityProbe, number>>): CapacityProbe => ({
    mapCount: () => p.mapCount, maxMapCount: () => p.maxMapCount, availableBytes: () => p.availableBytes,
  });

  it('fails a load that would pass vm.max_map_count, with the counts', async () => {
    const pool = newPool({ size: 1, guard: new CapacityGuard(probe({ mapCount: 64_900, maxMapCount: 65_530, availableBytes: 8e9 })) });
    await assert.rejects(open(pool, 'big'), (err: unknown) => {
      assert.ok(err instanceof InferenceError);
      assert.equal(err.code, 'RESOURCE_EXHAUSTED');
      assert.match(err.message, /^unable to load instance big_0 of model 'big' version 1: the process would exceed its memory mapping limit: 64900 mappings in use, .*vm\.max_map_count is 65530/);
      return true;
    });
    assert.equal(pool.stats().workers, 0, 'no worker was started for it');
  });

  it('fails a load that would not fit in the memory left, and counts loads placed between readings', async () => {
    const guard = new CapacityGuard(probe({ mapCount: 100, maxMapCount: 65_530, availableBytes: 330 * 1024 * 1024 }));
    assert.equal(guard.check({ newWorker: true, modelBytes: 0 }), undefined);
    assert.match(guard.check({ newWorker: true, modelBytes: 0 }) ?? '', /^not enough memory: loading needs about 46 MiB, \d+ MiB available \(256 MiB kept in reserve\)$/);
    assert.match(guard.check({ newWorker: false, modelBytes: 50 * 1024 * 1024 }) ?? '', /not enough memory: loading needs about 151 MiB/);
  });

  it('counts the session\'s native threads against the mapping limit', () => {
    const guard = new CapacityGuard(probe({ mapCount: 63_000, maxMapCount: 65_530, availableBytes: 8e9 }));
    assert.equal(guard.check({ newWorker: false, modelBytes: 0, threads: 100 }), undefined, '63000 + 4 + 300 fits under 64530');
    assert.match(guard.check({ newWorker: false, modelBytes: 0, threads: 500 }) ?? '', /63304 mappings in use, about 1504 more needed/);
  });
});
