import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelConfig } from '../../../src/config/model-config.js';
import { ModelRegistry, type ModelEntry } from '../../../src/repository/model-registry.js';
import { composingLookup, loadEnsembleVersions, unavailableDependency } from '../../../src/ensemble/ensemble-loader.js';
import { EnsembleScheduler } from '../../../src/ensemble/ensemble-scheduler.js';
import { buildEnsembleGraph } from '../../../src/ensemble/ensemble-graph.js';
import { InferenceError } from '../../../src/errors/inference-error.js';

const t = (name: string) => ({ name, data_type: 'TYPE_FP32' as const, dims: [4] });
const plain = (name: string): ModelEntry => ({
  name, state: 'READY', reason: '',
  config: { name, platform: 'onnxruntime_onnx', max_batch_size: 8, input: [t('IN')], output: [t('OUT')] },
  versions: new Map([[1, { version: 1, state: 'READY', reason: '' }]]),
});
const ensembleConfig = (name: string, ...models: string[]): ModelConfig => ({
  name, platform: 'ensemble', max_batch_size: 8, input: [t('IN')], output: [t('OUT')],
  ensemble_scheduling: {
    step: models.map((m, i) => ({
      model_name: m, model_version: -1,
      input_map: { IN: i === 0 ? 'IN' : `t${i}` }, output_map: { OUT: i === models.length - 1 ? 'OUT' : `t${i + 1}` },
    })),
  },
});
const host = (registry: ModelRegistry) => ({ registry, runStep: () => Promise.reject(new Error('not used')) });

describe('loadEnsembleVersions', () => {
  it('builds one READY version per selected version, each with its own scheduler and statistics', () => {
    const registry = new ModelRegistry();
    registry.set(plain('a'));
    registry.set(plain('b'));
    const cfg = ensembleConfig('ens', 'a', 'b');
    const versions = loadEnsembleVersions(cfg, [1, 2], new Map([['OUT', ['x']]]), host(registry));
    assert.deepEqual(versions.map((v) => [v.version, v.state]), [[1, 'READY'], [2, 'READY']]);
    assert.ok(versions[0]!.scheduler instanceof EnsembleScheduler);
    assert.notEqual(versions[0]!.stats, versions[1]!.stats);
    assert.equal(versions[1]!.signature!.version, '2');
    assert.deepEqual(versions[0]!.signature!.labels.get('OUT'), ['x']);
    assert.equal(versions[0]!.unavailableDependency!(), undefined);
  });

  it('throws INVALID_ARG listing every problem, and UNSUPPORTED without a host', () => {
    const registry = new ModelRegistry();
    registry.set({ ...plain('a'), state: 'UNAVAILABLE', reason: 'bad model file', versions: new Map() });
    assert.throws(() => loadEnsembleVersions(ensembleConfig('ens', 'a', 'ghost'), [1], new Map(), host(registry)), (e: InferenceError) => {
      assert.equal(e.code, 'INVALID_ARG');
      assert.match(e.message, /'a', which has no ready version \(UNAVAILABLE: bad model file\); .*'ghost', which is not in the model repository/);
      return true;
    });
    assert.throws(() => loadEnsembleVersions(ensembleConfig('ens', 'a'), [1], new Map(), undefined), { code: 'UNSUPPORTED' });
  });

  it('composingLookup reports ready versions and why there are none', () => {
    const registry = new ModelRegistry();
    registry.set(plain('a'));
    registry.set({ ...plain('gone'), state: 'UNAVAILABLE', reason: 'unloaded', versions: new Map([[1, { version: 1, state: 'UNAVAILABLE', reason: 'unloaded' }]]) });
    const lookup = composingLookup(registry);
    assert.deepEqual(lookup('a')!.readyVersions, [1]);
    assert.deepEqual([lookup('gone')!.readyVersions, lookup('gone')!.reason], [[], 'UNAVAILABLE: unloaded']);
    assert.equal(lookup('nope'), undefined);
  });
});

describe('unavailableDependency', () => {
  it('names the composing model that went away, through nested ensembles, and survives a reload-made cycle', () => {
    const registry = new ModelRegistry();
    registry.set(plain('a'));
    registry.set(plain('b'));
    const add = (cfg: ModelConfig) => {
      const [lv] = loadEnsembleVersions(cfg, [1], new Map(), host(registry));
      registry.set({ name: cfg.name!, state: 'READY', reason: '', config: cfg, versions: new Map([[1, lv!]]) });
      return lv!;
    };
    add(ensembleConfig('inner', 'a', 'b'));
    const outer = add(ensembleConfig('outer', 'inner', 'a'));
    assert.equal(outer.unavailableDependency!(), undefined);
    registry.delete('b');
    assert.match(outer.unavailableDependency!() ?? '', /^ensemble 'outer' step 0 \(model 'inner'\): ensemble 'inner' step 1 \(model 'b'\): composing model 'b' is not available \(Request for unknown model: 'b' is not found\)$/);
    registry.set(plain('b'));
    assert.equal(outer.unavailableDependency!(), undefined);
    // A later reload could make 'inner' use 'outer': the check must still terminate.
    const cyclic = buildEnsembleGraph(ensembleConfig('inner', 'outer'), composingLookup(registry)).graph!;
    registry.get('inner')!.versions.get(1)!.unavailableDependency = (seen) => unavailableDependency(cyclic, registry, seen);
    assert.equal(outer.unavailableDependency!(), undefined);
  });
});
