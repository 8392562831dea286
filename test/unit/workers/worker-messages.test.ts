import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { describe, it } from 'node:test';
import type { Tensor } from '../../../src/core/tensor.js';
import {
  fromWireTensor, isFromWorkerMessage, isOpenSessionMessage, isToWorkerMessage, transferableBuffer, wireView, type WireTensor,
} from '../../../src/workers/worker-messages.js';
import { collectTransfer } from '../../../src/workers/session-channel.js';

/** What a SessionChannel's port path does to a tensor before posting it. */
function portWire(t: Tensor, transfer: ArrayBuffer[]): WireTensor {
  const w = wireView(t);
  collectTransfer(w, transfer);
  return w;
}

const tensor = (data: Uint8Array, name = 'IN'): Tensor => ({ name, datatype: 'UINT8', shape: [data.byteLength], data });

function wire(overrides: Partial<WireTensor> = {}): WireTensor {
  return { name: 'T', datatype: 'FP32', shape: [1], buffer: new ArrayBuffer(4), byteOffset: 0, byteLength: 4, ...overrides };
}

describe('transferableBuffer', () => {
  it('returns the buffer itself when the view covers all of it', () => {
    const data = new Uint8Array([1, 2, 3]);
    assert.equal(transferableBuffer(data), data.buffer);
  });

  it('copies a view over part of a larger buffer, leaving the original intact', () => {
    const whole = new Uint8Array([9, 1, 2, 3, 9]);
    const part = whole.subarray(1, 4);
    const buf = transferableBuffer(part);
    assert.notEqual(buf, whole.buffer);
    assert.deepEqual([...new Uint8Array(buf)], [1, 2, 3]);
  });

  it('copies a view over a SharedArrayBuffer, which cannot be detached', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(2));
    shared.set([7, 8]);
    const buf = transferableBuffer(shared);
    assert.ok(buf instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(buf)], [7, 8]);
  });
});

describe('wire tensors on the port path (wireView + collectTransfer)', () => {
  it('detaches the sent buffer when posted (zero copy) and the receiver sees the bytes', async () => {
    const data = new Uint8Array([1, 2, 3, 4]);
    const transfer: ArrayBuffer[] = [];
    const w = portWire(tensor(data), transfer);
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<WireTensor>((resolve) => port2.once('message', resolve));
    port1.postMessage(w, transfer);
    assert.equal(data.byteLength, 0, 'sender view is detached');
    const back = fromWireTensor(await received);
    assert.deepEqual([...back.data], [1, 2, 3, 4]);
    port1.close();
  });

  it('lists a buffer shared by two tensors once (a duplicate would be a DataCloneError)', () => {
    const data = new Uint8Array([5, 6]);
    const transfer: ArrayBuffer[] = [];
    portWire(tensor(data, 'A'), transfer);
    portWire(tensor(data, 'B'), transfer);
    assert.equal(transfer.length, 1);
    const { port1 } = new MessageChannel();
    assert.doesNotThrow(() => port1.postMessage(transfer, transfer));
    port1.close();
  });

  it('does not detach the buffer behind a partial view', () => {
    const whole = new Uint8Array(16);
    const transfer: ArrayBuffer[] = [];
    const w = portWire(tensor(whole.subarray(4, 8)), transfer);
    const { port1 } = new MessageChannel();
    port1.postMessage(w, transfer);
    assert.equal(whole.byteLength, 16);
    assert.equal(w.byteOffset, 0);
    port1.close();
  });
});

describe('message shape checks', () => {
  const garbage: unknown[] = [
    null, undefined, 42, 'result', [], {}, { type: 'result' }, { type: 'nope', id: 1 },
    { type: 'load-done', id: 'x' }, { type: 'load-done', id: 0, memoryBytes: -0.5 }, { type: 'load-done', id: 0, memoryBytes: '1' },
    { type: 'error', id: 1, error: 'bad' },
    { type: 'error', id: 1, error: { code: 5, message: 'm' } },
    { type: 'log', id: 0, level: 'loud', msg: 'x' }, { type: 'log', id: 0, level: 'info', msg: 1 },
    { type: 'log', id: 0, level: 'info', msg: 'x', fields: [] },
    { type: 'result', id: 1, outputs: [wire()], timings: {}, receivedAtNs: 1, postedAtNs: 1n },
    { type: 'result', id: 1, outputs: [wire({ byteOffset: 2 })], timings: {}, receivedAtNs: 1n, postedAtNs: 1n },
    { type: 'result', id: 1, outputs: [wire({ datatype: 'FLOAT' as never })], timings: {}, receivedAtNs: 1n, postedAtNs: 1n },
    { type: 'result', id: 1, outputs: [wire({ byteOffset: -1 })], timings: {}, receivedAtNs: 1n, postedAtNs: 1n },
    { type: 'result', id: 1, outputs: [wire({ shape: [1.5] })], timings: {}, receivedAtNs: 1n, postedAtNs: 1n },
    { type: 'result', id: 1, outputs: [{ ...wire(), buffer: new Uint8Array(4) }], timings: {}, receivedAtNs: 1n, postedAtNs: 1n },
  ];

  it('rejects malformed worker → main messages', () => {
    for (const g of garbage) assert.equal(isFromWorkerMessage(g), false, JSON.stringify(g, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
  });

  it('accepts well-formed worker → main messages', () => {
    assert.ok(isFromWorkerMessage({ type: 'load-done', id: 0 }));
    assert.ok(isFromWorkerMessage({ type: 'load-done', id: 0, info: { a: 1 }, memoryBytes: 4096 }));
    assert.ok(isFromWorkerMessage({ type: 'error', id: 3, error: { code: 'INTERNAL', message: 'm' } }));
    assert.ok(isFromWorkerMessage({ type: 'log', id: 0, level: 'warn', msg: 'x', fields: { a: 1 } }));
    assert.ok(isFromWorkerMessage({ type: 'result', id: 1, outputs: [wire()], timings: {}, receivedAtNs: 1n, postedAtNs: 2n }));
  });

  it('rejects malformed main → worker messages and accepts good ones', () => {
    const ok = { type: 'execute', id: 1, batchSize: 1, inputs: [wire()], outputNames: ['OUT'], postedAtNs: 0n };
    assert.ok(isToWorkerMessage(ok));
    assert.ok(isToWorkerMessage({ type: 'dispose', id: 0 }));
    for (const bad of [null, {}, { ...ok, id: 1.5 }, { ...ok, outputNames: [1] }, { ...ok, inputs: [{}] },
      { ...ok, postedAtNs: 0 }, { ...ok, batchSize: '1' }, { type: 'load-done', id: 0 }]) {
      assert.equal(isToWorkerMessage(bad), false);
    }
  });

  it('checks the BLS messages both ways', () => {
    const callMsg = { type: 'bls-call', id: 3, callId: 1, request: 0, model: 'm', version: '', inputs: [wire()], outputs: ['O'], parameters: {}, stream: false };
    assert.ok(isFromWorkerMessage(callMsg));
    assert.ok(isFromWorkerMessage({ ...callMsg, request: -1, timeoutMs: 50 }));
    assert.ok(isFromWorkerMessage({ type: 'bls-cancel', id: 3, callId: 1 }));
    for (const bad of [{ ...callMsg, callId: 'x' }, { ...callMsg, model: 1 }, { ...callMsg, inputs: [{}] }, { ...callMsg, stream: 'no' },
      { ...callMsg, timeoutMs: -1 }, { ...callMsg, outputs: [1] }, { type: 'bls-cancel', id: 3 }]) {
      assert.equal(isFromWorkerMessage(bad), false, JSON.stringify(bad));
    }
    const response = { model: 'm', version: '1', outputs: [wire()], parameters: {} };
    assert.ok(isToWorkerMessage({ type: 'bls-response', id: 1, final: true, response }));
    assert.ok(isToWorkerMessage({ type: 'bls-response', id: 1, final: true, error: { code: 'NOT_FOUND', message: 'no' } }));
    for (const bad of [{ type: 'bls-response', id: 1 }, { type: 'bls-response', id: 1, final: true, response: { ...response, outputs: [{}] } },
      { type: 'bls-response', id: 1, final: true, error: { code: 1 } }]) {
      assert.equal(isToWorkerMessage(bad), false, JSON.stringify(bad));
    }
  });

  it('checks cancel (main → worker) and response (worker → main) messages', () => {
    const reason = { code: 'CANCELLED', message: 'gone' };
    assert.ok(isToWorkerMessage({ type: 'cancel', id: 1, requestIndex: 0, reason }));
    for (const bad of [{ type: 'cancel', id: 1, requestIndex: 0.5, reason }, { type: 'cancel', id: 1, requestIndex: 0 },
      { type: 'cancel', id: 1, requestIndex: 0, reason: { code: 'CANCELLED' } }]) {
      assert.equal(isToWorkerMessage(bad), false, JSON.stringify(bad));
    }
    assert.ok(isFromWorkerMessage({ type: 'response', id: 1, requestIndex: 2, outputs: [wire()], final: false }));
    assert.ok(isFromWorkerMessage({ type: 'response', id: 1, requestIndex: 2, final: true }));
    assert.ok(isFromWorkerMessage({ type: 'response', id: 1, requestIndex: 0, error: reason, final: true }));
    for (const bad of [{ type: 'response', id: 1, requestIndex: 0 }, { type: 'response', id: 1, requestIndex: -0.5, final: true },
      { type: 'response', id: 1, requestIndex: 0, outputs: [{}], final: false }, { type: 'response', id: 1, requestIndex: 0, error: 'x', final: true }]) {
      assert.equal(isFromWorkerMessage(bad), false, JSON.stringify(bad));
    }
  });

  it('accepts an open message only with a runner module and a real MessagePort', () => {
    const { port1, port2 } = new MessageChannel();
    try {
      const ok = { type: 'open', id: 1, runnerModule: 'file:///r.js', init: {}, port: port2 };
      assert.ok(isOpenSessionMessage(ok));
      for (const bad of [null, [], {}, { ...ok, type: 'execute' }, { ...ok, id: 'one' }, { ...ok, runnerModule: 7 },
        { ...ok, port: undefined }, { ...ok, port: {} }, { ...ok, port: port2.postMessage }]) {
        assert.equal(isOpenSessionMessage(bad), false, JSON.stringify(bad));
      }
    } finally {
      port1.close();
    }
  });
});
