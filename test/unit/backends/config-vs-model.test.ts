import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { feedShape, reportedShape, sentScalar } from '../../../src/backends/config-vs-model.js';

const scalarSpec = { name: 'S', datatype: 'FP32' as const, dims: [1] };
const rank0 = { name: 'S', datatype: 'FP32' as const, shape: [] };
const rank1 = { name: 'S', datatype: 'FP32' as const, shape: [1] };

describe('scalar shape rules', () => {
  it('feeds a dims-[1] input sent as [] or [1] as the model declares it', () => {
    assert.deepEqual(feedShape(scalarSpec, rank0, [], false), []);
    assert.deepEqual(feedShape(scalarSpec, rank0, [1], false), []);
    assert.deepEqual(feedShape(scalarSpec, rank1, [], false), [1], 'a rank-1 model tensor gets the config dims');
    assert.deepEqual(feedShape(scalarSpec, rank1, [1], false), [1]);
    assert.deepEqual(feedShape({ ...scalarSpec, dims: [-1] }, { ...rank1, shape: [-1] }, [2, 0], false), [2, 0]);
  });

  it('reports a rank-0 output as [1], or [] when the request sent a scalar input as []', () => {
    assert.deepEqual(reportedShape(scalarSpec, [], false), [1]);
    assert.deepEqual(reportedShape(scalarSpec, [], false, true), []);
    assert.deepEqual(reportedShape(scalarSpec, [1], false, true), [1], 'only rank-0 outputs follow the request');
    assert.deepEqual(reportedShape({ ...scalarSpec, dims: [0, 2] }, [3, 0, 2], true, false), [3, 0, 2]);
    assert.equal(sentScalar([{ shape: [3] }, { shape: [] }], false), true);
    assert.equal(sentScalar([{ shape: [3] }, { shape: [1] }], false), false);
    assert.equal(sentScalar([{ shape: [] }], true), false, 'batching requests always carry a batch dim');
  });
});
