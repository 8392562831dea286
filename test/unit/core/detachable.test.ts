// The big-tensor path without copies (core/detachable.ts and its users): a claimed view crosses
// to a worker with its whole buffer, is moved to an aligned offset in place on arrival, a gRPC
// request claims its message's buffer only for a raw entry that is most of it (copying the other
// entries out), and a worker frees a runner's big inputs at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageChannel, Worker } from 'node:worker_threads';
import { claimBuffer, claimedView, detachable } from '../../../src/core/detachable.js';
import { fromWireTensor, transferableBuffer, wireView, type WireTensor } from '../../../src/workers/worker-messages.js';
import { toInferenceRequest } from '../../../src/frontends/grpc/grpc-convert.js';
import { toInferenceRequest as toHttpInferenceRequest } from '../../../src/frontends/http/http-convert.js';
import { collectTransfer, SessionChannel } from '../../../src/workers/session-channel.js';
import type { ModelInferRequest__Output } from '../../../src/generated/inference/ModelInferRequest.js';

/** A claimed 4000-byte view at offset 3 of its buffer (misaligned for FP32), filled with a pattern. */
function claimedMisaligned(): { buf: ArrayBuffer; view: Uint8Array; expected: number[] } {
  const buf = new ArrayBuffer(4003);
  const view = new Uint8Array(buf, 3, 4000);
  for (let i = 0; i < view.length; i++) view[i] = i % 251;
  claimBuffer(view);
  return { buf, view, expected: [...view] };
}

describe('claimed views', () => {
  it('are detachable for exactly the claimed range, re-wrapped or not', () => {
    const buf = new ArrayBuffer(100);
    const view = new Uint8Array(buf, 7, 80);
    assert.equal(detachable(view), false);
    claimBuffer(view);
    assert.equal(detachable(view), true);
    assert.equal(detachable(new Uint8Array(buf, 7, 80)), true);
    assert.equal(detachable(new Uint8Array(buf, 8, 79)), false);
    assert.equal(transferableBuffer(view), buf);
    assert.notEqual(transferableBuffer(new Uint8Array(buf, 0, 10)), buf);
  });

  it('cross with their buffer and arrive moved down to an aligned offset, bytes intact', async () => {
    const { buf, view, expected } = claimedMisaligned();
    const transfer: ArrayBuffer[] = [];
    const w = wireView({ name: 'IN', datatype: 'FP32', shape: [1000], data: view });
    collectTransfer(w, transfer);
    assert.deepEqual(transfer, [buf]);
    assert.equal(w.movable, true);
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<WireTensor>((resolve) => port2.once('message', resolve));
    port1.postMessage(w, transfer);
    assert.equal(view.byteLength, 0, 'sent, not copied');
    const t = fromWireTensor(await received);
    assert.equal(t.data.byteOffset, 0);
    assert.deepEqual([...t.data], expected);
    assert.doesNotThrow(() => new Float32Array(t.data.buffer, t.data.byteOffset, 1000));
    port1.close();
  });

  it('posted through a SessionChannel by its port (wireView, as the proxy sends), cross whole and arrive aligned', async () => {
    const { view, expected } = claimedMisaligned();
    const { port1, port2 } = new MessageChannel();
    const tx = new SessionChannel(port1, 1);
    const rx = new SessionChannel(port2, 1);
    try {
      const received = new Promise<{ t: WireTensor }>((resolve) => rx.onMessage((m) => resolve(m as { t: WireTensor })));
      tx.postMessage({ t: wireView({ name: 'IN', datatype: 'FP32', shape: [1000], data: view }) });
      assert.equal(view.byteLength, 0, 'transferred, not copied');
      const w = (await received).t;
      assert.equal(w.movable, true);
      const t = fromWireTensor(w);
      assert.equal(t.data.byteOffset, 0);
      assert.deepEqual([...t.data], expected);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it('an unclaimed partial view is not movable and keeps its offset', () => {
    const view = new Uint8Array(new ArrayBuffer(16), 3, 8);
    const w = wireView({ name: 'IN', datatype: 'FP32', shape: [2], data: view });
    collectTransfer(w, []);
    assert.equal(w.movable, undefined);
    assert.equal(w.byteOffset, 0);
  });
});

describe('a gRPC request with a big raw input', () => {
  const msg = (raw: Buffer[]): ModelInferRequest__Output => ({
    model_name: 'm', model_version: '', id: '', parameters: {}, outputs: [],
    inputs: raw.map((_, i) => ({ name: `I${i}`, datatype: 'UINT8', shape: [raw[i]!.length], parameters: {}, contents: null })),
    raw_input_contents: raw,
  }) as unknown as ModelInferRequest__Output;

  it('claims the message buffer for it and copies the other entries out', () => {
    const message = Buffer.alloc(3 << 20);
    const big = message.subarray(100, 100 + (2 << 20));
    const small = message.subarray(10, 90);
    const req = toInferenceRequest(msg([small, big]));
    assert.equal(req.inputs[1]!.data, big);
    assert.equal(claimedView(big), true);
    assert.notEqual(req.inputs[0]!.data.buffer, message.buffer, 'the small entry no longer views the message');
    assert.deepEqual(req.inputs[0]!.data, small);
  });

  it('claims nothing when no entry is most of the message or the entry is small', () => {
    const message = Buffer.alloc(5 << 20);
    const a = message.subarray(0, 2 << 20);
    const b = message.subarray(2 << 20, 4 << 20);
    const req = toInferenceRequest(msg([a, b]));
    assert.equal(claimedView(a) || claimedView(b), false);
    assert.equal(req.inputs[0]!.data, a);
    const tiny = Buffer.alloc(1000).subarray(1, 999);
    toInferenceRequest(msg([tiny]));
    assert.equal(claimedView(tiny), false);
  });
});

describe('releaseBuffers', () => {
  it('frees big buffers at once in a worker thread, and does nothing on the main thread', async () => {
    const url = new URL('../../../src/workers/release-buffers.js', import.meta.url).href;
    const code = `
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(url)}).then(({ releaseBuffers }) => {
        const big = new Uint8Array(2 << 20), small = new Uint8Array(100);
        releaseBuffers([big, big.subarray(5), small]);
        parentPort.postMessage([big.byteLength, small.byteLength]);
      });`;
    const w = new Worker(code, { eval: true });
    const [big, small] = await new Promise<number[]>((resolve) => w.once('message', resolve));
    await w.terminate();
    assert.deepEqual([big, small], [0, 100]);
    const { releaseBuffers } = await import(url);
    const here = new Uint8Array(2 << 20);
    (releaseBuffers as (v: Uint8Array[]) => void)([here]);
    assert.equal(here.byteLength, 2 << 20);
  });
});

describe('an HTTP body with a big binary tensor', () => {
  it('claims the body buffer for it and copies the other binary inputs out', () => {
    const header = Buffer.from(JSON.stringify({ inputs: [
      { name: 'S', datatype: 'UINT8', shape: [80], parameters: { binary_data_size: 80 } },
      { name: 'B', datatype: 'UINT8', shape: [2 << 20], parameters: { binary_data_size: 2 << 20 } },
    ] }));
    const body = Buffer.alloc(header.length + 80 + (2 << 20), 3);
    header.copy(body);
    const binary = body.subarray(header.length);
    const req = toHttpInferenceRequest(JSON.parse(header.toString()), binary, 'm', '').request;
    assert.equal(claimedView(req.inputs[1]!.data), true);
    assert.equal(req.inputs[1]!.data.buffer, body.buffer);
    assert.notEqual(req.inputs[0]!.data.buffer, body.buffer, 'the small input no longer views the body');
    assert.ok(Buffer.from(req.inputs[0]!.data).equals(binary.subarray(0, 80)));
    const small = toHttpInferenceRequest({ inputs: [{ name: 'S', datatype: 'UINT8', shape: [80], parameters: { binary_data_size: 80 } }] }, Buffer.alloc(80), 'm', '');
    assert.equal(claimedView(small.request.inputs[0]!.data), false, 'small bodies claim nothing');
  });
});
