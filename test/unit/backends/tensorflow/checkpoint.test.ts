// The checkpoint reader (variables.index tables and data shards) on TensorFlow's own files, and on
// garbage: every malformed input is a TfFormatError that says what is wrong, never a crash.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../../helpers/repo.js';
import { crc32c, maskCrc } from '../../../../src/backends/tensorflow/savedmodel/crc32c.js';
import { readCheckpointIndex } from '../../../../src/backends/tensorflow/savedmodel/checkpoint-index.js';
import { CheckpointReader } from '../../../../src/backends/tensorflow/savedmodel/checkpoint-reader.js';
import { TfFormatError } from '../../../../src/backends/tensorflow/savedmodel/tf-proto.js';
import { noise } from '../../../helpers/noise.js';

const SAVED = path.join(ROOT, '..', 'shared', 'fixtures', 'tensorflow', 'saved_model');
const index = (fixture: string): Buffer => readFileSync(path.join(SAVED, fixture, 'variables', 'variables.index'));

describe('crc32c', () => {
  it('matches the standard check value and TensorFlow masking', () => {
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(maskCrc(0), 0xa282ead8);
  });
});

describe('readCheckpointIndex on the fixtures', () => {
  for (const fixture of readdirSync(SAVED)) {
    it(`${fixture}: header and entries`, () => {
      const { header, entries } = readCheckpointIndex(index(fixture));
      assert.equal(header.numShards, 1);
      assert.ok(entries.has('_CHECKPOINTABLE_OBJECT_GRAPH'));
      for (const [key, e] of entries) assert.ok(Number(e.size) >= 0, key);
    });
  }
});

describe('CheckpointReader', () => {
  it('reads the times_three_float variable (3.0)', async () => {
    const r = await CheckpointReader.open(path.join(SAVED, 'times_three_float', 'variables'));
    const v = await r.read('v/.ATTRIBUTES/VARIABLE_VALUE');
    assert.equal(v.dtype, 'float32');
    assert.deepEqual(v.shape, []);
    assert.deepEqual([...(v.values as Float32Array)], [3]);
    await assert.rejects(r.read('nope'), /the checkpoint has no variable 'nope'/);
  });

  it('reads int64 variables of int64_multiply as int32', async () => {
    const r = await CheckpointReader.open(path.join(SAVED, 'int64_multiply', 'variables'));
    const vals = await Promise.all(r.keys.filter((k) => k.endsWith('VARIABLE_VALUE')).map((k) => r.read(k)));
    assert.ok(vals.length === 2 && vals.every((v) => v.dtype === 'int32'));
  });

  it('refuses a corrupt data shard by its CRC', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'infera-ckpt-'));
    cpSync(path.join(SAVED, 'times_three_float', 'variables'), dir, { recursive: true });
    const shard = path.join(dir, 'variables.data-00000-of-00001');
    const bytes = readFileSync(shard);
    const e = readCheckpointIndex(index('times_three_float')).entries.get('v/.ATTRIBUTES/VARIABLE_VALUE')!;
    bytes[Number(e.offset ?? '0')]! ^= 0xff;
    writeFileSync(shard, bytes);
    const r = await CheckpointReader.open(dir);
    await assert.rejects(r.read('v/.ATTRIBUTES/VARIABLE_VALUE'), /fails its CRC-32C check/);
  });
});

describe('readCheckpointIndex on garbage', () => {
  const good = index('times_three_float');
  const cases: [string, Uint8Array, RegExp][] = [
    ['an empty file', new Uint8Array(0), /shorter than a table footer/],
    ['47 bytes', good.subarray(good.length - 47), /shorter than a table footer/],
    ['a file without the magic', good.subarray(0, good.length - 1), /bad table magic/],
    ['random bytes', noise(512, 7), /bad table magic/],
  ];
  for (const [what, bytes, why] of cases) {
    it(`rejects ${what}`, () => {
      assert.throws(() => readCheckpointIndex(bytes), (e: Error) => e instanceof TfFormatError && why.test(e.message));
    });
  }

  it('rejects a flipped byte anywhere before the footer, by CRC or structure', () => {
    for (let at = 0; at < good.length - 48; at++) {
      const bad = Buffer.from(good);
      bad[at]! ^= 0x5a;
      assert.throws(() => readCheckpointIndex(bad), (e: Error) => e instanceof TfFormatError, `byte ${at}`);
    }
  });

  it('rejects random bodies behind a valid footer', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const bad = Buffer.concat([noise(good.length - 48, seed), good.subarray(good.length - 48)]);
      assert.throws(() => readCheckpointIndex(bad), (e: Error) => e instanceof TfFormatError, `seed ${seed}`);
    }
  });
});
