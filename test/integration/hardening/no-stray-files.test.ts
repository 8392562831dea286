/**
 * Nothing is written outside the repository and the server's temp folder: the real server runs
 * as a process with HOME and TMPDIR pointed at empty folders, loads the bundled repository (ONNX
 * and TensorFlow.js models), answers an ONNX inference and stops. ONNX Runtime's telemetry, on
 * by default, would leave ~/.cache/Microsoft/…/onnxruntime.db and $TMPDIR/mat-debug-<pid>.log.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { BUNDLED_REPO, ROOT } from '../../helpers/repo.js';
import { postJson } from '../http/http-client.js';

const home = mkdtempSync(path.join(tmpdir(), 'infera-home-'));
const tmp = mkdtempSync(path.join(tmpdir(), 'infera-tmp-'));
after(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

function everything(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('files the server writes', () => {
  it('none in HOME, none but its own in TMPDIR (ONNX Runtime telemetry is off)', async (t) => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMPDIR: tmp };
    delete env['ORT_DISABLE_TELEMETRY'];
    const proc = spawn(process.execPath, [path.join(ROOT, 'dist', 'src', 'main.js'), `--model-repository=${BUNDLED_REPO}`, '--grpc-port=0', '--http-port=0', '--allow-metrics=false', '--log-format=json'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    // A failed assertion must not leave the server running (it would keep the test runner alive).
    t.after(() => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    });
    const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
      proc.on('exit', (code) => reject(new Error(`server exited early with ${code}`)));
      createInterface({ input: proc.stdout }).on('line', (l) => {
        const rec = (() => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } })();
        if (rec['msg'] === 'startup complete') resolve(rec);
      });
    });
    const data = Array.from({ length: 16 }, (_, i) => i);
    const r = await postJson(`http://127.0.0.1:${started['httpPort'] as number}/v2/models/simple/infer`, {
      inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data }],
    });
    assert.equal(r.status, 200);
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.deepEqual(everything(home), []);
    assert.deepEqual(everything(tmp).filter((f) => !f.startsWith('infera')), [], 'only infera-* temp folders');
  });
});
