/**
 * Which InferTensorContents field carries each datatype (PROTOCOL.md §2.3). Its own module so the
 * client (src/client) can share it without reaching the server's conversion code and its imports.
 */
import type { InferTensorContents__Output } from '../../generated/inference/InferTensorContents.js';
import type { DataType } from '../../core/datatype.js';

export type Contents = InferTensorContents__Output;
export type ContentsField = keyof Contents;

/** Which InferTensorContents field carries each datatype; FP16/BF16 have none (raw only). */
export const CONTENTS_FIELD: Readonly<Record<DataType, ContentsField | undefined>> = {
  BOOL: 'bool_contents', INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents',
  INT64: 'int64_contents', UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents',
  UINT64: 'uint64_contents', FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
  FP16: undefined, BF16: undefined,
};
export const ALL_FIELDS: readonly ContentsField[] = [
  'bool_contents', 'int_contents', 'int64_contents', 'uint_contents',
  'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents',
];
