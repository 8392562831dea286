/**
 * `npm start` for real (issue 19): SIGTERM to npm's process alone (npm as PID 1 in a container) and
 * SIGTERM to npm's whole process group both drain the server and end with npm exiting 0 and no
 * process left behind.
 *
 * `npm start` builds before it serves, so it runs in a copy of the project (package.json, tsconfig,
 * src, scripts, proto; node_modules linked): rebuilding this checkout's dist/ would rewrite files
 * that other test files are loading at the same moment.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { credentials } from '@grpc/grpc-js';
import { IDENTITY_FP32_CONFIG, ROOT, TempRepo } from '../../helpers/repo.js';
import { call } from '../../helpers/start-server.js';
import { loadInferenceProtos } from '../../../src/frontends/grpc/proto-loader.js';


const linux = process.platform === 'linux';
const repo = new TempRepo().add('m', { config: IDENTITY_FP32_CONFIG, versions: { 1: 'identity_fp32.onnx' } });
let project = '';
/** Process groups this file started; any still running at the end (a failed test) are killed. */
const groups: ChildProcess[] = [];

before(() => {
  project = mkdtempSync(path.join(tmpdir(), 'infera-npm-start-'));
  for (const f of ['package.json', 'tsconfig.json', '.npmrc', 'src', 'scripts', 'proto']) {
    cpSync(path.join(ROOT, f), path.join(project, f), { recursive: true });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(project, 'node_modules'));
});
after(() => {
  for (const g of groups) {
    if (g.exitCode === null && g.signalCode === null) {
      try {
        process.kill(-g.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  repo.remove();
  if (project !== '') rmSync(project, { recursive: true, force: true });
});

interface Started {
  npm: ChildProcess;
  /** The server's pid (npm's child: the start script execs node, no shell in between). */
  serverPid: number;
  grpcPort: number;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  log: string[];
}

/** Spawns `npm start` as the leader of its own process group and waits for "server started". */
async function npmStart(): Promise<Started> {
  const npm = spawn('npm', ['start', '--', '--model-repository', repo.dir, '--grpc-port', '0', '--grpc-address', '127.0.0.1',
    '--http-port', '0', '--http-address', '127.0.0.1', '--metrics-port', '0', '--metrics-address', '127.0.0.1', '--log-format', 'json'],
  { cwd: project, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  groups.push(npm);
  const log: string[] = [];
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => npm.on('exit', (code, signal) => r({ code, signal })));
  npm.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
  const grpcPort = await new Promise<number>((resolve, reject) => {
    createInterface({ input: npm.stdout! }).on('line', (l) => {
      log.push(l);
      if (!l.startsWith('{')) return;
      const rec = JSON.parse(l) as { msg?: string; grpcPort?: number };
      if (rec.msg === 'server started') resolve(rec.grpcPort!);
    });
    void exit.then((e) => reject(new Error(`npm start exited early (${e.code ?? e.signal}): ${log.join('\n')}`)));
  });
  const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(npm.pid)], { encoding: 'utf8' }).trim().split('\n');
  assert.equal(children.length, 1, `npm has exactly one child: ${children.join(' | ')}`);
  assert.match(children[0]!, /^\s*\d+ node scripts\/start\.mjs /, 'and it is node itself, not a shell');
  return { npm, serverPid: Number(children[0]!.trim().split(/\s+/)[0]), grpcPort, exit, log };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function assertServes(grpcPort: number): Promise<void> {
  const { grpcObject } = loadInferenceProtos();
  const client = new grpcObject.inference.GRPCInferenceService(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
  try {
    // The server listens before its models load (not ready yet): readiness follows within seconds.
    let ready = await call(client.ServerReady.bind(client), {});
    for (let i = 0; i < 100 && !(ready as { ready: boolean }).ready; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await call(client.ServerReady.bind(client), {});
    }
    assert.deepEqual(ready, { ready: true });
  } finally {
    client.close();
  }
}

async function assertDrainedAndGone(s: Started): Promise<void> {
  const { code, signal } = await s.exit;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, `npm exits 0, not by the signal: ${s.log.join('\n')}`);
  assert.ok(s.log.some((l) => l.includes('"msg":"stopped"')), 'the server drained and logged "stopped"');
  assert.ok(!s.log.some((l) => l.includes('second signal')), 'a signal delivered twice (group + npm forwarding) is one request');
  for (let i = 0; i < 50 && alive(s.serverPid); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(alive(s.serverPid), false, 'no server process is left running');
}

describe('npm start and signals', { skip: linux ? false : 'process groups and ps(1) as on Linux' }, () => {
  it('SIGTERM to npm alone: the server drains, npm exits 0, nothing is left', async () => {
    const s = await npmStart();
    await assertServes(s.grpcPort);
    process.kill(s.npm.pid!, 'SIGTERM');
    await assertDrainedAndGone(s);
  });

  it('SIGTERM during the build stops the build, starts no server, and npm exits 0 leaving nothing', async () => {
    const npm = spawn('npm', ['start', '--', '--model-repository', repo.dir, '--grpc-port', '0', '--http-port', '0', '--metrics-port', '0'],
      { cwd: project, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    groups.push(npm);
    let out = '';
    npm.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    npm.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => npm.on('exit', (code, signal) => r({ code, signal })));
    const psChildren = (pid: number) => {
      try {
        return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter((l) => l !== '');
      } catch {
        return []; // ps exits 1 when there are none
      }
    };
    // Wait until the launcher (npm's child) runs tsc (its child): the build is under way.
    let build: string[] = [];
    for (let i = 0; i < 200 && build.length === 0; i++) {
      const launcher = psChildren(npm.pid!)[0];
      if (launcher !== undefined) build = psChildren(Number(launcher.trim().split(/\s+/)[0])).filter((l) => /tsc/.test(l));
      if (build.length === 0) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(build.length > 0, `saw the build start: ${out}`);
    process.kill(npm.pid!, 'SIGTERM');
    assert.deepEqual(await exit, { code: 0, signal: null }, out);
    assert.match(out, /SIGTERM during the build: not starting/);
    assert.doesNotMatch(out, /server started/);
    const tscPid = Number(build[0]!.trim().split(/\s+/)[0]);
    for (let i = 0; i < 50 && alive(tscPid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(tscPid), false, 'the build is not left running');
    const inBuildGroup = execFileSync('ps', ['-e', '-o', 'pid=,pgid='], { encoding: 'utf8' }).split('\n')
      .filter((l) => Number(l.trim().split(/\s+/)[1]) === tscPid);
    assert.deepEqual(inBuildGroup, [], 'nor anything tsc started (its own process group, led by it)');
  });

  it("SIGTERM to npm's whole process group: the same", async () => {
    const s = await npmStart();
    await assertServes(s.grpcPort);
    process.kill(-s.npm.pid!, 'SIGTERM');
    await assertDrainedAndGone(s);
  });
});
