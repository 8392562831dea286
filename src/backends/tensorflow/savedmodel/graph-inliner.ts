/**
 * Flattens a TensorFlow 2 graph: every call to a library function (StatefulPartitionedCall,
 * PartitionedCall, or a node whose op is a function name) is replaced by the function's body,
 * recursively, with body nodes renamed `<call node>/<body node>`.
 *
 * Tensor references come in two spellings: in a GraphDef "node" or "node:k"; in a function body
 * "arg" (an input argument) or "node:out_arg:i" (the i-th tensor of the named output argument).
 * The flat graph uses only the canonical "node:k". A call's outputs ("call:k") become aliases of
 * the body tensors its `ret` map names; aliases are resolved once every call is expanded, because
 * a GraphDef's node order is not topological. Control inputs ("^node") are dropped: they only
 * order side effects, and a graph with side effects is rejected later.
 */
import { TfFormatError, type TfAttrValue, type TfFunctionDef, type TfNodeDef } from './tf-proto.js';

/** A node of the flattened graph. `inputs` are canonical "node:k" references. */
export interface FlatNode {
  name: string;
  op: string;
  inputs: string[];
  attr: Record<string, TfAttrValue>;
}

const CALL_OPS = new Set(['StatefulPartitionedCall', 'PartitionedCall']);
const MAX_DEPTH = 64;

/** Output argument names of multi-output ops whose "node:arg:i" needs an offset per argument. */
const OUTPUT_ARGS: Readonly<Record<string, readonly string[]>> = {
  FusedBatchNorm: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2'],
  FusedBatchNormV2: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2'],
  FusedBatchNormV3: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2', 'reserve_space_3'],
  TopKV2: ['values', 'indices'],
  Unique: ['y', 'idx'],
  UniqueV2: ['y', 'idx'],
  Switch: ['output_false', 'output_true'],
  Merge: ['output', 'value_index'],
  NonMaxSuppressionV4: ['selected_indices', 'valid_outputs'],
  NonMaxSuppressionV5: ['selected_indices', 'selected_scores', 'valid_outputs'],
  Qr: ['q', 'r'],
  SparseFillEmptyRows: ['output_indices', 'output_values', 'empty_row_indicator', 'reverse_index_map'],
};

/** "node:k" for a GraphDef reference ("node" or "node:k"); undefined for a control input. */
export function graphRef(ref: string): string | undefined {
  if (ref.startsWith('^')) return undefined;
  return /:\d+$/.test(ref) ? ref : `${ref}:0`;
}

/** The node name of a canonical reference. */
export function refNode(ref: string): string {
  const colon = ref.lastIndexOf(':');
  return colon < 0 ? ref : ref.slice(0, colon);
}

export class GraphInliner {
  readonly nodes: FlatNode[] = [];
  readonly #functions: ReadonlyMap<string, TfFunctionDef>;
  readonly #alias = new Map<string, string>();
  /** Functions referenced by attributes of kept nodes (If/While bodies), by name. */
  readonly referencedFunctions = new Set<string>();

  constructor(functions: readonly TfFunctionDef[]) {
    this.#functions = new Map(functions.map((f) => [f.signature?.name ?? '', f]));
  }

  /** Adds a GraphDef's nodes (the SavedModel's top-level graph). */
  addGraph(nodes: readonly TfNodeDef[]): void {
    for (const n of nodes) this.#add(n, '', (ref) => graphRef(ref), 0);
  }

  /** Resolves a canonical reference through call aliases. */
  resolve(ref: string): string {
    let r = ref;
    for (let i = 0; i <= this.#alias.size; i++) {
      const next = this.#alias.get(r);
      if (next === undefined) return r;
      r = next;
    }
    throw new TfFormatError(`tensor reference '${ref}' resolves in a cycle`);
  }

  /** The flat nodes with every input resolved through aliases. */
  finish(): FlatNode[] {
    for (const n of this.nodes) n.inputs = n.inputs.map((r) => this.resolve(r));
    return this.nodes;
  }

  #calledFunction(n: TfNodeDef): TfFunctionDef | undefined {
    const op = n.op ?? '';
    if (CALL_OPS.has(op)) {
      const name = n.attr['f']?.func?.name ?? '';
      const fn = this.#functions.get(name);
      if (fn === undefined) throw new TfFormatError(`node '${n.name}' calls function '${name}', which the library does not define`);
      return fn;
    }
    return this.#functions.get(op);
  }

  #add(n: TfNodeDef, prefix: string, resolveRef: (ref: string) => string | undefined, depth: number): void {
    const name = prefix + (n.name ?? '');
    const inputs = n.input.map(resolveRef).filter((r): r is string => r !== undefined);
    const fn = this.#calledFunction(n);
    if (fn !== undefined) {
      this.#expand(fn, name, inputs, depth + 1);
      return;
    }
    for (const v of Object.values(n.attr)) {
      if (v.func?.name !== undefined) this.referencedFunctions.add(v.func.name);
      for (const f of v.list?.func ?? []) if (f.name !== undefined) this.referencedFunctions.add(f.name);
    }
    this.nodes.push({ name, op: n.op ?? '', inputs, attr: n.attr });
  }

  #expand(fn: TfFunctionDef, callName: string, inputs: string[], depth: number): void {
    const sig = fn.signature;
    const fname = sig?.name ?? '';
    if (depth > MAX_DEPTH) throw new TfFormatError(`function calls nest deeper than ${MAX_DEPTH} (at '${fname}')`);
    const args = sig?.inputArg ?? [];
    if (args.length !== inputs.length) {
      throw new TfFormatError(`node '${callName}' passes ${inputs.length} inputs to function '${fname}', which takes ${args.length}`);
    }
    const argRefs = new Map(args.map((a, i) => [a.name ?? '', inputs[i]!]));
    const bodyOps = new Map(fn.nodeDef.map((b) => [b.name ?? '', b.op ?? '']));
    const prefix = `${callName}/`;
    const resolveRef = (ref: string): string | undefined => {
      if (ref.startsWith('^')) return undefined;
      const parts = ref.split(':');
      if (parts.length === 1) {
        const arg = argRefs.get(ref);
        if (arg === undefined) throw new TfFormatError(`function '${fname}' refers to '${ref}', which is not one of its arguments`);
        return arg;
      }
      const [node = '', out = '', idx = '0'] = parts.length === 3 ? parts : [parts[0], '', parts[1]];
      const op = bodyOps.get(node);
      if (op === undefined) throw new TfFormatError(`function '${fname}' refers to '${ref}', which is not one of its nodes`);
      return `${prefix}${node}:${this.#outputIndex(op, out, Number(idx), `${fname}: '${ref}'`)}`;
    };
    for (const b of fn.nodeDef) this.#add(b, prefix, resolveRef, depth);
    (sig?.outputArg ?? []).forEach((o, k) => {
      const ret = fn.ret[o.name ?? ''];
      if (ret === undefined) throw new TfFormatError(`function '${fname}' does not return its output '${o.name}'`);
      const target = resolveRef(ret);
      if (target !== undefined) this.#alias.set(`${callName}:${k}`, target);
    });
  }

  /** Index among all outputs of an `op` node of the `i`-th tensor of its output argument `out`. */
  #outputIndex(op: string, out: string, i: number, what: string): number {
    if (!Number.isInteger(i) || i < 0) throw new TfFormatError(`bad tensor index in ${what}`);
    const fn = this.#functions.get(op);
    if (fn !== undefined) {
      const k = (fn.signature?.outputArg ?? []).findIndex((a) => a.name === out);
      if (k < 0) throw new TfFormatError(`function '${op}' has no output '${out}' (${what})`);
      return k;
    }
    const args = OUTPUT_ARGS[op];
    if (args === undefined || out === '') return i;
    const k = args.indexOf(out);
    if (k < 0) throw new TfFormatError(`op ${op} has no output argument '${out}' (${what})`);
    return k + i;
  }
}
