// Builders for the small ONNX files under `test/fixtures/models/`. They are
// plain `.onnx` files (no Triton layout) so tests can place them into
// temporary repositories with whatever config.pbtxt the test needs.
import {
  DataType,
  attrInt,
  attrTensor,
  encodeModel,
  floatTensor,
  int64Tensor,
  node,
  valueInfo,
} from './onnx-builder.mjs';
import { buildSimpleSequence } from './repository-models.mjs';

/** v2 wire datatype → ONNX element type, for the identity fixtures. */
export const IDENTITY_DATATYPES = Object.freeze({
  BOOL: DataType.BOOL,
  INT8: DataType.INT8,
  UINT8: DataType.UINT8,
  INT16: DataType.INT16,
  UINT16: DataType.UINT16,
  INT32: DataType.INT32,
  UINT32: DataType.UINT32,
  INT64: DataType.INT64,
  UINT64: DataType.UINT64,
  FP16: DataType.FLOAT16,
  FP32: DataType.FLOAT,
  FP64: DataType.DOUBLE,
  BYTES: DataType.STRING,
});

/** Side of the square matrices the slow model multiplies. */
export const SLOW_MATRIX_SIZE = 512;
/** Default MatMul count of the slow model (~20-50 ms on one core, see buildSlow). */
export const SLOW_DEFAULT_MATMULS = 8;

/** identity_<datatype>: OUT = IN, shape [batch, n], for one v2 datatype. */
export function buildIdentity(datatype) {
  const elemType = IDENTITY_DATATYPES[datatype];
  if (elemType === undefined) throw new Error(`buildIdentity: unknown datatype '${datatype}'`);
  return encodeModel({
    name: `identity_${datatype.toLowerCase()}`,
    doc: `OUT = IN (${datatype})`,
    nodes: [node('Identity', ['IN'], ['OUT'])],
    inputs: [valueInfo('IN', elemType, ['batch', 'n'])],
    outputs: [valueInfo('OUT', elemType, ['batch', 'n'])],
  });
}

/** plus_one_fp32: OUT = IN + 1, FP32 [batch, n]: identity_fp32's signature, different answers (shadow tests). */
export function buildPlusOne() {
  return encodeModel({
    name: 'plus_one_fp32',
    doc: 'OUT = IN + 1 (FP32)',
    nodes: [node('Add', ['IN', 'one'], ['OUT'])],
    inputs: [valueInfo('IN', DataType.FLOAT, ['batch', 'n'])],
    outputs: [valueInfo('OUT', DataType.FLOAT, ['batch', 'n'])],
    initializers: [floatTensor('one', [], [1])],
  });
}

/** fixed_shape: OUT = IN + 1, FP32 with the fixed shape [2, 3] (no batch dim). */
export function buildFixedShape() {
  const io = (name) => valueInfo(name, DataType.FLOAT, [2, 3]);
  return encodeModel({
    name: 'fixed_shape',
    doc: 'OUT = IN + 1',
    nodes: [node('Add', ['IN', 'one'], ['OUT'])],
    inputs: [io('IN')],
    outputs: [io('OUT')],
    initializers: [floatTensor('one', [], [1])],
  });
}

/** scalar_sum: OUT = sum of IN, FP32 [n] → scalar []. */
export function buildScalarSum() {
  return encodeModel({
    name: 'scalar_sum',
    doc: 'OUT = ReduceSum(IN), a rank-0 output',
    nodes: [node('ReduceSum', ['IN'], ['OUT'], [attrInt('keepdims', 0)])],
    inputs: [valueInfo('IN', DataType.FLOAT, ['n'])],
    outputs: [valueInfo('OUT', DataType.FLOAT, [])],
  });
}

/** batched_scalar_double: OUT = 2 * IN, FP32 [batch] (a batch of scalars). */
export function buildBatchedScalarDouble() {
  const io = (name) => valueInfo(name, DataType.FLOAT, ['batch']);
  return encodeModel({
    name: 'batched_scalar_double',
    doc: 'OUT = IN * 2',
    nodes: [node('Mul', ['IN', 'two'], ['OUT'])],
    inputs: [io('IN')],
    outputs: [io('OUT')],
    initializers: [floatTensor('two', [], [2])],
  });
}

/**
 * scalar_io: Y = X * S, FP32 [n] with a rank-0 input S; T = ReduceSum(Y), a rank-0 output
 * (the shapes of ONNX's scalar backend tests, e.g. Clip's min/max and keepdims=0 reductions).
 */
export function buildScalarIo() {
  return encodeModel({
    name: 'scalar_io',
    doc: 'Y = X * S; T = ReduceSum(Y)',
    nodes: [node('Mul', ['X', 'S'], ['Y']), node('ReduceSum', ['Y'], ['T'], [attrInt('keepdims', 0)])],
    inputs: [valueInfo('X', DataType.FLOAT, ['n']), valueInfo('S', DataType.FLOAT, [])],
    outputs: [valueInfo('Y', DataType.FLOAT, ['n']), valueInfo('T', DataType.FLOAT, [])],
  });
}

/** zero_dim: OUT = IN + 1, FP32 [batch, 0, 2]: a model declaring a 0-sized dimension. */
export function buildZeroDim() {
  const io = (name) => valueInfo(name, DataType.FLOAT, ['batch', 0, 2]);
  return encodeModel({
    name: 'zero_dim',
    doc: 'OUT = IN + 1 on a [batch, 0, 2] tensor',
    nodes: [node('Add', ['IN', 'one'], ['OUT'])],
    inputs: [io('IN')],
    outputs: [io('OUT')],
    initializers: [floatTensor('one', [], [1])],
  });
}

/**
 * bytes_mangled: OUT = IN (BYTES [n]); BAD = a constant string whose bytes (FF FE) are not UTF-8,
 * which onnxruntime-node can only hand back as U+FFFD; NUL = a constant "he\\0llo", which it
 * hands back exactly.
 */
export function buildBytesMangled() {
  return encodeModel({
    name: 'bytes_mangled',
    doc: 'OUT = IN; BAD = constant ["\\xff\\xfe"]; NUL = constant ["he\\0llo"]',
    nodes: [node('Identity', ['IN'], ['OUT']), node('Identity', ['C'], ['BAD']), node('Identity', ['Z'], ['NUL'])],
    inputs: [valueInfo('IN', DataType.STRING, ['n'])],
    outputs: [valueInfo('OUT', DataType.STRING, ['n']), valueInfo('BAD', DataType.STRING, [1]), valueInfo('NUL', DataType.STRING, [1])],
    initializers: [
      { name: 'C', dims: [1], dataType: DataType.STRING, stringData: [new Uint8Array([0xff, 0xfe])] },
      { name: 'Z', dims: [1], dataType: DataType.STRING, stringData: [new Uint8Array([0x68, 0x65, 0, 0x6c, 0x6c, 0x6f])] },
    ],
  });
}

/**
 * runtime_error: OUT = IN reshaped to [-1, 3]; loads fine, and Run fails
 * whenever IN's element count is not a multiple of 3.
 */
export function buildRuntimeError() {
  return encodeModel({
    name: 'runtime_error',
    doc: 'OUT = Reshape(IN, [-1, 3]); fails unless numel(IN) % 3 == 0',
    nodes: [node('Reshape', ['IN', 'rows_of_3'], ['OUT'])],
    inputs: [valueInfo('IN', DataType.FLOAT, ['batch', 'n'])],
    outputs: [valueInfo('OUT', DataType.FLOAT, ['rows', 3])],
    initializers: [int64Tensor('rows_of_3', [2], [-1, 3])],
  });
}

/**
 * identity_or_fail_fp32: OUT = IN (FP32 [batch, n]), by way of a reshape to [-1, 3] and back, so
 * Run fails whenever IN's element count is not a multiple of 3 (a failing shadow version).
 */
export function buildIdentityOrFail() {
  return encodeModel({
    name: 'identity_or_fail_fp32',
    doc: 'OUT = Reshape(Reshape(IN, [-1, 3]), Shape(IN)); fails unless numel(IN) % 3 == 0',
    nodes: [
      node('Shape', ['IN'], ['in_shape']),
      node('Reshape', ['IN', 'rows_of_3'], ['rows']),
      node('Reshape', ['rows', 'in_shape'], ['OUT']),
    ],
    inputs: [valueInfo('IN', DataType.FLOAT, ['batch', 'n'])],
    outputs: [valueInfo('OUT', DataType.FLOAT, ['batch', 'n'])],
    initializers: [int64Tensor('rows_of_3', [2], [-1, 3])],
  });
}

/**
 * Nodes producing `W` = sin(0.01 * k) / sqrt(n) for k = 0..n²-1, shaped [n, n].
 * Computing it in the graph keeps the file tiny; ORT folds it at session load.
 */
function slowWeightNodes(n) {
  const scalar = (name, value) => attrTensor('value', floatTensor(name, [], [value]));
  return [
    node('Constant', [], ['w_start'], [scalar('w_start', 0)]),
    node('Constant', [], ['w_limit'], [scalar('w_limit', n * n)]),
    node('Constant', [], ['w_delta'], [scalar('w_delta', 1)]),
    node('Range', ['w_start', 'w_limit', 'w_delta'], ['w_flat']),
    node('Reshape', ['w_flat', 'w_shape'], ['w_index']),
    node('Mul', ['w_index', 'w_freq'], ['w_phase']),
    node('Sin', ['w_phase'], ['w_sin']),
    node('Mul', ['w_sin', 'w_scale'], ['W']),
  ];
}

/**
 * slow: OUT = IN (FP32 [batch, 4]), after `matmuls` chained [n, n] x [n, n]
 * products whose cost does not depend on the batch size: H0 = tanh(W * sum(IN)),
 * H(i+1) = tanh(H(i) x W), OUT = IN + 0 * mean(H). tanh keeps H finite so the
 * zero term is exactly 0; the chain depends on IN, so ORT cannot fold it away.
 */
export function buildSlow({ matmuls = SLOW_DEFAULT_MATMULS } = {}) {
  const n = SLOW_MATRIX_SIZE;
  const nodes = [...slowWeightNodes(n), node('ReduceSum', ['IN'], ['in_sum'], [attrInt('keepdims', 0)])];
  nodes.push(node('Mul', ['W', 'in_sum'], ['h0_pre']), node('Tanh', ['h0_pre'], ['h0']));
  for (let i = 1; i <= matmuls; i += 1) {
    nodes.push(node('MatMul', [`h${i - 1}`, 'W'], [`h${i}_pre`]), node('Tanh', [`h${i}_pre`], [`h${i}`]));
  }
  nodes.push(
    node('ReduceMean', [`h${matmuls}`], ['h_mean'], [attrInt('keepdims', 0)]),
    node('Mul', ['h_mean', 'zero'], ['nothing']),
    node('Add', ['IN', 'nothing'], ['OUT']),
  );
  return encodeModel({
    name: 'slow',
    doc: `OUT = IN after ${matmuls} MatMuls of ${n}x${n}`,
    nodes,
    inputs: [valueInfo('IN', DataType.FLOAT, ['batch', 4])],
    outputs: [valueInfo('OUT', DataType.FLOAT, ['batch', 4])],
    initializers: [
      int64Tensor('w_shape', [2], [n, n]),
      floatTensor('w_freq', [], [0.01]),
      floatTensor('w_scale', [], [1 / Math.sqrt(n)]),
      floatTensor('zero', [], [0]),
    ],
  });
}

/**
 * sequence_echo_<control>_<corrid>: echoes what the sequence batcher fed it. OUTPUT = INPUT
 * (INT32 [batch, 1]); START_OUT, END_OUT, READY_OUT = the control inputs (one `control` type);
 * CORRID_OUT = CORRID (one `corrid` type). Lets tests read the synthesised control tensors.
 */
export function buildSequenceEcho(control, corrid) {
  const ctrl = IDENTITY_DATATYPES[control];
  const id = IDENTITY_DATATYPES[corrid];
  const io = (name, type) => valueInfo(name, type, ['batch', 1]);
  const names = ['START', 'END', 'READY'];
  return encodeModel({
    name: `sequence_echo_${control.toLowerCase()}_${corrid.toLowerCase()}`,
    doc: 'Echoes INPUT and the sequence control tensors',
    nodes: [['INPUT', 'OUTPUT'], ...names.map((n) => [n, `${n}_OUT`]), ['CORRID', 'CORRID_OUT']].map(([i, o]) => node('Identity', [i], [o])),
    inputs: [io('INPUT', DataType.INT32), ...names.map((n) => io(n, ctrl)), io('CORRID', id)],
    outputs: [io('OUTPUT', DataType.INT32), ...names.map((n) => io(`${n}_OUT`, ctrl)), io('CORRID_OUT', id)],
  });
}

/** The control/CORRID type pairs of the sequence_echo fixtures: every control kind and CORRID type once. */
export const SEQUENCE_ECHO_TYPES = Object.freeze([
  ['INT32', 'UINT64'], ['FP32', 'INT64'], ['BOOL', 'BYTES'], ['INT32', 'UINT32'], ['INT32', 'INT32'],
]);

const utf8 = (text) => new Uint8Array(Buffer.from(text, 'utf8'));

/**
 * Every file of `test/fixtures/models/` this generator owns, relative to that
 * folder, with its exact bytes.
 * @returns {{ path: string, bytes: Uint8Array }[]}
 */
export function fixtureFiles() {
  const identities = Object.keys(IDENTITY_DATATYPES).map((datatype) => ({
    path: `identity_${datatype.toLowerCase()}.onnx`,
    bytes: buildIdentity(datatype),
  }));
  return [
    ...identities,
    { path: 'fixed_shape.onnx', bytes: buildFixedShape() },
    { path: 'plus_one_fp32.onnx', bytes: buildPlusOne() },
    { path: 'scalar_sum.onnx', bytes: buildScalarSum() },
    { path: 'batched_scalar_double.onnx', bytes: buildBatchedScalarDouble() },
    { path: 'runtime_error.onnx', bytes: buildRuntimeError() },
    { path: 'identity_or_fail_fp32.onnx', bytes: buildIdentityOrFail() },
    { path: 'scalar_io.onnx', bytes: buildScalarIo() },
    { path: 'zero_dim.onnx', bytes: buildZeroDim() },
    { path: 'bytes_mangled.onnx', bytes: buildBytesMangled() },
    { path: 'slow.onnx', bytes: buildSlow() },
    // simple_sequence for a model that does not batch: every tensor [1].
    { path: 'sequence_accumulate_unbatched.onnx', bytes: buildSimpleSequence({ dims: [1] }) },
    ...SEQUENCE_ECHO_TYPES.map(([c, id]) => ({ path: `sequence_echo_${c.toLowerCase()}_${id.toLowerCase()}.onnx`, bytes: buildSequenceEcho(c, id) })),
    // Not protobuf at all: ORT must refuse to load it.
    { path: 'invalid.onnx', bytes: utf8('this is not an ONNX model\n') },
  ];
}
