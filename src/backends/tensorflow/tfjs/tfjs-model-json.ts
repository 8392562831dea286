/**
 * Reads a TensorFlow.js model folder: `model.json` (format "graph-model" or "layers-model", the
 * topology and a weights manifest) and the weight shards it names, checked before tfjs sees them:
 * valid JSON of the expected shape, shard paths that stay inside the folder, shard bytes that add
 * up to what the manifest's weights need.
 *
 * For graph models the inputs and outputs come from the signature the converter recorded
 * (`signature`, or `userDefinedMetadata.signature` in older converters) or, without one, from the
 * Placeholder nodes and the nodes nothing consumes. Config names are the signature keys without
 * a ":0" suffix ("Placeholder:0" → "Placeholder") unless that would make two names equal.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { elementCount } from '../../../core/datatype.js';
import { shapeDims, TfFormatError, type TfTensorShape } from '../savedmodel/tf-proto.js';
import { v2OfTfDataType } from '../tensorflow-types.js';
import type { TfIoInfo, TfModelIo } from '../tf-io.js';

export type TfjsFormat = 'graph-model' | 'layers-model';

interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype?: string };
}

/** What tf.io.fromMemory() takes, plus the format. */
export interface TfjsModelFiles {
  format: TfjsFormat;
  modelTopology: Record<string, unknown>;
  weightSpecs: WeightEntry[];
  weightData: ArrayBuffer;
  signature?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function detectFormat(mj: Json, topology: Json): TfjsFormat {
  const f = mj['format'];
  if (f === 'graph-model' || f === 'layers-model') return f;
  if (f !== undefined) throw new TfFormatError(`model.json has format '${String(f)}'; expected 'graph-model' or 'layers-model'`);
  if (Array.isArray(topology['node'])) return 'graph-model';
  if (topology['class_name'] !== undefined || topology['model_config'] !== undefined) return 'layers-model';
  throw new TfFormatError('model.json names no format and its topology is neither a graph nor a Keras model');
}

function weightEntry(w: unknown, i: number): WeightEntry {
  if (!isObject(w) || typeof w['name'] !== 'string' || typeof w['dtype'] !== 'string' || !Array.isArray(w['shape'])
    || !w['shape'].every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new TfFormatError(`model.json weightsManifest: weight ${i} needs a name, a dtype and a shape of non-negative integers`);
  }
  return w as unknown as WeightEntry;
}

/** Bytes a weight takes in a shard, or undefined for strings (variable length). */
function weightBytes(w: WeightEntry): number | undefined {
  const q = w.quantization?.dtype;
  const size = q !== undefined
    ? ({ uint8: 1, uint16: 2, float16: 2 } as Record<string, number>)[q]
    : ({ float32: 4, int32: 4, bool: 1, complex64: 8 } as Record<string, number>)[w.dtype];
  if (w.dtype === 'string' && q === undefined) return undefined;
  if (size === undefined) throw new TfFormatError(`model.json weight '${w.name}' has unsupported dtype '${q ?? w.dtype}'`);
  return elementCount(w.shape) * size;
}

function shardPath(dir: string, p: unknown): string {
  if (typeof p !== 'string' || p === '' || isAbsolute(p) || /^[a-z]+:\/\//i.test(p)) {
    throw new TfFormatError(`model.json weightsManifest path ${JSON.stringify(p)} must be a relative file path`);
  }
  const full = normalize(join(dir, decodeURIComponent(p)));
  if (!full.startsWith(dir + sep)) throw new TfFormatError(`model.json weightsManifest path '${p}' points outside the model folder`);
  return full;
}

async function readShards(dir: string, manifest: unknown): Promise<{ specs: WeightEntry[]; data: Uint8Array }> {
  if (manifest === undefined) return { specs: [], data: new Uint8Array(0) };
  if (!Array.isArray(manifest)) throw new TfFormatError('model.json weightsManifest must be an array');
  const specs: WeightEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const group of manifest) {
    if (!isObject(group) || !Array.isArray(group['paths']) || !Array.isArray(group['weights'])) {
      throw new TfFormatError('model.json weightsManifest entries need "paths" and "weights" arrays');
    }
    for (const p of group['paths']) {
      const file = shardPath(dir, p);
      chunks.push(await readFile(file).catch((err: unknown) => {
        throw new TfFormatError(`cannot read weight file '${String(p)}': ${(err as Error).message}`);
      }));
    }
    specs.push(...group['weights'].map((w, i) => weightEntry(w, specs.length + i)));
  }
  return { specs, data: Buffer.concat(chunks) };
}

function checkWeightBytes(specs: WeightEntry[], bytes: number): void {
  const sizes = specs.map(weightBytes);
  if (sizes.some((s) => s === undefined)) return;
  const need = sizes.reduce((n: number, s) => n + s!, 0);
  if (need !== bytes) throw new TfFormatError(`the weight files hold ${bytes} bytes but model.json's weights need ${need}`);
}

/** Parses `<dir>/model.json` (or `file`) and loads its weights. Throws TfFormatError. */
export async function readTfjsModel(file: string): Promise<TfjsModelFiles> {
  const text = await readFile(file, 'utf8');
  let mj: unknown;
  try {
    mj = JSON.parse(text);
  } catch (err) {
    throw new TfFormatError(`model.json is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(mj) || !isObject(mj['modelTopology'])) throw new TfFormatError('model.json has no "modelTopology" object');
  const topology = mj['modelTopology'];
  const format = detectFormat(mj, topology);
  if (format === 'graph-model' && !Array.isArray(topology['node'])) throw new TfFormatError('graph model topology has no "node" array');
  const { specs, data } = await readShards(dirname(file), mj['weightsManifest']);
  checkWeightBytes(specs, data.byteLength);
  const udm = mj['userDefinedMetadata'];
  const signature = isObject(mj['signature']) ? mj['signature'] : isObject(udm) && isObject(udm['signature']) ? udm['signature'] : undefined;
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  return { format, modelTopology: topology, weightSpecs: specs, weightData, ...(signature === undefined ? {} : { signature }) };
}

interface JsonNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, { type?: string; shape?: TfTensorShape }>;
}

function configNames(keys: string[]): string[] {
  const stripped = keys.map((k) => k.replace(/:0$/, ''));
  return new Set(stripped).size === stripped.length ? stripped : keys;
}

function fromSignature(entries: unknown): TfIoInfo[] {
  if (!isObject(entries)) return [];
  const keys = Object.keys(entries).sort();
  const names = configNames(keys);
  return keys.map((k, i) => {
    const e = (isObject(entries[k]) ? entries[k] : {}) as { name?: string; dtype?: string; tensorShape?: TfTensorShape };
    const sourceType = e.dtype ?? 'DT_INVALID';
    const tensor = /:\d+$/.test(e.name ?? k) ? (e.name ?? k) : `${e.name ?? k}:0`;
    const shape = e.tensorShape === undefined ? undefined : shapeDims({ ...e.tensorShape, dim: e.tensorShape.dim ?? [] });
    return { name: names[i]!, tensor, datatype: v2OfTfDataType(sourceType), sourceType, shape };
  });
}

function nodeIo(n: JsonNode): TfIoInfo {
  const sourceType = n.attr?.['dtype']?.type ?? n.attr?.['T']?.type ?? 'DT_INVALID';
  const s = n.attr?.['shape']?.shape;
  const shape = s === undefined ? undefined : shapeDims({ ...s, dim: s.dim ?? [] });
  return { name: n.name, tensor: `${n.name}:0`, datatype: v2OfTfDataType(sourceType), sourceType, shape };
}

/** Inputs and outputs of a graph model, from its signature or else from its topology. */
export function graphModelIo(files: TfjsModelFiles): TfModelIo {
  const nodes = (files.modelTopology['node'] ?? []) as JsonNode[];
  const sig = files.signature;
  let inputs = sig === undefined ? [] : fromSignature(sig['inputs']);
  let outputs = sig === undefined ? [] : fromSignature(sig['outputs']);
  if (inputs.length === 0) inputs = nodes.filter((n) => n.op === 'Placeholder').map(nodeIo);
  if (outputs.length === 0) {
    const consumed = new Set(nodes.flatMap((n) => (n.input ?? []).map((r) => r.replace(/^\^/, '').split(':')[0])));
    outputs = nodes.filter((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'Placeholder' && n.op !== 'NoOp').map(nodeIo);
  }
  return { inputs, outputs };
}

/** The op names a graph model uses (top-level nodes and library functions). */
export function graphModelOps(files: TfjsModelFiles): string[] {
  const nodes = (files.modelTopology['node'] ?? []) as JsonNode[];
  const library = files.modelTopology['library'];
  const fns = isObject(library) && Array.isArray(library['function']) ? library['function'] as Json[] : [];
  const bodyOps = fns.flatMap((f) => (Array.isArray(f['nodeDef']) ? f['nodeDef'] as JsonNode[] : []).map((n) => n.op));
  return [...nodes.map((n) => n.op), ...bodyOps];
}
