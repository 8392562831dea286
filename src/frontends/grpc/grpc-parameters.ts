/**
 * gRPC InferParameter maps → core Parameters, with the gRPC typing rules of PROTOCOL.md §5.6–§5.8:
 * which oneof case each reserved name accepts, and which `triton_` names exist.
 */
import type { InferParameter__Output } from '../../generated/inference/InferParameter.js';
import type { Parameters, ParameterValue } from '../../core/tensor.js';
import { errors } from '../../errors/catalogue.js';

/** Reserved request-level names → the oneof cases gRPC accepts for them. */
const RESERVED: Readonly<Record<string, readonly string[]>> = {
  sequence_id: ['int64_param', 'string_param'],
  sequence_start: ['bool_param'],
  sequence_end: ['bool_param'],
  priority: ['int64_param', 'uint64_param'],
  timeout: ['int64_param'],
  triton_enable_empty_final_response: ['bool_param'],
};

function valueOf(p: InferParameter__Output): ParameterValue | undefined {
  switch (p.parameter_choice) {
    case 'bool_param': return p.bool_param;
    case 'int64_param': return p.int64_param;
    case 'string_param': return p.string_param;
    case 'double_param': return p.double_param;
    case 'uint64_param': return p.uint64_param;
    default: return undefined;
  }
}

/** Request-level parameters; `where` names the model for messages. */
export function requestParameters(map: Record<string, InferParameter__Output>, where: string): Parameters {
  const out: Parameters = {};
  // for…in, not Object.entries: no [key, value] arrays per request (decoded maps are plain objects).
  for (const key in map) {
    const p = map[key]!;
    const choice = p.parameter_choice;
    const v = valueOf(p);
    if (choice === undefined || v === undefined) throw errors.invalidArg(`parameter '${key}' of the request to ${where} has no value`);
    const allowed = RESERVED[key];
    if (allowed !== undefined) {
      if (!allowed.includes(choice)) {
        throw errors.invalidArg(`parameter '${key}' of the request to ${where} must be ${allowed.join(' or ')}, got ${choice}`);
      }
    } else if (key.startsWith('triton_')) {
      throw errors.invalidArg(`parameter '${key}' of the request to ${where} is reserved: names starting with 'triton_' are not allowed`);
    } else if (key === 'binary_data_output' || key === 'headers') {
      throw errors.invalidArg(`parameter '${key}' of the request to ${where} is reserved and cannot be used over gRPC`);
    } else if (choice === 'uint64_param') {
      throw errors.invalidArg(`parameter '${key}' of the request to ${where}: uint64_param is not supported for custom parameters`);
    }
    out[key] = v;
  }
  return out;
}

/** Tensor-level parameters (e.g. classification): passed through by value. */
export function tensorParameters(map: Record<string, InferParameter__Output>): Parameters {
  const out: Parameters = {};
  for (const key in map) {
    const v = valueOf(map[key]!);
    if (v !== undefined) out[key] = v;
  }
  return out;
}
