/**
 * The `typescript` backend: a model is `<model>/<version>/model.ts` (or, when that is absent,
 * model.mts/.js/.mjs; any name with `default_model_filename`) whose default-exported class implements the contract in
 * model-contract.ts. Each instance runs typescript-runner.ts in the worker pool.
 *
 * Hosting: every instance gets a DEDICATED worker thread by default. A TS model keeps state in
 * its module and instance, and module state is per thread (the import cache), so two instances of
 * one model sharing a thread would share their module-level state; an async execute() would also
 * interleave with the other sessions of a shared thread. A model that wants the shared pool says
 * `parameters { key: "dedicated_worker" value: { string_value: "false" } }`.
 *
 * Auto-complete: the class's static autoCompleteConfig(config) runs at load in a dedicated worker
 * (typescript-autocomplete.ts), before validation, as Triton's auto_complete_config.
 *
 * Requests: instances are `cancellable` (a request cancelled while it executes aborts its signal
 * in the worker) and, for decoupled models, answer through BatchRequest.responses
 * (worker-instance-proxy.ts).
 *
 * Crashes: an uncaught exception or process.exit() in a model ends its worker; the pool fails the
 * batch in flight with UNAVAILABLE and reloads the instance (workers/pool-session.ts).
 */
import { access, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AutoCompleteContext, Backend, BackendModel, InstanceContext, ModelInstance, ModelLoadContext } from '../backend.js';
import { configDataTypeToWire, type ModelConfig } from '../../config/model-config.js';
import { autofillError, readArtifactInfo } from '../autocomplete-rules.js';
import type { AutocompleteInit } from './typescript-autocomplete.js';
import type { DataType } from '../../core/datatype.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { workerTuning, type WorkerTuning } from '../../workers/worker-instance-proxy.js';
import { DEDICATED_WORKER_PARAMETER, dedicatedWorkerRequested } from '../instance-hosting.js';
import type { TypescriptRunnerInit } from './typescript-runner.js';
import { WorkerInstances } from '../worker-instances.js';

export const TYPESCRIPT_RUNNER_URL: string = new URL('./typescript-runner.js', import.meta.url).href;
const AUTOCOMPLETE_RUNNER_URL: string = new URL('./typescript-autocomplete.js', import.meta.url).href;
const MODEL_FILES = ['model.ts', 'model.mts', 'model.js', 'model.mjs'];

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

/** The config's file if present; for the default model.ts, else the first of model.mts/.js/.mjs there. */
async function modelFile(modelPath: string, what: string): Promise<string> {
  if (await exists(modelPath)) return modelPath;
  if (basename(modelPath) === 'model.ts') {
    for (const f of MODEL_FILES) {
      const p = join(dirname(modelPath), f);
      if (await exists(p)) return p;
    }
  }
  throw new InferenceError(ErrorCode.INVALID_ARG, `${what}: no model file at ${modelPath}`);
}

/**
 * Triton's auto_complete_config for code models: the class's static autoCompleteConfig runs in a
 * dedicated worker (typescript-autocomplete.ts). Files that never name `autoCompleteConfig` are
 * not imported for it (no worker start per load); a class that inherits the method from an
 * imported module must name it in its own file (e.g. `static autoCompleteConfig = Base.autoCompleteConfig`).
 */
async function autoComplete(config: ModelConfig, ctx: AutoCompleteContext, tuning: WorkerTuning): Promise<ModelConfig> {
  const file = await modelFile(ctx.modelPath, `model '${ctx.modelName}'`);
  if (!(await readFile(file, 'utf8')).includes('autoCompleteConfig')) return config;
  const init: AutocompleteInit = { modelFile: file, modelName: ctx.modelName, config };
  const info = await readArtifactInfo({
    modelName: ctx.modelName, runnerModule: AUTOCOMPLETE_RUNNER_URL, init, logger: ctx.logger, dedicated: true,
    loadTimeoutMs: tuning.loadTimeoutMs, pool: tuning.pool,
  }) as { config?: ModelConfig };
  const out = info.config;
  if (out === undefined) return config;
  for (const key of ['name', 'backend'] as const) {
    if (config[key] !== undefined && config[key] !== '' && out[key] !== config[key]) {
      throw autofillError(ctx.modelName, `autoCompleteConfig() changed the model's ${key} from '${config[key]}' to '${String(out[key])}'`);
    }
  }
  return { ...out, name: config.name ?? out.name, backend: config.backend || out.backend };
}

class TypescriptModelHost implements BackendModel {
  readonly #instances = new WorkerInstances();
  constructor(readonly ctx: ModelLoadContext, readonly file: string, readonly tuning: WorkerTuning) {}

  async createInstance(ictx: InstanceContext): Promise<ModelInstance> {
    const { ctx } = this;
    const outputTypes: Record<string, DataType> = {};
    for (const o of ctx.config.output ?? []) outputTypes[o.name ?? ''] = configDataTypeToWire(o.data_type ?? 'TYPE_INVALID');
    const init: TypescriptRunnerInit = {
      modelFile: this.file, outputTypes,
      args: {
        modelName: ctx.modelName, modelVersion: ctx.version, instanceName: ictx.name, instanceKind: ictx.kind,
        instanceDeviceId: ictx.deviceId, modelConfig: ctx.config, modelRepository: ctx.modelDir,
      },
    };
    const explicit = ctx.config.parameters?.[DEDICATED_WORKER_PARAMETER] !== undefined;
    const proxy = await this.#instances.create({
      name: ictx.name, modelName: ctx.modelName, version: ctx.version, runnerModule: TYPESCRIPT_RUNNER_URL, init,
      logger: ctx.logger, dedicated: explicit ? dedicatedWorkerRequested(ctx.config) : true, ...workerTuning(this.tuning),
      infer: ctx.infer, requestBoundaries: true, cancellable: true, decoupled: ctx.config.model_transaction_policy?.decoupled === true,
    });
    return proxy;
  }

  finalize(): Promise<void> {
    return this.#instances.finalizeAll();
  }
}

export function createTypescriptBackend(options: WorkerTuning = {}): Backend {
  return {
    name: 'typescript',
    platforms: [],
    defaultModelFilename: 'model.ts',
    decoupled: true,
    validateConfig: (config) => {
      try {
        dedicatedWorkerRequested(config);
      } catch (err) {
        const e = InferenceError.from(err);
        throw new InferenceError(e.code, `model '${config.name ?? ''}': ${e.message}`);
      }
    },
    autoCompleteConfig: (config, ctx) => autoComplete(config, ctx, options),
    async createModel(ctx) {
      return new TypescriptModelHost(ctx, await modelFile(ctx.modelPath, `model '${ctx.modelName}' version ${ctx.version}`), options);
    },
  };
}
