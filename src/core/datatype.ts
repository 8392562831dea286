/**
 * The v2 datatype table: wire names, element sizes and the config (`TYPE_*`) names they map to.
 * This is the only place that knows these facts (PROTOCOL.md §3.1, §4).
 */
export const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BYTES', 'BF16',
] as const;

export type DataType = (typeof DATATYPES)[number];

/** Bytes per element; 0 for BYTES, whose elements are variable-length. */
const ELEMENT_BYTES: Readonly<Record<DataType, number>> = {
  BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2,
  UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8, BYTES: 0,
};

const WIRE_SET: ReadonlySet<string> = new Set(DATATYPES);

/** Case-sensitive, exact, as Triton's ProtocolStringToDataType. */
export function isDataType(s: string): s is DataType {
  return WIRE_SET.has(s);
}

export function elementByteSize(dt: DataType): number {
  return ELEMENT_BYTES[dt];
}

/** Config enum name for a wire datatype: BYTES ⇔ TYPE_STRING, others TYPE_<name>. */
export function wireToConfigType(dt: DataType): string {
  return dt === 'BYTES' ? 'TYPE_STRING' : `TYPE_${dt}`;
}

/** Wire datatype for a config enum name, or undefined for TYPE_INVALID / unknown names. */
export function configTypeToWire(t: string | undefined): DataType | undefined {
  if (t === 'TYPE_STRING') return 'BYTES';
  if (t === undefined || !t.startsWith('TYPE_')) return undefined;
  const name = t.slice(5);
  return name !== 'BYTES' && isDataType(name) ? name : undefined;
}

/**
 * Product of the dims. Callers validate dims are non-negative integers first; the result is
 * checked against Number.MAX_SAFE_INTEGER so a hostile shape cannot overflow silently.
 */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return Number.POSITIVE_INFINITY;
  }
  return n;
}
