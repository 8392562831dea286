/**
 * Validates an InferenceRequest against a loaded model's signature (PROTOCOL.md §5.2–§5.8) and
 * produces the scheduler's view of it. Runs on the main thread for every request: no copies of
 * tensor data, one pass over the inputs, allocation proportional to the tensor count only.
 */
import type { InferenceRequest, InputTensor } from './inference-request.js';
import type { ModelSignature, TensorSpec } from './model-signature.js';
import type { Parameters } from './tensor.js';
import { elementByteSize, elementCount } from './datatype.js';
import { countBytesElements, FramingError } from './bytes-tensor.js';
import { errors, modelRef } from '../errors/catalogue.js';
import { readScheduleParameters, type ScheduleParameters } from './request-parameters.js';

export interface ValidatedRequest {
  readonly request: InferenceRequest;
  /** Batch elements this request carries: dim 0 when the model batches, else 1. */
  readonly batchSize: number;
  /** Inputs in the model config's order (optional inputs the request omitted are absent). */
  readonly inputs: readonly InputTensor[];
  /** Outputs to return, in config order when the request listed none. */
  readonly outputNames: readonly string[];
  /** Output name → k, for outputs with the classification parameter. */
  readonly classification: ReadonlyMap<string, number>;
  /** Requests may share a batch only when these keys are equal (same inputs, same non-batch dims). */
  readonly shapeKey: string;
  readonly schedule: ScheduleParameters;
}

export function validateRequest(sig: ModelSignature, req: InferenceRequest): ValidatedRequest {
  const ref = modelRef(sig.name, sig.version);
  const byName = new Map<string, InputTensor>();
  for (const t of req.inputs) {
    if (!sig.inputByName.has(t.name)) throw errors.unexpectedInput(ref, t.name, sig.inputs.map((s) => s.name));
    if (byName.has(t.name)) throw errors.invalidArg(`input '${t.name}' appears more than once in the request for ${ref}`);
    byName.set(t.name, t);
  }
  const inputs: InputTensor[] = [];
  let batchSize = -1;
  let shapeKey = '';
  for (const spec of sig.inputs) {
    const t = byName.get(spec.name);
    if (t === undefined) {
      if (spec.optional) continue;
      throw errors.invalidArg(
        `expected ${requiredCount(sig)} inputs but got ${req.inputs.length} inputs for ${ref}: missing input '${spec.name}'`,
      );
    }
    if (t.datatype !== spec.datatype) throw errors.datatypeMismatch(ref, t.name, t.datatype, spec.datatype);
    const b = checkShape(sig, spec, t.shape, ref);
    if (batchSize !== -1 && b !== batchSize) {
      throw errors.invalidArg(
        `input '${t.name}' has batch size ${b} but other inputs have ${batchSize}: all inputs of a request to ${ref} must share the batch size`,
      );
    }
    batchSize = b;
    checkByteSize(spec, t, ref);
    inputs.push(t);
    shapeKey += `${t.name}:${sig.maxBatchSize > 0 ? t.shape.slice(1).join('x') : t.shape.join('x')};`;
  }
  const { outputNames, classification } = resolveOutputs(sig, req, ref);
  return {
    request: req,
    batchSize: batchSize === -1 ? 1 : batchSize,
    inputs,
    outputNames,
    classification,
    shapeKey,
    schedule: readScheduleParameters(req.parameters, ref),
  };
}

function requiredCount(sig: ModelSignature): number {
  return sig.inputs.filter((s) => !s.optional).length;
}

/** Returns the request's batch size (1 for non-batching models). */
function checkShape(sig: ModelSignature, spec: TensorSpec, shape: readonly number[], ref: string): number {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw errors.invalidArg(
        `All input dimensions should be specified for input '${spec.name}' for ${ref}: got shape [${shape.join(',')}]`,
      );
    }
  }
  let dims: readonly number[] = shape;
  let batch = 1;
  if (sig.maxBatchSize > 0) {
    if (shape.length === 0) throw shapeError(spec, shape, sig, ref);
    batch = shape[0]!;
    if (batch < 1 || batch > sig.maxBatchSize) {
      throw errors.invalidArg(
        `inference request batch-size must be <= ${sig.maxBatchSize} for ${ref}: input '${spec.name}' has batch size ${batch}` +
          (batch < 1 ? ' (must be >= 1)' : ''),
      );
    }
    dims = shape.slice(1);
  }
  if (dims.length === 0 && isScalarSpec(sig, spec)) return batch; // a scalar sent as [] for dims [1]
  if (dims.length !== spec.dims.length) throw shapeError(spec, shape, sig, ref);
  for (let i = 0; i < dims.length; i++) {
    const want = spec.dims[i]!;
    if (want !== -1 && want !== dims[i]) throw shapeError(spec, shape, sig, ref);
  }
  return batch;
}

/**
 * Dims [1] in a model that does not batch: how Triton serves a rank-0 model tensor. Requests may
 * send such an input with shape [1] or with the scalar shape []; both carry one element.
 */
function isScalarSpec(sig: ModelSignature, spec: TensorSpec): boolean {
  return sig.maxBatchSize === 0 && spec.dims.length === 1 && spec.dims[0] === 1;
}

function shapeError(spec: TensorSpec, shape: readonly number[], sig: ModelSignature, ref: string) {
  const expected = sig.maxBatchSize > 0 ? ['-1', ...spec.dims] : spec.dims;
  return errors.invalidArg(
    `unexpected shape for input '${spec.name}' for ${ref}. Expected [${expected.join(',')}], got [${shape.join(',')}]` +
      (sig.maxBatchSize > 0 ? ' (the first dimension is the batch size)' : ''),
  );
}

function checkByteSize(spec: TensorSpec, t: InputTensor, ref: string): void {
  const count = elementCount(t.shape);
  if (spec.datatype === 'BYTES') {
    let got: number;
    try {
      got = countBytesElements(t.data);
    } catch (e) {
      if (e instanceof FramingError) {
        throw errors.invalidArg(`malformed BYTES data for input '${t.name}' for ${ref}: ${e.message}`);
      }
      throw e;
    }
    if (got !== count) {
      throw errors.invalidArg(`expected ${count} string elements for inference input '${t.name}' for ${ref}, got ${got}`);
    }
    return;
  }
  const expected = count * elementByteSize(spec.datatype);
  if (t.data.byteLength !== expected) {
    throw errors.invalidArg(
      `input byte size mismatch for input '${t.name}' for ${ref}. Expected ${expected}, got ${t.data.byteLength}`,
    );
  }
}

function resolveOutputs(
  sig: ModelSignature,
  req: InferenceRequest,
  ref: string,
): { outputNames: string[]; classification: Map<string, number> } {
  const classification = new Map<string, number>();
  if (req.outputs.length === 0) return { outputNames: sig.outputs.map((o) => o.name), classification };
  const names: string[] = [];
  for (const o of req.outputs) {
    if (!sig.outputByName.has(o.name)) throw errors.unexpectedOutput(ref, o.name, sig.outputs.map((s) => s.name));
    if (names.includes(o.name)) throw errors.invalidArg(`output '${o.name}' is requested more than once for ${ref}`);
    names.push(o.name);
    const k = classificationCount(o.parameters, o.name, ref);
    if (k !== undefined) classification.set(o.name, k);
  }
  return { outputNames: names, classification };
}

function classificationCount(p: Parameters, output: string, ref: string): number | undefined {
  const v = p['classification'];
  if (v === undefined) return undefined;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
    throw errors.invalidArg(
      `classification parameter of output '${output}' for ${ref} must be an integer > 0, got ${String(v)}`,
    );
  }
  return n;
}
