/**
 * Triton's generate extension (provisional in Triton; PROTOCOL.md §6.1): a flat JSON object ⇔ the
 * core's request and response, mapped by the model's metadata, as Triton's exact mapping does.
 *
 * Request: every top-level key, and every key of the optional `parameters` object, that names an
 * input of the model becomes that input; every other key becomes a request parameter (string,
 * number or boolean; the reserved names are checked as on /infer). An input's value is a scalar
 * or a flat array of the model's datatype (BYTES: strings); its shape is the model's, with the
 * element count spread as Triton does: the fixed dimensions must divide it, the innermost variable
 * dimension takes the rest and every other variable dimension (the batch one included) is 1.
 *
 * Response: `id` (when set), `model_name`, `model_version`, each response parameter, then each
 * output by name: a bare value when it has exactly one element, else a flat array (`[]` when
 * empty; Triton fails there). On a name clash the earlier key wins, as in Triton. BYTES outputs
 * are UTF-8 strings (invalid sequences become U+FFFD; /infer with binary outputs is byte-exact).
 */
import type { InferenceRequest, InferenceResponse, InputTensor, OutputTensor } from '../../core/inference-request.js';
import type { ModelMetadata, TensorMetadata } from '../../core/inference-service.js';
import { elementCount, isDataType } from '../../core/datatype.js';
import { clip, errors, modelRef } from '../../errors/catalogue.js';
import { isObj, requestParameters } from './http-convert.js';
import { bytesToJsonDataText, jsonDataToBytes } from './json-tensor-data.js';

/** The key holding the request's parameters object (Triton's nested mapping schema). */
const PARAMETERS_KEY = 'parameters';

/** A parsed generate request body → the core request for `model` / `version`. */
export function toGenerateRequest(body: unknown, meta: ModelMetadata, model: string, version: string): InferenceRequest {
  const where = modelRef(model, version);
  if (!isObj(body)) throw errors.invalidArg(`the generate request to ${where} must be a JSON object`);
  const specs = new Map(meta.inputs.map((i) => [i.name, i]));
  const inputs: InputTensor[] = [];
  const params: Record<string, unknown> = {};
  const take = (key: string, v: unknown): void => {
    const spec = specs.get(key);
    if (spec === undefined) {
      if (Object.hasOwn(params, key)) throw errors.invalidArg(`parameter '${clip(key)}' is given twice in the generate request to ${where}`);
      params[key] = v;
    } else {
      if (inputs.some((i) => i.name === key)) throw errors.invalidArg(`input '${clip(key)}' is given twice in the generate request to ${where}`);
      inputs.push(toInput(spec, v, where));
    }
  };
  for (const [key, v] of Object.entries(body)) {
    if (key !== PARAMETERS_KEY) {
      take(key, v);
      continue;
    }
    if (specs.has(PARAMETERS_KEY)) {
      throw errors.invalidArg(`'${PARAMETERS_KEY}' of the generate request to ${where} is both the request's parameters object and an input of the model`);
    }
    if (!isObj(v)) throw errors.invalidArg(`'${PARAMETERS_KEY}' of the generate request to ${where} must be a JSON object`);
    for (const [pk, pv] of Object.entries(v)) take(pk, pv);
  }
  const { parameters } = requestParameters(params, where);
  return { id: '', modelName: model, modelVersion: version, parameters, inputs, outputs: [] };
}

function toInput(spec: TensorMetadata, v: unknown, where: string): InputTensor {
  const { name, datatype } = spec;
  if (!isDataType(datatype)) throw errors.internal(`input '${name}' of ${where} has datatype '${datatype}'`);
  const values = Array.isArray(v) ? v : [v];
  if (values.some(Array.isArray)) {
    throw errors.invalidArg(`input '${name}' of the generate request to ${where} must be a scalar or a flat array, not nested arrays`);
  }
  const shape = spreadShape(spec.shape, values.length);
  if (shape === undefined) {
    throw errors.invalidArg(`input '${name}' of the generate request to ${where}: ${values.length} element(s) cannot fill its shape [${spec.shape.join(',')}]`);
  }
  return { name, datatype, shape, data: jsonDataToBytes(datatype, values, shape, name, where), parameters: {} };
}

/**
 * Triton's two passes: the fixed dimensions divide `count`, the innermost -1 takes what is left,
 * other -1s are 1. Undefined when `count` does not fit.
 */
export function spreadShape(dims: readonly number[], count: number): number[] | undefined {
  const fixed = dims.reduce((n, d) => (d === -1 ? n : n * d), 1);
  if (fixed === 0 ? count !== 0 : count % fixed !== 0) return undefined;
  let rest = fixed === 0 ? 0 : count / fixed;
  const shape = [...dims];
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== -1) continue;
    shape[i] = fixed === 0 ? 1 : rest;
    rest = 1;
  }
  return rest === 1 || fixed === 0 ? shape : undefined;
}

/** One response → the generate response JSON text. */
export function generateResponseText(r: InferenceResponse): string {
  const parts: string[] = [];
  const seen = new Set<string>();
  const add = (key: string, text: string): void => {
    if (seen.has(key)) return;
    seen.add(key);
    parts.push(`${JSON.stringify(key)}:${text}`);
  };
  if (r.id !== '') add('id', JSON.stringify(r.id));
  add('model_name', JSON.stringify(r.modelName));
  add('model_version', JSON.stringify(r.modelVersion));
  for (const [key, v] of Object.entries(r.parameters)) add(key, typeof v === 'bigint' ? v.toString() : JSON.stringify(v));
  for (const o of r.outputs) add(o.name, outputValueText(o));
  return `{${parts.join(',')}}`;
}

function outputValueText(o: OutputTensor): string {
  const text = bytesToJsonDataText(o.datatype, o.data);
  return elementCount(o.shape) === 1 ? text.slice(1, -1) : text;
}
