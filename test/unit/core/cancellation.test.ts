/**
 * Issue #13 part 3: a request's Cancellation. Listeners are (listener, item) pairs told once, in
 * order; the AbortSignal and the source watch exist only when asked for; a subclass's probe sees a
 * cancellation it was not told about.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cancellation, cancelError, type CancelListener } from '../../../src/core/cancellation.js';
import { errors } from '../../../src/errors/catalogue.js';
import { InferenceError } from '../../../src/errors/inference-error.js';

function recorder(): { heard: [string, string | undefined][]; l: CancelListener<string> } {
  const heard: [string, string | undefined][] = [];
  return { heard, l: { onCancel: (item, reason) => heard.push([item, reason?.code]) } };
}

describe('Cancellation', () => {
  it('tells each subscribed pair once, in order, and the first cancel wins', () => {
    const c = new Cancellation();
    const { heard, l } = recorder();
    c.subscribe(l, 'a');
    c.subscribe(l, 'b');
    c.subscribe(l, 'c');
    c.unsubscribe(l, 'b');
    assert.equal(c.aborted, false);
    c.cancel(errors.deadlineExceeded('m', 1));
    c.cancel(errors.cancelled('m', 1));
    assert.deepEqual(heard, [['a', 'DEADLINE_EXCEEDED'], ['c', 'DEADLINE_EXCEEDED']]);
    assert.equal(c.aborted, true);
    assert.equal(c.reason?.code, 'DEADLINE_EXCEEDED');
    c.subscribe(l, 'late');
    assert.equal(heard.length, 2, 'a subscribe after the cancel is not called (callers check aborted first)');
  });

  it('unsubscribing the first pair promotes the next one', () => {
    const c = new Cancellation();
    const { heard, l } = recorder();
    c.subscribe(l, 'a');
    c.subscribe(l, 'b');
    c.unsubscribe(l, 'a');
    c.unsubscribe(l, 'nobody');
    c.cancel();
    assert.deepEqual(heard, [['b', undefined]]);
  });

  it('makes its AbortSignal on demand, aborted with the same reason before or after the cancel', () => {
    const before = new Cancellation();
    const s = before.signal;
    assert.equal(before.signal, s, 'one signal per cancellation');
    assert.equal(s.aborted, false);
    const reason = errors.cancelled('m', 1);
    before.cancel(reason);
    assert.equal(s.aborted, true);
    assert.equal(s.reason, reason);
    const after = new Cancellation();
    after.cancel(reason);
    assert.equal(after.signal.aborted, true);
    assert.equal(after.signal.reason, reason);
  });

  it('watches its source only when someone needs telling, and probes it otherwise', () => {
    let watched = 0;
    let sourceCancelled = false;
    class Lazy extends Cancellation {
      protected override watch(): void {
        watched++;
      }
      protected override probe(): InferenceError | undefined {
        return sourceCancelled ? errors.cancelled('m', 1) : undefined;
      }
    }
    const quiet = new Lazy();
    assert.equal(quiet.aborted, false);
    assert.equal(watched, 0, 'reading aborted does not start watching');
    const c = new Lazy();
    const { l } = recorder();
    c.subscribe(l, 'a');
    c.subscribe(l, 'b');
    void c.signal;
    assert.equal(watched, 1, 'watched once');
    sourceCancelled = true;
    assert.equal(quiet.aborted, true, 'a cancel the object was not told about is found by probe');
    assert.equal(quiet.reason?.code, 'CANCELLED');
  });

  it('follows an AbortSignal, keeping an InferenceError reason', () => {
    const ac = new AbortController();
    const c = Cancellation.fromSignal(ac.signal);
    ac.abort(errors.deadlineExceeded('m', 1));
    assert.equal(c.reason?.code, 'DEADLINE_EXCEEDED');
    assert.equal(Cancellation.fromSignal(AbortSignal.abort('x')).aborted, true);
  });

  it('cancelError keeps a front-end reason and names the model otherwise', () => {
    assert.equal(cancelError(errors.deadlineExceeded('m', 1), 'e', 1).code, 'DEADLINE_EXCEEDED');
    const other = cancelError(new InferenceError('INTERNAL', 'step failed'), 'ens', 1);
    assert.equal(other.code, 'CANCELLED');
    assert.match(other.message, /'ens'/);
    assert.equal(cancelError(undefined, 'ens', 1).code, 'CANCELLED');
  });
});
