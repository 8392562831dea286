/**
 * Which checkpoint key holds each variable of a SavedModel graph, found through the graph's own
 * restore operation (MetaGraphDef.saver_def.restore_op_name) rather than through the object-graph
 * protos: whatever layout the saver used, the restore op assigns `RestoreV2` outputs to the
 * variables, and RestoreV2's `tensor_names` constant names the keys.
 *
 * - TF2: the restore op is a call of a `__inference__traced_restore_*` function whose resource
 *   arguments are the graph's VarHandleOp nodes; in its body `AssignVariableOp(arg, Identity(
 *   RestoreV2:tensors:k))` ties argument → key k.
 * - TF1: the restore op is a NoOp depending on `Assign(var, save/RestoreV2:k)` (or
 *   AssignVariableOp) nodes in the top-level graph itself.
 */
import { graphRef, refNode } from './graph-inliner.js';
import type { TfFunctionDef, TfMetaGraphDef, TfNodeDef } from './tf-proto.js';

interface Ref {
  node: string;
  index: number;
}
type RefParser = (ref: string) => Ref | undefined;

const utf8 = new TextDecoder();

function parseGraphRef(ref: string): Ref | undefined {
  const r = graphRef(ref);
  if (r === undefined) return undefined;
  const node = refNode(r);
  return { node, index: Number(r.slice(node.length + 1)) };
}

/** "node:arg:i" → node, i; a bare argument name or a control input → undefined. */
function parseBodyRef(ref: string): Ref | undefined {
  if (ref.startsWith('^')) return undefined;
  const parts = ref.split(':');
  if (parts.length < 2) return undefined;
  return { node: parts[0] ?? '', index: Number(parts[parts.length - 1]) };
}

/** The checkpoint key restored into `valueRef`, following Identity nodes back to a RestoreV2. */
function restoredKey(valueRef: string, nodes: ReadonlyMap<string, TfNodeDef>, parse: RefParser): string | undefined {
  let ref = parse(valueRef);
  for (let hops = 0; ref !== undefined && hops < 32; hops++) {
    const n = nodes.get(ref.node);
    if (n === undefined) return undefined;
    if (n.op === 'Identity') {
      ref = parse(n.input[0] ?? '');
      continue;
    }
    if (n.op !== 'RestoreV2') return undefined;
    const namesRef = parse(n.input[1] ?? '');
    const names = namesRef === undefined ? undefined : nodes.get(namesRef.node);
    const key = names?.op === 'Const' ? names.attr['value']?.tensor?.stringVal[ref.index] : undefined;
    return key === undefined ? undefined : utf8.decode(key);
  }
  return undefined;
}

function assignedKeys(
  body: readonly TfNodeDef[], parse: RefParser, variableOf: (ref: string) => string | undefined,
): Map<string, string> {
  const nodes = new Map(body.map((n) => [n.name ?? '', n]));
  const keys = new Map<string, string>();
  for (const n of body) {
    if (n.op !== 'AssignVariableOp' && n.op !== 'Assign') continue;
    const variable = variableOf(n.input[0] ?? '');
    const key = restoredKey(n.input[1] ?? '', nodes, parse);
    if (variable !== undefined && key !== undefined) keys.set(variable, key);
  }
  return keys;
}

function topLevelNode(ref: string | undefined): string | undefined {
  const r = ref === undefined ? undefined : graphRef(ref);
  return r === undefined ? undefined : refNode(r);
}

function keysFromRestoreFunction(call: TfNodeDef, fn: TfFunctionDef): Map<string, string> {
  const args = (fn.signature?.inputArg ?? []).map((a) => a.name ?? '');
  const variableOf = (ref: string): string | undefined => {
    const i = args.indexOf(ref);
    return i < 0 ? undefined : topLevelNode(call.input[i]);
  };
  return assignedKeys(fn.nodeDef, parseBodyRef, variableOf);
}

/**
 * Top-level variable node name (VarHandleOp, VariableV2) → checkpoint key. Empty when the meta
 * graph has no saver (then it must have no variables either).
 */
export function variableCheckpointKeys(meta: TfMetaGraphDef): Map<string, string> {
  const graph = meta.graphDef?.node ?? [];
  const restoreName = topLevelNode(meta.saverDef?.restoreOpName?.replace(/^\^/, ''));
  const restore = graph.find((n) => n.name === restoreName);
  if (restore === undefined) return new Map();
  const functions = meta.graphDef?.library?.function ?? [];
  const fname = restore.op === 'StatefulPartitionedCall' || restore.op === 'PartitionedCall'
    ? restore.attr['f']?.func?.name
    : restore.op;
  const fn = functions.find((f) => f.signature?.name === fname);
  if (fn !== undefined) return keysFromRestoreFunction(restore, fn);
  return assignedKeys(graph, parseGraphRef, topLevelNode);
}
