/**
 * Config tensors vs the model's own tensors, for every backend that can read its model's tensors
 * (ONNX session metadata, TF signatures): the load-time compatibility check, which returns every
 * disagreement naming the tensor, the expected and the actual value, and the shape rules applied
 * per batch (reshape, Triton's unbatched-scalar rule). Pure; runs inside instance workers.
 */
import { elementCount, type DataType } from '../core/datatype.js';

/** A config tensor as a backend sees it: dims without the batch dim; reshape = what the model sees. */
export interface ConfigTensorSpec {
  name: string;
  datatype: DataType;
  dims: readonly number[];
  reshape?: readonly number[];
}

/** A model tensor: datatype undefined = no v2 type; shape undefined = unknown rank; -1 = variable dim. */
export interface DeclaredTensor {
  name: string;
  datatype: DataType | undefined;
  shape: readonly number[] | undefined;
}

export interface DescribeModelType<T extends DeclaredTensor> {
  /** The framework's own type name (ORT "float32", TF "DT_FLOAT"). */
  sourceType(m: T): string;
  /** Whether a datatype mismatch message also shows the framework type. */
  noteSourceTypeOnMismatch: boolean;
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** A rank-0 model tensor served with config dims [1] and no reshape (Triton's unbatched scalar rule). */
export function isUnreshapedScalar(spec: ConfigTensorSpec, model: DeclaredTensor, batching: boolean): boolean {
  return !batching && model.shape !== undefined && model.shape.length === 0 && spec.reshape === undefined
    && spec.dims.length === 1 && spec.dims[0] === 1;
}

function incompatibility<T extends DeclaredTensor>(spec: ConfigTensorSpec, m: T, batching: boolean, d: DescribeModelType<T>): string | undefined {
  if (m.datatype === undefined) return `the model's type is ${d.sourceType(m)}, which this backend cannot serve`;
  if (m.datatype !== spec.datatype) {
    return `expected datatype ${spec.datatype} but the model's is ${m.datatype}${d.noteSourceTypeOnMismatch ? ` (${d.sourceType(m)})` : ''}`;
  }
  const shape = m.shape;
  if (shape === undefined || isUnreshapedScalar(spec, m, batching)) return undefined;
  if (batching && (shape.length === 0 || shape[0] !== -1)) {
    return `max_batch_size > 0 needs a variable first dimension but the model's shape is ${fmt(shape)}`;
  }
  const inner = spec.reshape ?? spec.dims;
  const expected = batching ? [-1, ...inner] : inner;
  const mismatch = expected.length !== shape.length || shape.some((x, i) => x !== -1 && x !== expected[i]);
  return mismatch
    ? `expected shape ${fmt(expected)} (config dims${batching ? ' after the batch dim' : ''}${spec.reshape ? ', reshaped' : ''}) but the model's is ${fmt(shape)}`
    : undefined;
}

/** Every way the config disagrees with the model's declared inputs and outputs ([] = compatible). */
export function configProblems<T extends DeclaredTensor>(
  specs: { inputs: readonly ConfigTensorSpec[]; outputs: readonly ConfigTensorSpec[] },
  model: { inputs: readonly T[]; outputs: readonly T[] },
  batching: boolean,
  describe: DescribeModelType<T>,
): string[] {
  const problems: string[] = [];
  const check = (kind: 'input' | 'output', list: readonly ConfigTensorSpec[], declared: readonly T[]): void => {
    const byName = new Map(declared.map((m) => [m.name, m]));
    for (const spec of list) {
      const m = byName.get(spec.name);
      const why = m === undefined
        ? `the model has no such ${kind} (model ${kind}s: ${declared.map((x) => x.name).join(', ') || 'none'})`
        : incompatibility(spec, m, batching, describe);
      if (why !== undefined) problems.push(`${kind} '${spec.name}': ${why}`);
    }
  };
  check('input', specs.inputs, model.inputs);
  check('output', specs.outputs, model.outputs);
  const configured = new Set(specs.inputs.map((s) => s.name));
  for (const m of model.inputs) {
    if (!configured.has(m.name)) problems.push(`input '${m.name}': the model requires it but the configuration does not list it`);
  }
  return problems;
}

/**
 * The shape to feed the model for a request tensor of shape `shape` (config reshape applied). A
 * request may send a dims-[1] input of a non-batching model as the scalar shape [] (the request
 * validator allows it): the model gets [] when its tensor is rank 0, else the config dims.
 */
export function feedShape(spec: ConfigTensorSpec, model: DeclaredTensor, shape: readonly number[], batching: boolean): number[] {
  if (spec.reshape !== undefined) return batching ? [shape[0] ?? 0, ...spec.reshape] : [...spec.reshape];
  if (isUnreshapedScalar(spec, model, batching)) return [];
  if (!batching && shape.length === 0) return [...spec.dims];
  return [...shape];
}

/**
 * True when a request to a non-batching model sent some input with the scalar shape []: its
 * rank-0 outputs then come back as [] too (see reportedShape).
 */
export function sentScalar(inputs: readonly { shape: readonly number[] }[], batching: boolean): boolean {
  return !batching && inputs.some((t) => t.shape.length === 0);
}

/**
 * The model's output shape, except that reshaped outputs are reported in config dims, as Triton
 * does, and so are rank-0 outputs (as [1]) unless the request sent a scalar input as [] (`scalarRequest`):
 * then they stay [], the shape the client used.
 */
export function reportedShape(spec: ConfigTensorSpec, dims: readonly number[], batching: boolean, scalarRequest = false): number[] {
  if (dims.length === 0 && !batching && scalarRequest) return [];
  if (spec.reshape === undefined && !(dims.length === 0 && !batching)) return [...dims];
  const want = batching ? [dims[0] ?? 0, ...spec.dims] : [...spec.dims];
  return want.every((d) => d >= 0) && elementCount(want) === elementCount(dims) ? want : [...dims];
}
