/**
 * Decoding of TensorFlow's protobuf files with Infera's own subset of TensorFlow's protos
 * (proto/tensorflow/*.proto, loaded once with protobufjs). Decoded messages are plain objects with
 * camelCase field names (protobufjs's JSON mapping, which is also the form TensorFlow.js's graph
 * executor reads), enums as names, 64-bit integers as decimal strings and bytes as Uint8Array.
 * Repeated fields are always arrays and maps always objects; other absent fields are undefined.
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { findPackageRoot } from '../../../util/package-root.js';

/** A TensorFlow file is malformed; the message says what. Callers name the model and file. */
export class TfFormatError extends Error {
  override readonly name = 'TfFormatError';
}

export interface TfTensorShape {
  dim: { size?: string; name?: string }[];
  unknownRank?: boolean;
}

export interface TfTensorProto {
  dtype?: string;
  tensorShape?: TfTensorShape;
  tensorContent?: Uint8Array;
  halfVal: number[];
  floatVal: number[];
  doubleVal: number[];
  intVal: number[];
  stringVal: Uint8Array[];
  int64Val: string[];
  boolVal: boolean[];
  uint32Val: number[];
  uint64Val: string[];
}

export interface TfNameAttrList {
  name?: string;
  attr: Record<string, TfAttrValue>;
}

export interface TfAttrValue {
  s?: Uint8Array;
  i?: string;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: TfTensorShape;
  tensor?: TfTensorProto;
  func?: TfNameAttrList;
  placeholder?: string;
  list?: {
    s: Uint8Array[]; i: string[]; f: number[]; b: boolean[]; type: string[];
    shape: TfTensorShape[]; tensor: TfTensorProto[]; func: TfNameAttrList[];
  };
}

export interface TfNodeDef {
  name?: string;
  op?: string;
  input: string[];
  device?: string;
  attr: Record<string, TfAttrValue>;
}

export interface TfArgDef {
  name?: string;
  type?: string;
  typeAttr?: string;
  numberAttr?: string;
  typeListAttr?: string;
}

export interface TfFunctionDef {
  signature?: { name?: string; inputArg: TfArgDef[]; outputArg: TfArgDef[]; isStateful?: boolean };
  attr: Record<string, TfAttrValue>;
  nodeDef: TfNodeDef[];
  ret: Record<string, string>;
}

export interface TfGraphDef {
  node: TfNodeDef[];
  versions?: { producer?: number; minConsumer?: number };
  library?: { function: TfFunctionDef[] };
}

export interface TfTensorInfo {
  name?: string;
  dtype?: string;
  tensorShape?: TfTensorShape;
}

export interface TfSignatureDef {
  inputs: Record<string, TfTensorInfo>;
  outputs: Record<string, TfTensorInfo>;
  methodName?: string;
}

export interface TfMetaGraphDef {
  metaInfoDef?: { tags: string[]; tensorflowVersion?: string };
  graphDef?: TfGraphDef;
  saverDef?: { filenameTensorName?: string; restoreOpName?: string };
  signatureDef: Record<string, TfSignatureDef>;
}

export interface TfSavedModel {
  savedModelSchemaVersion?: string;
  metaGraphs: TfMetaGraphDef[];
}

export interface BundleHeader {
  numShards?: number;
  endianness?: string;
}

export interface BundleEntry {
  dtype?: string;
  shape?: TfTensorShape;
  shardId?: number;
  offset?: string;
  size?: string;
  crc32c?: number;
  slices: Uint8Array[];
}

interface Types {
  savedModel: protobuf.Type;
  header: protobuf.Type;
  entry: protobuf.Type;
}

let types: Types | undefined;

function loadTypes(): Types {
  if (types !== undefined) return types;
  const dir = join(findPackageRoot(), 'proto');
  const root = new protobuf.Root();
  // Imports are written relative to proto/ ("tensorflow/types.proto").
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(dir, target));
  root.loadSync(['tensorflow/saved_model.proto', 'tensorflow/tensor_bundle.proto']);
  root.resolveAll();
  types = {
    savedModel: root.lookupType('tensorflow.SavedModel'),
    header: root.lookupType('tensorflow.BundleHeaderProto'),
    entry: root.lookupType('tensorflow.BundleEntryProto'),
  };
  return types;
}

const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: String, arrays: true, objects: true };

function decode<T>(type: protobuf.Type, bytes: Uint8Array, what: string): T {
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (err) {
    throw new TfFormatError(`${what} is not a valid ${type.name} protobuf: ${(err as Error).message}`);
  }
  return type.toObject(message, TO_OBJECT) as T;
}

/** Decodes `saved_model.pb`. Throws TfFormatError when the bytes are not a SavedModel message. */
export function decodeSavedModel(bytes: Uint8Array): TfSavedModel {
  return decode<TfSavedModel>(loadTypes().savedModel, bytes, 'the file');
}

export function decodeBundleHeader(bytes: Uint8Array): BundleHeader {
  const h = decode<BundleHeader>(loadTypes().header, bytes, 'the header entry');
  return { ...h, endianness: h.endianness ?? 'LITTLE' };
}

export function decodeBundleEntry(bytes: Uint8Array, key: string): BundleEntry {
  return decode<BundleEntry>(loadTypes().entry, bytes, `the entry of key '${key}'`);
}

/** Dims of a TensorShapeProto (-1 for unknown), or undefined when even the rank is unknown. */
export function shapeDims(shape: TfTensorShape | undefined): number[] | undefined {
  if (shape === undefined) return [];
  if (shape.unknownRank === true) return undefined;
  return shape.dim.map((d) => {
    const n = Number(d.size ?? '0');
    return Number.isSafeInteger(n) && n >= 0 ? n : -1;
  });
}
