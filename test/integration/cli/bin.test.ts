/**
 * `npx infera` is the package's bin, the same entry `npm start` runs: it lists the flags on --help,
 * starts the server with them, and drains on SIGTERM. npm runs the bin under `sh -c` and does not
 * pass SIGTERM on to it, so the signal goes to the process group, as a terminal or a process
 * supervisor sends it (the container runs node directly instead; see the Dockerfile).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { InferenceClient } from 'infera/client';
import { ROOT, TempRepo } from '../../helpers/repo.js';
import { buildCli } from '../../../src/cli.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
// npx keeps one cache entry per project folder, linked to it; an entry left by an earlier folder at
// the same path (deleted and cloned again) answers 'infera: not found'. Each run gets its own cache.
const npxCache = mkdtempSync(path.join(tmpdir(), 'infera-npx-cache-'));
after(() => rmSync(npxCache, { recursive: true, force: true }));
const npxEnv = { ...process.env, npm_config_cache: npxCache };

describe('the infera bin', () => {
  it('is dist/src/main.js with a node shebang, and npm start runs it', () => {
    assert.equal(pkg.bin['infera'], 'dist/src/main.js');
    assert.match(readFileSync(path.join(ROOT, pkg.bin['infera']), 'utf8'), /^#!\/usr\/bin\/env node\n/);
    // npm start execs the launcher (build, then the same entry in the same process: scripts/start.mjs).
    assert.equal(pkg.scripts['start'], 'exec node scripts/start.mjs');
    const launcher = readFileSync(path.join(ROOT, 'scripts', 'start.mjs'), 'utf8');
    assert.ok(launcher.includes(`join(root, ${pkg.bin['infera']!.split('/').map((p) => `'${p}'`).join(', ')})`), 'the launcher imports the bin');
  });

  it('npx infera --help lists every flag, exactly as node dist/src/main.js --help', () => {
    const viaNpx = spawnSync(npx, ['--offline', '--no-install', 'infera', '--help'], { cwd: ROOT, env: npxEnv, encoding: 'utf8', timeout: 60_000 });
    assert.equal(viaNpx.status, 0, viaNpx.stderr);
    const direct = spawnSync(process.execPath, [pkg.bin['infera']!, '--help'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(viaNpx.stdout, direct.stdout);
    for (const o of buildCli().options) assert.ok(viaNpx.stdout.includes(o.long!), `${o.long} in --help`);
  });

  it('npx infera <flags> serves, and SIGTERM to its process group drains it', async () => {
    const repo = new TempRepo().addBundled('simple');
    const child = spawn(npx, ['--offline', '--no-install', 'infera', '--model-repository', repo.dir, '--grpc-port=0', '--http-port=0',
      '--allow-metrics=false', '--grpc-address=127.0.0.1', '--http-address=127.0.0.1', '--log-format=json'], { cwd: ROOT, env: npxEnv, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    const messages: string[] = [];
    // Closes once every process of the group (npm, sh, the server) has let go of stdout.
    const closed = new Promise<void>((ok) => child.stdout!.on('close', ok));
    try {
      const started = await new Promise<{ grpcPort: number; httpPort: number }>((ok, fail) => {
        createInterface({ input: child.stdout! }).on('line', (l) => {
          const j = JSON.parse(l) as { msg: string; grpcPort: number; httpPort: number };
          messages.push(j.msg);
          if (j.msg === 'startup complete') ok(j);
        });
        child.on('exit', (code) => fail(new Error(`exited with ${code} before starting`)));
      });
      for (const address of [`127.0.0.1:${started.grpcPort}`, `http://127.0.0.1:${started.httpPort}`]) {
        const c = new InferenceClient(address);
        assert.equal(await c.modelReady('simple'), true);
        c.close();
      }
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
      await closed;
      repo.remove();
    }
    const tail = messages.slice(messages.indexOf('shutting down'));
    assert.deepEqual([tail[0], tail.at(-1)], ['shutting down', 'stopped'], messages.join('\n'));
  });
});
