// The bls_pipeline model (see ../config.pbtxt): preprocess in TS, one or both ONNX scorers through
// ctx.infer chosen per request by its "branch" parameter, postprocess in TS.
import type { ExecuteContext, InferRequest, InferResponse } from 'infera';

const FEATURES = 4;
const CLASSES = 3;
const BRANCHES: Record<string, string[]> = { a: ['branch_a'], b: ['branch_b'], both: ['branch_a', 'branch_b'] };

/** (x - mean) / sqrt(var + 1e-5) per row, as the ONNX `preprocess` model computes it. */
function standardize(raw: Float32Array, rows: number): Float32Array {
  const out = new Float32Array(rows * FEATURES);
  for (let r = 0; r < rows; r++) {
    const row = raw.subarray(r * FEATURES, (r + 1) * FEATURES);
    const mean = row.reduce((a, b) => a + b, 0) / FEATURES;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / FEATURES;
    const std = Math.sqrt(variance + 1e-5);
    for (let i = 0; i < FEATURES; i++) out[r * FEATURES + i] = (row[i]! - mean) / std;
  }
  return out;
}

/** Softmax of the mean of the branches' logits, and its argmax, per row. */
function postprocess(logits: Float32Array[], rows: number): { probs: Float32Array; cls: BigInt64Array } {
  const probs = new Float32Array(rows * CLASSES);
  const cls = new BigInt64Array(rows);
  for (let r = 0; r < rows; r++) {
    const mean = Array.from({ length: CLASSES }, (_, c) => logits.reduce((a, l) => a + l[r * CLASSES + c]!, 0) / logits.length);
    const max = Math.max(...mean);
    const exp = mean.map((v) => Math.exp(v - max));
    const sum = exp.reduce((a, b) => a + b, 0);
    exp.forEach((e, c) => (probs[r * CLASSES + c] = e / sum));
    cls[r] = BigInt(exp.indexOf(Math.max(...exp)));
  }
  return { probs, cls };
}

export default class BlsPipeline {
  async execute(requests: InferRequest[], ctx: ExecuteContext): Promise<(InferResponse | Error)[]> {
    // Each request runs on its own: its calls carry its cancellation and deadline (parent).
    return Promise.all(requests.map((r) => this.#run(r, ctx).catch((e: Error) => e)));
  }

  async #run(request: InferRequest, ctx: ExecuteContext): Promise<InferResponse> {
    const branch = String(request.parameters['branch'] ?? 'both');
    const models = BRANCHES[branch];
    if (models === undefined) {
      throw Object.assign(new Error(`parameter 'branch' must be "a", "b" or "both", got "${branch}"`), { code: 'INVALID_ARG' });
    }
    const raw = request.inputs.get('RAW')!;
    const rows = raw.shape[0]!;
    const normalized = standardize(raw.data as Float32Array, rows);
    const logits = await Promise.all(models.map(async (model) => {
      // slice(): each call takes ownership of (detaches) its input, and NORMALIZED is answered too.
      const res = await ctx.infer({ model, inputs: { FEATURES: { shape: [rows, FEATURES], data: normalized.slice() } }, parent: request });
      return res.outputs['LOGITS']!.data as Float32Array;
    }));
    const { probs, cls } = postprocess(logits, rows);
    return {
      outputs: {
        PROBS: { shape: [rows, CLASSES], data: probs },
        CLASS: { shape: [rows, 1], data: cls },
        NORMALIZED: { shape: [rows, FEATURES], data: normalized },
      },
    };
  }
}
