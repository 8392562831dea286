/**
 * Turns one signature of a SavedModel into a self-contained TensorFlow.js graph model, the way
 * TensorFlow's own freezing does, without TensorFlow:
 *
 *   1. inline every called function into one flat graph (graph-inliner.ts);
 *   2. keep only the nodes the signature's outputs depend on (plus its input placeholders);
 *   3. freeze variables: `ReadVariableOp(VarHandleOp)` (TF2) and `VariableV2` (TF1) become
 *      Const nodes holding the checkpoint's value; `ResourceGather` becomes GatherV2 on such a
 *      constant. The checkpoint is opened only if some kept node needs a variable;
 *   4. reject the graph if any kept op is one tfjs cannot run, listing all of them;
 *   5. emit the tfjs artifacts: a JSON GraphDef (modelTopology) whose Const nodes carry only
 *      dtype and shape, plus a weight manifest and one weight buffer holding every constant.
 *
 * Functions referenced by attributes (If/While bodies) are not inlined: they are passed to tfjs
 * in the topology's library, which runs them itself. Their ops are checked too, so a variable
 * read inside a body fails the load (ReadVariableOp is listed); constants inside bodies are not
 * given weights yet, so such a graph can still fail when it runs.
 */
import { join } from 'node:path';
import type { TfjsGraphArtifacts, TfjsWeightSpec, TfModelIo } from '../tf-io.js';
import { unsupportedOps } from '../tfjs-ops.js';
import { CheckpointReader } from './checkpoint-reader.js';
import { GraphInliner, graphRef, refNode, type FlatNode } from './graph-inliner.js';
import type { SavedModelSelection } from './saved-model-reader.js';
import { variableCheckpointKeys } from './saved-model-variables.js';
import { TfFormatError, type TfAttrValue, type TfFunctionDef, type TfMetaGraphDef } from './tf-proto.js';
import { constantFromTensorProto, type TfjsConstant } from './tf-values.js';

/** The graph uses ops tfjs cannot run; `ops` lists them all. */
export class UnsupportedOpsError extends TfFormatError {
  readonly ops: string[];

  constructor(signatureName: string, ops: string[]) {
    super(`signature '${signatureName}' uses ops that TensorFlow.js cannot run: ${ops.join(', ')}`);
    this.ops = ops;
  }
}

export interface FrozenGraph {
  artifacts: TfjsGraphArtifacts;
  /** The signature's tensors, `tensor` rewritten to the flat graph's tensor names. */
  io: TfModelIo;
  /** Number of variables read from the checkpoint. */
  variableCount: number;
}

const VARIABLE_OPS = new Set(['VariableV2', 'Variable']);

/** Keeps the nodes reachable (through inputs) from `roots`, in their original order. */
function prune(nodes: readonly FlatNode[], roots: Iterable<string>): FlatNode[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const keep = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (keep.has(name)) continue;
    const n = byName.get(name);
    if (n === undefined) throw new TfFormatError(`the graph refers to node '${name}', which does not exist`);
    keep.add(name);
    for (const r of n.inputs) stack.push(refNode(r));
  }
  return nodes.filter((n) => keep.has(n.name));
}

class Freezer {
  readonly consts = new Map<string, TfjsConstant>();
  readonly extra: FlatNode[] = [];
  variableCount = 0;
  readonly #keys: Map<string, string>;
  readonly #byName: Map<string, FlatNode>;
  readonly #variablesDir: string;
  #reader: Promise<CheckpointReader> | undefined;

  constructor(meta: TfMetaGraphDef, nodes: FlatNode[], variablesDir: string) {
    this.#keys = variableCheckpointKeys(meta);
    this.#byName = new Map(nodes.map((n) => [n.name, n]));
    this.#variablesDir = variablesDir;
  }

  async #variable(varNode: string, user: string): Promise<TfjsConstant> {
    const key = this.#keys.get(varNode);
    if (key === undefined) throw new TfFormatError(`node '${user}' reads variable '${varNode}', which the SavedModel's restore op does not restore`);
    this.#reader ??= CheckpointReader.open(this.#variablesDir).catch((err: unknown) => {
      if (err instanceof TfFormatError) throw new TfFormatError(`variables/variables.index: ${err.message}`);
      throw new TfFormatError(`missing variables: cannot read the checkpoint in ${this.#variablesDir}: ${(err as Error).message}`);
    });
    this.variableCount++;
    return (await this.#reader).read(key);
  }

  #sourceOf(n: FlatNode): FlatNode | undefined {
    const ref = n.inputs[0];
    return ref === undefined ? undefined : this.#byName.get(refNode(ref));
  }

  #makeConst(n: FlatNode, value: TfjsConstant): void {
    n.op = 'Const';
    n.inputs = [];
    n.attr = { dtype: n.attr['dtype'] ?? { type: 'DT_FLOAT' } };
    this.consts.set(n.name, value);
  }

  async freeze(n: FlatNode): Promise<void> {
    if (n.op === 'Const') {
      const tensor = n.attr['value']?.tensor;
      if (tensor === undefined) throw new TfFormatError(`Const node '${n.name}' has no value`);
      this.consts.set(n.name, constantFromTensorProto(tensor, `constant '${n.name}'`));
    } else if (VARIABLE_OPS.has(n.op)) {
      this.#makeConst(n, await this.#variable(n.name, n.name));
    } else if (n.op === 'ReadVariableOp' && this.#sourceOf(n)?.op === 'VarHandleOp') {
      this.#makeConst(n, await this.#variable(this.#sourceOf(n)!.name, n.name));
    } else if (n.op === 'ResourceGather' && this.#sourceOf(n)?.op === 'VarHandleOp') {
      await this.#gather(n);
    }
  }

  /** ResourceGather(var, indices) ≡ GatherV2(value, indices, axis 0) with the same batch_dims. */
  async #gather(n: FlatNode): Promise<void> {
    const params = { name: `${n.name}/frozen_params`, op: 'Const', inputs: [], attr: { dtype: n.attr['dtype'] ?? { type: 'DT_FLOAT' } } };
    const axis = { name: `${n.name}/frozen_axis`, op: 'Const', inputs: [], attr: { dtype: { type: 'DT_INT32' } } };
    this.consts.set(params.name, await this.#variable(this.#sourceOf(n)!.name, n.name));
    this.consts.set(axis.name, { dtype: 'int32', shape: [], values: new Int32Array([0]) });
    this.extra.push(params, axis);
    n.op = 'GatherV2';
    n.inputs = [`${params.name}:0`, n.inputs[1] ?? '', `${axis.name}:0`];
    n.attr = { batch_dims: n.attr['batch_dims'] ?? { i: '0' }, Tindices: n.attr['Tindices'] ?? { type: 'DT_INT32' } };
  }
}

function base64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** An attribute in the JSON form tfjs reads: bytes as base64, tensors reduced to dtype and shape. */
function jsonAttr(v: TfAttrValue): Record<string, unknown> {
  const out: Record<string, unknown> = { ...v };
  if (v.s !== undefined) out['s'] = base64(v.s);
  if (v.tensor !== undefined) out['tensor'] = { dtype: v.tensor.dtype, tensorShape: v.tensor.tensorShape };
  if (v.func !== undefined) out['func'] = { name: v.func.name, attr: jsonAttrs(v.func.attr) };
  if (v.list !== undefined) {
    out['list'] = {
      ...v.list, s: v.list.s.map(base64),
      tensor: v.list.tensor.map((t) => ({ dtype: t.dtype, tensorShape: t.tensorShape })),
      func: v.list.func.map((f) => ({ name: f.name, attr: jsonAttrs(f.attr) })),
    };
  }
  return out;
}

function jsonAttrs(attrs: Record<string, TfAttrValue>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, jsonAttr(v)]));
}

function weightBytes(c: TfjsConstant): Uint8Array[] {
  if (!Array.isArray(c.values)) {
    const v = c.values;
    return [new Uint8Array(v.buffer, v.byteOffset, v.byteLength)];
  }
  return c.values.flatMap((s) => {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, s.byteLength, true);
    return [len, s];
  });
}

/** One weight buffer holding every constant, in manifest order (tfjs's weight layout). */
export function packWeights(consts: ReadonlyMap<string, TfjsConstant>): { weightSpecs: TfjsWeightSpec[]; weightData: ArrayBuffer } {
  const weightSpecs: TfjsWeightSpec[] = [];
  const parts: Uint8Array[] = [];
  for (const [name, c] of consts) {
    weightSpecs.push({ name, shape: c.shape, dtype: c.dtype });
    parts.push(...weightBytes(c));
  }
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const data = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.byteLength;
  }
  return { weightSpecs, weightData: data.buffer };
}

function jsonNode(n: FlatNode): Record<string, unknown> {
  return { name: n.name, op: n.op, input: n.inputs, attr: jsonAttrs(n.attr) };
}

function jsonFunction(f: TfFunctionDef): Record<string, unknown> {
  return { ...f, attr: jsonAttrs(f.attr), nodeDef: f.nodeDef.map((n) => ({ ...n, attr: jsonAttrs(n.attr) })) };
}

/**
 * Freezes `sel`'s signature into tfjs artifacts. `modelDir` is the `model.savedmodel` folder.
 * Throws TfFormatError (UnsupportedOpsError for unsupported ops) with a message naming the part.
 */
export async function freezeSignature(
  sel: SavedModelSelection, modelDir: string, supportedOps: ReadonlySet<string> | undefined,
): Promise<FrozenGraph> {
  const graph = sel.meta.graphDef!;
  const library = graph.library?.function ?? [];
  const inliner = new GraphInliner(library);
  inliner.addGraph(graph.node);
  const flat = inliner.finish();
  const resolve = (tensor: string): string => inliner.resolve(graphRef(tensor) ?? tensor);
  const io: TfModelIo = {
    inputs: sel.io.inputs.map((i) => ({ ...i, tensor: resolve(i.tensor) })),
    outputs: sel.io.outputs.map((o) => ({ ...o, tensor: resolve(o.tensor) })),
  };
  const roots = [...io.inputs, ...io.outputs].map((t) => refNode(t.tensor));
  const kept = prune(flat, roots);
  const freezer = new Freezer(sel.meta, kept, join(modelDir, 'variables'));
  for (const n of kept) await freezer.freeze(n);
  const nodes = prune([...freezer.extra, ...kept], roots);
  const functions = library.filter((f) => inliner.referencedFunctions.has(f.signature?.name ?? ''));
  if (supportedOps !== undefined) {
    const bad = unsupportedOps([...nodes.map((n) => n.op), ...functions.flatMap((f) => f.nodeDef.map((n) => n.op ?? ''))], supportedOps);
    if (bad.length > 0) throw new UnsupportedOpsError(sel.signatureName, bad);
  }
  const names = new Set(nodes.map((n) => n.name));
  const consts = new Map([...freezer.consts].filter(([name]) => names.has(name)));
  const modelTopology: Record<string, unknown> = { node: nodes.map(jsonNode), versions: graph.versions ?? {} };
  if (functions.length > 0) modelTopology['library'] = { function: functions.map(jsonFunction) };
  return { artifacts: { modelTopology, ...packWeights(consts) }, io, variableCount: freezer.variableCount };
}
