import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecoupledResponses, decoupledUnaryError } from '../../../src/core/decoupled-responses.js';
import type { InferenceResponse } from '../../../src/core/inference-request.js';
import type { Tensor } from '../../../src/core/tensor.js';
import { errors } from '../../../src/errors/catalogue.js';
import { ErrorCode } from '../../../src/errors/error-codes.js';

const T: Tensor = { name: 'OUT', datatype: 'INT32', shape: [1], data: new Uint8Array(4) };

function setup(signal?: AbortSignal) {
  const sent: [InferenceResponse | undefined, boolean][] = [];
  const r = new DecoupledResponses({
    id: 'x', modelName: 'm', modelVersion: '1', signal,
    sink: { accepted: () => undefined, send: (res, final) => sent.push([res, final]) },
    outputs: (ts) => ts.map((t) => ({ ...t, parameters: {} })),
  });
  return { r, sent };
}

describe('DecoupledResponses', () => {
  it('passes responses to the sink, ends at the final flag and ignores what follows', async () => {
    const { r, sent } = setup();
    r.send([T], false);
    r.send([T], false);
    r.send(undefined, true);
    r.send([T], false);
    r.fail(errors.internal('late'));
    await r.ended;
    assert.deepEqual(sent.map(([res, final]) => [res?.outputs.length, final]), [[1, false], [1, false], [undefined, true]]);
    assert.equal(sent[0]![0]!.id, 'x');
    assert.equal(r.count, 2);
  });

  it('an abort ends the request with its reason and drops later responses', async () => {
    const ac = new AbortController();
    const { r, sent } = setup(ac.signal);
    r.send([T], false);
    ac.abort(errors.deadlineExceeded('m', '1'));
    r.send([T], true);
    await assert.rejects(r.ended, (e: { code: string }) => e.code === ErrorCode.DEADLINE_EXCEEDED);
    assert.equal(sent.length, 1);
  });

  it('fail() rejects without a final send', async () => {
    const { r, sent } = setup();
    r.fail(errors.internal('model broke'));
    await assert.rejects(r.ended, /model broke/);
    assert.equal(sent.length, 0);
  });

  it("names the endpoint in Triton's UNSUPPORTED message", () => {
    const e = decoupledUnaryError('HTTP end point');
    assert.equal(e.code, ErrorCode.UNSUPPORTED);
    assert.equal(e.message, "HTTP end point doesn't support models with decoupled transaction policy");
  });
});
