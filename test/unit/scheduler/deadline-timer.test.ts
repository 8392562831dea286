import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineTimer } from '../../../src/scheduler/deadline-timer.js';
import { nowNs } from '../../../src/util/clock.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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

describe('DeadlineTimer: sub-millisecond windows without spinning the loop (issue 13, part 4)', () => {
  it('a sub-millisecond window costs the process far less CPU than its length', async () => {
    const windowNs = 800_000;
    const n = 100;
    await fired(nowNs(), nowNs() + windowNs); // the wake thread is up
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const t0 = nowNs();
      const elapsed = await fired(t0, t0 + windowNs);
      assert.ok(elapsed >= windowNs, `fired after ${elapsed} ns for a ${windowNs} ns deadline`);
    }
    const c = process.cpuUsage(c0);
    const cpuNs = (c.user + c.system) * 1000;
    // Spinning on setImmediate for the window (the earlier design) costs about n × windowNs.
    assert.ok(cpuNs < 0.5 * n * windowNs, `CPU ${Math.round(cpuNs / 1e6)} ms for ${n} windows of ${windowNs / 1e6} ms`);
  });

  it('a pending sub-millisecond wake keeps the process alive (the wake thread is ref-ed while one is pending)', async () => {
    // node:test fails a test whose promise is still pending when the loop empties: this resolving proves the first half.
    const t0 = nowNs();
    assert.ok((await fired(t0, t0 + 600_000)) >= 600_000);
  });
});

it('an idle wake thread does not keep the process alive, once its last wake has fired', () => {
  const timer = fileURLToPath(new URL('../../../src/scheduler/deadline-timer.js', import.meta.url));
  const code = `const { DeadlineTimer } = await import(${JSON.stringify(timer)});
    const t = new DeadlineTimer(() => console.log('fired'));
    t.arm(Number(process.hrtime.bigint()) + 700000);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { timeout: 15_000, encoding: 'utf8' });
  assert.equal(r.signal, null, 'the process exited by itself');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'fired', 'the pending wake kept it alive until it fired');
});
