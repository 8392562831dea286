// Inflating compressed requests with a scan per chunk (bounded-inflate.ts, wire-prefix-scan.ts):
// a bomb is refused after its first chunk, good messages come out byte for byte (gzip, multi-member gzip, deflate), and grpc-js's
// own answers for corrupt data and the size limit are kept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { status } from '@grpc/grpc-js';
import { loadInferenceProtos } from '../../../../src/frontends/grpc/proto-loader.js';
import { boundedDeserializer, INFLATE_CHECK, messageType, refusal, type InflateCheck, type Refused } from '../../../../src/frontends/grpc/bounded-deserialize.js';
import { inflateChecked } from '../../../../src/frontends/grpc/bounded-inflate.js';
import { WirePrefixScan } from '../../../../src/frontends/grpc/wire-prefix-scan.js';
import { WireScanError, type WireLimits } from '../../../../src/frontends/grpc/wire-scan.js';
import { ErrorCode } from '../../../../src/errors/error-codes.js';
import { noise } from '../../../helpers/noise.js';
import type { ModelInferRequest } from '../../../../src/generated/inference/ModelInferRequest.js';

const { inference } = loadInferenceProtos();
const encode = (r: ModelInferRequest) => inference.ModelInfer.requestSerialize(r);
const bounded = boundedDeserializer('inference.ModelInferRequest', (b) => inference.ModelInfer.requestDeserialize(b));
const check = bounded[INFLATE_CHECK];
const MAX = 2 ** 31 - 1;

/** `check`, counting the inflated bytes its scan was given. */
function counting(): { check: InflateCheck; seen: () => number } {
  let n = 0;
  return {
    check: {
      scan: (max) => {
        const s = check.scan(max);
        const push = s.push.bind(s);
        s.push = (c) => {
          n += c.length;
          push(c);
        };
        return s;
      },
      refuse: check.refuse,
    },
    seen: () => n,
  };
}

function refusedWith(out: Buffer | Refused): { code: ErrorCode; message: string } {
  const err = refusal(out);
  assert.ok(err !== undefined, 'not refused');
  return { code: err.code, message: err.message };
}

const request: ModelInferRequest = {
  model_name: 'simple', id: 'r1',
  inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, (3 << 20) / 4] }],
  raw_input_contents: [Buffer.alloc(3 << 20, 7)],
};

describe('inflateChecked', () => {
  it('refuses 64 MiB of zeros (field number 0) after its first chunk, not after inflating it all', async () => {
    const c = counting();
    const out = await inflateChecked(zlib.gzipSync(Buffer.alloc(64 << 20), { level: 9 }), 'gzip', MAX, c.check);
    const r = refusedWith(out);
    assert.equal(r.code, ErrorCode.INVALID_ARG);
    assert.match(r.message, /malformed ModelInferRequest: invalid field number 0/);
    assert.ok(c.seen() <= 1 << 20, `${c.seen()} bytes inflated before the refusal`);
  });

  it('refuses a tensor declaring more than the size limit from its declared length, naming the model', async () => {
    const head = Buffer.concat([encode({ model_name: 'simple' }), Buffer.from([0x3a, 0x80, 0x80, 0x80, 0x80, 0x04])]); // raw_input_contents of 1 GiB
    const c = counting();
    const out = await inflateChecked(zlib.gzipSync(Buffer.concat([head, Buffer.alloc(8 << 20)])), 'gzip', 1 << 20, c.check);
    const r = refusedWith(out);
    assert.equal(r.code, ErrorCode.RESOURCE_EXHAUSTED);
    assert.match(r.message, /ModelInferRequest to model 'simple' refused: 'raw_input_contents' of 1073741824 bytes at byte 14 ends past the 1048576-byte message limit/);
    assert.ok(c.seen() <= 1 << 20);
  });

  it('refuses 30 M empty entries after the first 4,097', async () => {
    const out = await inflateChecked(zlib.gzipSync(Buffer.concat([encode({ model_name: 'simple' }), Buffer.alloc(60_000_000, Buffer.from([0x3a, 0]))])), 'gzip', MAX, check);
    assert.match(refusedWith(out).message, /'raw_input_contents' of inference\.ModelInferRequest has more than 4096 entries/);
  });

  it('inflates good messages byte for byte: gzip, gzip in two members, deflate', async () => {
    const bytes = encode(request);
    assert.deepEqual(await inflateChecked(zlib.gzipSync(bytes), 'gzip', MAX, check), bytes);
    const half = bytes.length >> 1;
    const twoMembers = Buffer.concat([zlib.gzipSync(bytes.subarray(0, half)), zlib.gzipSync(bytes.subarray(half))]);
    assert.deepEqual(await inflateChecked(twoMembers, 'gzip', MAX, check), bytes);
    assert.deepEqual(await inflateChecked(zlib.deflateSync(bytes), 'deflate', MAX, check), bytes);
    const small = encode({ model_name: 'simple' });
    assert.deepEqual(await inflateChecked(zlib.gzipSync(small), 'gzip', MAX, check), small);
  });

  it("keeps grpc-js's answers: corrupt data and raw deflate → INTERNAL, past the limit → RESOURCE_EXHAUSTED", async () => {
    const bytes = encode(request);
    for (const [data, enc] of [[Buffer.from('not gzip at all'), 'gzip'], [zlib.deflateRawSync(bytes), 'deflate'], [zlib.gzipSync(bytes).subarray(0, 1000), 'gzip']] as const) {
      await assert.rejects(inflateChecked(data, enc, MAX, check), (e: { code: number; details: string }) => {
        assert.equal(e.code, status.INTERNAL);
        assert.equal(e.details, 'Failed to decompress message');
        return true;
      });
    }
    // 400,000 unknown varint fields: none declares a length, the whole is over the limit.
    const many = Buffer.alloc(1_200_000, Buffer.from([0xa0, 0x06, 0x01]));
    await assert.rejects(inflateChecked(zlib.gzipSync(many), 'gzip', 1 << 20, check), (e: { code: number; details: string }) => {
      assert.equal(e.code, status.RESOURCE_EXHAUSTED);
      assert.equal(e.details, 'Received message that decompresses to a size larger than 1048576');
      return true;
    });
  });
});

describe('inflateChecked: raw entries against their inputs (raw-size-precheck.ts)', () => {
  const simple = (raw: Buffer[], inputs = [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }]) =>
    encode({ model_name: 'simple', model_version: '1', inputs, raw_input_contents: raw });

  it("refuses a raw entry whose declared length is not its input's size when its length is read, in the core's words", async () => {
    // simple's two [1,16] INT32 inputs, then 256 MiB of zeros as INPUT0's raw entry: refused in the first inflated chunk.
    const c = counting();
    const out = await inflateChecked(zlib.gzipSync(simple([Buffer.alloc(256 << 20), Buffer.alloc(64)])), 'gzip', MAX, c.check);
    const r = refusedWith(out);
    assert.equal(r.code, ErrorCode.INVALID_ARG);
    assert.equal(r.message, "input byte size mismatch for input 'INPUT0' for model 'simple' version 1. Expected 64, got 268435456");
    assert.ok(c.seen() <= 1 << 20, `${c.seen()} bytes inflated before the refusal`);
    assert.match(refusedWith(await inflateChecked(zlib.gzipSync(simple([Buffer.alloc(64), Buffer.alloc(65)])), 'gzip', MAX, check)).message, /for input 'INPUT1' .*Expected 64, got 65/);
  });

  it('never fails on a garbage head before a raw entry: a message, a refusal, or grpc-js\'s own answer', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      // Garbage inside well-framed inputs (the prefix scan passes over it; the precheck decodes it), or at the top level.
      const junk = Buffer.from(noise(1 + (seed * 13) % 120, seed));
      const head = seed % 4 === 0 ? junk : Buffer.concat([Buffer.from([0x0a, 1, 0x6d]), Buffer.from([0x2a, junk.length]), junk]);
      const bytes = Buffer.concat([head, Buffer.from([0x3a, 4, 1, 2, 3, 4])]);
      try {
        const out = await inflateChecked(zlib.gzipSync(bytes), 'gzip', MAX, check);
        const err = refusal(out);
        if (err !== undefined) assert.ok(err.code === ErrorCode.INVALID_ARG || err.code === ErrorCode.RESOURCE_EXHAUSTED, `seed ${seed}: ${err.code}`);
        else assert.deepEqual(out, bytes, `seed ${seed}`);
      } catch (e) {
        assert.equal(typeof (e as { code?: unknown }).code, 'number', `seed ${seed}: ${String(e)}`);
      }
    }
  });

  it('leaves to the full path what the head cannot tell: BYTES, shared memory, inputs after the raw entries, odd shapes', async () => {
    const ok = async (bytes: Buffer) => assert.deepEqual(await inflateChecked(zlib.gzipSync(bytes), 'gzip', MAX, check), bytes);
    await ok(simple([Buffer.alloc(1000)], [{ name: 'S', datatype: 'BYTES', shape: [1] }]));
    await ok(simple([Buffer.alloc(7)], [{ name: 'bad', datatype: 'NOPE', shape: [1] }]));
    // An input in shared memory takes no raw entry: the entry belongs to the next input.
    const shm = { name: 'A', datatype: 'FP32', shape: [100], parameters: { shared_memory_region: { string_param: 'r' } } };
    await ok(simple([Buffer.alloc(8)], [shm, { name: 'B', datatype: 'FP32', shape: [2] }]));
    assert.match(refusedWith(await inflateChecked(zlib.gzipSync(simple([Buffer.alloc(9)], [shm, { name: 'B', datatype: 'FP32', shape: [2] }])), 'gzip', MAX, check)).message, /input 'B' .*Expected 8, got 9/);
    // Fields out of number order: an input written after the raw entries is not known when they are read.
    const late = Buffer.concat([encode({ model_name: 'simple', raw_input_contents: [Buffer.alloc(5)] }), encode({ inputs: [{ name: 'I', datatype: 'INT32', shape: [1] }] })]);
    await ok(late);
  });
});

describe('WirePrefixScan', () => {
  const type = () => messageType('inference.ModelInferRequest');
  const small: WireLimits = { entries: 4, mapEntries: 2, dims: 3, values: 10, fields: 100, depth: 4 };

  it('takes a good message split anywhere, down to one byte at a time', () => {
    const bytes = encode({ ...request, raw_input_contents: [Buffer.alloc(300, 1)], parameters: { p: { int64_param: 5 } } });
    const s = new WirePrefixScan(type(), MAX);
    for (const b of bytes) s.push(Uint8Array.of(b));
    const whole = new WirePrefixScan(type(), MAX);
    whole.push(bytes);
    assert.equal(whole.modelName, 'simple');
  });

  it('refuses what the full scan refuses at the top level, across chunk boundaries', () => {
    const cases: [number[], boolean, RegExp][] = [
      [[0x00], false, /invalid field number 0/],
      [[0x0e], false, /invalid wire type 6 for field 1/],
      [[0x08, 1], false, /field 'model_name' of inference\.ModelInferRequest has wire type 0, expected 2/],
      [[0x3a, 0, 0x3a, 0, 0x3a, 0, 0x3a, 0, 0x3a, 0], true, /'raw_input_contents' of inference\.ModelInferRequest has more than 4 entries/],
      [[0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f], true, /'raw_input_contents' of 4294967295 bytes at byte 6 ends past the 1048576-byte message limit/],
      [[0x3a, ...Array<number>(11).fill(0x80)], false, /varint longer than 10 bytes/],
    ];
    for (const [bytes, exhausted, message] of cases) {
      const s = new WirePrefixScan(type(), 1 << 20, small);
      assert.throws(() => {
        for (const b of bytes) s.push(Uint8Array.of(b));
      }, (e: unknown) => e instanceof WireScanError && e.exhausted === exhausted && message.test(e.message), String(message));
    }
  });
});
