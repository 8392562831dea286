import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EnsembleStep, ModelConfig } from '../../../src/config/model-config.js';
import type { InferenceRequest, InferenceResponse } from '../../../src/core/inference-request.js';
import { buildModelSignature } from '../../../src/core/model-signature.js';
import { validateRequest } from '../../../src/core/request-validator.js';
import { buildEnsembleGraph, type ComposingModel } from '../../../src/ensemble/ensemble-graph.js';
import { EnsembleScheduler } from '../../../src/ensemble/ensemble-scheduler.js';
import { InferenceStats } from '../../../src/observability/inference-stats.js';
import { errors } from '../../../src/errors/catalogue.js';
import { InferenceError } from '../../../src/errors/inference-error.js';
import { Cancellation } from '../../../src/core/cancellation.js';

const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const values = (d: Uint8Array) => [...new Float32Array(d.buffer, d.byteOffset, d.byteLength / 4)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

/** Element-wise FP32 models, each with a delay; every call is logged with its start/end time. */
interface FakeModel {
  inputs: string[];
  outputs: Record<string, (xs: number[][]) => number[]>;
  delayMs?: number;
  fail?: InferenceError;
}

const add = (k: number) => (xs: number[][]) => xs[0]!.map((x) => x + k);
const MODELS: Record<string, FakeModel> = {
  plus1: { inputs: ['IN'], outputs: { OUT: add(1) } },
  times2: { inputs: ['IN'], outputs: { OUT: (xs) => xs[0]!.map((x) => x * 2) } },
  plus10: { inputs: ['IN'], outputs: { OUT: add(10) } },
  slow_plus100: { inputs: ['IN'], outputs: { OUT: add(100) }, delayMs: 60 },
  glacial: { inputs: ['IN'], outputs: { OUT: add(0) }, delayMs: 5000 },
  sum: { inputs: ['X', 'Y'], outputs: { SUM: (xs) => xs[0]!.map((x, i) => x + xs[1]![i]!) } },
  split: { inputs: ['IN'], outputs: { NEG: (xs) => xs[0]!.map((x) => -x), SQ: (xs) => xs[0]!.map((x) => x * x) } },
  broken: { inputs: ['IN'], outputs: { OUT: add(0) }, fail: errors.internal("onnxruntime failed: Reshape node 'r' cannot reshape") },
};

class FakeCore {
  readonly calls: { model: string; req: InferenceRequest; start: number; end: number }[] = [];
  inflight = new Map<string, number>();
  maxInflight = new Map<string, number>();
  readonly models: Record<string, FakeModel>;

  constructor(models: Record<string, FakeModel> = MODELS) {
    this.models = models;
  }

  readonly run = async (req: InferenceRequest): Promise<InferenceResponse> => {
    const m = this.models[req.modelName];
    if (m === undefined) throw errors.modelNotFound(req.modelName);
    const call = { model: req.modelName, req, start: performance.now(), end: 0 };
    this.calls.push(call);
    const n = (this.inflight.get(req.modelName) ?? 0) + 1;
    this.inflight.set(req.modelName, n);
    this.maxInflight.set(req.modelName, Math.max(n, this.maxInflight.get(req.modelName) ?? 0));
    try {
      if (req.cancellation?.aborted) throw errors.cancelled(req.modelName, 1);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, m.delayMs ?? 1);
        req.cancellation?.signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(errors.cancelled(req.modelName, 1));
        }, { once: true });
      });
      if (m.fail) throw m.fail;
      const xs = m.inputs.map((name) => values(req.inputs.find((t) => t.name === name)!.data));
      const shape = req.inputs[0]!.shape;
      const outputs = req.outputs.map((o) => ({ name: o.name, datatype: 'FP32' as const, shape, data: f32(...m.outputs[o.name]!(xs)), parameters: {} }));
      return { id: req.id, modelName: req.modelName, modelVersion: '1', parameters: {}, outputs };
    } finally {
      call.end = performance.now();
      this.inflight.set(req.modelName, this.inflight.get(req.modelName)! - 1);
    }
  };

  called(model: string): number {
    return this.calls.filter((c) => c.model === model).length;
  }
}

const composing = (name: string): ComposingModel | undefined => {
  const m = MODELS[name];
  if (m === undefined) return undefined;
  const t = (n: string) => ({ name: n, data_type: 'TYPE_FP32' as const, dims: [4] });
  return { config: { name, max_batch_size: 8, input: m.inputs.map(t), output: Object.keys(m.outputs).map(t) }, readyVersions: [1], reason: '' };
};

const step = (model_name: string, input_map: Record<string, string>, output_map: Record<string, string>): EnsembleStep =>
  ({ model_name, model_version: -1, input_map, output_map });

function setup(steps: EnsembleStep[], outputs: string[], o: { inputs?: string[]; maxInflight?: number; core?: FakeCore; optional?: string[] } = {}) {
  const t = (name: string) => ({ name, data_type: 'TYPE_FP32' as const, dims: [4], ...(o.optional?.includes(name) ? { optional: true } : {}) });
  const config: ModelConfig = {
    name: 'ens', platform: 'ensemble', max_batch_size: 8,
    input: (o.inputs ?? ['E_IN']).map(t), output: outputs.map(t),
    ensemble_scheduling: { step: steps, max_inflight_requests: o.maxInflight ?? 0 },
  };
  const { graph, problems } = buildEnsembleGraph(config, composing);
  assert.deepEqual(problems, []);
  const core = o.core ?? new FakeCore();
  const stats = new InferenceStats();
  const scheduler = new EnsembleScheduler({ graph: graph!, version: '1', runStep: core.run, stats });
  const sig = buildModelSignature(config, 1);
  const infer = (input: Record<string, number[]>, extra: Partial<InferenceRequest> = {}) => {
    const req: InferenceRequest = {
      id: 'r', modelName: 'ens', modelVersion: '', parameters: {}, outputs: [],
      inputs: Object.entries(input).map(([name, v]) => ({ name, datatype: 'FP32', shape: [1, v.length], data: f32(...v), parameters: {} })),
      ...extra,
    };
    return scheduler.enqueue(validateRequest(sig, req));
  };
  return { core, scheduler, stats, infer };
}

const DIAMOND = [
  step('plus1', { IN: 'E_IN' }, { OUT: 'x' }),
  step('times2', { IN: 'x' }, { OUT: 'left' }),
  step('slow_plus100', { IN: 'x' }, { OUT: 'right' }),
  step('sum', { X: 'left', Y: 'right' }, { SUM: 'E_OUT' }),
];

describe('EnsembleScheduler: execution', () => {
  it('linear: the result equals the steps applied one by one, outputs named as the ensemble declares', async () => {
    const { infer, core } = setup([
      step('plus1', { IN: 'E_IN' }, { OUT: 'a' }),
      step('times2', { IN: 'a' }, { OUT: 'b' }),
      step('plus10', { IN: 'b' }, { OUT: 'E_OUT' }),
    ], ['E_OUT']);
    const [out] = await infer({ E_IN: [1, 2, 3, 4] });
    assert.equal(out!.name, 'E_OUT');
    assert.deepEqual(out!.shape, [1, 4]);
    assert.deepEqual(values(out!.data), [1, 2, 3, 4].map((x) => (x + 1) * 2 + 10));
    assert.deepEqual(core.calls.map((c) => c.model), ['plus1', 'times2', 'plus10']);
    assert.deepEqual(core.calls.map((c) => c.req.inputs.map((i) => i.name)), [['IN'], ['IN'], ['IN']]);
  });

  it('diamond: independent branches run concurrently and the join waits for both', async () => {
    const { infer, core } = setup(DIAMOND, ['E_OUT']);
    const [out] = await infer({ E_IN: [0, 1, 2, 3] });
    assert.deepEqual(values(out!.data), [0, 1, 2, 3].map((x) => (x + 1) * 2 + (x + 1) + 100));
    const at = (m: string) => core.calls.find((c) => c.model === m)!;
    assert.ok(at('times2').start < at('slow_plus100').end && at('slow_plus100').start < at('times2').end, 'branches overlap');
    assert.ok(at('sum').start >= at('slow_plus100').end && at('sum').start >= at('times2').end);
  });

  it('fan-out: a step starts as soon as its own inputs exist, not when unrelated branches finish', async () => {
    const { infer, core } = setup([
      step('split', { IN: 'E_IN' }, { NEG: 'n', SQ: 's' }),
      step('slow_plus100', { IN: 'n' }, { OUT: 'O_SLOW' }),
      step('plus1', { IN: 's' }, { OUT: 'fast' }),
      step('times2', { IN: 'fast' }, { OUT: 'O_FAST' }),
    ], ['O_SLOW', 'O_FAST']);
    const [slow, fast] = await infer({ E_IN: [1, 2, 3, 4] });
    assert.deepEqual(values(slow!.data), [99, 98, 97, 96]);
    assert.deepEqual(values(fast!.data), [4, 10, 20, 34]);
    const at = (m: string) => core.calls.find((c) => c.model === m)!;
    assert.ok(at('times2').end < at('slow_plus100').end, 'the fast chain finished while the slow branch ran');
  });

  it('only requested outputs come back, and steps that feed none of them are not run', async () => {
    const { infer, core } = setup([
      step('split', { IN: 'E_IN' }, { NEG: 'NEG', SQ: 's' }),
      step('plus1', { IN: 's' }, { OUT: 'SQ1' }),
    ], ['NEG', 'SQ1']);
    const out = await infer({ E_IN: [1, 2, 3, 4] }, { outputs: [{ name: 'NEG', parameters: {} }] });
    assert.deepEqual(out.map((t) => t.name), ['NEG']);
    assert.deepEqual(core.calls.map((c) => c.model), ['split']);
    assert.deepEqual(core.calls[0]!.req.outputs.map((o) => o.name), ['NEG'], 'the step is asked only for what is read');
    const both = await infer({ E_IN: [1, 2, 3, 4] });
    assert.deepEqual(both.map((t) => [t.name, values(t.data)]), [['NEG', [-1, -2, -3, -4]], ['SQ1', [2, 5, 10, 17]]]);
  });

  it('intermediate tensors are passed by reference, a shared whole-buffer tensor is copied only for all but one reader', async () => {
    const core = new FakeCore();
    const { infer } = setup(DIAMOND, ['E_OUT'], { core });
    await infer({ E_IN: [0, 1, 2, 3] });
    const data = (m: string) => core.calls.find((c) => c.model === m)!.req.inputs;
    const [left, right] = [data('times2')[0]!.data, data('slow_plus100')[0]!.data];
    assert.deepEqual(values(left), values(right));
    assert.notEqual(left.buffer, right.buffer, 'x is read by two steps: one of them gets a copy');
    // In a linear chain nothing is copied: the reader gets the producer's view itself.
    const lin = new FakeCore();
    const produced: Uint8Array[] = [];
    const run = lin.run;
    const spy = async (req: InferenceRequest) => {
      const res = await run(req);
      produced.push(res.outputs[0]!.data);
      return res;
    };
    const { graph } = buildEnsembleGraph({
      name: 'lin', platform: 'ensemble', max_batch_size: 8,
      input: [{ name: 'E_IN', data_type: 'TYPE_FP32', dims: [4] }], output: [{ name: 'E_OUT', data_type: 'TYPE_FP32', dims: [4] }],
      ensemble_scheduling: { step: [step('plus1', { IN: 'E_IN' }, { OUT: 'a' }), step('times2', { IN: 'a' }, { OUT: 'E_OUT' })] },
    }, composing);
    const s = new EnsembleScheduler({ graph: graph!, version: '1', runStep: spy, stats: new InferenceStats() });
    const sig = buildModelSignature({ name: 'lin', max_batch_size: 8, input: [{ name: 'E_IN', data_type: 'TYPE_FP32', dims: [4] }], output: [{ name: 'E_OUT', data_type: 'TYPE_FP32', dims: [4] }] }, 1);
    const input = f32(1, 2, 3, 4);
    const [out] = await s.enqueue(validateRequest(sig, { id: '', modelName: 'lin', modelVersion: '', parameters: {}, outputs: [], inputs: [{ name: 'E_IN', datatype: 'FP32', shape: [1, 4], data: input, parameters: {} }] }));
    assert.equal(lin.calls[0]!.req.inputs[0]!.data, input);
    assert.equal(lin.calls[1]!.req.inputs[0]!.data, produced[0]);
    assert.equal(out!.data, produced[1]);
  });

  it('a tensor that is both returned and read keeps its bytes for the response', async () => {
    const { infer, core } = setup([
      step('plus1', { IN: 'E_IN' }, { OUT: 'MID' }),
      step('times2', { IN: 'MID' }, { OUT: 'E_OUT' }),
    ], ['MID', 'E_OUT']);
    const [mid] = await infer({ E_IN: [1, 2, 3, 4] });
    const read = core.calls[1]!.req.inputs[0]!.data;
    assert.notEqual(read.buffer, mid!.data.buffer, 'the reader may take its input over; the response keeps the original');
    assert.deepEqual(values(mid!.data), [2, 3, 4, 5]);
  });

  it('passes scheduling parameters and the id to every step; an optional ensemble input left out is not sent', async () => {
    const { infer, core } = setup([
      step('sum', { X: 'E_IN', Y: 'E_OPT' }, { SUM: 'E_OUT' }),
    ], ['E_OUT'], { inputs: ['E_IN', 'E_OPT'], optional: ['E_OPT'] });
    await assert.rejects(infer({ E_IN: [1, 2, 3, 4] }, { parameters: { priority: 2 }, id: 'abc' }));
    const req = core.calls[0]!.req;
    assert.deepEqual(req.parameters, { priority: 2 });
    assert.equal(req.id, 'abc');
    assert.deepEqual(req.inputs.map((i) => i.name), ['X']);
  });
});

describe('EnsembleScheduler: failures and cancellation', () => {
  it('a failing middle step fails the request naming step and model; later steps never run', async () => {
    const { infer, core, stats } = setup([
      step('plus1', { IN: 'E_IN' }, { OUT: 'a' }),
      step('broken', { IN: 'a' }, { OUT: 'b' }),
      step('plus10', { IN: 'b' }, { OUT: 'E_OUT' }),
    ], ['E_OUT']);
    await assert.rejects(infer({ E_IN: [1, 2, 3, 4] }), (e: InferenceError) => {
      assert.equal(e.code, 'INTERNAL');
      assert.match(e.message, /^ensemble 'ens' version 1: step 1 \(model 'broken'\) failed: onnxruntime failed: Reshape/);
      return true;
    });
    assert.equal(core.called('plus10'), 0);
    assert.equal(stats.snapshot().execution_count, 0);
  });

  it('a failing branch aborts the sibling still in flight and the join is never run', async () => {
    const { infer, core } = setup([
      step('plus1', { IN: 'E_IN' }, { OUT: 'x' }),
      step('broken', { IN: 'x' }, { OUT: 'left' }),
      step('glacial', { IN: 'x' }, { OUT: 'right' }),
      step('sum', { X: 'left', Y: 'right' }, { SUM: 'E_OUT' }),
    ], ['E_OUT']);
    const t0 = performance.now();
    await assert.rejects(infer({ E_IN: [1, 2, 3, 4] }), /step 1 \(model 'broken'\) failed/);
    assert.ok(performance.now() - t0 < 2500, 'rejected at the failure, not after the slow sibling');
    const sibling = core.calls.find((c) => c.model === 'glacial')!;
    assert.equal(sibling.req.cancellation!.aborted, true);
    await waitFor(() => sibling.end > 0, 'the sibling to leave its queue');
    assert.ok(sibling.end - sibling.start < 2500);
    assert.equal(core.called('sum'), 0);
  });

  it('a composing model that is gone fails with UNAVAILABLE naming it', async () => {
    const core = new FakeCore({ ...MODELS, plus10: undefined as unknown as FakeModel });
    const { infer } = setup([step('plus1', { IN: 'E_IN' }, { OUT: 'a' }), step('plus10', { IN: 'a' }, { OUT: 'E_OUT' })], ['E_OUT'], { core });
    await assert.rejects(infer({ E_IN: [1, 2, 3, 4] }), (e: InferenceError) => {
      assert.equal(e.code, 'UNAVAILABLE');
      assert.match(e.message, /step 1 \(model 'plus10'\) failed: Request for unknown model: 'plus10' is not found/);
      return true;
    });
  });

  it('cancellation mid-pipeline rejects at once and launches no further step', async () => {
    const { infer, core } = setup([
      step('slow_plus100', { IN: 'E_IN' }, { OUT: 'a' }),
      step('plus1', { IN: 'a' }, { OUT: 'E_OUT' }),
    ], ['E_OUT']);
    const ac = new Cancellation();
    const p = infer({ E_IN: [1, 2, 3, 4] }, { cancellation: ac });
    await sleep(10);
    ac.cancel();
    await assert.rejects(p, (e: InferenceError) => e.code === 'CANCELLED' && /model 'ens' version 1 was cancelled/.test(e.message));
    await sleep(80);
    assert.equal(core.called('plus1'), 0);
    assert.equal(core.calls[0]!.req.cancellation!.aborted, true, 'the running step was told');
  });

  it('a deadline reason on the signal is kept; an already aborted request runs nothing', async () => {
    const { infer, core } = setup([step('slow_plus100', { IN: 'E_IN' }, { OUT: 'E_OUT' })], ['E_OUT']);
    const ac = new Cancellation();
    const p = infer({ E_IN: [1, 2, 3, 4] }, { cancellation: ac });
    ac.cancel(errors.deadlineExceeded('ens', 1));
    await assert.rejects(p, (e: InferenceError) => e.code === 'DEADLINE_EXCEEDED');
    const before = core.calls.length;
    const done = new Cancellation();
    done.cancel();
    await assert.rejects(infer({ E_IN: [1, 2, 3, 4] }, { cancellation: done }), { code: 'CANCELLED' });
    assert.equal(core.calls.length, before);
  });
});

describe('EnsembleScheduler: max_inflight_requests, stop, statistics', () => {
  it('bounds each step\'s in-flight requests across concurrent ensemble requests', async () => {
    const { infer, core, scheduler } = setup([
      step('plus1', { IN: 'E_IN' }, { OUT: 'a' }),
      step('slow_plus100', { IN: 'a' }, { OUT: 'E_OUT' }),
    ], ['E_OUT'], { maxInflight: 2 });
    const all = Promise.all(Array.from({ length: 5 }, (_, i) => infer({ E_IN: [i, i, i, i] })));
    await waitFor(() => scheduler.pendingCount === 3, 'three requests to wait for a slot of the slow step');
    assert.equal(scheduler.inflightCount, 5);
    const outs = await all;
    assert.deepEqual(outs.map(([t]) => values(t!.data)[0]), [101, 102, 103, 104, 105]);
    assert.equal(core.maxInflight.get('slow_plus100'), 2);
    assert.equal(scheduler.pendingCount, 0);
  });

  it('a request cancelled while waiting for a slot leaves the line', async () => {
    const { infer, core, scheduler } = setup([step('slow_plus100', { IN: 'E_IN' }, { OUT: 'E_OUT' })], ['E_OUT'], { maxInflight: 1 });
    const first = infer({ E_IN: [1, 1, 1, 1] });
    const ac = new Cancellation();
    const second = infer({ E_IN: [2, 2, 2, 2] }, { cancellation: ac });
    await waitFor(() => scheduler.pendingCount === 1, 'the second request to wait for a slot');
    ac.cancel();
    await assert.rejects(second, { code: 'CANCELLED' });
    assert.equal(scheduler.pendingCount, 0);
    await first;
    await sleep(5);
    assert.equal(core.calls.length, 1, 'the cancelled request never reached the model');
  });

  it('stop() refuses new requests and resolves when the in-flight ones are done; failQueued fails them', async () => {
    const { infer, scheduler } = setup([step('slow_plus100', { IN: 'E_IN' }, { OUT: 'E_OUT' })], ['E_OUT']);
    const inflight = infer({ E_IN: [1, 1, 1, 1] });
    const stopped = scheduler.stop();
    await assert.rejects(infer({ E_IN: [1, 1, 1, 1] }), { code: 'UNAVAILABLE', message: /Server exiting/ });
    const [out] = await inflight;
    assert.deepEqual(values(out!.data), [101, 101, 101, 101]);
    await stopped;
    const other = setup([step('slow_plus100', { IN: 'E_IN' }, { OUT: 'E_OUT' })], ['E_OUT']);
    const p = other.infer({ E_IN: [1, 1, 1, 1] });
    const drained = other.scheduler.stop();
    other.scheduler.failQueued(errors.serverStopping());
    await assert.rejects(p, /Server exiting/);
    await drained;
    assert.equal(other.scheduler.inflightCount, 0);
  });

  it('counts ensemble requests: inference_count = batch elements, execution_count = requests', async () => {
    const { scheduler, stats } = setup([step('plus1', { IN: 'E_IN' }, { OUT: 'E_OUT' })], ['E_OUT']);
    const sig = buildModelSignature({ name: 'ens', max_batch_size: 8, input: [{ name: 'E_IN', data_type: 'TYPE_FP32', dims: [4] }], output: [{ name: 'E_OUT', data_type: 'TYPE_FP32', dims: [4] }] }, 1);
    const req = (batch: number) => validateRequest(sig, {
      id: '', modelName: 'ens', modelVersion: '', parameters: {}, outputs: [],
      inputs: [{ name: 'E_IN', datatype: 'FP32', shape: [batch, 4], data: f32(...new Array<number>(batch * 4).fill(1)), parameters: {} }],
    });
    await scheduler.enqueue(req(3));
    await scheduler.enqueue(req(2));
    const s = stats.snapshot();
    assert.equal(s.inference_count, 5);
    assert.equal(s.execution_count, 2);
    assert.equal(s.inference_stats.queue.count, 2);
  });
});
