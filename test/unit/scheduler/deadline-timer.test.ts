import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineTimer } from '../../../src/scheduler/deadline-timer.js';
import { nowNs } from '../../../src/util/clock.js';

const fired = (t0: number, atNs: number) => new Promise<number>((resolve) => {
  const timer = new DeadlineTimer(() => resolve(nowNs() - t0));
  timer.arm(atNs);
});

describe('DeadlineTimer', () => {
  it('never fires before its deadline, for sub-millisecond and longer waits', async () => {
    for (const waitNs of [0, 200_000, 700_000, 3_000_000, 12_000_000]) {
      const t0 = nowNs();
      const elapsed = await fired(t0, t0 + waitNs);
      assert.ok(elapsed >= waitNs, `fired after ${elapsed} ns for a ${waitNs} ns deadline`);
    }
  });

  it('an earlier deadline replaces a later one; a later one does not', async () => {
    const t0 = nowNs();
    let calls = 0;
    let at = 0;
    await new Promise<void>((resolve) => {
      const timer = new DeadlineTimer(() => {
        calls++;
        at = nowNs() - t0;
        resolve();
      });
      timer.arm(t0 + 50_000_000);
      timer.arm(t0 + 2_000_000);
      timer.arm(t0 + 40_000_000);
    });
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(calls, 1);
    assert.ok(at >= 2_000_000 && at < 40_000_000, `fired at ${at} ns`);
  });

  it('clear() cancels it', async () => {
    let calls = 0;
    const timer = new DeadlineTimer(() => calls++);
    timer.arm(nowNs() + 500_000);
    timer.clear();
    timer.arm(nowNs() + 5_000_000);
    timer.clear();
    assert.equal(timer.armed, false);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls, 0);
  });
});
