#!/usr/bin/env node
// `npm start`: build, then run the server in THIS process, so the process npm started is the
// server and the signals npm forwards (SIGTERM, SIGINT) reach it directly. package.json runs this
// with `exec`, so no shell stays in between: `sh -c "tsc && node …"` left the server orphaned and
// running when only npm got SIGTERM (npm as PID 1 in a container), and npm exited by the signal.
//
// The build runs in its own process group so that a signal during the build stops tsc and
// everything it started (TypeScript 7's tsc is a JS wrapper around a native binary), and then
// this process exits 0: the operator asked it to stop before the server began.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');

const build = spawn(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit', detached: true });
let stoppedBy;
const forward = (signal) => {
  stoppedBy = signal;
  try {
    process.kill(-build.pid, signal);
  } catch {
    // the build already ended
  }
};
process.on('SIGTERM', forward);
process.on('SIGINT', forward);
const [code, signal] = await once(build, 'exit');
process.off('SIGTERM', forward);
process.off('SIGINT', forward);
if (stoppedBy !== undefined) {
  process.stderr.write(`infera: ${stoppedBy} during the build: not starting\n`);
  process.exit(0);
}
if (code !== 0) process.exit(code ?? (signal ? 1 : 0));
// The server's own entry installs its SIGTERM/SIGINT handlers (drain, then exit 0).
await import(pathToFileURL(join(root, 'dist', 'src', 'main.js')).href);
