// ChunkAssembly (util/chunk-assembly.ts) gives back the pushed bytes in order, however they are
// chunked and whenever its buffer is allocated, and never copies a long backlog in one push.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkAssembly } from '../../../src/util/chunk-assembly.js';

function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 9)) & 0xff;
  return b;
}

function chunked(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length; at += size) out.push(b.subarray(at, at + size));
  return out;
}

describe('ChunkAssembly', () => {
  const data = pattern(3 * 1024 * 1024 + 123);

  it('assembles a declared size byte for byte, for any chunk size and allocation point', () => {
    for (const size of [997, 16_384, 65_536, 1 << 20]) {
      for (const at of [0, 1 / 8, 1 / 2, 0.99]) {
        const a = new ChunkAssembly(data.length, at);
        for (const c of chunked(data, size)) a.push(c);
        assert.equal(a.length, data.length);
        assert.ok(a.finish().equals(data), `chunks of ${size}, allocated at ${at}`);
      }
    }
  });

  it('assembles an unknown size by concatenating', () => {
    const a = new ChunkAssembly(undefined);
    for (const c of chunked(data, 50_000)) a.push(c);
    assert.ok(a.finish().equals(data));
    const one = new ChunkAssembly(undefined);
    one.push(data);
    assert.equal(one.finish(), data, 'one chunk is returned as is');
  });

  it('copies the backlog a few chunks per push, not at once', () => {
    // 1/8 of 3 MiB arrives as 16 KiB frames (24 of them) before the buffer exists; the next pushes
    // copy their own bytes and twice that of the backlog, so none holds the thread for long.
    const a = new ChunkAssembly(data.length, 1 / 8);
    const frames = chunked(data, 16_384);
    const copied: number[] = [];
    const proto = Buffer.prototype as unknown as { copy: (...args: unknown[]) => number };
    const copy = proto.copy;
    let bytes = 0;
    proto.copy = function (this: Buffer, ...args: unknown[]): number {
      const n = copy.apply(this, args);
      bytes += n;
      return n;
    };
    try {
      for (const f of frames) {
        bytes = 0;
        a.push(f);
        copied.push(bytes);
      }
    } finally {
      proto.copy = copy;
    }
    assert.ok(Math.max(...copied) <= 3 * 16_384, `at most 3 frames' bytes per push, got ${Math.max(...copied)}`);
    assert.ok(a.finish().equals(data));
  });

  it('refuses more bytes than declared', () => {
    const a = new ChunkAssembly(10);
    a.push(Buffer.alloc(6));
    assert.throws(() => a.push(Buffer.alloc(5)), RangeError);
  });
});

describe('ChunkAssembly with a size hint', () => {
  it('goes on past a wrong hint (several gzip members) and keeps every byte', () => {
    const data = pattern(2 * 1024 * 1024);
    for (const hint of [1, 100_000, 1 << 20, data.length - 1]) {
      const a = new ChunkAssembly(hint, 0, true);
      for (const c of chunked(data, 65_536)) a.push(c);
      assert.equal(a.size, undefined, 'the size is forgotten');
      assert.ok(a.finish().equals(data), `hint ${hint}`);
    }
    const exact = new ChunkAssembly(data.length, 0, true);
    for (const c of chunked(data, 65_536)) exact.push(c);
    assert.equal(exact.size, data.length);
    assert.ok(exact.finish().equals(data));
  });
});
