/**
 * Reads `<model.savedmodel>/saved_model.pb` and picks what Triton's TensorFlow backend picks: the
 * meta graph tagged `serve` (parameter TF_GRAPH_TAG) and the signature `serving_default`
 * (parameter TF_SIGNATURE_DEF). Signature inputs and outputs, sorted by key, are the model's
 * inputs and outputs; their keys are the config's tensor names.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TfIoInfo, TfModelIo } from '../tf-io.js';
import { v2OfTfDataType } from '../tensorflow-types.js';
import {
  decodeSavedModel, shapeDims, TfFormatError,
  type TfMetaGraphDef, type TfSavedModel, type TfSignatureDef, type TfTensorInfo,
} from './tf-proto.js';

export const SAVED_MODEL_FILE = 'saved_model.pb';

/** Signature keys TensorFlow adds for its own use; never served. */
const INTERNAL_SIGNATURES = new Set(['__saved_model_init_op']);

export interface SavedModelSelection {
  meta: TfMetaGraphDef;
  signatureName: string;
  signature: TfSignatureDef;
  io: TfModelIo;
}

/** Reads and decodes saved_model.pb. Throws TfFormatError (malformed) or the fs error (missing). */
export async function readSavedModelProto(dir: string): Promise<TfSavedModel> {
  const bytes = await readFile(join(dir, SAVED_MODEL_FILE));
  if (bytes.byteLength === 0) throw new TfFormatError(`${SAVED_MODEL_FILE} is empty`);
  const sm = decodeSavedModel(bytes);
  if (sm.metaGraphs.length === 0) throw new TfFormatError(`${SAVED_MODEL_FILE} holds no meta graph (not a SavedModel)`);
  return sm;
}

/** The meta graph whose tags include `tag`, preferring one tagged with `tag` alone. */
export function selectMetaGraph(sm: TfSavedModel, tag: string): TfMetaGraphDef {
  const tagged = sm.metaGraphs.filter((m) => (m.metaInfoDef?.tags ?? []).includes(tag));
  const meta = tagged.find((m) => m.metaInfoDef?.tags.length === 1) ?? tagged[0];
  if (meta === undefined) {
    const sets = sm.metaGraphs.map((m) => `[${(m.metaInfoDef?.tags ?? []).join(', ')}]`).join(' ');
    throw new TfFormatError(`no meta graph is tagged '${tag}' (tag sets: ${sets || 'none'})`);
  }
  if (meta.graphDef === undefined) throw new TfFormatError(`the meta graph tagged '${tag}' has no graph`);
  return meta;
}

/** The signatures a user can select, sorted. */
export function servableSignatures(meta: TfMetaGraphDef): string[] {
  return Object.keys(meta.signatureDef).filter((k) => !INTERNAL_SIGNATURES.has(k)).sort();
}

function ioInfo(key: string, t: TfTensorInfo, signatureName: string): TfIoInfo {
  if (t.name === undefined || t.name === '') {
    throw new TfFormatError(`signature '${signatureName}' tensor '${key}' is not a dense tensor (sparse and composite tensors are not supported)`);
  }
  const sourceType = t.dtype ?? 'DT_INVALID';
  return { name: key, tensor: t.name, datatype: v2OfTfDataType(sourceType), sourceType, shape: shapeDims(t.tensorShape) };
}

function sortedIo(map: Record<string, TfTensorInfo>, signatureName: string): TfIoInfo[] {
  return Object.keys(map).sort().map((k) => ioInfo(k, map[k]!, signatureName));
}

/** Picks meta graph and signature and describes the signature's tensors. */
export function selectSignature(sm: TfSavedModel, tag: string, signatureName: string): SavedModelSelection {
  const meta = selectMetaGraph(sm, tag);
  const signature = INTERNAL_SIGNATURES.has(signatureName) ? undefined : meta.signatureDef[signatureName];
  if (signature === undefined) {
    const names = servableSignatures(meta);
    throw new TfFormatError(`the meta graph tagged '${tag}' has no signature '${signatureName}' (signatures: ${names.join(', ') || 'none'})`);
  }
  const io = { inputs: sortedIo(signature.inputs, signatureName), outputs: sortedIo(signature.outputs, signatureName) };
  if (io.outputs.length === 0) throw new TfFormatError(`signature '${signatureName}' has no outputs`);
  return { meta, signatureName, signature, io };
}
