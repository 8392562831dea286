import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DynamicBatcher, type RequestOutputs } from '../../../src/scheduler/dynamic-batcher.js';
import type { DynamicBatchingConfig } from '../../../src/scheduler/queue-policy.js';
import { InferenceStats } from '../../../src/observability/inference-stats.js';
import { buildModelSignature } from '../../../src/core/model-signature.js';
import { validateRequest, type ValidatedRequest } from '../../../src/core/request-validator.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { InferenceError } from '../../../src/errors/inference-error.js';
import { FakeInstance } from '../../helpers/fake-backend.js';
import { Cancellation } from '../../../src/core/cancellation.js';

const sig = buildModelSignature({
  name: 'm',
  max_batch_size: 8,
  input: [{ name: 'IN', data_type: 'TYPE_FP32', dims: [-1] }],
  output: [{ name: 'OUT', data_type: 'TYPE_FP32', dims: [-1] }],
}, 1);

function req(value: number, opts: { batch?: number; width?: number; priority?: number; timeout?: number; cancellation?: Cancellation } = {}): ValidatedRequest {
  const batch = opts.batch ?? 1;
  const width = opts.width ?? 2;
  const data = new Float32Array(batch * width).fill(value);
  const parameters: Record<string, number> = {};
  if (opts.priority !== undefined) parameters['priority'] = opts.priority;
  if (opts.timeout !== undefined) parameters['timeout'] = opts.timeout;
  const r = {
    id: String(value), modelName: 'm', modelVersion: '', parameters,
    inputs: [{ name: 'IN', datatype: 'FP32' as const, shape: [batch, width], data: new Uint8Array(data.buffer), parameters: {} }],
    outputs: [],
    ...(opts.cancellation ? { cancellation: opts.cancellation } : {}),
  };
  return validateRequest(sig, r);
}

function batcher(instances: FakeInstance[], db: DynamicBatchingConfig | undefined, stats = new InferenceStats()) {
  return new DynamicBatcher({ modelName: 'm', version: '1', maxBatchSize: 8, dynamicBatching: db, instances, stats, logger: silentLogger() });
}

const first = (o: RequestOutputs) => new Float32Array(o[0]!.data.buffer, o[0]!.data.byteOffset, o[0]!.data.byteLength / 4);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('batching off (no dynamic_batching)', () => {
  it('runs every request alone, each with its own outputs', async () => {
    const inst = new FakeInstance('i0', { delayMs: 5 });
    const b = batcher([inst], undefined);
    const outs = await Promise.all([1, 2, 3, 4].map((v) => b.enqueue(req(v))));
    assert.deepEqual(inst.batches.map((x) => x.size), [1, 1, 1, 1]);
    outs.forEach((o, i) => assert.deepEqual([...first(o)], [i + 1, i + 1]));
  });
});

describe('dynamic batching', () => {
  it('merges queued requests up to max_batch_size and splits outputs back per request', async () => {
    const inst = new FakeInstance('i0', { delayMs: 20 });
    const b = batcher([inst], { preferred_batch_size: [8] });
    const all = Array.from({ length: 17 }, (_, v) => b.enqueue(req(v)));
    const outs = await Promise.all(all);
    assert.deepEqual(inst.batches.map((x) => x.size), [1, 8, 8]);
    outs.forEach((o, v) => {
      assert.deepEqual(o[0]!.shape, [1, 2]);
      assert.deepEqual([...first(o)], [v, v]);
    });
  });

  it('counts a request that carries a batch of k as k and never exceeds max_batch_size', async () => {
    const inst = new FakeInstance('i0', { delayMs: 15 });
    const b = batcher([inst], {});
    const outs = await Promise.all([
      b.enqueue(req(0, { batch: 1 })),
      b.enqueue(req(1, { batch: 5 })),
      b.enqueue(req(2, { batch: 4 })),
      b.enqueue(req(3, { batch: 3 })),
    ]);
    assert.ok(inst.batches.every((x) => x.size <= 8));
    assert.deepEqual(inst.batches.map((x) => x.size), [1, 8, 4]);
    assert.deepEqual(outs.map((o) => o[0]!.shape[0]), [1, 5, 4, 3]);
    assert.deepEqual([...first(outs[2]!)], Array(8).fill(2));
  });

  it('only batches requests whose non-batch dims agree', async () => {
    const inst = new FakeInstance('i0', { delayMs: 15 });
    const b = batcher([inst], {});
    const outs = await Promise.all([
      b.enqueue(req(0)),
      b.enqueue(req(1, { width: 2 })),
      b.enqueue(req(2, { width: 3 })),
      b.enqueue(req(3, { width: 2 })),
    ]);
    assert.deepEqual(inst.batches.map((x) => x.size), [1, 2, 1]);
    assert.deepEqual(outs.map((o) => o[0]!.shape), [[1, 2], [1, 2], [1, 3], [1, 2]]);
  });

  it('dispatches at a preferred size without waiting for the queue delay', async () => {
    const inst = new FakeInstance('i0');
    const b = batcher([inst], { preferred_batch_size: [4], max_queue_delay_microseconds: 5_000_000 });
    const t0 = Date.now();
    await Promise.all([0, 1, 2, 3].map((v) => b.enqueue(req(v))));
    assert.ok(Date.now() - t0 < 1000, 'did not wait for the 5 s delay');
    assert.deepEqual(inst.batches.map((x) => x.size), [4]);
  });

  it('waits max_queue_delay from the oldest request, then sends what it has', async () => {
    const inst = new FakeInstance('i0');
    const b = batcher([inst], { preferred_batch_size: [8], max_queue_delay_microseconds: 60_000 });
    const t0 = process.hrtime.bigint();
    const p0 = b.enqueue(req(0));
    await sleep(20);
    const p1 = b.enqueue(req(1));
    await Promise.all([p0, p1]);
    const waitedMs = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.deepEqual(inst.batches.map((x) => x.size), [2]);
    assert.ok(waitedMs >= 59 && waitedMs < 400, `waited ${waitedMs} ms`);
  });

  it('hands batches to whichever instance is idle, several at once', async () => {
    const a = new FakeInstance('a', { delayMs: 30 });
    const c = new FakeInstance('c', { delayMs: 30 });
    const b = batcher([a, c], { preferred_batch_size: [2] });
    await Promise.all(Array.from({ length: 8 }, (_, v) => b.enqueue(req(v))));
    assert.ok(a.batches.length > 0 && c.batches.length > 0);
    assert.equal(a.batches.reduce((n, x) => n + x.size, 0) + c.batches.reduce((n, x) => n + x.size, 0), 8);
  });
});

describe('priorities and queue policy', () => {
  it('serves higher priority levels first; 0 and out-of-range mean the default level', async () => {
    const inst = new FakeInstance('i0', { delayMs: 10 });
    const b = batcher([inst], { preferred_batch_size: [1], priority_levels: 3, default_priority_level: 2 });
    const done: number[] = [];
    const track = (v: number, p?: number) => b.enqueue(req(v, p === undefined ? {} : { priority: p })).then(() => done.push(v));
    await Promise.all([track(0, 3), track(1, 3), track(2, 0), track(3, 1), track(4, 9)]);
    // 0 runs first (instance idle); then level 1 (3), then default level 2 in arrival order (2, 4), then level 3 (1).
    assert.deepEqual(done, [0, 3, 2, 4, 1]);
  });

  it('serves 2^64 - 1 priority levels (Triton QA values) with queues only for the levels in use', async () => {
    const inst = new FakeInstance('i0', { delayMs: 10 });
    const max = 18446744073709551615n;
    const b = batcher([inst], {
      preferred_batch_size: [1], priority_levels: max, default_priority_level: max,
      default_queue_policy: { default_timeout_microseconds: max, timeout_action: 'REJECT' },
      priority_queue_policy: { '2': { max_queue_size: 1 } },
    });
    const done: number[] = [];
    const track = (v: number, p?: number) => b.enqueue(req(v, p === undefined ? {} : { priority: p })).then(() => done.push(v));
    const all = [track(0), track(1), track(2, 2 ** 40), track(3, 2), track(4, 1)];
    await assert.rejects(b.enqueue(req(5, { priority: 2 })), /maximum queue size/, "level 2's own policy applies");
    await Promise.all(all);
    // 0 runs at once; then level 1 (4), level 2 (3), level 2^40 (2), and last the default level 2^64 - 1 (1).
    // The 2^64 - 1 µs timeout never expires (and arms no overflowing timer).
    assert.deepEqual(done, [0, 4, 3, 2, 1]);
  });

  it('rejects with UNAVAILABLE when the level queue is full', async () => {
    const inst = new FakeInstance('i0', { delayMs: 30 });
    const b = batcher([inst], { preferred_batch_size: [1], default_queue_policy: { max_queue_size: 2 } });
    const p = [b.enqueue(req(0)), b.enqueue(req(1)), b.enqueue(req(2))];
    await assert.rejects(b.enqueue(req(3)), (e: InferenceError) => e.code === 'UNAVAILABLE' && /maximum queue size/.test(e.message));
    await Promise.all(p);
  });

  it('REJECT: a request that waits past the queue timeout fails with UNAVAILABLE and never runs', async () => {
    const inst = new FakeInstance('i0', { delayMs: 80 });
    const b = batcher([inst], { preferred_batch_size: [1], default_queue_policy: { default_timeout_microseconds: 20_000, timeout_action: 'REJECT' } });
    const p0 = b.enqueue(req(0));
    await assert.rejects(b.enqueue(req(7)), (e: InferenceError) => e.code === 'UNAVAILABLE' && /timeout/i.test(e.message));
    await p0;
    await sleep(100);
    assert.deepEqual(inst.batches.map((x) => x.firstValue), [0]);
  });

  it('DELAY: a timed-out request moves behind the others but still runs', async () => {
    const inst = new FakeInstance('i0', { delayMs: 40 });
    const b = batcher([inst], {
      preferred_batch_size: [1], priority_levels: 2, default_priority_level: 1,
      priority_queue_policy: { '1': { default_timeout_microseconds: 10_000, timeout_action: 'DELAY' } },
    });
    const order: number[] = [];
    const p0 = b.enqueue(req(0, { priority: 2 })).then(() => order.push(0));
    const p1 = b.enqueue(req(1, { priority: 1 })).then(() => order.push(1)); // times out while 0 runs → delayed
    await sleep(20);
    const p2 = b.enqueue(req(2, { priority: 2 })).then(() => order.push(2));
    await Promise.all([p0, p1, p2]);
    assert.deepEqual(order, [0, 2, 1]);
  });

  it('uses a smaller request timeout only when allow_timeout_override is set', async () => {
    const inst = new FakeInstance('i0', { delayMs: 60 });
    const policy = { default_timeout_microseconds: 1_000_000, allow_timeout_override: true };
    const b = batcher([inst], { preferred_batch_size: [1], default_queue_policy: policy });
    const p0 = b.enqueue(req(0));
    await assert.rejects(b.enqueue(req(1, { timeout: 10_000 })), (e: InferenceError) => e.code === 'UNAVAILABLE');
    await p0;
    const strict = batcher([new FakeInstance('i1', { delayMs: 40 })], { preferred_batch_size: [1], default_queue_policy: { default_timeout_microseconds: 1_000_000 } });
    const q0 = strict.enqueue(req(0));
    await strict.enqueue(req(1, { timeout: 1_000 })); // override not allowed: default 1 s applies
    await q0;
  });
});

describe('ordering, cancellation, failures', () => {
  it('preserve_ordering releases responses in arrival order across instances', async () => {
    const slow = new FakeInstance('slow', { delayMs: 80 });
    const fast = new FakeInstance('fast', { delayMs: 1 });
    const b = new DynamicBatcher({
      modelName: 'm', version: '1', maxBatchSize: 8, dynamicBatching: { preferred_batch_size: [1], preserve_ordering: true },
      instances: [slow, fast], stats: new InferenceStats(), logger: silentLogger(),
    });
    const order: number[] = [];
    await Promise.all([0, 1, 2].map((v) => b.enqueue(req(v)).then(() => order.push(v))));
    assert.deepEqual(order, [0, 1, 2]);
  });

  it('a request cancelled while queued leaves the queue with CANCELLED and is never executed', async () => {
    const inst = new FakeInstance('i0', { delayMs: 40 });
    const b = batcher([inst], { preferred_batch_size: [1] });
    const ac = new Cancellation();
    const p0 = b.enqueue(req(0));
    const p1 = b.enqueue(req(1, { cancellation: ac }));
    ac.cancel();
    await assert.rejects(p1, (e: InferenceError) => e.code === 'CANCELLED');
    await p0;
    await sleep(60);
    assert.deepEqual(inst.batches.map((x) => x.firstValue), [0]);
    assert.equal(b.inflightCount, 0);
  });

  it('a worker death fails its batch with UNAVAILABLE; the next batch is served', async () => {
    const inst = new FakeInstance('i0', {
      delayMs: 5,
      hook: (_b, n) => {
        if (n === 1) throw new InferenceError('UNAVAILABLE', 'instance i0 stopped unexpectedly');
      },
    });
    const b = batcher([inst], { preferred_batch_size: [2] });
    const p0 = b.enqueue(req(0));
    const dead = [b.enqueue(req(1)), b.enqueue(req(2))];
    await p0;
    for (const d of dead) await assert.rejects(d, (e: InferenceError) => e.code === 'UNAVAILABLE');
    assert.deepEqual([...first(await b.enqueue(req(3)))], [3, 3]);
  });

  it('settles every request exactly once under a random mix of outcomes', async () => {
    const inst = new FakeInstance('i0', { delayMs: 2, hook: (_b, n) => { if (n % 5 === 3) throw new Error('boom'); } });
    const b = batcher([inst, new FakeInstance('i1', { delayMs: 3 })], {
      preferred_batch_size: [3, 6], max_queue_delay_microseconds: 2000,
      default_queue_policy: { max_queue_size: 40, default_timeout_microseconds: 30_000 },
    });
    let settled = 0;
    const promises: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const ac = new Cancellation();
      const p = b.enqueue(req(i, { batch: 1 + (i % 3), cancellation: ac }));
      let once = false;
      promises.push(p.then(() => undefined, () => undefined).finally(() => {
        assert.equal(once, false, 'settled twice');
        once = true;
        settled++;
      }));
      if (i % 7 === 0) ac.cancel();
      if (i % 20 === 0) await sleep(1);
    }
    await Promise.all(promises);
    assert.equal(settled, 200);
    assert.equal(b.inflightCount, 0);
  });

  it('stop() refuses new requests with UNAVAILABLE and resolves once queued work has run', async () => {
    const inst = new FakeInstance('i0', { delayMs: 10 });
    const b = batcher([inst], { preferred_batch_size: [1] });
    const ps = [0, 1, 2].map((v) => b.enqueue(req(v)));
    const stopped = b.stop();
    await assert.rejects(b.enqueue(req(9)), (e: InferenceError) => e.code === 'UNAVAILABLE');
    await stopped;
    assert.equal((await Promise.all(ps)).length, 3);
    assert.equal(inst.batches.length, 3);
  });
});

describe('statistics', () => {
  it('records inference/execution counts, queue and per-batch-size compute as Triton', async () => {
    const stats = new InferenceStats();
    const inst = new FakeInstance('i0', { delayMs: 10 });
    const b = batcher([inst], { preferred_batch_size: [4] }, stats);
    await Promise.all([b.enqueue(req(0)), b.enqueue(req(1, { batch: 2 })), b.enqueue(req(2)), b.enqueue(req(3))]);
    const s = stats.snapshot();
    assert.deepEqual(inst.batches.map((x) => x.size), [1, 4]);
    assert.equal(s.inference_count, 5);
    assert.equal(s.execution_count, 2);
    assert.equal(s.inference_stats.queue.count, 4);
    assert.equal(s.inference_stats.compute_infer.count, 4);
    assert.deepEqual(s.batch_stats.map((x) => [x.batch_size, x.compute_infer.count]), [[1, 1], [4, 1]]);
    assert.equal(s.batch_stats[1]!.compute_input.ns, 1000);
  });
});
