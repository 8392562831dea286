/**
 * The typescript runner in this thread (no worker): a request aborted by the time execute()
 * settles fails with the abort reason whatever the model answered; a decoupled model's
 * responseSender posts through the channel, closes at its final, ends itself on cancellation,
 * and a thrown execute() ends every request still open.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { createRunner, type TypescriptRunnerInit } from '../../../../src/backends/typescript/typescript-runner.js';
import type { Tensor } from '../../../../src/core/tensor.js';
import { errors } from '../../../../src/errors/catalogue.js';
import { ErrorCode } from '../../../../src/errors/error-codes.js';
import { InferenceError } from '../../../../src/errors/inference-error.js';
import type { ExecuteChannel, Runner } from '../../../../src/workers/worker-messages.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ts-runner-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function runner(name: string, source: string, decoupled = false): Promise<Runner> {
  const file = path.join(dir, `${name}.mjs`);
  writeFileSync(file, source);
  const init: TypescriptRunnerInit = {
    modelFile: file, outputTypes: { OUT: 'INT32' },
    args: {
      modelName: name, modelVersion: 1, instanceName: `${name}_0`, instanceKind: 'KIND_CPU', instanceDeviceId: 0,
      modelConfig: { name, max_batch_size: 0, ...(decoupled ? { model_transaction_policy: { decoupled: true } } : {}) }, modelRepository: dir,
    },
  };
  return createRunner(init, { log: { debug() {}, info() {}, warn() {}, error() {} } });
}

class FakeChannel implements ExecuteChannel {
  readonly batchId = 1;
  readonly controllers = [new AbortController(), new AbortController()];
  readonly sent: { i: number; r: Tensor[] | InferenceError | undefined; final: boolean }[] = [];
  signal(i: number): AbortSignal {
    return this.controllers[i]!.signal;
  }
  respond(i: number, r: Tensor[] | InferenceError | undefined, final: boolean): void {
    this.sent.push({ i, r, final });
  }
}

const IN: Tensor = { name: 'IN', datatype: 'INT32', shape: [1], data: new Uint8Array(new Int32Array([5]).buffer) };
const part = { rows: 1, outputNames: ['OUT'], parameters: {} };

describe('typescript runner: cancellation', () => {
  it('a request aborted while execute() ran fails with the abort reason; the other keeps its response', async () => {
    const r = await runner('echo', `export default class E {
      execute(rs) { return rs.map((q) => ({ outputs: { OUT: q.inputs.get('IN') } })); }
    }`);
    const ch = new FakeChannel();
    ch.controllers[1]!.abort(errors.deadlineExceeded('echo', 1));
    const res = await r.execute([IN], ['OUT'], 2, [part, part], ch);
    assert.ok(Array.isArray(res.perRequest![0]));
    const e = res.perRequest![1];
    assert.ok(e instanceof InferenceError);
    assert.equal(e.code, ErrorCode.DEADLINE_EXCEEDED);
  });

  it('a thrown execute() after an abort fails the aborted request with its reason and the rest with the error', async () => {
    const r = await runner('throws', `export default class T {
      execute() { throw new Error('stopped'); }
    }`);
    const ch = new FakeChannel();
    ch.controllers[0]!.abort(errors.cancelled('throws', 1));
    const res = await r.execute([IN], ['OUT'], 2, [part, part], ch);
    assert.equal((res.perRequest![0] as InferenceError).code, ErrorCode.CANCELLED);
    assert.match((res.perRequest![1] as InferenceError).message, /model 'throws': stopped/);
  });
});

describe('typescript runner: decoupled', () => {
  it('posts each send through the channel, closes at the final, and send() after it throws', async () => {
    const r = await runner('rep', `export default class R {
      execute(rs) {
        const s = rs[0].responseSender;
        s.send({ outputs: { OUT: { shape: [1], data: Int32Array.of(1) } } });
        s.send({ outputs: { OUT: { shape: [1], data: Int32Array.of(2) } } }, { final: true });
        try { s.send(undefined, { final: true }); } catch (e) { globalThis.__late = e.message; }
      }
    }`, true);
    const ch = new FakeChannel();
    const res = await r.execute([IN], ['OUT'], 1, [part], ch);
    assert.deepEqual(res.perRequest, [[]]);
    assert.deepEqual(ch.sent.map((s) => [s.i, Array.isArray(s.r) ? [...new Int32Array(s.r[0]!.data.slice().buffer)] : s.r, s.final]),
      [[0, [1], false], [0, [2], true]]);
    assert.match((globalThis as { __late?: string }).__late ?? '', /send\(\) after the request's final response/);
  });

  it('a cancelled request ends with its abort reason and later sends do nothing', async () => {
    const r = await runner('hold', `export default class H {
      execute(rs) { globalThis.__sender = rs[0].responseSender; }
    }`, true);
    const ch = new FakeChannel();
    await r.execute([IN], ['OUT'], 1, [part], ch);
    ch.controllers[0]!.abort(errors.cancelled('hold', 1));
    (globalThis as unknown as { __sender: { send(r?: unknown, o?: unknown): void } }).__sender.send(undefined, { final: true });
    assert.equal(ch.sent.length, 1);
    assert.ok(ch.sent[0]!.r instanceof InferenceError && ch.sent[0]!.r.code === ErrorCode.CANCELLED && ch.sent[0]!.final);
  });

  it('a thrown execute() ends every request that has not ended with the error', async () => {
    const r = await runner('boom', `export default class B {
      execute(rs) { rs[0].responseSender.send(undefined, { final: true }); throw new Error('boom'); }
    }`, true);
    const ch = new FakeChannel();
    await r.execute([IN], ['OUT'], 2, [part, part], ch);
    assert.deepEqual(ch.sent.map((s) => [s.i, s.r instanceof InferenceError ? s.r.message : s.r, s.final]),
      [[0, undefined, true], [1, "model 'boom': boom", true]]);
  });
});
