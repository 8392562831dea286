// MessageReader (message-reader.ts) splits a request byte stream into the same framed messages as
// grpc-js's StreamDecoder, however the bytes are chunked, and refuses a declared length over the
// limit with grpc-js's message; a big message is assembled in one buffer of its final size.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { MessageReader } from '../../../../src/frontends/grpc/message-reader.js';
import { boundedDeserializer, frameRefusal, INFLATE_CHECK, refusal } from '../../../../src/frontends/grpc/bounded-deserialize.js';
import { loadInferenceProtos } from '../../../../src/frontends/grpc/proto-loader.js';

const require = createRequire(import.meta.url);
const { StreamDecoder } = require('@grpc/grpc-js/build/src/stream-decoder.js') as { StreamDecoder: new (max: number) => { write(b: Buffer): Buffer[] } };

function framed(payload: Buffer, compressed = false): Buffer {
  const p = Buffer.alloc(5);
  p[0] = compressed ? 1 : 0;
  p.writeUInt32BE(payload.length, 1);
  return Buffer.concat([p, payload]);
}

/** Deterministic pseudo-random chunk sizes. */
function chunks(b: Buffer, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let x = seed;
  for (let at = 0; at < b.length;) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (x % 40_000);
    out.push(b.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe('MessageReader', () => {
  const stream = Buffer.concat([
    framed(Buffer.alloc(0)), framed(Buffer.from('hello'), true), framed(Buffer.alloc(300_000, 7)), framed(Buffer.alloc(0)),
    framed(Buffer.from([1, 2, 3])), framed(Buffer.alloc(70_000, 9)),
  ]);

  it("yields grpc-js StreamDecoder's messages for any chunking", () => {
    for (const seed of [1, 2, 3, 42]) {
      const ours = new MessageReader(-1);
      const theirs = new StreamDecoder(-1);
      const a: Buffer[] = [];
      const b: Buffer[] = [];
      // The stream, then its first 40 bytes one at a time (two more messages, and part of a third).
      const bytewise = Array.from({ length: 40 }, (_, i) => stream.subarray(i, i + 1));
      for (const c of [...chunks(stream, seed), ...bytewise]) {
        a.push(...ours.write(c));
        b.push(...theirs.write(c));
      }
      assert.equal(a.length, 8);
      assert.deepEqual(a, b);
    }
  });

  it('assembles a big message in one buffer of its final size', () => {
    const r = new MessageReader(-1);
    const out = chunks(framed(Buffer.alloc(2 << 20, 5)), 7).flatMap((c) => r.write(c));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.buffer.byteLength, 5 + (2 << 20));
    assert.ok(out[0]!.subarray(5).every((v) => v === 5));
  });

  it("refuses a declared length over the limit with grpc-js's message", () => {
    assert.throws(() => new MessageReader(1000).write(framed(Buffer.alloc(1001))), /^Error: Received message larger than max \(1001 vs 1000\)$/);
  });

  describe('with the deserializer\'s checks (big uncompressed messages)', () => {
    const { inference } = loadInferenceProtos();
    const check = boundedDeserializer('inference.ModelInferRequest', (b) => inference.ModelInfer.requestDeserialize(b))[INFLATE_CHECK];
    const infer = (shape: number[], raw: Buffer) => framed(inference.ModelInfer.requestSerialize({
      model_name: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape }], raw_input_contents: [raw],
    }));

    it('refuses a raw entry of the wrong size from its declared length and assembles none of it', () => {
      const r = new MessageReader(-1, check);
      const frames = chunks(infer([1, 16], Buffer.alloc(8 << 20)), 3);
      const out = frames.flatMap((c) => r.write(c));
      assert.equal(out.length, 1);
      assert.equal(out[0]!.length, 5, 'a 5-byte stand-in, not 8 MiB');
      assert.equal(refusal(frameRefusal(out[0]!))?.message, "input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 8388608");
      // The reader goes on with the next message.
      assert.deepEqual(r.write(framed(Buffer.from([1, 2]))), [framed(Buffer.from([1, 2]))]);
    });

    it('passes a good big message byte for byte, and leaves small and compressed ones unscanned', () => {
      const good = infer([1, (2 << 20) / 4], Buffer.alloc(2 << 20, 3));
      const r = new MessageReader(-1, check);
      assert.deepEqual(chunks(good, 5).flatMap((c) => r.write(c)), [good]);
      const small = infer([1, 16], Buffer.alloc(1000));
      assert.deepEqual(r.write(small), [small], 'under 1 MiB: refused later, by the full path');
      const compressed = framed(Buffer.alloc(2 << 20), true);
      assert.deepEqual(chunks(compressed, 6).flatMap((c) => r.write(c)), [compressed], 'compressed bytes are checked as they inflate');
    });
  });
});
