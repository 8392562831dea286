/**
 * Issue #13 part 3: a gRPC call's lazy Cancellation. No listener on the call until a consumer
 * subscribes; grpc-js's own flag is read before that; the 'cancelled' event grpc-js emits after
 * answering every call is not a cancel once the handler called finish().
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { CallCancellation } from '../../../../src/frontends/grpc/call-cancellation.js';
import type { CancelListener } from '../../../../src/core/cancellation.js';

function fakeCall(deadline: number = Number.POSITIVE_INFINITY): EventEmitter & { cancelled: boolean; getDeadline(): number } {
  return Object.assign(new EventEmitter(), { cancelled: false, getDeadline: () => deadline });
}

const asCall = (c: EventEmitter) => c as unknown as ServerUnaryCall<unknown, unknown>;

function listener(): { heard: (string | undefined)[]; l: CancelListener<string> } {
  const heard: (string | undefined)[] = [];
  return { heard, l: { onCancel: (_item, reason) => heard.push(reason?.code) } };
}

describe('CallCancellation', () => {
  it('registers nothing on the call until someone subscribes, then turns a cancel into CANCELLED', () => {
    const call = fakeCall();
    const c = new CallCancellation(asCall(call), 'simple', '1');
    assert.equal(c.aborted, false);
    assert.equal(call.listenerCount('cancelled'), 0, 'a request that never queues costs no listener');
    const { heard, l } = listener();
    c.subscribe(l, 'queued');
    assert.equal(call.listenerCount('cancelled'), 1);
    call.cancelled = true;
    call.emit('cancelled', 'cancelled');
    assert.deepEqual(heard, ['CANCELLED']);
    assert.match(c.reason!.message, /'simple'/);
  });

  it('a passed deadline makes it DEADLINE_EXCEEDED, and grpc-js\'s flag is seen without a listener', () => {
    const call = fakeCall(Date.now() - 1);
    const c = new CallCancellation(asCall(call), 'simple', '1');
    call.cancelled = true;
    assert.equal(c.aborted, true);
    assert.equal(c.reason?.code, 'DEADLINE_EXCEEDED');
  });

  it('the end-of-call event after finish() is not a cancel', () => {
    const call = fakeCall();
    const c = new CallCancellation(asCall(call), 'simple', '1');
    const { heard, l } = listener();
    c.subscribe(l, 'queued');
    c.unsubscribe(l, 'queued');
    c.subscribe(l, 'again');
    c.finish();
    call.cancelled = true;
    call.emit('cancelled', 'cancelled');
    assert.deepEqual(heard, []);
    assert.equal(c.aborted, false);
  });
});
