/**
 * Stripped TypeScript in a model folder the server cannot write to (a read-only /models mount):
 * it is imported from memory, so self-contained models and package imports still load, and a
 * failure names the source file. Other write errors are not hidden.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { importStripped } from '../../../../src/backends/typescript/typescript-source.js';

const file = path.join('/nonexistent-models', 'm', '1', 'model.ts');
const failing = (code: string) => async () => {
  throw Object.assign(new Error(`write refused (${code})`), { code });
};

describe('importStripped in a read-only model folder', () => {
  for (const code of ['EROFS', 'EACCES', 'EPERM']) {
    it(`${code}: imports the code from memory, builtins resolve`, async () => {
      const src = `import { Buffer } from 'node:buffer';\nexport default class M { hello() { return Buffer.from('hi').toString('hex'); } }\n`;
      const ns = await importStripped(src, file, failing(code));
      const M = ns['default'] as new () => { hello(): string };
      assert.equal(new M().hello(), '6869');
    });
  }

  it('an evaluation error names the source file, not the data: URL', async () => {
    await assert.rejects(importStripped(`throw new Error('boom in model');\n`, file, failing('EROFS')), (e: Error) => {
      assert.match(e.message, /boom in model/);
      assert.doesNotMatch(e.message, /data:text/);
      return true;
    });
  });

  it('a relative import fails with the module named, rather than silently', async () => {
    await assert.rejects(importStripped(`import './helper.mjs';\n`, file, failing('EROFS')), /helper\.mjs/);
  });

  it('another write error is not hidden', async () => {
    await assert.rejects(importStripped('export default 1;\n', file, failing('ENOSPC')), /ENOSPC/);
  });
});
