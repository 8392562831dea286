// InstancePool (instance-pool.ts): an idle instance is handed out once; among idle ones the least
// contended goes first, the longest idle on a tie; instances without a contention measure are FIFO.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelInstance } from '../../../src/backends/backend.js';
import { InstancePool } from '../../../src/scheduler/instance-pool.js';

function instance(name: string, contention?: () => number): ModelInstance {
  const i: ModelInstance = { name, execute: () => Promise.reject(new Error('unused')), finalize: () => Promise.resolve() };
  return contention === undefined ? i : Object.assign(i, { contention });
}

describe('InstancePool', () => {
  it('hands out idle instances round-robin when they do not measure contention', () => {
    const p = new InstancePool([instance('a'), instance('b')]);
    const first = p.acquire();
    assert.equal(first.name, 'a');
    p.release(first);
    assert.equal(p.acquire().name, 'b');
    assert.equal(p.acquire().name, 'a');
    assert.equal(p.hasIdle, false);
    assert.throws(() => p.acquire(), /no idle instance/);
  });

  it('hands out the least contended idle instance, the longest idle on a tie', () => {
    const load: Record<string, number> = { a: 3, b: 1, c: 1 };
    const p = new InstancePool(['a', 'b', 'c'].map((n) => instance(n, () => load[n]!)));
    assert.equal(p.acquire().name, 'b');
    assert.equal(p.acquire().name, 'c');
    assert.equal(p.acquire().name, 'a');
    load['a'] = 0;
    p.release(instance('x', () => 5));
    p.release(instance('a', () => load['a']!));
    assert.equal(p.acquire().name, 'a');
  });
});
