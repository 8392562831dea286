/**
 * ModelInfer and ModelStreamInfer responses written once, straight into their gRPC frame.
 *
 * grpc-js (1.14) sends a response as handler.serialize(value) (protobufjs: one copy of every
 * output tensor into the encoded message) and then serializeMessage copies that message again
 * behind the 5-byte frame prefix: a 512 MiB output was held three times (the output, the encoded
 * message, the frame) before the first byte left. Here the response's head (every field but
 * raw_output_contents, small) is encoded by protobufjs, and the frame is allocated once at its
 * final size: prefix, head, then each raw_output_contents entry's tag, length and bytes, copied
 * once. The bytes are those protobufjs writes (fields in number order; raw_output_contents is the
 * last field of ModelInferResponse, infer_response of ModelStreamInferResponse), which the unit
 * test checks against protobufjs's own encoding.
 *
 * As for bounded-inflate.ts, the hook is a replacement of grpc-js's serializeMessage on its
 * prototype (grpc-js-internals.ts), scoped: it acts only for handlers whose serializer carries a
 * FRAMED marker (set by withFramedResponses on Infera's two inference methods); every other
 * call, and a marked serializer given a response without raw outputs, keeps grpc-js's path.
 * grpc-js's checks after serializeMessage (the send size limit, from `frame.length - 5`) still run.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { ModelInferResponse } from '../../generated/inference/ModelInferResponse.js';
import type { ModelStreamInferResponse } from '../../generated/inference/ModelStreamInferResponse.js';
import { serverCallPrototype } from './grpc-js-internals.js';

const FRAMED: unique symbol = Symbol('framed serializer');
type Serialize = (value: unknown) => Buffer;
/** A serializer that can also write the whole frame (prefix included) of a value. */
type FramedSerialize = Serialize & { readonly [FRAMED]: (value: unknown) => Buffer };

/** ModelInferResponse.raw_output_contents = 6, length-delimited. */
const RAW_OUTPUT_TAG = (6 << 3) | 2;
/** ModelStreamInferResponse.infer_response = 2, length-delimited. */
const INFER_RESPONSE_TAG = (2 << 3) | 2;
const PREFIX_BYTES = 5;

let installed = false;

/** Replaces grpc-js's server-side serializeMessage (once per process). */
export function installFramedResponses(): void {
  if (installed) return;
  const proto = serverCallPrototype(['serializeMessage', 'sendMessage'], 'src/frontends/grpc/framed-responses.ts');
  const grpcSerialize = proto['serializeMessage'] as (this: { handler?: { serialize?: unknown } }, value: unknown) => Buffer;
  proto['serializeMessage'] = function (this: { handler?: { serialize?: unknown } }, value: unknown): Buffer {
    const s = this.handler?.serialize;
    return typeof s === 'function' && FRAMED in s ? (s as FramedSerialize)[FRAMED](value) : grpcSerialize.call(this, value);
  };
  installed = true;
}

/** `def` with ModelInfer's and ModelStreamInfer's responseSerialize marked to write their frame directly. */
export function withFramedResponses<D extends ServiceDefinition>(def: D): D {
  const infer = def['ModelInfer'];
  const stream = def['ModelStreamInfer'];
  if (infer === undefined || stream === undefined) return def;
  const encodeInfer = infer.responseSerialize as Serialize;
  const encodeStream = stream.responseSerialize as Serialize;
  return {
    ...def,
    ModelInfer: { ...infer, responseSerialize: mark(encodeInfer, (v) => inferFrame(v as ModelInferResponse, encodeInfer)) },
    ModelStreamInfer: { ...stream, responseSerialize: mark(encodeStream, (v) => streamFrame(v as ModelStreamInferResponse, encodeStream, encodeInfer)) },
  };
}

function mark(serialize: Serialize, framed: (value: unknown) => Buffer): FramedSerialize {
  const s: Serialize = (v) => serialize(v);
  return Object.assign(s, { [FRAMED]: framed });
}

/** The frame of a ModelInferResponse. */
export function inferFrame(r: ModelInferResponse, encode: Serialize): Buffer {
  const raws = rawOutputs(r);
  if (raws === undefined) return frameOf(encode(r));
  const head = encode({ ...r, raw_output_contents: [] });
  const size = inferSize(head, raws);
  const out = allocFrame(size);
  writeInfer(out, PREFIX_BYTES, head, raws);
  return out;
}

/** The frame of a ModelStreamInferResponse: error_message (when set), then infer_response. */
export function streamFrame(m: ModelStreamInferResponse, encodeStream: Serialize, encodeInfer: Serialize): Buffer {
  const inner = m.infer_response;
  const raws = inner === undefined || inner === null ? undefined : rawOutputs(inner);
  if (inner === undefined || inner === null || raws === undefined) return frameOf(encodeStream(m));
  const first = encodeStream({ ...m, infer_response: undefined });
  const head = encodeInfer({ ...inner, raw_output_contents: [] });
  const innerSize = inferSize(head, raws);
  const out = allocFrame(first.length + 1 + varintLength(innerSize) + innerSize);
  out.set(first, PREFIX_BYTES);
  let at = PREFIX_BYTES + first.length;
  out[at++] = INFER_RESPONSE_TAG;
  at = writeVarint(out, at, innerSize);
  writeInfer(out, at, head, raws);
  return out;
}

/** The raw outputs when there are any and all are bytes (a base64 string takes protobufjs's path). */
function rawOutputs(r: ModelInferResponse): Uint8Array[] | undefined {
  const raws = r.raw_output_contents ?? [];
  return raws.length === 0 || raws.some((b) => typeof b === 'string') ? undefined : (raws as Uint8Array[]);
}

function inferSize(head: Uint8Array, raws: readonly Uint8Array[]): number {
  let n = head.length;
  for (const b of raws) n += 1 + varintLength(b.length) + b.length;
  return n;
}

function writeInfer(out: Buffer, at: number, head: Uint8Array, raws: readonly Uint8Array[]): void {
  out.set(head, at);
  at += head.length;
  for (const b of raws) {
    out[at++] = RAW_OUTPUT_TAG;
    at = writeVarint(out, at, b.length);
    out.set(b, at);
    at += b.length;
  }
}

function allocFrame(size: number): Buffer {
  if (size > 0xffffffff) throw new RangeError(`response of ${size} bytes does not fit a gRPC frame`);
  const out = Buffer.allocUnsafe(PREFIX_BYTES + size);
  out[0] = 0; // not compressed
  out.writeUInt32BE(size, 1);
  return out;
}

function frameOf(message: Buffer): Buffer {
  const out = allocFrame(message.length);
  message.copy(out, PREFIX_BYTES);
  return out;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}
