/**
 * The worker side of a typescript model's `static autoCompleteConfig(config)` (Triton python's
 * auto_complete_config): a Runner loaded only to import the model file in a worker of its own,
 * call the static method on the default-exported class with a copy of the config, and hand the
 * completed config back as its `info`. It never executes; the worker goes when the session closes,
 * so the model module's top-level code never runs on the main thread or in a shared worker.
 */
import type { ModelConfig } from '../../config/model-config.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import type { CreateRunner } from '../../workers/worker-messages.js';
import type { TypescriptModelClass } from './model-contract.js';
import { importModelFile } from './typescript-source.js';

export interface AutocompleteInit {
  modelFile: string;
  modelName: string;
  config: ModelConfig;
}

/** info: `{ config }` with the completed config, or `{}` when the class has no autoCompleteConfig. */
export const createRunner: CreateRunner = async (raw) => {
  const init = raw as AutocompleteInit;
  const mod = await importModelFile(init.modelFile);
  const Model = mod['default'] as TypescriptModelClass | undefined;
  let info: { config?: ModelConfig } = {};
  if (typeof Model === 'function' && typeof Model.autoCompleteConfig === 'function') {
    let out: ModelConfig | void;
    try {
      out = await Model.autoCompleteConfig(structuredClone(init.config));
    } catch (err) {
      throw new InferenceError(ErrorCode.INVALID_ARG, `autoCompleteConfig() failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (out === null || typeof out !== 'object') {
      throw new InferenceError(ErrorCode.INVALID_ARG, 'autoCompleteConfig() must return the completed config');
    }
    // Through JSON: only plain data crosses back (a class instance or function would not clone).
    info = { config: JSON.parse(JSON.stringify(out)) as ModelConfig };
  }
  return {
    info,
    execute: () => Promise.reject(new InferenceError(ErrorCode.INTERNAL, `model '${init.modelName}': the auto-complete session does not execute`)),
    dispose: () => Promise.resolve(),
  };
};
