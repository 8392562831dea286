/**
 * infera/client loads nothing of the server: walking the compiled import graph from its entry, the
 * only packages reached are grpc-js and proto-loader (plus node: builtins), and no module of the
 * server's rooms (backends, scheduler, workers, repository, observability, …) is reached.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../helpers/repo.js';

/** Static imports and re-exports as tsc emits them (one statement per line), and dynamic imports. */
const IMPORT = /^(?:import|export)\s[^;]*?from\s*'([^']+)';$|^import\s*'([^']+)';$|\bimport\(\s*'([^']+)'\s*\)/gm;

function graph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (spec.startsWith('.')) todo.push(path.resolve(path.dirname(file), spec));
      else packages.add(spec);
    }
  }
  return { files, packages };
}

describe('infera/client import graph', () => {
  const { files, packages } = graph(path.join(ROOT, 'dist', 'src', 'client', 'index.js'));

  it('reaches only grpc-js, proto-loader and node builtins', () => {
    const external = [...packages].filter((p) => !p.startsWith('node:'));
    assert.deepEqual(external.sort(), ['@grpc/grpc-js', '@grpc/proto-loader']);
    for (const p of ['@grpc/grpc-js', '@grpc/proto-loader']) {
      const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
      assert.ok(pkg.dependencies[p] !== undefined, `${p} must be a runtime dependency`);
    }
  });

  it('reaches no server module', () => {
    const rel = [...files].map((f) => path.relative(path.join(ROOT, 'dist', 'src'), f));
    const server = rel.filter((f) => /^(backends|scheduler|workers|repository|observability|ensemble|config)\//.test(f) || f === 'server.js' || f === 'cli.js');
    assert.deepEqual(server, []);
    assert.ok(rel.includes('core/tensor-codec.js') && rel.includes('frontends/grpc/proto-loader.js'), 'the walk follows imports');
  });
});
