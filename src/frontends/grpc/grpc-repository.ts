/**
 * gRPC RepositoryModelLoad / RepositoryModelUnload parameter maps → core load/unload parameters,
 * with the gRPC typing rules of PROTOCOL.md §6.6: `config` is a string_param, `file:<v>/<name>`
 * a bytes_param, `unload_dependents` a bool_param; any other name is INVALID_ARG.
 */
import type { ModelRepositoryParameter__Output } from '../../generated/inference/ModelRepositoryParameter.js';
import type { LoadParameters } from '../../core/inference-service.js';
import { errors } from '../../errors/catalogue.js';

type Params = Record<string, ModelRepositoryParameter__Output>;

export function loadParameters(params: Params): LoadParameters {
  const out: { config?: string; files?: Map<string, Uint8Array> } = {};
  for (const [key, p] of Object.entries(params)) {
    if (key === 'config') {
      if (p.parameter_choice !== 'string_param') throw errors.invalidArg("load parameter 'config' must be a string_param holding ModelConfig JSON");
      out.config = p.string_param ?? '';
    } else if (key.startsWith('file:')) {
      if (p.parameter_choice !== 'bytes_param') throw errors.invalidArg(`load parameter '${key}' must be a bytes_param`);
      (out.files ??= new Map()).set(key.slice('file:'.length), p.bytes_param ?? new Uint8Array(0));
    } else {
      throw errors.invalidArg(`unrecognized load parameter '${key}'`);
    }
  }
  return out;
}

export function unloadDependents(params: Params): boolean {
  let dependents = false;
  for (const [key, p] of Object.entries(params)) {
    if (key !== 'unload_dependents') throw errors.invalidArg(`unrecognized unload parameter '${key}'`);
    if (p.parameter_choice !== 'bool_param') throw errors.invalidArg("unload parameter 'unload_dependents' must be a bool_param");
    dependents = p.bool_param === true;
  }
  return dependents;
}
