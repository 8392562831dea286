/**
 * The reflected ModelConfig schema (`proto/model_config.proto`), loaded once with protobufjs.
 * The text-format parser and the JSON converter are both driven by it, so the proto file is the
 * single source of truth for field names, numbers, types and enum values.
 *
 * Also holds the scalar rules both converters share (integer ranges, field classification).
 */
import { join } from 'node:path';
import { findPackageRoot } from '../util/package-root.js';
import protobuf from 'protobufjs';

import { ErrorCode } from '../errors/error-codes.js';
import { InferenceError } from '../errors/inference-error.js';

export type ProtoType = protobuf.Type;
export type ProtoField = protobuf.FieldBase;
export type ProtoMapField = protobuf.MapField;
export type ProtoEnum = protobuf.Enum;

export interface ModelConfigSchema {
  readonly root: protobuf.Root;
  /** The reflected `inference.ModelConfig` message type. */
  readonly modelConfig: protobuf.Type;
}

const PROTO_RELATIVE_PATH = join('proto', 'model_config.proto');

let cached: ModelConfigSchema | undefined;

/** Loads and resolves the schema on first use; later calls return the same objects. */
export function modelConfigSchema(): ModelConfigSchema {
  if (cached !== undefined) return cached;
  const file = join(findPackageRoot(), PROTO_RELATIVE_PATH);
  let root: protobuf.Root;
  try {
    // keepCase: field names stay snake_case, exactly as in the proto and in config.pbtxt.
    root = new protobuf.Root().loadSync(file, { keepCase: true });
    root.resolveAll();
  } catch (err) {
    throw new InferenceError(ErrorCode.INTERNAL, `cannot load model config schema ${file}: ${String(err)}`, {
      cause: err,
    });
  }
  cached = Object.freeze({ root, modelConfig: root.lookupType('inference.ModelConfig') });
  return cached;
}

/** How a field's values are written, independent of whether it is repeated or a map value. */
export type ValueKind = 'message' | 'enum' | 'string' | 'bool' | 'integer' | 'float';

/** The kind of the field's values (for a map field: of its values). The schema must be resolved. */
export function valueKind(field: ProtoField): ValueKind {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return 'message';
  if (resolved instanceof protobuf.Enum) return 'enum';
  return scalarKind(field.type);
}

/** The kind of a scalar proto type name (`int64`, `string`, …). */
export function scalarKind(protoType: string): ValueKind {
  // `bytes` is deliberately unsupported: ModelConfig has no bytes field.
  if (protoType === 'string' || protoType === 'bool') return protoType;
  if (protoType === 'float' || protoType === 'double') return 'float';
  if (INTEGER_RANGES.has(protoType)) return 'integer';
  throw new InferenceError(ErrorCode.INTERNAL, `unsupported proto type '${protoType}' in model config schema`);
}

/** The field's message type; call only when valueKind(field) === 'message'. */
export function messageTypeOf(field: ProtoField): ProtoType {
  return field.resolvedType as protobuf.Type;
}

/** The field's enum type; call only when valueKind(field) === 'enum'. */
export function enumTypeOf(field: ProtoField): ProtoEnum {
  return field.resolvedType as protobuf.Enum;
}

export function isMapField(field: ProtoField): field is protobuf.MapField {
  return field instanceof protobuf.MapField;
}

const INT32: readonly [bigint, bigint] = [-(2n ** 31n), 2n ** 31n - 1n];
const UINT32: readonly [bigint, bigint] = [0n, 2n ** 32n - 1n];
const INT64: readonly [bigint, bigint] = [-(2n ** 63n), 2n ** 63n - 1n];
const UINT64: readonly [bigint, bigint] = [0n, 2n ** 64n - 1n];

const INTEGER_RANGES: ReadonlyMap<string, readonly [bigint, bigint]> = new Map([
  ['int32', INT32], ['sint32', INT32], ['sfixed32', INT32],
  ['uint32', UINT32], ['fixed32', UINT32],
  ['int64', INT64], ['sint64', INT64], ['sfixed64', INT64],
  ['uint64', UINT64], ['fixed64', UINT64],
]);

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const UNSIGNED_64: ReadonlySet<string> = new Set(['uint64', 'fixed64']);

/**
 * The value of an exact integer for a field of `protoType`, or the reason it cannot be one: outside
 * the proto type's range. Values within ±Number.MAX_SAFE_INTEGER are JS numbers; larger uint64
 * values stay exact as bigints (Triton's own configs use 18446744073709551615 for "no limit", and
 * /config must give it back unchanged). Larger int64 values (dims, shapes, versions, device ids,
 * none of which can be that large in a working model) are refused rather than rounded.
 */
export function integerValue(value: bigint, protoType: string): number | bigint | string {
  const range = INTEGER_RANGES.get(protoType);
  if (range === undefined) return `'${protoType}' is not an integer type`;
  if (value < range[0] || value > range[1]) {
    return `integer ${value} is out of range for ${protoType} [${range[0]}, ${range[1]}]`;
  }
  if (value > MAX_SAFE || value < -MAX_SAFE) {
    if (UNSIGNED_64.has(protoType)) return value;
    return `integer ${value} is beyond Number.MAX_SAFE_INTEGER (${Number.MAX_SAFE_INTEGER}), which no ${protoType} field of a model config can use`;
  }
  return Number(value);
}

/** The proto type of a map field's keys as a ValueKind ('string', 'integer' or 'bool'). */
export function mapKeyKind(field: ProtoMapField): ValueKind {
  return scalarKind(field.keyType);
}

/**
 * Sets an own enumerable property. Map keys come from user input, and a plain assignment of the
 * key `__proto__` would replace the object's prototype instead of adding an entry.
 */
export function setEntry(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
