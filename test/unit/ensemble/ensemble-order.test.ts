import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelConfig } from '../../../src/config/model-config.js';
import { drainWaves, ensembleDependencies, ensembleLoadWaves } from '../../../src/ensemble/ensemble-order.js';
import type { ModelEntry } from '../../../src/repository/model-registry.js';
import type { Scheduler } from '../../../src/scheduler/scheduler.js';
import { StepGate } from '../../../src/ensemble/step-gate.js';
import { Cancellation } from '../../../src/core/cancellation.js';
import { InferenceError } from '../../../src/errors/inference-error.js';

const ens = (...models: string[]): ModelConfig => ({
  name: 'e', platform: 'ensemble',
  ensemble_scheduling: { step: models.map((model_name) => ({ model_name, model_version: -1, input_map: { I: 'i' }, output_map: { O: 'o' } })) },
});

describe('ensembleDependencies', () => {
  it('lists each composing model once, in step order; plain models have none', () => {
    assert.deepEqual(ensembleDependencies(ens('pre', 'a', 'b', 'a', 'post')), ['pre', 'a', 'b', 'post']);
    assert.deepEqual(ensembleDependencies({ name: 'm', platform: 'onnxruntime_onnx' }), []);
    assert.deepEqual(ensembleDependencies({ name: 'e', platform: 'ensemble' }), []);
    assert.deepEqual(ensembleDependencies({ ensemble_scheduling: { step: [{}, { model_name: '' }, { model_name: 'x' }] } }), ['x']);
  });
});

describe('ensembleLoadWaves', () => {
  it('puts nested ensembles after the ensembles they use', () => {
    const waves = ensembleLoadWaves(new Map([
      ['outer', ['inner', 'plain']],
      ['inner', ['plain']],
      ['other', ['plain2']],
      ['outermost', ['outer', 'inner']],
    ]));
    assert.deepEqual(waves, [['inner', 'other'], ['outer'], ['outermost']]);
  });

  it('ensembles caught in a cycle come last, together', () => {
    assert.deepEqual(ensembleLoadWaves(new Map([['x', ['y']], ['y', ['x']], ['z', ['m']]])), [['z'], ['x', 'y']]);
    assert.deepEqual(ensembleLoadWaves(new Map()), []);
  });
});

describe('drainWaves', () => {
  const sched = (name: string) => ({ name, inflightCount: 0, pendingCount: 0 }) as unknown as Scheduler & { name: string };
  const entry = (name: string, config: ModelConfig): ModelEntry => ({
    name, state: 'READY', reason: '', config, versions: new Map([[1, { version: 1, state: 'READY', reason: '', scheduler: sched(name) }]]),
  });

  it('drains outer ensembles, then the ensembles they use, then every other model', () => {
    const waves = drainWaves([
      entry('a', { name: 'a', platform: 'onnxruntime_onnx' }),
      entry('inner', ens('a')),
      entry('outer', ens('inner', 'a')),
      entry('b', { name: 'b', platform: 'onnxruntime_onnx' }),
      { name: 'broken', state: 'UNAVAILABLE', reason: 'x', versions: new Map() },
    ]);
    assert.deepEqual(waves.map((w) => w.map((s) => (s as unknown as { name: string }).name)), [['outer'], ['inner'], ['a', 'b']]);
  });
});

describe('StepGate', () => {
  it('admits up to the limit, then FIFO as slots are released', async () => {
    const gate = new StepGate(2);
    const order: number[] = [];
    await gate.acquire();
    await gate.acquire();
    const waiters = [3, 4, 5].map((n) => gate.acquire().then(() => order.push(n)));
    assert.equal(gate.waiting, 3);
    gate.release();
    gate.release();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [3, 4]);
    assert.equal(gate.inflight, 2);
    gate.release();
    await Promise.all(waiters);
    assert.deepEqual(order, [3, 4, 5]);
    gate.release();
    gate.release();
    assert.equal(gate.inflight, 0);
    gate.release();
    assert.equal(gate.inflight, 0, 'an extra release never goes negative');
  });

  it('an aborted waiter leaves the line with the signal\'s reason; an aborted signal is refused at once', async () => {
    const gate = new StepGate(1);
    await gate.acquire();
    const ac = new Cancellation();
    const waiting = gate.acquire(ac);
    const next = gate.acquire();
    ac.cancel(new InferenceError('CANCELLED', 'gone'));
    await assert.rejects(waiting, /gone/);
    assert.equal(gate.waiting, 1);
    gate.release();
    await next;
    await assert.rejects(gate.acquire(ac), /gone/);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => new StepGate(bad), RangeError);
  });
});
