/**
 * Loads one model: config (parse → auto-complete → normalize → validate → freeze), labels, then
 * every version its policy selects, each with its instances and scheduler. A failure is recorded
 * as UNAVAILABLE with a reason on the model or the version; it never throws past loadModel, so
 * one broken model cannot stop the others from loading.
 */
import { readdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Backend, InstanceContext, InternalInfer, ModelInstance } from '../backends/backend.js';
import type { BackendRegistry } from '../backends/backend-registry.js';
import type { ModelConfig } from '../config/model-config.js';
import { parseModelConfigText } from '../config/pbtxt.js';
import { deepFreeze, isEnsemble, normalizeModelConfig } from '../config/model-config-normalize.js';
import { validateModelConfig } from '../config/model-config-validate.js';
import { buildModelSignature } from '../core/model-signature.js';
import { DynamicBatcher } from '../scheduler/dynamic-batcher.js';
import { SequenceBatcher } from '../scheduler/sequence-batcher.js';
import { SequenceControls } from '../scheduler/sequence-controls.js';
import { ImplicitState } from '../scheduler/sequence-state.js';
import { InferenceStats } from '../observability/inference-stats.js';
import { errors } from '../errors/catalogue.js';
import { InferenceError } from '../errors/inference-error.js';
import type { ModelSource } from './model-repository.js';
import { readModelText, resolveModelPath } from './model-paths.js';
import { selectVersions } from './version-policy.js';
import { runWarmup } from './model-warmup.js';
import type { LoadedVersion, ModelEntry } from './model-registry.js';
import { loadEnsembleVersions, type EnsembleHost } from '../ensemble/ensemble-loader.js';
import { parseVersionRouting } from './version-routing.js';

export interface LoaderOptions {
  backends: BackendRegistry;
  /** false with --disable-auto-complete-config / --strict-model-config. */
  autoComplete: boolean;
  logger: Logger;
  /** Needed to load ensembles (their steps run on models of this registry); absent = ensembles fail to load. */
  ensembles?: EnsembleHost | undefined;
  /** GPUs this process can use (ids 0..count-1) and, when there are none, why; absent = none. */
  gpus?: LoaderGpus | undefined;
  /** Handed to every backend model (ModelLoadContext.infer): how model code calls other models (BLS). */
  infer?: InternalInfer | undefined;
}

export interface LoaderGpus {
  count: number;
  /** Shown in KIND_GPU load failures when count is 0. */
  unavailableReason: string;
}

export async function loadModel(src: ModelSource, o: LoaderOptions): Promise<ModelEntry> {
  const entry: ModelEntry = { name: src.name, state: 'LOADING', reason: '', versions: new Map() };
  const log = o.logger.child({ model: src.name });
  try {
    const { config, backend } = await prepareConfig(src, o, log);
    entry.config = config;
    const { versions, missing } = selectVersions(config.version_policy, src.versions);
    for (const v of missing) log.warn({ version: v }, 'version named by version_policy is not in the repository');
    if (versions.length === 0) {
      throw errors.invalidArg(`at least one version must be available under the version policy of model '${src.name}'`);
    }
    entry.routing = parseVersionRouting(config, src.name, versions);
    const labels = await readLabels(src, config);
    if (backend === undefined) {
      for (const lv of loadEnsembleVersions(config, versions, labels, o.ensembles)) entry.versions.set(lv.version, lv);
    } else await Promise.all(versions.map(async (v) => {
      const lv = await loadVersion(src, config, backend, v, labels, log, o.infer);
      entry.versions.set(v, lv);
    }));
    entry.state = [...entry.versions.values()].some((v) => v.state === 'READY') ? 'READY' : 'UNAVAILABLE';
    if (entry.state === 'UNAVAILABLE') entry.reason = [...entry.versions.values()].map((v) => v.reason).join('; ');
  } catch (e) {
    entry.state = 'UNAVAILABLE';
    entry.reason = InferenceError.from(e).message;
    log.error({ reason: entry.reason }, 'model failed to load');
  }
  return entry;
}

async function prepareConfig(
  src: ModelSource,
  o: LoaderOptions,
  log: Logger,
): Promise<{ config: Readonly<ModelConfig>; backend: Backend | undefined }> {
  let raw: ModelConfig = {};
  if (src.configOverride !== undefined) raw = src.configOverride;
  else if (src.configText !== undefined) raw = parseModelConfigText(src.configText, src.configPath);
  else if (!o.autoComplete) {
    throw errors.invalidArg(`model '${src.name}' has no config.pbtxt and auto-complete is disabled (--strict-model-config)`);
  }
  if (isEnsemble(raw)) return { config: checkedConfig(src, raw, o.gpus), backend: undefined }; // no backend, no model file
  const backend = await pickBackend(src, raw, o.backends);
  if (o.autoComplete && backend.autoCompleteConfig !== undefined) {
    const latest = src.versions[src.versions.length - 1];
    if (latest !== undefined) {
      const modelPath = await modelFilePath(src, latest, raw.default_model_filename || backend.defaultModelFilename);
      raw = await backend.autoCompleteConfig(raw, { modelName: src.name, modelPath, logger: log });
    }
  }
  raw = { ...raw, backend: raw.backend || backend.name };
  if (!raw.platform && backend.platforms[0] !== undefined) raw = { ...raw, platform: backend.platforms[0] };
  const config = checkedConfig(src, raw, o.gpus);
  backend.validateConfig?.(config);
  checkDecoupled(config, backend);
  return { config: backend.reportConfig ? deepFreeze(backend.reportConfig(config)) : config, backend };
}

/** Decoupled models need a backend that answers through BatchRequest.responses, and the dynamic batcher. */
function checkDecoupled(config: Readonly<ModelConfig>, backend: Backend): void {
  if (config.model_transaction_policy?.decoupled !== true) return;
  if (backend.decoupled !== true) {
    throw errors.unsupported(`model '${config.name ?? ''}': backend '${backend.name}' does not support decoupled models (model_transaction_policy { decoupled: true })`);
  }
  if (config.sequence_batching !== undefined) {
    throw errors.unsupported(`model '${config.name ?? ''}': a decoupled model cannot use sequence_batching (not supported yet)`);
  }
}

function checkedConfig(src: ModelSource, raw: ModelConfig, gpus: LoaderGpus | undefined): Readonly<ModelConfig> {
  const gpuCount = gpus?.count ?? 0;
  const config = normalizeModelConfig(raw, { modelName: src.name, gpuCount });
  const problems = validateModelConfig(config, { gpuCount, gpuUnavailableReason: gpus?.unavailableReason ?? 'GPU discovery did not run' });
  if (problems.length > 0) throw errors.invalidArg(`invalid config for model '${src.name}': ${problems.join('; ')}`);
  return config;
}

/** From `backend`, else `platform`, else the artifact in the newest version folder (PROTOCOL.md §8.3). */
async function pickBackend(src: ModelSource, raw: ModelConfig, reg: BackendRegistry): Promise<Backend> {
  if (raw.backend) {
    const b = reg.byName(raw.backend);
    if (b === undefined) throw errors.unsupported(`model '${src.name}' names backend '${raw.backend}', which is not available (available: ${reg.names.join(', ')})`);
    return b;
  }
  if (raw.platform) {
    const b = reg.byPlatform(raw.platform);
    if (b === undefined) throw errors.unsupported(`model '${src.name}' names platform '${raw.platform}', which is not supported`);
    return b;
  }
  for (const v of [...src.versions].reverse()) {
    const entries = await readdir(await resolveModelPath(src, '', String(v), 'version folder'));
    const b = reg.byArtifact(entries);
    if (b !== undefined) return b;
  }
  throw errors.invalidArg(
    `unable to determine the backend of model '${src.name}': its config names no backend or platform and no version folder holds a known model file`,
  );
}

/** `<model>/<version>/<file>`; the file name must stay inside the version folder (model-paths.ts). */
function modelFilePath(src: ModelSource, version: number, file: string): Promise<string> {
  return resolveModelPath(src, String(version), file, 'default_model_filename');
}

async function readLabels(src: ModelSource, config: Readonly<ModelConfig>): Promise<Map<string, string[]>> {
  const labels = new Map<string, string[]>();
  for (const out of config.output ?? []) {
    if (!out.label_filename) continue;
    const text = await readModelText(src, '', out.label_filename, `label file of output '${out.name ?? ''}'`);
    labels.set(out.name ?? '', text.split(/\r?\n/).filter((l, i, all) => l !== '' || i < all.length - 1));
  }
  return labels;
}

async function loadVersion(
  src: ModelSource,
  config: Readonly<ModelConfig>,
  backend: Backend,
  version: number,
  labels: Map<string, string[]>,
  parent: Logger,
  infer: InternalInfer | undefined,
): Promise<LoadedVersion> {
  const lv: LoadedVersion = { version, state: 'LOADING', reason: '' };
  const log = parent.child({ version });
  const instances: ModelInstance[] = [];
  try {
    const modelPath = await modelFilePath(src, version, config.default_model_filename || backend.defaultModelFilename);
    const bm = await backend.createModel({
      modelName: src.name, version, config, modelDir: src.dir, modelPath, logger: log, ...(infer === undefined ? {} : { infer }),
    });
    lv.backendModel = bm;
    for (const ictx of instanceContexts(config, src.name)) instances.push(await bm.createInstance(ictx));
    lv.instances = instances;
    await runWarmup(config, instances, src);
    lv.stats = new InferenceStats();
    lv.signature = buildModelSignature(config, version, labels);
    const common = { modelName: src.name, version: String(version), maxBatchSize: config.max_batch_size ?? 0, instances, stats: lv.stats, logger: log };
    lv.scheduler = config.sequence_batching === undefined
      ? new DynamicBatcher({ ...common, dynamicBatching: config.dynamic_batching, decoupled: config.model_transaction_policy?.decoupled === true })
      : new SequenceBatcher({
        ...common,
        sequenceBatching: config.sequence_batching,
        controls: new SequenceControls(config),
        state: await ImplicitState.load(config, src.dir),
      });
    lv.state = 'READY';
    log.debug({ instances: instances.length, backend: backend.name }, 'model version ready');
  } catch (e) {
    await Promise.allSettled(instances.map((i) => i.finalize()));
    await lv.backendModel?.finalize().catch(() => undefined);
    lv.backendModel = undefined;
    lv.state = 'UNAVAILABLE';
    lv.reason = InferenceError.from(e).message;
    log.error({ reason: lv.reason }, 'model version failed to load');
  }
  return lv;
}

/**
 * One context per instance, Triton's way: `count` per group, and for KIND_GPU `count` on each
 * listed GPU (count outer, GPUs inner, so consecutive instances alternate between GPUs). Names are
 * `<group>_<k>`, k counting from 0 within the group.
 */
export function instanceContexts(config: Readonly<ModelConfig>, modelName: string): InstanceContext[] {
  const out: InstanceContext[] = [];
  for (const g of config.instance_group ?? []) {
    const kind = g.kind === 'KIND_GPU' ? 'KIND_GPU' : g.kind === 'KIND_MODEL' ? 'KIND_MODEL' : 'KIND_CPU';
    const devices = kind === 'KIND_GPU' ? (g.gpus ?? []) : [0];
    let k = 0;
    for (let c = 0; c < (g.count ?? 1); c++) {
      for (const deviceId of devices) out.push({ name: `${g.name ?? modelName}_${k++}`, index: out.length, kind, deviceId });
    }
  }
  return out;
}

/** Releases a loaded version's instances and backend model. Caller has drained its scheduler. */
export async function unloadVersion(lv: LoadedVersion): Promise<void> {
  lv.state = 'UNAVAILABLE';
  lv.reason = 'unloaded';
  await Promise.allSettled((lv.instances ?? []).map((i) => i.finalize()));
  await lv.backendModel?.finalize().catch(() => undefined);
  lv.instances = [];
  lv.backendModel = undefined;
  lv.scheduler = undefined;
}
