#!/usr/bin/env node
// Proves the Dockerfile where no container runtime is available: runs its stages' steps in a clean
// temporary folder, one folder per stage standing in for that stage's filesystem, then starts the
// runtime stage's ENTRYPOINT + CMD the way the image would, and checks the result:
//   - build context = the repository minus .dockerignore; COPY, COPY --from, WORKDIR, ENV and RUN
//     are carried out in order (RUN under `sh -c` in the stage's WORKDIR);
//   - the runtime stage holds no dev dependency (typescript) and no sources;
//   - the server starts from the runtime folder with the image's arguments (absolute paths such as
//     /models mapped into the stage's folder; ports 0 instead of 8000/8001/8002, so nothing here
//     needs free fixed ports), the HEALTHCHECK command passes, `simple` answers over gRPC and HTTP
//     through the runtime copy of infera/client, and SIGTERM drains it to exit code 0.
// Not proven here: the base image itself, USER (it runs as the invoking user) and EXPOSE.
//
//   node scripts/prove-container.mjs [--keep]      (takes a few minutes: npm ci from the registry/cache)
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.join(fileURLToPath(new URL('.', import.meta.url)), '..');
const keep = process.argv.includes('--keep');

/** Dockerfile → instructions [{ op, args, json }], continuation lines joined, comments dropped. */
export function parseDockerfile(text) {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  return lines.map((l) => {
    const [, op, rest] = /^(\S+)\s*(.*)$/.exec(l);
    let json;
    if (rest.trim().startsWith('[')) json = JSON.parse(rest.trim());
    return { op: op.toUpperCase(), args: rest, json };
  });
}

/** .dockerignore patterns (root-relative globs, as Docker reads them). */
function ignored(rel, patterns) {
  return patterns.some((p) => path.matchesGlob(rel, p) || rel.startsWith(`${p}/`));
}

function copyContext(src, dest, patterns) {
  const rel = path.relative(ROOT, src);
  if (rel !== '' && ignored(rel, patterns)) throw new Error(`COPY ${rel}: excluded by .dockerignore`);
  cpSync(src, dest, { recursive: true, filter: (s) => { const r = path.relative(ROOT, s); return r === '' || !ignored(r, patterns); } });
}

function step(msg) {
  process.stdout.write(`\n== ${msg}\n`);
}

async function main() {
  const steps = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const work = mkdtempSync(path.join(tmpdir(), 'infera-image-'));
  const stages = new Map();
  let stage;
  try {
    for (const s of steps) {
      if (s.op === 'FROM') {
        const name = /\bAS\s+(\S+)/i.exec(s.args)?.[1] ?? `stage${stages.size}`;
        stage = { name, fs: path.join(work, name), cwd: '/', env: {}, entrypoint: [], cmd: [], healthcheck: [] };
        mkdirSync(stage.fs, { recursive: true });
        stages.set(name, stage);
        step(`stage ${name} (${s.args})`);
        continue;
      }
      const inFs = (p) => path.join(stage.fs, path.posix.isAbsolute(p) ? p : path.posix.join(stage.cwd, p));
      switch (s.op) {
        case 'WORKDIR': stage.cwd = path.posix.resolve(stage.cwd, s.args.trim()); mkdirSync(inFs('.'), { recursive: true }); break;
        case 'ENV': for (const [, k, v] of s.args.matchAll(/(\w+)=(\S+)/g)) stage.env[k] = v; break;
        case 'COPY': {
          const words = s.args.trim().split(/\s+/);
          const from = words[0].startsWith('--from=') ? stages.get(words.shift().slice(7)) : undefined;
          const dest = words.pop();
          for (const src of words) {
            const target = dest.endsWith('/') || words.length > 1 ? path.join(inFs(dest), path.posix.basename(src)) : inFs(dest);
            mkdirSync(path.dirname(target), { recursive: true });
            if (from === undefined) copyContext(path.join(ROOT, src), target, patterns);
            else cpSync(path.join(from.fs, src), target, { recursive: true });
            console.log(`COPY ${from ? `${from.name}:` : ''}${src} → ${path.relative(stage.fs, target)}`);
          }
          break;
        }
        case 'RUN': {
          console.log(`RUN ${s.args}`);
          const r = spawnSync('sh', ['-c', s.args], { cwd: inFs('.'), stdio: 'inherit', env: { ...process.env, ...stage.env } });
          if (r.status !== 0) throw new Error(`RUN ${s.args} failed with ${r.status}`);
          break;
        }
        case 'ENTRYPOINT': stage.entrypoint = s.json; break;
        case 'CMD': stage.cmd = s.json; break;
        case 'HEALTHCHECK': stage.healthcheck = JSON.parse(s.args.slice(s.args.indexOf('CMD') + 3).trim()); break;
        case 'USER': case 'EXPOSE': console.log(`${s.op} ${s.args} (not reproducible without a container runtime)`); break;
        default: throw new Error(`unsupported instruction ${s.op}`);
      }
    }
    await proveRuntime(stage);
    console.log('\ncontainer recipe: PASS');
  } finally {
    if (keep) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

async function proveRuntime(rt) {
  step('runtime stage contents');
  const app = path.join(rt.fs, rt.cwd);
  const deps = readdirSync(path.join(app, 'node_modules'));
  if (deps.includes('typescript')) throw new Error('a dev dependency (typescript) reached the runtime stage');
  if (existsSync(path.join(app, 'src'))) throw new Error('sources reached the runtime stage');
  if (!statSync(path.join(rt.fs, 'models', 'simple')).isDirectory()) throw new Error('the bundled repository is not at /models');
  console.log(`node_modules: ${deps.length} production packages, no typescript; /models holds the bundled repository`);

  step(`start: ${[...rt.entrypoint, ...rt.cmd].join(' ')}`);
  const args = [...rt.entrypoint, ...rt.cmd].map((a) => a.replace(/(^|=)(\/[^\s]*)/, (m, pre, p) => (existsSync(path.join(rt.fs, p)) ? `${pre}${path.join(rt.fs, p)}` : m)));
  const [cmd, ...rest] = args;
  const child = spawn(cmd === 'node' ? process.execPath : cmd, [...rest, '--http-port=0', '--grpc-port=0', '--metrics-port=0', '--log-format=json'], {
    cwd: app, env: { ...process.env, ...rt.env }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((ok) => child.on('exit', (code, signal) => ok({ code, signal })));
  try {
    const ports = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('no "startup complete" line within 120 s')), 120_000);
      createInterface({ input: child.stdout }).on('line', (l) => {
        const j = JSON.parse(l);
        if (j.msg === 'startup complete') {
          clearTimeout(timer);
          ok(j);
        }
      });
      child.on('exit', (c) => fail(new Error(`server exited with ${c} before starting`)));
    });
    console.log(`started: http ${ports.httpPort}, grpc ${ports.grpcPort}, metrics ${ports.metricsPort}`);

    const hc = rt.healthcheck.map((a) => a.replace('127.0.0.1:8000', `127.0.0.1:${ports.httpPort}`));
    const h = spawnSync(hc[0] === 'node' ? process.execPath : hc[0], hc.slice(1), { stdio: 'inherit' });
    if (h.status !== 0) throw new Error(`HEALTHCHECK failed with ${h.status}`);
    console.log('HEALTHCHECK: healthy');

    const { InferenceClient } = await import(path.join(app, 'dist', 'src', 'client', 'index.js'));
    for (const address of [`127.0.0.1:${ports.grpcPort}`, `http://127.0.0.1:${ports.httpPort}`]) {
      const c = new InferenceClient(address);
      const a = Int32Array.from({ length: 16 }, (_, i) => i);
      const r = await c.infer({ model: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: a }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: a }] });
      const sum = r.output('OUTPUT0', 'INT32').data;
      if (sum[15] !== 30) throw new Error(`simple over ${c.protocol} answered ${sum}`);
      c.close();
      console.log(`infer simple over ${c.protocol}: OUTPUT0[15] = ${sum[15]}`);
    }
  } finally {
    child.kill('SIGTERM');
  }
  const { code, signal } = await exited;
  if (code !== 0) throw new Error(`after SIGTERM the server exited with ${code ?? signal}`);
  console.log('SIGTERM: drained, exit code 0');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(`\ncontainer recipe: FAIL: ${e.message}`);
    process.exit(1);
  });
}
