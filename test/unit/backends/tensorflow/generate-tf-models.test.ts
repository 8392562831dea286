// The committed model-repository/tfjs_mlp must be exactly what `npm run gen:tf-models` writes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../../helpers/repo.js';

describe('generate-tf-models', () => {
  it('reproduces model-repository/tfjs_mlp byte for byte', () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'infera-gen-tf-'));
    try {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'generate-tf-models.mjs'), tmp], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const rel = ['config.pbtxt', '1/model.json', '1/weights.bin'];
      assert.deepEqual(readdirSync(path.join(ROOT, 'model-repository', 'tfjs_mlp'), { recursive: true }).filter((f) => !['1'].includes(String(f))).map(String).sort(), rel.map((f) => f.split('/').join(path.sep)).sort());
      for (const f of rel) {
        assert.ok(readFileSync(path.join(tmp, 'model-repository', 'tfjs_mlp', f)).equals(readFileSync(path.join(ROOT, 'model-repository', 'tfjs_mlp', f))), f);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
