/**
 * Picks the runtime an instance computes with and loads the model on it (inside the worker).
 * A native runtime (tfjs-node-gpu / tfjs-node) wins whenever it is allowed and installed. Among
 * the pure-JavaScript ones, `auto` loads the model on wasm and on cpu, times a few runs of each on
 * zero-filled inputs of the model's declared shapes (-1 → 1), and keeps the faster; a runtime
 * that fails (a kernel it lacks) drops out. If no probe can run (string inputs, unknown ranks,
 * inputs the zeros are invalid for), the model is served on cpu, which has every kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { performance } from 'node:perf_hooks';
import type { RunnerLogger } from '../../workers/worker-messages.js';
import type { LoadedModel } from './tensorflow-model.js';
import type { ModelSource } from './tensorflow-source.js';
import { activateNativeRuntime, activatePureRuntime, pureCandidates } from './tensorflow-runtime.js';
import type { NativeRuntime, PureRuntime, TfRuntimeName, TfRuntimePreference, WebgpuModules } from './tensorflow-runtime-name.js';
import { activateGpuRuntime } from '../gpu/tfjs-gpu-runtime.js';
import { tfjsDtypeOf } from './tensorflow-types.js';

export interface RuntimeChoice {
  runtime: TfRuntimeName;
  model: LoadedModel;
  /** For the load log: why, and the probe timings. */
  details: Record<string, unknown>;
}

interface ChoiceInit {
  runtime: TfRuntimePreference;
  gpuInstance: boolean;
  deviceId?: number;
  metadataOnly?: boolean;
  nativeModules?: Record<NativeRuntime, string>;
  webgpuModules?: WebgpuModules;
}

const PROBE_RUNS = 5;
const PROBE_BUDGET_MS = 200;

function probeFeeds(model: LoadedModel): Map<string, tf.Tensor> | undefined {
  const feeds = new Map<string, tf.Tensor>();
  for (const i of model.io.inputs) {
    if (i.shape === undefined || i.datatype === undefined || i.datatype === 'BYTES') {
      for (const t of feeds.values()) t.dispose();
      return undefined;
    }
    feeds.set(i.name, tf.zeros(i.shape.map((d) => (d < 0 ? 1 : d)), tfjsDtypeOf(i.datatype)));
  }
  return feeds;
}

/**
 * Fastest of a few runs after one warm-up run, in milliseconds, or undefined when the model
 * fails. The minimum, not the mean: instances of other models load at the same time, and the
 * fastest run is the one least disturbed by them.
 */
async function timeRuns(model: LoadedModel): Promise<number | undefined> {
  const feeds = probeFeeds(model);
  if (feeds === undefined) return undefined;
  const outputs = model.io.outputs.map((o) => o.name);
  const once = async (): Promise<void> => {
    const out = await model.run(feeds, outputs);
    for (const t of out) await t.data();
    for (const t of out) t.dispose();
  };
  try {
    await once();
    const start = performance.now();
    let best = Number.POSITIVE_INFINITY;
    for (let runs = 0; runs < PROBE_RUNS && performance.now() - start < PROBE_BUDGET_MS; runs++) {
      const t = performance.now();
      await once();
      best = Math.min(best, performance.now() - t);
    }
    return best;
  } catch {
    return undefined;
  } finally {
    for (const t of feeds.values()) t.dispose();
  }
}

async function loadOn(name: PureRuntime, source: ModelSource, load: (s: ModelSource) => Promise<LoadedModel>): Promise<LoadedModel | undefined> {
  if (!(await activatePureRuntime(name))) return undefined;
  return load(source);
}

async function probePure(
  candidates: PureRuntime[], source: ModelSource, load: (s: ModelSource) => Promise<LoadedModel>, log: RunnerLogger,
): Promise<RuntimeChoice> {
  const timings: Record<string, number | string> = {};
  let best: { name: PureRuntime; ms: number } | undefined;
  for (const name of candidates) {
    const model = await loadOn(name, source, load).catch(() => undefined);
    const ms = model === undefined ? undefined : await timeRuns(model);
    model?.dispose();
    timings[name] = ms === undefined ? 'failed' : Number(ms.toFixed(3));
    if (ms !== undefined && (best === undefined || ms < best.ms)) best = { name, ms };
  }
  const name = best?.name ?? 'cpu';
  if (best === undefined) log.warn('runtime probe could not run the model on zero inputs; using cpu', { timings });
  const model = await loadOn(name, source, load);
  if (model === undefined) throw new Error(`the ${name} backend failed to initialise`);
  return { runtime: name, model, details: { reason: best === undefined ? 'fallback' : 'fastest in load-time probe', probeMs: timings } };
}

export async function chooseRuntime(
  init: ChoiceInit, source: ModelSource, load: (s: ModelSource) => Promise<LoadedModel>, log: RunnerLogger,
): Promise<RuntimeChoice> {
  const gpu = init.metadataOnly === true ? undefined : await activateGpuRuntime(init, log);
  if (gpu !== undefined) return { runtime: gpu.runtime, model: await load(source), details: gpu.details };
  const native = init.metadataOnly === true ? undefined : await activateNativeRuntime(init.runtime, init.gpuInstance, init.nativeModules);
  if (native !== undefined) return { runtime: native, model: await load(source), details: { reason: 'native runtime installed' } };
  const candidates = init.metadataOnly === true ? ['cpu' as const] : pureCandidates(init.runtime);
  if (candidates.length === 1) {
    const name = candidates[0]!;
    const model = await loadOn(name, source, load);
    if (model === undefined) throw new Error(`the ${name} backend failed to initialise`);
    return { runtime: name, model, details: { reason: init.runtime === 'auto' ? 'metadata only' : 'TF_RUNTIME parameter' } };
  }
  return probePure(candidates, source, load, log);
}
