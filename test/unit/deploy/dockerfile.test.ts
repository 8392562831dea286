/**
 * The Dockerfile has the shape the README promises; scripts/prove-container.mjs runs its steps
 * (it needs the npm registry and minutes, so it is not part of npm test). Checked here: two stages
 * with dev dependencies only in the first, a non-root user, /models holding the bundled
 * repository, the three ports, an exec-form ENTRYPOINT (the server is PID 1 and gets SIGTERM), a
 * healthcheck on /v2/health/ready, and a .dockerignore that keeps local builds out of the context.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../../helpers/repo.js';
import { parseCommandLine } from '../../../src/cli.js';

interface Step { op: string; args: string; json?: string[] }

const { parseDockerfile } = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'prove-container.mjs')).href)) as { parseDockerfile(t: string): Step[] };
const steps = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = steps.slice(steps.map((s) => s.op).lastIndexOf('FROM'));
const one = (op: string): Step => {
  const s = runtime.filter((x) => x.op === op);
  assert.equal(s.length, 1, `one ${op} in the runtime stage`);
  return s[0]!;
};

describe('Dockerfile', () => {
  it('builds with dev dependencies, then prunes them before the runtime stage copies node_modules', () => {
    const froms = steps.filter((s) => s.op === 'FROM').map((s) => s.args);
    assert.deepEqual(froms.map((f) => f.split(/\s+AS\s+/i)[1]), ['build', 'runtime']);
    const build = steps.slice(0, steps.indexOf(runtime[0]!)).map((s) => `${s.op} ${s.args}`);
    const ci = build.findIndex((s) => /^RUN npm ci\b/.test(s));
    const compile = build.findIndex((s) => /^RUN npm run build\b/.test(s));
    const prune = build.findIndex((s) => /^RUN npm prune --omit=dev\b/.test(s));
    assert.ok(ci >= 0 && ci < compile && compile < prune, build.join('\n'));
    assert.ok(runtime.some((s) => s.op === 'COPY' && s.args === '--from=build /app/node_modules ./node_modules'));
    assert.ok(runtime.every((s) => s.op !== 'RUN'), 'nothing is installed in the runtime stage');
  });

  it('runs as a non-root user with the bundled repository at /models and Triton\'s ports', () => {
    assert.notEqual(one('USER').args.trim(), 'root');
    assert.ok(runtime.some((s) => s.op === 'COPY' && s.args === 'model-repository /models'));
    assert.deepEqual(one('EXPOSE').args.trim().split(/\s+/).map(Number).sort(), [8000, 8001, 8002]);
  });

  it('starts the server as PID 1 with flags Infera parses, and checks readiness', () => {
    const entry = one('ENTRYPOINT').json;
    assert.ok(Array.isArray(entry), 'exec form: no shell between the runtime and node');
    assert.deepEqual(entry, ['node', 'dist/src/main.js']);
    const cmd = one('CMD').json!;
    const o = parseCommandLine(['node', 'infera', ...cmd], {}, false);
    assert.deepEqual(o.modelRepositories, ['/models']);
    assert.deepEqual([o.httpPort, o.grpcPort, o.metricsPort], [8000, 8001, 8002]);
    assert.match(one('HEALTHCHECK').args, /CMD \[.*127\.0\.0\.1:8000\/v2\/health\/ready/);
  });

  it('.dockerignore keeps node_modules, dist and .git out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'dist', '.git']) assert.ok(ignored.includes(p), p);
  });
});
