// Small helpers for writing ONNX models from JavaScript with the `onnx-proto`
// message classes (protobufjs 6, onnx 1.10 schema).
//
// Determinism: protobufjs encodes fields in field-number order and every helper
// here takes its data explicitly (no clocks, no Math.random), so the same call
// always yields the same bytes. Weights come from `mulberry32`, which uses only
// 32-bit integer arithmetic and therefore gives identical values on every
// platform and V8 version.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX IR version 7 is the one that introduced opset 13; ORT 1.30 reads IR 3..11. */
export const IR_VERSION = 7;
/** Default-domain opset every generated model imports. */
export const OPSET_VERSION = 13;

/** onnx.TensorProto.DataType numbers, by ONNX name. */
export const DataType = Object.freeze({ ...onnx.TensorProto.DataType });

const AttributeType = onnx.AttributeProto.AttributeType;

/**
 * A graph input/output declaration. `dims` entries are numbers (fixed sizes) or
 * strings (symbolic sizes, which ORT reports as -1); `null` dims means unknown rank.
 */
export function valueInfo(name, elemType, dims) {
  const tensorType = { elemType };
  if (dims !== null) {
    tensorType.shape = {
      dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })),
    };
  }
  return { name, type: { tensorType } };
}

/** A graph node; `attributes` come from the `attr*` helpers below. */
export function node(opType, inputs, outputs, attributes = []) {
  return { opType, input: inputs, output: outputs, attribute: attributes };
}

export function attrInt(name, value) {
  return { name, type: AttributeType.INT, i: value };
}

export function attrFloat(name, value) {
  return { name, type: AttributeType.FLOAT, f: value };
}

export function attrString(name, value) {
  return { name, type: AttributeType.STRING, s: Buffer.from(value, 'utf8') };
}

export function attrInts(name, values) {
  return { name, type: AttributeType.INTS, ints: values };
}

export function attrTensor(name, tensor) {
  return { name, type: AttributeType.TENSOR, t: tensor };
}

/**
 * A tensor whose payload is the little-endian bytes of `data` (a typed array or
 * a byte array already in ONNX layout, e.g. FP16 bit patterns in a Uint16Array).
 */
export function rawTensor(name, elemType, dims, data) {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { name, dims, dataType: elemType, rawData: Buffer.from(bytes) };
}

export function floatTensor(name, dims, values) {
  return rawTensor(name, DataType.FLOAT, dims, Float32Array.from(values));
}

export function int64Tensor(name, dims, values) {
  return rawTensor(name, DataType.INT64, dims, BigInt64Array.from(values, (v) => BigInt(v)));
}

/** Names nodes `<opType>_<index>` where unnamed so ORT errors point at a node. */
function nameNodes(nodes) {
  return nodes.map((n, i) => ({ name: `${n.opType}_${i}`, ...n }));
}

/**
 * Encodes a single-graph model.
 * @param {{ name: string, doc?: string, nodes: object[], inputs: object[],
 *           outputs: object[], initializers?: object[] }} spec
 * @returns {Uint8Array} serialized onnx.ModelProto
 */
export function encodeModel(spec) {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET_VERSION }],
    producerName: 'infera-generate-models',
    producerVersion: '1',
    docString: spec.doc ?? '',
    graph: {
      name: spec.name,
      node: nameNodes(spec.nodes),
      input: spec.inputs,
      output: spec.outputs,
      initializer: spec.initializers ?? [],
    },
  });
  const problem = onnx.ModelProto.verify(model);
  if (problem !== null) {
    throw new Error(`model '${spec.name}' does not fit onnx.ModelProto: ${problem}`);
  }
  return new Uint8Array(onnx.ModelProto.encode(model).finish());
}

/**
 * Seeded PRNG (mulberry32): returns a function giving floats in [0, 1). The
 * sequence depends only on the 32-bit seed.
 */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` floats uniformly drawn from [-limit, limit) with `random`. */
export function uniformWeights(random, count, limit) {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 1) out[i] = (random() * 2 - 1) * limit;
  return out;
}

function checkSize(what, value) {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`buildMlp: ${what} must be a positive integer, got ${String(value)}`);
  }
}

/**
 * FP32 multi-layer perceptron: INPUT [batch, inputSize] → (Gemm → Relu) per
 * hidden layer → Gemm → OUTPUT [batch, outputSize]. Weights are uniform in
 * ±sqrt(3 / fanIn) (activations stay O(1)) and depend only on `seed`.
 * Stored as initializers, so the file is ~4 bytes per parameter.
 * @returns {Uint8Array} serialized model
 */
export function buildMlp({ inputSize, hidden = [1024, 1024, 1024], outputSize, seed = 1 }) {
  checkSize('inputSize', inputSize);
  checkSize('outputSize', outputSize);
  hidden.forEach((h, i) => checkSize(`hidden[${i}]`, h));
  const random = mulberry32(seed);
  const sizes = [inputSize, ...hidden, outputSize];
  const nodes = [];
  const initializers = [];
  let current = 'INPUT';
  for (let layer = 0; layer + 1 < sizes.length; layer += 1) {
    const [fanIn, fanOut] = [sizes[layer], sizes[layer + 1]];
    const limit = Math.sqrt(3 / fanIn);
    initializers.push(
      rawTensor(`W${layer}`, DataType.FLOAT, [fanIn, fanOut], uniformWeights(random, fanIn * fanOut, limit)),
      rawTensor(`B${layer}`, DataType.FLOAT, [fanOut], uniformWeights(random, fanOut, 0.1)),
    );
    const isLast = layer + 2 === sizes.length;
    const gemmOut = isLast ? 'OUTPUT' : `gemm${layer}`;
    nodes.push(node('Gemm', [current, `W${layer}`, `B${layer}`], [gemmOut]));
    if (!isLast) nodes.push(node('Relu', [gemmOut], [`relu${layer}`]));
    current = `relu${layer}`;
  }
  return encodeModel({
    name: 'mlp',
    doc: `FP32 MLP ${sizes.join('-')}, seed ${seed}`,
    nodes,
    inputs: [valueInfo('INPUT', DataType.FLOAT, ['batch', inputSize])],
    outputs: [valueInfo('OUTPUT', DataType.FLOAT, ['batch', outputSize])],
    initializers,
  });
}

/**
 * A tiny FP32 model: OUTPUT = INPUT + addend, both [batch, width] (first dim
 * symbolic), so that many generated copies each give an answer of their own.
 * @returns {Uint8Array} serialized model
 */
export function buildAddConstant({ width, addend }) {
  checkSize('width', width);
  return encodeModel({
    name: 'add_constant',
    doc: `OUTPUT = INPUT + ${addend}`,
    nodes: [node('Add', ['INPUT', 'addend'], ['OUTPUT'])],
    inputs: [valueInfo('INPUT', DataType.FLOAT, ['batch', width])],
    outputs: [valueInfo('OUTPUT', DataType.FLOAT, ['batch', width])],
    initializers: [floatTensor('addend', [], [addend])],
  });
}
