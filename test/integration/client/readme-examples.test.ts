/**
 * The README's examples are tests: every ```js block followed by a ```text block runs as an ES
 * module inside the package (so `import 'infera/client'` resolves as it does for users) against a
 * real server, with the README's addresses (localhost:8001 gRPC, http://localhost:8000 HTTP)
 * replaced by the test server's, and must print exactly the text block.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, TempRepo } from '../../helpers/repo.js';
import { startServer, type TestServer } from '../../helpers/start-server.js';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const examples = [...readme.matchAll(/```js\n([\s\S]*?)```\n\n```text\n([\s\S]*?)```/g)].map((m) => ({ code: m[1]!, output: m[2]! }));

let ts: TestServer;
const repo = new TempRepo().addBundled('simple').addBundled('simple_string').addBundled('fp16_scale').addBundled('repeat_int32');
// Inside the package root, so the package's own name resolves through its exports map.
const dir = mkdtempSync(path.join(ROOT, 'dist', 'readme-'));
before(async () => {
  ts = await startServer([repo.dir], { modelControlMode: 'explicit', loadModels: ['*'] });
});
after(async () => {
  await ts.close();
  repo.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe('README examples', () => {
  it('there are examples, the first in "Calling it", all using infera/client', () => {
    assert.ok(examples.length >= 4, `${examples.length} examples`);
    assert.ok(readme.indexOf(examples[0]!.code) < readme.indexOf('## Client'));
    for (const e of examples) assert.match(e.code, /from 'infera\/client'/);
  });

  examples.forEach((e, i) => {
    it(`example ${i + 1} prints what the README says`, async () => {
      const code = e.code.replaceAll('http://localhost:8000', ts.httpUrl).replaceAll('localhost:8001', ts.target);
      const file = path.join(dir, `example-${i + 1}.mjs`);
      writeFileSync(file, code);
      // Asynchronously: the server answering the example runs in this process.
      const r = await promisify(execFile)(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, e.output);
    });
  });
});
