/**
 * A tensor's JSON `data` array ⇔ the core's raw bytes (PROTOCOL.md §6.3).
 *
 * Reading: `data` is flat or nested (nesting is only flattened, row-major; the element count must
 * equal the shape's). Element kinds are strict, as Triton's: BOOL takes JSON booleans, integer
 * types JSON integers (not `1.0`, not strings), FP32/FP64 any JSON number (NaN and ±Infinity
 * included), BYTES strings; FP16/BF16 cannot travel as JSON. Values arrive either from JSON.parse
 * (numbers only) or from the lossless parser (bigint, JsonFloat): see http-convert.ts for which.
 *
 * Writing: always flat; FP32 prints as its exact double (0.1f → 0.10000000149011612); NaN and
 * ±Infinity print as the literals `NaN`, `Infinity`, `-Infinity` (what Triton's writer and
 * Python's json module produce; JSON.stringify would write null); 64-bit integers beyond 2^53
 * print exactly; FP16/BF16 print as numbers (Triton refuses them; a number is more useful);
 * BYTES print as strings decoded from UTF-8.
 */
import type { DataType } from '../../core/datatype.js';
import { elementCount } from '../../core/datatype.js';
import { decodeToValues, encodeTypedValues, ValueError } from '../../core/tensor-codec.js';
import { errors } from '../../errors/catalogue.js';
import { JsonFloat } from '../../util/lossless-json.js';

/** Deeper `data` nesting is refused (a natural-shape tensor nests as deep as its rank). */
export const MAX_DATA_DEPTH = 64;

type Leaf = (v: unknown, index: number) => unknown;

const INTEGER_TYPES: ReadonlySet<DataType> = new Set<DataType>([
  'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64',
]);

export function isIntegerType(dt: DataType): boolean {
  return INTEGER_TYPES.has(dt);
}

/** Per datatype: the element as encodeTypedValues should see it, or a ValueError. */
function leafFor(dt: DataType): Leaf {
  if (INTEGER_TYPES.has(dt)) {
    return (v, i) => {
      if (v instanceof JsonFloat) throw new ValueError(`element ${i}: ${v.text} is not an integer (${dt})`, i);
      if (typeof v !== 'number' && typeof v !== 'bigint') throw kindError(v, i, 'a JSON integer', dt);
      return v;
    };
  }
  if (dt === 'FP32' || dt === 'FP64') {
    return (v, i) => {
      if (v instanceof JsonFloat) return v.value;
      if (typeof v === 'bigint') return Number(v);
      if (typeof v !== 'number') throw kindError(v, i, 'a JSON number', dt);
      return v;
    };
  }
  return (v) => v;
}

function kindError(v: unknown, i: number, expected: string, dt: DataType): ValueError {
  const got = v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v;
  return new ValueError(`element ${i}: expected ${expected} for ${dt}, got ${got}`, i);
}

/** `data` of input `name` → raw bytes. Throws INVALID_ARG naming the input and `where`. */
export function jsonDataToBytes(dt: DataType, data: unknown, shape: readonly number[], name: string, where: string): Uint8Array {
  if (dt === 'FP16' || dt === 'BF16') {
    throw errors.invalidArg(`input '${name}' for ${where}: receiving ${dt} data via JSON is not supported; send it as binary data`);
  }
  if (!Array.isArray(data)) throw errors.invalidArg(`'data' of input '${name}' for ${where} must be an array`);
  const flat = flatten(data, leafFor(dt), name, where);
  const want = elementCount(shape);
  if (flat.length !== want) {
    throw errors.invalidArg(
      `input '${name}' for ${where} has ${flat.length} elements in 'data' but shape [${shape.join(',')}] needs ${want}`,
    );
  }
  try {
    return encodeTypedValues(dt, flat);
  } catch (e) {
    if (e instanceof ValueError || e instanceof RangeError) throw errors.invalidArg(`input '${name}' for ${where}: ${e.message}`);
    throw e;
  }
}

/** Flat plain numbers skip the per-element pass: the common case from JSON.parse. */
function flatten(data: unknown[], leaf: Leaf, name: string, where: string): unknown[] {
  let simple = true;
  for (let i = 0; i < data.length && simple; i++) simple = typeof data[i] === 'number';
  if (simple) return data;
  const out: unknown[] = [];
  const walk = (a: unknown[], depth: number): void => {
    if (depth > MAX_DATA_DEPTH) throw errors.invalidArg(`'data' of input '${name}' for ${where} is nested deeper than ${MAX_DATA_DEPTH} levels`);
    for (const v of a) {
      if (Array.isArray(v)) walk(v, depth + 1);
      else out.push(leafOrThrow(leaf, v, out.length, name, where));
    }
  };
  walk(data, 1);
  return out;
}

function leafOrThrow(leaf: Leaf, v: unknown, i: number, name: string, where: string): unknown {
  try {
    return leaf(v, i);
  } catch (e) {
    if (e instanceof ValueError) throw errors.invalidArg(`input '${name}' for ${where}: ${e.message}`);
    throw e;
  }
}

/** Raw output bytes → the JSON text of its flat `data` array. */
export function bytesToJsonDataText(dt: DataType, data: Uint8Array): string {
  const values = decodeToValues(dt, data);
  if (values.length === 0) return '[]';
  const first = values[0];
  if (typeof first === 'bigint') return `[${(values as bigint[]).join(',')}]`;
  if (typeof first === 'number' && !(values as number[]).every(Number.isFinite)) {
    return `[${(values as number[]).map(numberText).join(',')}]`;
  }
  return JSON.stringify(values);
}

function numberText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return JSON.stringify(v);
}
