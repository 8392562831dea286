// Malformed bytes on the wire: the server's request codecs must reject them with an Error, fast,
// and never hang, crash or allocate what a forged length prefix claims.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadInferenceProtos } from '../../../src/frontends/grpc/proto-loader.js';

const { inference, health } = loadInferenceProtos();
const decodeInfer = (b: Buffer) => inference.ModelInfer.requestDeserialize(b);

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function validRequest(): Buffer {
  return inference.ModelInfer.requestSerialize({
    model_name: 'simple',
    inputs: [{ name: 'IN', datatype: 'UINT8', shape: [16] }],
    raw_input_contents: [Buffer.alloc(16, 7)],
  });
}

describe('decoding malformed ModelInferRequest bytes', () => {
  // Expectations are those of protobufjs 7, which proto-loader decodes with: it checks lengths
  // against the buffer end but not wire types of known fields, so most faults surface as
  // RangeError "index out of range".
  const cases: [string, number[], RegExp][] = [
    ['a lone tag byte', [0x0a], /index out of range/],
    ['an unknown field with wire type 7', [0x7f, 0x00], /invalid wire type 7/],
    ['an unknown varint field that never terminates', [0x78, ...Array<number>(11).fill(0xff)], /index out of range/],
    ['raw_input_contents shorter than its length', [0x3a, 0x05, 1, 2], /index out of range/],
    ['an input tensor longer than the message', [0x2a, 0x09, 0x0a, 0x01, 0x61], /index out of range/],
    ['a packed shape overrunning its tensor', [0x2a, 0x03, 0x1a, 0x05, 0x01], /index out of range/],
    ['an unknown length-delimited field overrunning the message', [0x7a, 0x05, 0x01], /index out of range/],
    // Legal proto3 (a map value may be omitted), but protobufjs 7 leaves the value null and its
    // toObject then fails. Real clients (C++, Python, Go) always write the value, so it is only
    // pinned here as "fails with an Error" rather than crashing the process.
    ['a parameters map entry without a value', [0x22, 0x03, 0x0a, 0x01, 0x61], /bool_param/],
  ];
  for (const [what, bytes, message] of cases) {
    it(`throws on ${what}`, () => {
      assert.throws(() => decodeInfer(Buffer.from(bytes)), message);
    });
  }

  it('clamps a string whose ~4 GiB length prefix overruns the message, allocating nothing', () => {
    // protobufjs's Buffer reader clamps string lengths to the buffer end instead of throwing.
    const req = decodeInfer(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    assert.equal(req.model_name, '');
  });

  it('throws when a valid request is cut inside its raw tensor bytes', () => {
    const full = validRequest();
    assert.equal(decodeInfer(full).raw_input_contents[0]?.length, 16);
    // The raw bytes field is encoded last: every cut inside its 16-byte payload is a truncation.
    for (let cut = full.length - 16; cut < full.length; cut++) {
      assert.throws(() => decodeInfer(full.subarray(0, cut)), RangeError, `cut at ${cut}`);
    }
  });

  it('every prefix of a valid request either decodes or throws an Error', () => {
    const full = validRequest();
    let thrown = 0;
    for (let cut = 0; cut < full.length; cut++) {
      try {
        decodeInfer(full.subarray(0, cut));
      } catch (err) {
        assert.ok(err instanceof Error, `cut at ${cut} threw a non-Error`);
        thrown++;
      }
    }
    assert.ok(thrown > 0);
  });

  it('random bytes either decode or throw an Error, within a time bound', () => {
    const rand = prng(0x1f2e3d4c);
    const started = Date.now();
    let thrown = 0;
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)));
      try {
        decodeInfer(bytes);
        health.Check.requestDeserialize(bytes);
      } catch (err) {
        assert.ok(err instanceof Error, `sample ${i} threw a non-Error: ${String(err)}`);
        thrown++;
      }
    }
    assert.ok(thrown > 1000, `only ${thrown} of 2000 random inputs were rejected`);
    assert.ok(Date.now() - started < 5000, 'decoding 2000 small garbage inputs took over 5 s');
  });
});
