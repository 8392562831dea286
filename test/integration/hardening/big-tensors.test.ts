/**
 * Issue #20 part 2's big-tensor path over the wire: a raw input of several MiB crosses to the
 * worker with its message's buffer (core/detachable.ts), is realigned there when the message put
 * it at an odd offset, and the response is written straight into its frame (framed-responses.ts),
 * also gzip-compressed and on ModelStreamInfer. Whatever the offset, the bytes come back exact.
 * Peak memory for 256/512 MiB tensors is measured by bench/hostile-requests.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import { StreamClient } from '../../helpers/stream-client.js';
import { noise } from '../../helpers/noise.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';

const CONFIG = [
  'platform: "onnxruntime_onnx"', 'max_batch_size: 1',
  'input [ { name: "IN" data_type: TYPE_FP32 dims: [ -1 ] } ]',
  'output [ { name: "OUT" data_type: TYPE_FP32 dims: [ -1 ] } ]',
].join('\n');
const repo = new TempRepo().add('identity_fp32', { config: CONFIG, versions: { 1: 'identity_fp32.onnx' } });
let ts: TestServer;
before(async () => {
  ts = await startServer([repo.dir], { allowMetrics: false, allowHttp: false });
});
after(async () => {
  await ts.close();
  repo.remove();
});

const BYTES = 6 << 20;
const data = Buffer.from(noise(BYTES, 3).buffer.slice(0, BYTES));
const request = (id: string): ModelInferRequest => ({
  model_name: 'identity_fp32', id,
  inputs: [{ name: 'IN', datatype: 'FP32', shape: [1, BYTES / 4] }],
  raw_input_contents: [data],
});

describe('a big raw tensor through identity_fp32', () => {
  it('comes back exact at every offset the message puts it at (ids of 0–7 characters)', async () => {
    for (let n = 0; n < 8; n++) {
      const r = await call(ts.client.ModelInfer.bind(ts.client), request('x'.repeat(n)));
      assert.equal(r.id, 'x'.repeat(n));
      assert.deepEqual(r.outputs?.[0]?.shape.map(Number), [1, BYTES / 4]);
      assert.ok(Buffer.from(r.raw_output_contents![0]!).equals(data), `id of ${n} characters`);
    }
  });

  it('comes back exact when the request is gzip-compressed', async () => {
    const md = new Metadata();
    md.set('grpc-internal-encoding-request', 'gzip');
    const r = await new Promise<{ raw_output_contents?: Uint8Array[] }>((resolve, reject) => {
      ts.client.ModelInfer(request('gz'), md, (e: Error | null, res?: { raw_output_contents?: Uint8Array[] }) => (e ? reject(e) : resolve(res!)));
    });
    assert.ok(Buffer.from(r.raw_output_contents![0]!).equals(data));
  });

  it('comes back exact on ModelStreamInfer, twice on one stream', async () => {
    const s = new StreamClient(ts.client);
    for (const id of ['s1', 's22']) {
      const m = await s.infer(request(id));
      assert.equal(m.error_message, '');
      assert.ok(Buffer.from(m.infer_response!.raw_output_contents[0]!).equals(data), id);
    }
    assert.equal(await s.end(), null);
  });
});
