/**
 * The file work of loading a TensorFlow model, done once per worker and without TensorFlow.js
 * (metadata-only loads for auto-complete never import it): a SavedModel signature is frozen into
 * tfjs graph artifacts (savedmodel/), a TF.js model.json is checked and its weights read (tfjs/).
 */
import { freezeSignature } from './savedmodel/saved-model-freezer.js';
import { readSavedModelProto, selectSignature } from './savedmodel/saved-model-reader.js';
import { TfFormatError } from './savedmodel/tf-proto.js';
import { graphModelIo, graphModelOps, readTfjsModel, type TfjsFormat } from './tfjs/tfjs-model-json.js';
import { unsupportedOps } from './tfjs-ops.js';
import type { TfModelIo } from './tf-io.js';

export type TfModelFormat = 'savedmodel' | TfjsFormat;

export interface ModelSource {
  format: TfModelFormat;
  artifacts: Record<string, unknown>;
  /** Known before loading for graphs; layers models report theirs once loaded. */
  io: TfModelIo | undefined;
  /** Facts for the load log (signature, variables frozen). */
  details: Record<string, unknown>;
}

export interface SourceOptions {
  /** `model.savedmodel` folder or `model.json` file. */
  path: string;
  format: 'savedmodel' | 'tfjs';
  tag: string;
  signature: string;
  supportedOps: ReadonlySet<string> | undefined;
}

/** Reads and converts the model files. Throws TfFormatError (or an fs error) on bad files. */
export async function prepareModelSource(o: SourceOptions, metadataOnly: boolean): Promise<ModelSource> {
  if (o.format === 'savedmodel') {
    const sel = selectSignature(await readSavedModelProto(o.path), o.tag, o.signature);
    if (metadataOnly) return { format: 'savedmodel', artifacts: {}, io: sel.io, details: { signature: o.signature } };
    const frozen = await freezeSignature(sel, o.path, o.supportedOps);
    return {
      format: 'savedmodel', artifacts: { ...frozen.artifacts }, io: frozen.io,
      details: { tag: o.tag, signature: o.signature, variables: frozen.variableCount },
    };
  }
  const files = await readTfjsModel(o.path);
  const { format, modelTopology, weightSpecs, weightData } = files;
  const artifacts = { format, modelTopology, weightSpecs, weightData };
  if (format === 'layers-model') return { format, artifacts, io: undefined, details: {} };
  if (o.supportedOps !== undefined) {
    const bad = unsupportedOps(graphModelOps(files), o.supportedOps);
    if (bad.length > 0) throw new TfFormatError(`the graph uses ops that TensorFlow.js cannot run: ${bad.join(', ')}`);
  }
  return { format, artifacts, io: graphModelIo(files), details: {} };
}
