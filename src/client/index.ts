/**
 * `infera/client`: a typed KServe v2 / Triton client for Node, over gRPC or HTTP/REST.
 *
 *   import { InferenceClient } from 'infera/client';
 *   const c = new InferenceClient('localhost:8001');          // or 'http://localhost:8000'
 *   const r = await c.infer({ model: 'simple', inputs: [...] });
 *
 * Runtime dependencies: @grpc/grpc-js and @grpc/proto-loader only (and the package's proto/
 * folder); nothing of the server is loaded. Nothing Infera-specific goes on the wire, so the same
 * client talks to Triton.
 */
export { InferenceClient } from './inference-client.js';
export { InferenceClientError, ErrorCode } from './client-error.js';
export type * from './client-types.js';
export { bfloat16BitsToNumber, float16BitsToNumber, numberToBfloat16Bits, numberToFloat16Bits } from '../core/float16.js';
