/**
 * One TensorFlow model inside an instance worker, whatever it came from: a SavedModel signature
 * frozen into a graph (savedmodel/), or a TF.js graph or layers model (tfjs/). prepareModelSource
 * does the file work once; loadModel builds the tfjs model on the active backend and may be
 * called again after switching backends (the runner does, to measure wasm against cpu).
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { freezeSignature } from './savedmodel/saved-model-freezer.js';
import { readSavedModelProto, selectSignature } from './savedmodel/saved-model-reader.js';
import { TfFormatError } from './savedmodel/tf-proto.js';
import { graphModelIo, graphModelOps, readTfjsModel, type TfjsFormat } from './tfjs/tfjs-model-json.js';
import { unsupportedOps } from './tfjs-ops.js';
import { v2OfTfjsDtype } from './tensorflow-types.js';
import type { TfIoInfo, TfModelIo } from './tf-io.js';

export type TfModelFormat = 'savedmodel' | TfjsFormat;

export interface ModelSource {
  format: TfModelFormat;
  artifacts: tf.io.ModelArtifacts;
  /** Known before loading for graphs; layers models report theirs once loaded. */
  io: TfModelIo | undefined;
  /** Facts for the load log (signature, variables frozen). */
  details: Record<string, unknown>;
}

export interface LoadedModel {
  readonly io: TfModelIo;
  /** Runs the model; `feeds` by input name, result in `outputs` order. Caller disposes both. */
  run(feeds: ReadonlyMap<string, tf.Tensor>, outputs: readonly string[]): Promise<tf.Tensor[]>;
  dispose(): void;
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
      format: 'savedmodel', artifacts: frozen.artifacts as tf.io.ModelArtifacts, io: frozen.io,
      details: { tag: o.tag, signature: o.signature, variables: frozen.variableCount },
    };
  }
  const files = await readTfjsModel(o.path);
  const { format, modelTopology, weightSpecs, weightData } = files;
  const artifacts = { format, modelTopology, weightSpecs, weightData } as tf.io.ModelArtifacts;
  if (format === 'layers-model') return { format, artifacts, io: undefined, details: {} };
  if (o.supportedOps !== undefined) {
    const bad = unsupportedOps(graphModelOps(files), o.supportedOps);
    if (bad.length > 0) throw new TfFormatError(`the graph uses ops that TensorFlow.js cannot run: ${bad.join(', ')}`);
  }
  return { format, artifacts, io: graphModelIo(files), details: {} };
}

class GraphRunner implements LoadedModel {
  readonly io: TfModelIo;
  readonly #model: GraphModel;
  readonly #tensorOf: Map<string, string>;
  #async = false;

  constructor(model: GraphModel, io: TfModelIo) {
    this.#model = model;
    this.io = io;
    this.#tensorOf = new Map([...io.inputs, ...io.outputs].map((t) => [t.name, t.tensor]));
  }

  async run(feeds: ReadonlyMap<string, tf.Tensor>, outputs: readonly string[]): Promise<tf.Tensor[]> {
    const named: tf.NamedTensorMap = {};
    for (const [name, t] of feeds) named[this.#tensorOf.get(name) ?? name] = t;
    const fetch = outputs.map((n) => this.#tensorOf.get(n) ?? n);
    if (!this.#async) {
      try {
        return toArray(this.#model.execute(named, fetch));
      } catch (err) {
        // Control flow and dynamic-shape ops only run asynchronously; tfjs says so in its error.
        if (!/executeAsync/.test((err as Error).message)) throw err;
        this.#async = true;
      }
    }
    return toArray(await this.#model.executeAsync(named, fetch));
  }

  dispose(): void {
    this.#model.dispose();
  }
}

function toArray(r: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap): tf.Tensor[] {
  if (r instanceof tf.Tensor) return [r];
  return Array.isArray(r) ? r : Object.values(r);
}

function symbolicIo(name: string, t: { name: string; shape: (number | null)[]; dtype: string }): TfIoInfo {
  return { name, tensor: t.name, datatype: v2OfTfjsDtype(t.dtype), sourceType: t.dtype, shape: t.shape.map((d) => d ?? -1) };
}

/** Keras naming: outputs are named after their layers when that gives distinct names. */
function layersIo(model: LayersModel): TfModelIo {
  const inputs = model.inputs.map((t) => symbolicIo(t.name, t));
  const layerNames = model.outputLayers.map((l) => l.name);
  const useLayers = layerNames.length === model.outputs.length && new Set(layerNames).size === layerNames.length;
  const outputs = model.outputs.map((t, i) => symbolicIo(useLayers ? layerNames[i]! : t.name, t));
  return { inputs, outputs };
}

class LayersRunner implements LoadedModel {
  readonly io: TfModelIo;
  readonly #model: LayersModel;

  constructor(model: LayersModel) {
    this.#model = model;
    this.io = layersIo(model);
  }

  async run(feeds: ReadonlyMap<string, tf.Tensor>, outputs: readonly string[]): Promise<tf.Tensor[]> {
    const xs = this.io.inputs.map((i) => {
      const t = feeds.get(i.name);
      if (t === undefined) throw new TfFormatError(`input '${i.name}' was not fed`);
      return t;
    });
    const all = toArray(this.#model.predict(xs.length === 1 ? xs[0]! : xs));
    const wanted = outputs.map((n) => this.io.outputs.findIndex((o) => o.name === n));
    const picked = wanted.map((k) => all[k]!);
    for (const t of all) if (!picked.includes(t)) t.dispose();
    return picked;
  }

  dispose(): void {
    this.#model.dispose();
  }
}

/** Builds the tfjs model from `source` on the currently active backend. */
export async function loadModel(source: ModelSource): Promise<LoadedModel> {
  const handler = tf.io.fromMemory(source.artifacts);
  if (source.format === 'layers-model') return new LayersRunner(await loadLayersModel(handler));
  return new GraphRunner(await loadGraphModel(handler), source.io!);
}
