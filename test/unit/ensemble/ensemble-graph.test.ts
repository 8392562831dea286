import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DataType, EnsembleStep, ModelConfig } from '../../../src/config/model-config.js';
import { buildEnsembleGraph, type ComposingModel } from '../../../src/ensemble/ensemble-graph.js';

type Io = [name: string, dims?: number[], type?: DataType];
const io = ([name, dims = [4], data_type = 'TYPE_FP32']: Io) => ({ name, data_type, dims });

function model(inputs: Io[], outputs: Io[], maxBatchSize = 8, versions = [1]): ComposingModel {
  return {
    config: { name: 'm', platform: 'onnxruntime_onnx', max_batch_size: maxBatchSize, input: inputs.map(io), output: outputs.map(io) },
    readyVersions: versions,
    reason: versions.length === 0 ? 'UNAVAILABLE: failed to load' : '',
  };
}

/** Composing models: unary FP32 [4] → [4] ones, a two-input join, an INT32 model and a non-batching one. */
const MODELS: Record<string, ComposingModel> = {
  a: model([['IN']], [['OUT']]),
  b: model([['IN']], [['OUT']]),
  c: model([['IN']], [['OUT']]),
  join: model([['X'], ['Y']], [['SUM']]),
  two_out: model([['IN']], [['P'], ['Q']]),
  ints: model([['IN', [4], 'TYPE_INT32']], [['OUT', [4], 'TYPE_INT32']]),
  wide: model([['IN', [8]]], [['OUT', [8]]]),
  small_batch: model([['IN']], [['OUT']], 2),
  no_batch: model([['IN', [-1, 4]]], [['OUT', [-1, 4]]], 0),
  optional_in: { ...model([['IN'], ['EXTRA']], [['OUT']]), config: { ...model([['IN']], [['OUT']]).config, input: [io(['IN']), { ...io(['EXTRA']), optional: true }] } },
  versioned: model([['IN']], [['OUT']], 8, [1, 3]),
  broken: model([['IN']], [['OUT']], 8, []),
};
const lookup = (n: string) => MODELS[n];

const step = (model_name: string, input_map: Record<string, string>, output_map: Record<string, string>, extra: Partial<EnsembleStep> = {}): EnsembleStep =>
  ({ model_name, model_version: -1, input_map, output_map, ...extra });

function ensemble(steps: EnsembleStep[], inputs: Io[] = [['E_IN']], outputs: Io[] = [['E_OUT']], maxBatchSize = 8): ModelConfig {
  return {
    name: 'ens', platform: 'ensemble', max_batch_size: maxBatchSize,
    input: inputs.map(io), output: outputs.map(io), ensemble_scheduling: { step: steps },
  };
}

function problems(config: ModelConfig): string[] {
  const r = buildEnsembleGraph(config, lookup);
  assert.equal(r.graph, undefined, 'a graph with problems must not be returned');
  assert.ok(r.problems.length > 0);
  for (const p of r.problems) assert.match(p, /^ensemble 'ens': /);
  return [...r.problems];
}

function oneProblem(config: ModelConfig, re: RegExp): void {
  const list = problems(config);
  assert.equal(list.length, 1, list.join('\n'));
  assert.match(list[0]!, re);
}

describe('buildEnsembleGraph: valid DAGs', () => {
  it('linear: a → b → c, in order, each tensor produced once', () => {
    const { graph, problems: p } = buildEnsembleGraph(ensemble([
      step('c', { IN: 't2' }, { OUT: 'E_OUT' }),
      step('a', { IN: 'E_IN' }, { OUT: 't1' }),
      step('b', { IN: 't1' }, { OUT: 't2' }),
    ]), lookup);
    assert.deepEqual(p, []);
    assert.deepEqual(graph!.order, [1, 2, 0]);
    assert.deepEqual([...graph!.producer], [['E_OUT', 0], ['t1', 1], ['t2', 2]]);
    assert.deepEqual(graph!.steps[0]!.inputs, [{ modelTensor: 'IN', ensembleTensor: 't2' }]);
    assert.equal(graph!.steps[0]!.modelVersion, '');
  });

  it('diamond: a fans out to b and c, join fans in', () => {
    const { graph, problems: p } = buildEnsembleGraph(ensemble([
      step('a', { IN: 'E_IN' }, { OUT: 'x' }),
      step('b', { IN: 'x' }, { OUT: 'left' }),
      step('c', { IN: 'x' }, { OUT: 'right' }),
      step('join', { X: 'left', Y: 'right' }, { SUM: 'E_OUT' }),
    ]), lookup);
    assert.deepEqual(p, []);
    assert.equal(graph!.order[0], 0);
    assert.equal(graph!.order[3], 3);
  });

  it('fan-out from the ensemble input to independent outputs, a specific version, a non-batching ensemble', () => {
    const { graph, problems: p } = buildEnsembleGraph(ensemble([
      step('a', { IN: 'E_IN' }, { OUT: 'O1' }),
      step('versioned', { IN: 'E_IN' }, { OUT: 'O2' }, { model_version: 3 }),
      step('no_batch', { IN: 'E_IN' }, { OUT: 'O3' }),
    ], [['E_IN', [2, 4]]], [['O1', [2, 4]], ['O2', [2, 4]], ['O3', [2, 4]]], 0), lookup);
    assert.deepEqual(p, []);
    assert.equal(graph!.steps[1]!.modelVersion, '3');
    assert.equal(graph!.maxInflightRequests, 0);
  });

  it('an optional composing input may stay unmapped; max_inflight_requests is carried', () => {
    const cfg = ensemble([step('optional_in', { IN: 'E_IN' }, { OUT: 'E_OUT' })]);
    cfg.ensemble_scheduling!.max_inflight_requests = 4;
    const { graph, problems: p } = buildEnsembleGraph(cfg, lookup);
    assert.deepEqual(p, []);
    assert.equal(graph!.maxInflightRequests, 4);
  });

  it('a composing output nobody reads need not be mapped', () => {
    const { problems: p } = buildEnsembleGraph(ensemble([step('two_out', { IN: 'E_IN' }, { P: 'E_OUT' })]), lookup);
    assert.deepEqual(p, []);
  });
});

describe('buildEnsembleGraph: load-time errors', () => {
  it('a step model that is not in the repository', () => {
    oneProblem(ensemble([step('ghost', { IN: 'E_IN' }, { OUT: 'E_OUT' })]), /step 0 \(model 'ghost'\): depends on 'ghost', which is not in the model repository/);
  });

  it('a step model without a ready version names its reason', () => {
    oneProblem(ensemble([step('broken', { IN: 'E_IN' }, { OUT: 'E_OUT' })]), /'broken', which has no ready version \(UNAVAILABLE: failed to load\)/);
  });

  it('model_version unset means version 0, as in Triton (with a hint)', () => {
    const s = step('a', { IN: 'E_IN' }, { OUT: 'E_OUT' });
    delete s.model_version;
    oneProblem(ensemble([s]), /depends on 'a' whose required version 0 is not loaded \(model_version is unset.*write -1/);
  });

  it('a specific version that is not loaded; an invalid version number', () => {
    oneProblem(ensemble([step('versioned', { IN: 'E_IN' }, { OUT: 'E_OUT' }, { model_version: 2 })]), /whose required version 2 is not loaded\.?$/);
    oneProblem(ensemble([step('a', { IN: 'E_IN' }, { OUT: 'E_OUT' }, { model_version: -7 })]), /model_version must be -1 \(latest\) or a version number >= 0, got -7/);
  });

  it('the ensemble as its own step; a reserved model_namespace; empty maps; a nameless step', () => {
    oneProblem(ensemble([step('ens', { IN: 'E_IN' }, { OUT: 'E_OUT' })]), /circular dependency/);
    assert.ok(problems(ensemble([step('a', { IN: 'E_IN' }, { OUT: 'E_OUT' }, { model_namespace: 'ns' })]))
      .some((p) => /model_namespace 'ns', which is reserved/.test(p)));
    const list = problems(ensemble([step('a', {}, {}), step('', { IN: 'E_IN' }, { OUT: 'E_OUT' })]));
    assert.ok(list.some((p) => /step 0 \(model 'a'\) must map at least one input/.test(p)));
    assert.ok(list.some((p) => /step 0 \(model 'a'\) must map at least one output/.test(p)));
    assert.ok(list.some((p) => /step 1 must specify 'model_name'/.test(p)));
  });

  it('input_map / output_map names that the step model does not have, and an unmapped required input', () => {
    oneProblem(ensemble([step('a', { IN: 'E_IN', NOPE: 'E_IN' }, { OUT: 'E_OUT' })]), /input_map names 'NOPE', which is not an input of model 'a' \(inputs: 'IN'\)/);
    oneProblem(ensemble([step('a', { IN: 'E_IN' }, { OUT: 'E_OUT', GONE: 'x' })]), /output_map names 'GONE', which is not an output of model 'a' \(outputs: 'OUT'\)/);
    oneProblem(ensemble([step('join', { X: 'E_IN' }, { SUM: 'E_OUT' })]), /step 0 \(model 'join'\): required input 'Y' of model 'join' is not mapped/);
  });

  it('a tensor produced twice, or produced although it is an ensemble input', () => {
    oneProblem(ensemble([
      step('a', { IN: 'E_IN' }, { OUT: 'E_OUT' }),
      step('b', { IN: 'E_IN' }, { OUT: 'E_OUT' }),
    ]), /tensor 'E_OUT' is produced by both step 0 \(model 'a'\) and step 1 \(model 'b'\)/);
    oneProblem(ensemble([
      step('a', { IN: 'E_IN' }, { OUT: 'E_OUT' }),
      step('b', { IN: 'E_OUT' }, { OUT: 'E_IN' }),
    ]), /step 1 \(model 'b'\) writes 'E_IN', which is an ensemble input/);
    oneProblem(ensemble([step('two_out', { IN: 'E_IN' }, { P: 'E_OUT', Q: 'E_OUT' })]), /maps two outputs to tensor 'E_OUT'/);
  });

  it('a consumed tensor nobody produces, an unused ensemble input, an output nobody produces', () => {
    oneProblem(ensemble([step('join', { X: 'E_IN', Y: 'nowhere' }, { SUM: 'E_OUT' })]), /reads tensor 'nowhere', which is neither an ensemble input nor produced by any step/);
    oneProblem(ensemble([step('a', { IN: 'E_IN' }, { OUT: 'E_OUT' })], [['E_IN'], ['SPARE']]), /ensemble input 'SPARE' is not consumed by any step/);
    oneProblem(ensemble([step('a', { IN: 'E_IN' }, { OUT: 'E_OUT' })], [['E_IN']], [['E_OUT'], ['MISSING']]), /ensemble output 'MISSING' is not produced by any step/);
  });

  it('a cycle between steps is reported once, in data-flow order', () => {
    const list = problems(ensemble([
      step('a', { IN: 'E_IN' }, { OUT: 'E_OUT' }),
      step('join', { X: 'E_IN', Y: 'loop_c' }, { SUM: 'loop_b' }),
      step('c', { IN: 'loop_b' }, { OUT: 'loop_c' }),
    ]));
    assert.deepEqual(list, ["ensemble 'ens': the steps form a cycle: step 1 (model 'join') → step 2 (model 'c') → step 1 (model 'join')"]);
  });

  it('a step reading its own output is a cycle', () => {
    oneProblem(ensemble([
      step('join', { X: 'E_IN', Y: 'self' }, { SUM: 'self' }),
      step('a', { IN: 'self' }, { OUT: 'E_OUT' }),
    ]), /cycle: step 0 \(model 'join'\) → step 0 \(model 'join'\)/);
  });

  it('datatypes must agree between producer and consumer, and with the ensemble IO', () => {
    oneProblem(ensemble([
      step('a', { IN: 'E_IN' }, { OUT: 'x' }),
      step('ints', { IN: 'x' }, { OUT: 'E_OUT' }),
    ], [['E_IN']], [['E_OUT', [4], 'TYPE_INT32']]), /tensor 'x' has datatype TYPE_FP32 at step 0 \(model 'a'\) output 'OUT' but TYPE_INT32 at step 1 \(model 'ints'\) input 'IN'/);
    oneProblem(ensemble([step('a', { IN: 'E_IN' }, { OUT: 'E_OUT' })], [['E_IN', [4], 'TYPE_INT32']]), /tensor 'E_IN' has datatype TYPE_INT32 at ensemble input 'E_IN' but TYPE_FP32 at step 0/);
  });

  it('shapes must agree (with -1 as a wildcard and the batch dimension made explicit)', () => {
    oneProblem(ensemble([
      step('a', { IN: 'E_IN' }, { OUT: 'x' }),
      step('wide', { IN: 'x' }, { OUT: 'E_OUT' }),
    ], [['E_IN']], [['E_OUT', [8]]]), /tensor 'x' has shape \[-1,4\] at step 0 \(model 'a'\) output 'OUT' but \[-1,8\] at step 1 \(model 'wide'\) input 'IN'/);
    // A non-batching ensemble feeding a batching model: [3,4] matches [-1,4]; [3,5] does not.
    const { problems: ok } = buildEnsembleGraph(ensemble([step('a', { IN: 'E_IN' }, { OUT: 'E_OUT' })], [['E_IN', [3, 4]]], [['E_OUT', [3, 4]]], 0), lookup);
    assert.deepEqual(ok, []);
    oneProblem(ensemble([step('a', { IN: 'E_IN' }, { OUT: 'E_OUT' })], [['E_IN', [3, 5]]], [['E_OUT', [3, 4]]], 0), /tensor 'E_IN' has shape \[3,5\] at ensemble input 'E_IN' but \[-1,4\]/);
  });

  it('max_batch_size: a batching ensemble needs composing models that allow as much', () => {
    oneProblem(ensemble([step('small_batch', { IN: 'E_IN' }, { OUT: 'E_OUT' })]), /max_batch_size 8 is larger than step 0 \(model 'small_batch'\) supports: the model allows at most 2/);
    assert.ok(problems(ensemble([step('no_batch', { IN: 'E_IN' }, { OUT: 'E_OUT' })], [['E_IN', [-1, 4]]], [['E_OUT', [-1, 4]]]))
      .some((p) => /step 0 \(model 'no_batch'\) supports: the model does not batch/.test(p)));
    const { problems: ok } = buildEnsembleGraph(ensemble([step('small_batch', { IN: 'E_IN' }, { OUT: 'E_OUT' })], [['E_IN']], [['E_OUT']], 2), lookup);
    assert.deepEqual(ok, []);
  });

  it('reports every problem at once', () => {
    const list = problems(ensemble([
      step('ghost', { IN: 'E_IN' }, { OUT: 'x' }),
      step('ints', { IN: 'E_IN' }, { OUT: 'y' }),
      step('small_batch', { IN: 'y' }, { OUT: 'E_OUT' }),
    ], [['E_IN'], ['UNUSED']]));
    assert.ok(list.length >= 4, list.join('\n'));
    for (const re of [/'ghost'/, /TYPE_INT32/, /allows at most 2/, /'UNUSED' is not consumed/]) assert.ok(list.some((p) => re.test(p)), `${re}: ${list.join('\n')}`);
  });
});

describe('buildEnsembleGraph: garbage never throws', () => {
  const garbage: ModelConfig[] = [
    {},
    { name: 'ens', platform: 'ensemble' },
    { name: 'ens', ensemble_scheduling: {} },
    { name: 'ens', ensemble_scheduling: { step: [{}] } },
    { name: 'ens', ensemble_scheduling: { step: [{ model_name: 'a', model_version: Number.NaN }] } },
    { name: 'ens', ensemble_scheduling: { step: [{ model_name: 'a', model_version: 1.5, input_map: { '': '' }, output_map: { '': '' } }] } },
    { name: 'ens', input: [{}], output: [{ name: 'o' }], ensemble_scheduling: { step: [{ model_name: 'join', model_version: -1, input_map: { X: '' }, output_map: { SUM: 'o' } }] } },
  ];
  garbage.forEach((cfg, i) => {
    it(`garbage config #${i} gives problems, not an exception`, () => {
      const r = buildEnsembleGraph(cfg, lookup);
      assert.equal(r.graph, undefined);
      assert.ok(r.problems.length > 0);
    });
  });

  it('a lookup returning a config without IO reports mapping problems', () => {
    const r = buildEnsembleGraph(ensemble([step('bare', { IN: 'E_IN' }, { OUT: 'E_OUT' })]), () => ({ config: {}, readyVersions: [1], reason: '' }));
    assert.ok(r.problems.some((p) => /inputs: none/.test(p)));
  });
});
