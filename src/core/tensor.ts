import type { DataType } from './datatype.js';

/** A parameter value as both protocols carry it (gRPC InferParameter oneof / JSON scalar). */
export type ParameterValue = boolean | number | bigint | string;
export type Parameters = Record<string, ParameterValue>;

/**
 * A tensor inside the core: always raw, row-major, little-endian bytes (PROTOCOL.md §4), BYTES
 * elements as 4-byte length prefix + content. Invariants once validated: `data.byteLength` equals
 * elementCount(shape) × element size (fixed-size types) and BYTES framing holds exactly
 * elementCount(shape) elements. `data` may be a view into a larger buffer (a decoded protobuf message,
 * a batch output): treat it as read-only and never assume byteOffset 0.
 */
export interface Tensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: Uint8Array;
}
