import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { RingReader, RingWriter } from '../../../src/workers/ring-codec.js';
import { RingLink } from '../../../src/workers/ring-link.js';
import { SessionChannel } from '../../../src/workers/session-channel.js';
import { SharedRing } from '../../../src/workers/shared-ring.js';
import { defaultWorkerChannel, WorkerPool } from '../../../src/workers/worker-pool.js';

/** Writes `msg` as one frame of `ring` and reads it back. */
function roundTrip(ring: SharedRing, w: RingWriter, r: RingReader, msg: unknown): { value: unknown; bytes: number; measured: number } {
  const measured = w.measure(msg);
  assert.ok(measured > 0);
  const at = ring.reserve(measured);
  assert.ok(at >= 0);
  const end = w.encode(at, msg);
  ring.commit();
  assert.equal(ring.next(), at);
  r.pos = at;
  const value = r.value();
  assert.equal(r.pos, end, 'the reader ends where the writer did');
  ring.release();
  return { value, bytes: end - at, measured };
}

function codecOn(ring: SharedRing): [RingWriter, RingReader] {
  return [new RingWriter(ring.buf, ring.view), new RingReader(ring.buf, ring.view)];
}

describe('ring codec', () => {
  it('round-trips JSON-like values, bigint, bytes and wire tensors (only the view\'s bytes)', () => {
    const ring = SharedRing.create(64 * 1024);
    const [w, r] = codecOn(ring);
    const backing = new Uint8Array(32).map((_, i) => i);
    const shared = new Uint8Array(new SharedArrayBuffer(8)).fill(7);
    const msg = {
      type: 'execute', id: 7, neg: -3, float: 1.5, minusZero: -0, nan: Number.NaN, huge: 2 ** 60, flag: true, no: false,
      nothing: null, missing: undefined, text: 'héllo ✓', long: 'x'.repeat(100), big: 123n, bigger: -(2n ** 70n),
      nested: { list: [1, 'two', [3n], { deep: 'yes' }], empty: {}, none: [] },
      raw: new Uint8Array([9, 8, 7]),
      inputs: [
        { name: 'IN', datatype: 'UINT8', shape: [4], buffer: backing.buffer, byteOffset: 5, byteLength: 4 },
        { name: 'SH', datatype: 'UINT8', shape: [8], buffer: shared.buffer, byteOffset: 0, byteLength: 8, extra: 'kept' },
      ],
      requests: [{ rows: 1, parameters: { k: 'v' }, requestedOutputs: ['OUT'] }],
    };
    const { value, bytes, measured } = roundTrip(ring, w, r, msg);
    assert.ok(measured >= bytes, 'measure() never under-counts');
    const got = value as typeof msg & { inputs: { buffer: ArrayBuffer; byteOffset: number; byteLength: number }[] };
    assert.ok(Object.is(got.minusZero, -0));
    assert.ok(Number.isNaN(got.nan));
    const { inputs, raw, ...rest } = got;
    const { inputs: _i, raw: _r, ...expected } = msg;
    assert.deepEqual(rest, expected);
    assert.deepEqual([...raw], [9, 8, 7]);
    assert.deepEqual(inputs.map((t) => [...new Uint8Array(t.buffer, t.byteOffset, t.byteLength)]), [[5, 6, 7, 8], [7, 7, 7, 7, 7, 7, 7, 7]]);
    assert.equal(inputs[1]!['extra' as keyof typeof inputs[1]], 'kept', 'fields added to a wire tensor travel too');
    assert.ok(inputs.every((t) => t.buffer instanceof ArrayBuffer), 'the receiver owns ordinary memory, not the ring');
    assert.ok(inputs.every((t) => t.byteOffset % 64 === 0), 'the receiver\'s copy starts at a 64-byte boundary, wherever the sender\'s did');
  });

  it('interns short strings: the second frame of the same shape is smaller and decodes the same', () => {
    const ring = SharedRing.create(4096);
    const [w, r] = codecOn(ring);
    const msg = { type: 'result', id: 1, outputs: [{ name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16] }] };
    const first = roundTrip(ring, w, r, msg);
    const second = roundTrip(ring, w, r, { ...msg, id: 2 });
    assert.ok(second.bytes < first.bytes, `${second.bytes} < ${first.bytes}`);
    assert.deepEqual(second.value, { ...msg, id: 2 });
  });

  it('measures −1 for values the codec does not carry (they go by the port)', () => {
    const ring = SharedRing.create(4096);
    const [w] = codecOn(ring);
    class Thing { x = 1; }
    for (const bad of [() => 1, new Map(), new Thing(), new Date(0), Symbol('s'), { nested: [new Set()] }, new Float32Array(2)]) {
      assert.equal(w.measure({ type: 'x', bad }), -1, String(bad));
    }
    const detached = new ArrayBuffer(8);
    structuredClone(detached, { transfer: [detached] });
    assert.equal(w.measure({ t: { name: 'X', buffer: detached, byteOffset: 0, byteLength: 8 } }), -1, 'a view past its (detached) buffer');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.equal(w.measure(cyclic), -1);
  });
});

describe('SharedRing', () => {
  it('keeps frames in order across many wrap-arounds and refuses what does not fit', () => {
    const ring = SharedRing.create(1024);
    assert.equal(ring.reserve(ring.capacity), -1, 'a frame over a quarter of the ring is refused');
    let written = 0;
    let read = 0;
    for (let round = 0; round < 500; round++) {
      const size = 1 + ((round * 37) % ring.maxPayload);
      const at = ring.reserve(size);
      if (at < 0) {
        // Full: drain one frame and retry.
        const r = ring.next();
        assert.ok(r >= 0, 'a refused reserve means frames are pending');
        assert.equal(ring.buf[r], read++ & 0xff);
        ring.release();
        round--;
        continue;
      }
      ring.buf.fill(written++ & 0xff, at, at + size);
      ring.commit();
    }
    for (let at = ring.next(); at >= 0; at = ring.next()) {
      assert.equal(ring.buf[at], read++ & 0xff);
      assert.equal(ring.buf[at + ring.frameLength - 1], (read - 1) & 0xff);
      ring.release();
    }
    assert.equal(read, written);
  });
});

/** Session 1's two ends, main `a` and worker `b`, over a 64 KiB ring link and a MessageChannel. */
function ringChannels(): { a: SessionChannel; b: SessionChannel; close(): void } {
  const { link: main, pair } = RingLink.createPair(64 * 1024);
  const worker = RingLink.forWorker(pair);
  const { port1, port2 } = new MessageChannel();
  const a = new SessionChannel(port1, 1, main);
  const b = new SessionChannel(port2, 1, worker);
  return { a, b, close: () => { a.close(); b.close(); main.close(); worker.close(); } };
}

describe('SessionChannel over a ring link', () => {
  it('delivers in send order when some messages go by the ring and others by the port', async () => {
    const { a, b, close } = ringChannels();
    const got: unknown[] = [];
    const done = new Promise<void>((resolve) => b.onMessage((m) => {
      got.push((m as { n: number }).n);
      if (got.length === 5) resolve();
    }));
    const big = new Uint8Array(64 * 1024);
    a.postMessage({ n: 0 });
    a.postMessage({ n: 1, inputs: [{ name: 'X', datatype: 'UINT8', shape: [big.byteLength], buffer: big.buffer, byteOffset: 0, byteLength: big.byteLength }] });
    a.postMessage({ n: 2 });
    a.postMessage({ n: 3, notEncodable: new Map([[1, 2]]) });
    a.postMessage({ n: 4 });
    await done;
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    assert.equal(big.byteLength, 0, 'the message over the frame limit went by the port, its buffer transferred');
    close();
  });
});

describe('SessionChannel send failures', () => {
  it('a message that cannot be sent (DataCloneError) leaves no gap: the next one is delivered', async () => {
    const { a, b, close } = ringChannels();
    const next = new Promise<unknown>((resolve) => b.onMessage(resolve));
    assert.throws(() => a.postMessage({ n: 0, fn: () => 1 }), /could not be cloned/);
    a.postMessage({ n: 1 });
    assert.deepEqual(await next, { n: 1 });
    close();
  });
});

describe('the channel switch', () => {
  it('INFERA_WORKER_CHANNEL sets the default of pools created without the option; the option wins', () => {
    const saved = process.env['INFERA_WORKER_CHANNEL'];
    try {
      process.env['INFERA_WORKER_CHANNEL'] = 'port';
      assert.equal(defaultWorkerChannel(), 'port');
      assert.equal(new WorkerPool({ guard: false }).channel, 'port');
      assert.equal(new WorkerPool({ guard: false, channel: 'ring' }).channel, 'ring');
      delete process.env['INFERA_WORKER_CHANNEL'];
      assert.equal(defaultWorkerChannel(), 'ring');
    } finally {
      if (saved === undefined) delete process.env['INFERA_WORKER_CHANNEL'];
      else process.env['INFERA_WORKER_CHANNEL'] = saved;
    }
  });
});
