import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readSequenceParameters } from '../../../src/core/request-parameters.js';
import { SequenceControls } from '../../../src/scheduler/sequence-controls.js';
import { ImplicitState } from '../../../src/scheduler/sequence-state.js';
import { sequenceInputs, sequenceOutputs } from '../../../src/config/sequence-tensors.js';
import { InferenceError } from '../../../src/errors/inference-error.js';
import type { ModelConfig } from '../../../src/config/model-config.js';
import { noise } from '../../helpers/noise.js';

const invalid = (re: RegExp) => (e: unknown) => e instanceof InferenceError && e.code === 'INVALID_ARG' && re.test(e.message);

describe('readSequenceParameters', () => {
  it('reads ids as uint64 or strings; 0 and "" mean no sequence', () => {
    assert.deepEqual(readSequenceParameters({ sequence_id: 5, sequence_start: true }, 'm'), { id: 5n, start: true, end: false });
    assert.equal(readSequenceParameters({ sequence_id: -1 }, 'm').id, 2n ** 64n - 1n);
    assert.equal(readSequenceParameters({ sequence_id: 2n ** 64n - 1n }, 'm').id, 2n ** 64n - 1n);
    assert.equal(readSequenceParameters({ sequence_id: 'abc' }, 'm').id, 'abc');
    for (const none of [0, '', 0n, undefined]) assert.equal(readSequenceParameters(none === undefined ? {} : { sequence_id: none }, 'm').id, undefined);
  });

  it('refuses non-integer ids and non-boolean flags, naming the parameter', () => {
    assert.throws(() => readSequenceParameters({ sequence_id: 1.5 }, "model 'm'"), invalid(/sequence_id' for model 'm' must be an unsigned integer or a string, got 1.5/));
    assert.throws(() => readSequenceParameters({ sequence_id: true }, 'm'), invalid(/sequence_id/));
    assert.throws(() => readSequenceParameters({ sequence_id: 1, sequence_end: 1 }, 'm'), invalid(/sequence_end' for m must be a boolean/));
  });

  it('never throws anything but INVALID_ARG on garbage values', () => {
    const values = [NaN, Infinity, -0.5, 'x', '', true, false, 3n, -3n, 2 ** 60];
    const bytes = noise(600, 11);
    for (let i = 0; i < 200; i++) {
      const pick = (k: number) => values[bytes[i * 3 + k]! % values.length]!;
      try {
        readSequenceParameters({ sequence_id: pick(0), sequence_start: pick(1), sequence_end: pick(2) }, 'm');
      } catch (e) {
        assert.ok(e instanceof InferenceError && e.code === 'INVALID_ARG', String(e));
      }
    }
  });
});

const cfg = (sb: ModelConfig['sequence_batching'], maxBatch = 4): ModelConfig => ({ name: 'm', max_batch_size: maxBatch, sequence_batching: sb });

describe('SequenceControls', () => {
  it('builds rows of each control in its type and shape [rows, 1]', () => {
    const c = new SequenceControls(cfg({
      control_input: [
        { name: 'S', control: [{ kind: 'CONTROL_SEQUENCE_START', int32_false_true: [3, 4] }] },
        { name: 'E', control: [{ kind: 'CONTROL_SEQUENCE_END', fp32_false_true: [0, 2.5] }] },
        { name: 'R', control: [{ kind: 'CONTROL_SEQUENCE_READY', bool_false_true: [false, true] }] },
        { name: 'C', control: [{ kind: 'CONTROL_SEQUENCE_CORRID', data_type: 'TYPE_UINT64' }] },
      ],
    }));
    const [s, e, r, id] = c.build([{ id: 9n, start: true, end: false }, { id: 2n ** 64n - 1n, start: false, end: true }]);
    assert.deepEqual(s!.shape, [2, 1]);
    assert.deepEqual([...new Int32Array(s!.data.slice().buffer)], [4, 3]);
    assert.deepEqual([...new Float32Array(e!.data.slice().buffer)], [0, 2.5]);
    assert.deepEqual([...r!.data], [1, 1]);
    assert.deepEqual([...new BigUint64Array(id!.data.slice().buffer)], [9n, 2n ** 64n - 1n]);
  });

  it('unbatched models get shape [1]', () => {
    const c = new SequenceControls(cfg({ control_input: [{ name: 'S', control: [{ kind: 'CONTROL_SEQUENCE_START', int32_false_true: [0, 1] }] }] }, 0));
    assert.deepEqual(c.build([{ id: 1n, start: true, end: false }])[0]!.shape, [1]);
  });

  it('refuses ids the CORRID type cannot hold; accepts anything without CORRID', () => {
    const corrid = (t: 'TYPE_INT32' | 'TYPE_STRING') => new SequenceControls(cfg({ control_input: [{ name: 'C', control: [{ kind: 'CONTROL_SEQUENCE_CORRID', data_type: t }] }] }));
    assert.match(corrid('TYPE_INT32').refuse(2n ** 31n) ?? '', /does not fit the model's INT32 CORRID control 'C'/);
    assert.equal(corrid('TYPE_INT32').refuse(2n ** 31n - 1n), undefined);
    assert.match(corrid('TYPE_INT32').refuse('a') ?? '', /must be an integer, not a string/);
    assert.match(corrid('TYPE_STRING').refuse(1n) ?? '', /must be a string/);
    assert.equal(new SequenceControls(cfg({})).refuse('x'), undefined);
  });
});

describe('sequence tensors for the backends', () => {
  it('lists controls then state inputs, and state outputs', () => {
    const c = cfg({
      control_input: [{ name: 'S', control: [{ kind: 'CONTROL_SEQUENCE_START', fp32_false_true: [0, 1] }] }, { name: 'C', control: [{ kind: 'CONTROL_SEQUENCE_CORRID', data_type: 'TYPE_STRING' }] }],
      state: [{ input_name: 'SI', output_name: 'SO', data_type: 'TYPE_INT64', dims: [2, 3] }],
    });
    assert.deepEqual(sequenceInputs(c), [
      { name: 'S', data_type: 'TYPE_FP32', dims: [1] }, { name: 'C', data_type: 'TYPE_STRING', dims: [1] }, { name: 'SI', data_type: 'TYPE_INT64', dims: [2, 3] },
    ]);
    assert.deepEqual(sequenceOutputs(c), [{ name: 'SO', data_type: 'TYPE_INT64', dims: [2, 3] }]);
    assert.deepEqual(sequenceInputs({ name: 'plain' }), []);
  });
});

describe('ImplicitState.load', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'infera-state-'));
  mkdirSync(path.join(dir, 'initial_state'));
  writeFileSync(path.join(dir, 'initial_state', 'ok.bin'), Buffer.from(new Float32Array([1, 2]).buffer));
  writeFileSync(path.join(dir, 'initial_state', 'short.bin'), Buffer.alloc(3));
  writeFileSync(path.join(dir, 'secret.bin'), Buffer.alloc(8));
  const state = (extra: object) => cfg({ state: [{ input_name: 'I', output_name: 'O', data_type: 'TYPE_FP32', dims: [2], ...extra }] });

  it('zero state by default; data_file contents when given', async () => {
    const zero = (await ImplicitState.load(state({}), dir))!.initial().get('I')!;
    assert.deepEqual([zero.shape, [...zero.data]], [[2], [0, 0, 0, 0, 0, 0, 0, 0]]);
    const file = (await ImplicitState.load(state({ initial_state: [{ data_type: 'TYPE_FP32', dims: [2], data_file: 'ok.bin' }] }), dir))!.initial().get('I')!;
    assert.deepEqual([...new Float32Array(file.data.slice().buffer)], [1, 2]);
    assert.equal(await ImplicitState.load(cfg({}), dir), undefined);
  });

  it('refuses a short file, a path outside initial_state/, a missing file and variable dims', async () => {
    const file = (f: string) => state({ initial_state: [{ data_type: 'TYPE_FP32', dims: [2], data_file: f }] });
    await assert.rejects(ImplicitState.load(file('short.bin'), dir), invalid(/state 'I' of model 'm': initial_state data_file 'short.bin' holds 3 bytes, expected 8/));
    await assert.rejects(ImplicitState.load(file('../secret.bin'), dir), invalid(/outside/));
    await assert.rejects(ImplicitState.load(file('missing.bin'), dir), invalid(/cannot read initial_state data_file 'missing.bin'/));
    await assert.rejects(ImplicitState.load(state({ dims: [-1] }), dir), invalid(/variable dims \[-1\]: give an initial_state/));
    rmSync(dir, { recursive: true, force: true });
  });
});
