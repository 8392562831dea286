/**
 * The parsers of outside data in this issue, fed good and bad input: routing parameters
 * (version-routing.ts), the memory budget flag (memory-budget.ts), and the canary hash's spread.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inSplit, parseVersionRouting } from '../../../src/repository/version-routing.js';
import { parseMemoryBudget } from '../../../src/repository/memory-budget.js';
import { compareOutputs } from '../../../src/core/shadow-traffic.js';
import type { ModelConfig } from '../../../src/config/model-config.js';

const cfg = (params: Record<string, string>): ModelConfig => ({
  parameters: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, { string_value: v }])),
});

describe('parseVersionRouting', () => {
  it('reads labels, a canary by label and a shadow by number', () => {
    const r = parseVersionRouting(cfg({ version_labels: ' stable:1 , canary:2', canary_version: 'canary', canary_percent: '12.5', shadow_version: '3' }), 'm', [1, 2, 3]);
    assert.deepEqual([...r.labels], [['stable', 1], ['canary', 2]]);
    assert.deepEqual(r.canary, { version: 2, basisPoints: 1250 });
    assert.deepEqual(r.shadow, { version: 3, basisPoints: 10000 }, 'no percent = all requests');
    assert.deepEqual(parseVersionRouting({}, 'm', [1]), { labels: new Map(), canary: undefined, shadow: undefined });
  });

  it('refuses garbage with the model and parameter named', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ version_labels: 'stable' }, /'version_labels' of model 'm': expected '<label>:<version>/],
      [{ version_labels: '1:1' }, /label '1' must start with a letter/],
      [{ version_labels: 'a:1,a:2' }, /label 'a' is given twice/],
      [{ version_labels: 'a:9' }, /names version 9, which the version policy does not load/],
      [{ version_labels: 'a:1:2' }, /expected/],
      [{ canary_percent: '5' }, /'canary_version' of model 'm': 'canary_percent' is set/],
      [{ canary_version: 'nope' }, /'nope' is neither a version number nor one of the labels/],
      [{ shadow_version: '7' }, /version 7 is not loaded/],
      [{ canary_version: '1', canary_percent: '-1' }, /'canary_percent'.*'-1'/],
      [{ canary_version: '1', canary_percent: '101' }, /'canary_percent'/],
      [{ canary_version: '1', canary_percent: 'ten' }, /'canary_percent'/],
      [{ canary_version: '1', canary_percent: '1e2' }, /'canary_percent'/],
      [{ version_labels: `${'x'.repeat(65)}:1` }, /at most 64/],
    ];
    for (const [p, re] of bad) assert.throws(() => parseVersionRouting(cfg(p), 'm', [1, 2]), re, JSON.stringify(p));
  });
});

describe('inSplit', () => {
  it('is sticky per id and spreads ids evenly', () => {
    let hits = 0;
    for (let i = 0; i < 20_000; i++) if (inSplit(2500, `id-${i}`, 'canary')) hits++;
    assert.ok(Math.abs(hits / 20_000 - 0.25) < 0.015, String(hits));
    for (const id of ['a', 'b', 'req-1']) assert.equal(inSplit(1000, id, 'canary'), inSplit(1000, id, 'canary'));
    assert.equal(inSplit(0, 'x', 's'), false);
    assert.equal(inSplit(10_000, 'x', 's'), true);
  });
});

describe('parseMemoryBudget', () => {
  it('reads bytes, suffixes and percents', () => {
    assert.equal(parseMemoryBudget('1000'), 1000);
    assert.equal(parseMemoryBudget('512m'), 512 * 1024 ** 2);
    assert.equal(parseMemoryBudget('4GiB'), 4 * 1024 ** 3);
    assert.equal(parseMemoryBudget('2k'), 2048);
    assert.equal(parseMemoryBudget('50%', 1000), 500);
  });
  it('refuses garbage', () => {
    for (const t of ['', 'lots', '-5', '0', '0%', '150%', '12x', '1e9', '%', '99999999999999999g']) {
      assert.throws(() => parseMemoryBudget(t, 1000), /--model-memory-budget/, t);
    }
  });
});

describe('compareOutputs', () => {
  const t = (name: string, xs: number[], datatype = 'FP32', shape = [xs.length]) => ({
    name, datatype: datatype as 'FP32', shape, data: new Uint8Array(new Float32Array(xs).buffer), parameters: {},
  });
  it('finds the largest difference, treats a shape clash as a difference, and nothing in common as incomparable', () => {
    assert.deepEqual(compareOutputs([t('A', [1, 2])], [t('A', [1, 2])]), { differs: false, maxAbsDiff: 0 });
    assert.deepEqual(compareOutputs([t('A', [1, 2])], [t('A', [1.5, 4])]), { differs: true, maxAbsDiff: 2 });
    assert.equal(compareOutputs([t('A', [1, 2])], [t('A', [1, 2, 3])])?.differs, true);
    assert.equal(compareOutputs([t('A', [1])], [t('B', [1])]), undefined);
  });
});
