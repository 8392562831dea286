// A TensorFlow model under dynamic batching: concurrent single requests are merged into larger
// executions on one instance, and every client still gets its own rows back.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TempRepo } from '../../helpers/repo.js';
import { call, startServer, type TestServer } from '../../helpers/start-server.js';
import type { ModelInferRequest } from '../../../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse__Output } from '../../../src/generated/inference/ModelInferResponse.js';
import type { ModelStatisticsResponse__Output } from '../../../src/generated/inference/ModelStatisticsResponse.js';
import { addTfjsModel, f32, raw } from './tf-fixtures.js';

const repo = new TempRepo();
let ts: TestServer;

before(async () => {
  repo.addBundled('tfjs_mlp');
  // The fixture layers model, batched by auto-complete (max_batch_size 4, dynamic batching).
  addTfjsModel(repo, 'layers_model', 'layers_model');
  ts = await startServer([repo.dir]);
});
after(async () => {
  await ts?.close();
  repo.remove();
});

const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const infer = (req: ModelInferRequest): Promise<ModelInferResponse__Output> =>
  call<ModelInferRequest, ModelInferResponse__Output>(ts.client.ModelInfer.bind(ts.client), req);

/** The formulas documented in scripts/generate-tf-models.mjs. */
function mlp(x: number[]): number[] {
  const h = range(16, (j) => Math.max(0, ((j % 3) - 1) / 10 + x.reduce((s, xi, i) => s + xi * ((((i * 16 + j) % 7) - 3) / 10), 0)));
  return range(4, (k) => k / 10 + h.reduce((s, hj, j) => s + hj * ((((j * 4 + k) % 5) - 2) / 10), 0));
}

async function counts(model: string): Promise<{ inference: number; execution: number }> {
  const res = await call<{ name: string }, ModelStatisticsResponse__Output>(ts.client.ModelStatistics.bind(ts.client), { name: model });
  const s = res.model_stats[0]!;
  return { inference: Number(s.inference_count), execution: Number(s.execution_count) };
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) < 1e-5, `${what} element ${i}: ${a} vs ${expected[i]}`));
}

describe('dynamic batching with TensorFlow models', () => {
  it('merges 48 concurrent requests to tfjs_mlp into fewer executions, each answer its own', async () => {
    const before = await counts('tfjs_mlp');
    const inputs = range(48, (r) => range(8, (i) => ((r * 7 + i * 3) % 11) - 5));
    await Promise.all(inputs.map(async (x, r) => {
      const res = await infer({ model_name: 'tfjs_mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 8] }], raw_input_contents: [raw(new Float32Array(x))] });
      assert.deepEqual(res.outputs[0]!.shape.map(Number), [1, 4]);
      assertClose(f32(res.raw_output_contents[0]!), mlp(x), `request ${r}`);
    }));
    const after = await counts('tfjs_mlp');
    assert.equal(after.inference - before.inference, 48);
    assert.ok(after.execution - before.execution < 48, `expected batched executions, got ${after.execution - before.execution} for 48 requests`);
  });

  it('runs a client batch of 3 rows in one request', async () => {
    const rows = range(3, (r) => range(8, (i) => r - i / 4));
    const res = await infer({ model_name: 'tfjs_mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 8] }], raw_input_contents: [raw(new Float32Array(rows.flat()))] });
    assert.deepEqual(res.outputs[0]!.shape.map(Number), [3, 4]);
    assertClose(f32(res.raw_output_contents[0]!), rows.flatMap(mlp), 'batch');
  });

  it('batches the fixture layers model (Embedding + GRU) too', async () => {
    const x = [86, 11, 62, 40, 36, 75, 82, 94, 67, 75];
    const expected = [-0.0035789413, 0.0028922036, -0.0029579764, 0.0095540239];
    await Promise.all(range(12, async () => {
      const res = await infer({ model_name: 'layers_model', inputs: [{ name: 'embedding_Embedding2_input', datatype: 'FP32', shape: [1, 10] }], raw_input_contents: [raw(new Float32Array(x))] });
      assertClose(f32(res.raw_output_contents[0]!), expected, 'layers_model');
    }));
    const c = await counts('layers_model');
    assert.equal(c.inference, 12);
    assert.ok(c.execution < 12, `expected batched executions, got ${c.execution}`);
  });
});
