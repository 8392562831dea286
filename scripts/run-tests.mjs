#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner. Node 20's
// `node --test` takes no globs, so the files are listed here. Extra arguments are passed to
// `node --test` (e.g. --test-name-pattern=...). Set INFERA_TEST_FILTER to a substring to run a subset.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const testRoot = join(root, 'dist', 'test');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filter = process.env.INFERA_TEST_FILTER ?? '';
const files = walk(testRoot).filter((f) => f.includes(filter)).map((f) => relative(root, f));
if (files.length === 0) {
  console.error(`no test files found under ${relative(root, testRoot)} (did tsc run?)`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', ...process.argv.slice(2), ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
