/**
 * ModelConfig ⇔ its protobuf JSON form (Triton's config override JSON and the HTTP /config body),
 * driven by the reflected schema of `proto/model_config.proto`.
 *
 * Reading follows the proto3 JSON mapping as Triton accepts it: field names as in the proto
 * (the lowerCamelCase JSON names are accepted too), enum names case-insensitively or enum
 * numbers, 64-bit (and 32-bit) integers as numbers or decimal strings, floats also as "NaN" /
 * "Infinity" / "-Infinity", `null` meaning "not set". Unknown fields are rejected. Text is read with
 * the lossless JSON parser (modelConfigFromJsonText), so uint64 values beyond 2^53 written as JSON
 * numbers stay exact (bigints, see integerValue); a JS-parsed object cannot hold them and is refused.
 * Writing uses proto field names and enum names, and writes every 64-bit integer as a JSON number
 * (Triton rewrites protobuf's quoted int64 strings to numbers in its /config responses); serialize
 * with stringifyLosslessJson so bigints come out as exact integers.
 */
import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';
import type { ModelConfig } from './model-config.js';
import { JsonFloat, parseLosslessJson } from '../util/lossless-json.js';
import {
  enumTypeOf, integerValue, isMapField, messageTypeOf, modelConfigSchema, scalarKind, setEntry, valueKind,
  type ProtoField, type ProtoType, type ValueKind,
} from './model-config-schema.js';

type Obj = Record<string, unknown>;

export interface ModelConfigJsonOptions {
  /**
   * Also write fields that are absent, with their default values: scalars and enums as their zero
   * value, repeated fields as [], maps as {} (protobuf's "always print primitive fields", which
   * Triton uses for /config). Absent sub-messages and oneof members stay absent. Default true.
   */
  includeDefaults?: boolean;
}

/** Reads the JSON form of a ModelConfig (already JSON.parse'd); `source` names it in errors. */
export function modelConfigFromJson(obj: unknown, source: string): ModelConfig {
  return messageFromJson(modelConfigSchema().modelConfig, obj, new JsonPath(source, 'config')) as ModelConfig;
}

/**
 * Reads ModelConfig JSON text (a load's `config` override); `source` names it in errors. Throws
 * INVALID_ARG for text that is not JSON and for JSON that is not a ModelConfig.
 */
export function modelConfigFromJsonText(text: string, source: string): ModelConfig {
  let obj: unknown;
  try {
    obj = parseLosslessJson(text);
  } catch (e) {
    throw new InferenceError(ErrorCode.INVALID_ARG, `${source}: ${(e as Error).message}`);
  }
  return modelConfigFromJson(obj, source);
}

/** Writes a ModelConfig as a JSON-ready object (pass it to stringifyLosslessJson). */
export function modelConfigToJson(config: ModelConfig, options: ModelConfigJsonOptions = {}): Obj {
  return messageToJson(modelConfigSchema().modelConfig, config as Obj, options.includeDefaults ?? true);
}

class JsonPath {
  constructor(readonly source: string, readonly path: string) {}

  child(segment: string | number): JsonPath {
    return new JsonPath(this.source, typeof segment === 'number' ? `${this.path}[${segment}]` : `${this.path}.${segment}`);
  }

  fail(message: string): never {
    throw new InferenceError(ErrorCode.INVALID_ARG, `${this.source}: ${this.path}: ${message}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof JsonFloat) return `number ${value.text}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function isPlainObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const camelName = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function lookupField(type: ProtoType, key: string): ProtoField | undefined {
  if (Object.hasOwn(type.fields, key)) return type.fields[key];
  return type.fieldsArray.find((f) => camelName(f.name) === key);
}

function messageFromJson(type: ProtoType, value: unknown, at: JsonPath): Obj {
  if (!isPlainObject(value)) at.fail(`expected an object for ${type.fullName.slice(1)}, got ${describe(value)}`);
  const message: Obj = {};
  for (const [key, raw] of Object.entries(value)) {
    const field = lookupField(type, key);
    const here: JsonPath = at.child(key);
    if (field === undefined) here.fail(`unknown field '${key}' in ${type.fullName.slice(1)}`);
    if (raw === null) continue;
    if (Object.hasOwn(message, field.name)) here.fail(`field '${field.name}' is given twice`);
    const otherMember = field.partOf?.fieldsArray.find((f) => f !== field && Object.hasOwn(message, f.name));
    if (otherMember !== undefined) {
      here.fail(`'${field.name}' cannot be set together with '${otherMember.name}': both belong to oneof '${field.partOf!.name}'`);
    }
    message[field.name] = fieldFromJson(field, raw, here);
  }
  return message;
}

function fieldFromJson(field: ProtoField, raw: unknown, at: JsonPath): unknown {
  const kind = valueKind(field);
  if (isMapField(field)) {
    if (!isPlainObject(raw)) at.fail(`expected an object for map '${field.name}', got ${describe(raw)}`);
    const map: Obj = {};
    for (const [key, entry] of Object.entries(raw)) {
      const here: JsonPath = at.child(key);
      setEntry(map, mapKeyFromJson(field.keyType, key, here), valueFromJson(field, kind, entry, here));
    }
    return map;
  }
  if (field.repeated) {
    if (!Array.isArray(raw)) at.fail(`expected an array for repeated field '${field.name}', got ${describe(raw)}`);
    return raw.map((element, i) => valueFromJson(field, kind, element, at.child(i)));
  }
  return valueFromJson(field, kind, raw, at);
}

function mapKeyFromJson(keyType: string, key: string, at: JsonPath): string {
  const kind = scalarKind(keyType);
  if (kind === 'string') return key;
  if (kind === 'bool') {
    if (key !== 'true' && key !== 'false') at.fail(`expected map key 'true' or 'false', got ${describe(key)}`);
    return key;
  }
  return String(integerFromJson(keyType, key, at));
}

function valueFromJson(field: ProtoField, kind: ValueKind, raw: unknown, at: JsonPath): unknown {
  switch (kind) {
    case 'message':
      return messageFromJson(messageTypeOf(field), raw, at);
    case 'enum':
      return enumFromJson(field, raw, at);
    case 'string':
      if (typeof raw !== 'string') at.fail(`expected a string, got ${describe(raw)}`);
      return raw;
    case 'bool':
      if (typeof raw !== 'boolean') at.fail(`expected true or false, got ${describe(raw)}`);
      return raw;
    case 'float':
      return floatFromJson(raw, at);
    case 'integer':
      return integerFromJson(field.type, raw, at);
  }
}

function integerFromJson(protoType: string, raw: unknown, at: JsonPath): number | bigint {
  let exact: bigint | undefined;
  if (raw instanceof JsonFloat && Number.isSafeInteger(raw.value)) raw = raw.value; // `4.0` or `4e0`, as protobuf's JSON parser
  if (typeof raw === 'bigint') {
    exact = raw;
  } else if (typeof raw === 'number' && Number.isInteger(raw)) {
    if (!Number.isSafeInteger(raw)) {
      at.fail(`integer ${raw} is beyond Number.MAX_SAFE_INTEGER and may have lost precision; write it as a decimal string`);
    }
    exact = BigInt(raw);
  } else if (typeof raw === 'string' && /^-?[0-9]+$/.test(raw.trim())) {
    exact = BigInt(raw.trim());
  }
  if (exact === undefined) at.fail(`expected an integer (${protoType}), got ${describe(raw)}`);
  const result = integerValue(exact, protoType);
  if (typeof result === 'string') at.fail(result);
  return result;
}

function floatFromJson(raw: unknown, at: JsonPath): number {
  if (typeof raw === 'number') return raw;
  if (raw instanceof JsonFloat) return raw.value;
  if (typeof raw === 'bigint') return Number(raw);
  if (raw === 'NaN') return NaN;
  if (raw === 'Infinity') return Infinity;
  if (raw === '-Infinity') return -Infinity;
  if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
  return at.fail(`expected a number, got ${describe(raw)}`);
}

function enumFromJson(field: ProtoField, raw: unknown, at: JsonPath): string {
  const enumType = enumTypeOf(field);
  let name: string | undefined;
  if (typeof raw === 'string') {
    const wanted = raw.toUpperCase();
    name = Object.keys(enumType.values).find((n) => n.toUpperCase() === wanted);
  } else if (typeof raw === 'number' && Number.isInteger(raw)) {
    name = enumType.valuesById[raw];
  }
  if (name === undefined) {
    at.fail(`invalid value ${describe(raw)} for enum ${enumType.fullName.slice(1)}: expected one of ${Object.keys(enumType.values).join(', ')}`);
  }
  return name;
}

function messageToJson(type: ProtoType, message: Obj, includeDefaults: boolean): Obj {
  const out: Obj = {};
  for (const field of type.fieldsArray) {
    const value = message[field.name];
    const kind = valueKind(field);
    if (value === undefined || value === null) {
      const isPresenceField = field.partOf !== null || (kind === 'message' && !field.repeated && !isMapField(field));
      if (includeDefaults && !isPresenceField) out[field.name] = defaultJson(field, kind);
      continue;
    }
    if (isMapField(field)) {
      const map: Obj = {};
      for (const [key, entry] of Object.entries(value as Obj)) setEntry(map, key, valueToJson(field, kind, entry, includeDefaults));
      out[field.name] = map;
    } else if (field.repeated) {
      out[field.name] = (value as unknown[]).map((element) => valueToJson(field, kind, element, includeDefaults));
    } else {
      out[field.name] = valueToJson(field, kind, value, includeDefaults);
    }
  }
  return out;
}

function valueToJson(field: ProtoField, kind: ValueKind, value: unknown, includeDefaults: boolean): unknown {
  if (kind === 'message') return messageToJson(messageTypeOf(field), value as Obj, includeDefaults);
  if (kind === 'enum') return typeof value === 'number' ? (enumTypeOf(field).valuesById[value] ?? value) : value;
  if (kind === 'float' && typeof value === 'number' && !Number.isFinite(value)) {
    return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  }
  return value;
}

function defaultJson(field: ProtoField, kind: ValueKind): unknown {
  if (isMapField(field)) return {};
  if (field.repeated) return [];
  switch (kind) {
    case 'enum': return enumTypeOf(field).valuesById[0];
    case 'string': return '';
    case 'bool': return false;
    default: return 0;
  }
}
