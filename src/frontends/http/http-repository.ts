/**
 * HTTP load/unload bodies → core load/unload parameters (PROTOCOL.md §6.6), the JSON twin of
 * grpc-repository.ts: `{"parameters": {"config": "<ModelConfig JSON text>", "file:<v>/<name>":
 * "<base64>"}}` for load, `{"parameters": {"unload_dependents": bool}}` for unload. Any other
 * parameter name, or a value of the wrong JSON type, is INVALID_ARG.
 */
import type { LoadParameters } from '../../core/inference-service.js';
import { errors } from '../../errors/catalogue.js';

/**
 * Standard base64 with padding. A single character class, checked in linear time: a grouped
 * pattern such as (?:[…]{4})* overflows V8's regexp stack on multi-MiB uploads.
 */
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

function isBase64(v: string): boolean {
  return v.length % 4 === 0 && BASE64_CHARS.test(v);
}

function parametersOf(body: Record<string, unknown>, what: string): Record<string, unknown> {
  const p = body['parameters'];
  if (p === undefined) return {};
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw errors.invalidArg(`'parameters' of the ${what} request must be a JSON object`);
  return p as Record<string, unknown>;
}

export function loadParameters(body: Record<string, unknown>): LoadParameters {
  const out: { config?: string; files?: Map<string, Uint8Array> } = {};
  for (const [key, v] of Object.entries(parametersOf(body, 'load'))) {
    if (key === 'config') {
      if (typeof v !== 'string') throw errors.invalidArg("load parameter 'config' must be a string holding ModelConfig JSON");
      out.config = v;
    } else if (key.startsWith('file:')) {
      if (typeof v !== 'string' || !isBase64(v)) throw errors.invalidArg(`load parameter '${key}' must be a base64 string`);
      (out.files ??= new Map()).set(key.slice('file:'.length), Buffer.from(v, 'base64'));
    } else {
      throw errors.invalidArg(`unrecognized load parameter '${key}'`);
    }
  }
  return out;
}

export function unloadDependents(body: Record<string, unknown>): boolean {
  let dependents = false;
  for (const [key, v] of Object.entries(parametersOf(body, 'unload'))) {
    if (key !== 'unload_dependents') throw errors.invalidArg(`unrecognized unload parameter '${key}'`);
    if (typeof v !== 'boolean') throw errors.invalidArg("unload parameter 'unload_dependents' must be a boolean");
    dependents = v;
  }
  return dependents;
}
