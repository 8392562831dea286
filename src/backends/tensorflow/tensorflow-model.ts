/**
 * One TensorFlow model inside an instance worker, as tfjs runs it: a graph model (a frozen
 * SavedModel signature or a TF.js graph model) or a TF.js layers model. loadModel builds it from
 * a ModelSource (tensorflow-source.ts) on the active backend; it may be called again after
 * switching backends (the runtime probe does, to measure wasm against cpu).
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { TfFormatError } from './savedmodel/tf-proto.js';
import type { ModelSource } from './tensorflow-source.js';
import { v2OfTfjsDtype } from './tensorflow-types.js';
import type { TfIoInfo, TfModelIo } from './tf-io.js';

export interface LoadedModel {
  readonly io: TfModelIo;
  /** Runs the model; `feeds` by input name, result in `outputs` order. Caller disposes both. */
  run(feeds: ReadonlyMap<string, tf.Tensor>, outputs: readonly string[]): Promise<tf.Tensor[]>;
  dispose(): void;
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

/**
 * Keras naming: a tensor is named after the layer that produces it. Layer names are stable across
 * loads, unlike tfjs's symbolic tensor names, which get a "_1" suffix each time a model with the
 * same names is built again in one process. A layer with several outputs: "<layer>_<index>".
 */
function layerNames(tensors: readonly { sourceLayer: { name: string }; outputTensorIndex?: number }[]): string[] {
  const names = tensors.map((t) => t.sourceLayer.name);
  const unique = new Set(names).size === names.length;
  return unique ? names : tensors.map((t, i) => `${names[i]}_${t.outputTensorIndex ?? 0}`);
}

function layersIo(model: LayersModel): TfModelIo {
  const inNames = layerNames(model.inputs);
  const outNames = layerNames(model.outputs);
  return {
    inputs: model.inputs.map((t, i) => symbolicIo(inNames[i]!, t)),
    outputs: model.outputs.map((t, i) => symbolicIo(outNames[i]!, t)),
  };
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
  const handler = tf.io.fromMemory(source.artifacts as tf.io.ModelArtifacts);
  if (source.format === 'layers-model') return new LayersRunner(await loadLayersModel(handler));
  return new GraphRunner(await loadGraphModel(handler), source.io!);
}
