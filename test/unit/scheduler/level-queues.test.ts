import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DELAYED, LevelQueues } from '../../../src/scheduler/level-queues.js';

describe('LevelQueues', () => {
  it('keeps queues only for levels in use, in level order with DELAYED last', () => {
    const q = new LevelQueues<string>();
    q.push(2 ** 60, 'huge');
    q.push(DELAYED, 'late');
    q.push(3, 'c');
    q.push(1, 'a1');
    q.push(1, 'a2');
    assert.deepEqual(q.ordered(), [['a1', 'a2'], ['c'], ['huge'], ['late']]);
    assert.equal(q.size(1), 2);
    assert.equal(q.remove(3, 'c'), true);
    assert.equal(q.remove(3, 'c'), false);
    assert.deepEqual(q.levels(), [1, 2 ** 60, DELAYED], 'an emptied level leaves no queue');
    q.queue(1)!.splice(0);
    q.prune();
    assert.deepEqual(q.levels(), [2 ** 60, DELAYED]);
    assert.deepEqual(q.drain(), ['huge', 'late']);
    assert.deepEqual(q.levels(), []);
  });
});
