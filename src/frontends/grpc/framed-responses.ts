/**
 * ModelInfer and ModelStreamInfer responses written to the HTTP/2 stream without copying their
 * output tensors.
 *
 * grpc-js (1.14) sends a response as handler.serialize(value) (protobufjs: one copy of every
 * output tensor into the encoded message), then serializeMessage copies that message again behind
 * the 5-byte frame prefix, and writes the frame: a 512 MiB output was held three times (output,
 * encoded message, frame) before its first byte left, and the two copies (page faults on fresh
 * memory included) blocked the event loop for about a second on a loaded 2-core machine. Here the
 * response's head (every field but raw_output_contents, small) is encoded by protobufjs, and the
 * frame is written as parts, in order: prefix + head, then each raw_output_contents entry's tag and
 * length, then the entry's own bytes (the output buffer the worker handed over; node's HTTP/2
 * stream queues it without copying). The bytes on the wire are those protobufjs + grpc-js write
 * (fields in number order; raw_output_contents is the last field of ModelInferResponse,
 * infer_response of ModelStreamInferResponse), which the unit test checks.
 *
 * As for bounded-inflate.ts, the hook is a replacement of one grpc-js method on its prototype
 * (sendMessage; grpc-js-internals.ts), scoped: it acts only for handlers whose serializer carries
 * a FRAMED marker (set by withFramedResponses on Infera's two inference methods); every other call
 * keeps grpc-js's sendMessage. The replacement keeps grpc-js's steps and answers: the cancelled
 * check, INTERNAL "Error serializing response", RESOURCE_EXHAUSTED "Sent message larger than max",
 * headers before the first write, INTERNAL "Internal server error" on a failed write, the callback
 * after the last part is written.
 */
import { status, type ServiceDefinition } from '@grpc/grpc-js';
import type { ModelInferResponse } from '../../generated/inference/ModelInferResponse.js';
import type { ModelStreamInferResponse } from '../../generated/inference/ModelStreamInferResponse.js';
import { serverCallPrototype } from './grpc-js-internals.js';

const FRAMED: unique symbol = Symbol('framed serializer');
type Serialize = (value: unknown) => Buffer;
/** A serializer that can also cut a value's whole frame (prefix included) into parts to write in order. */
type FramedSerialize = Serialize & { readonly [FRAMED]: (value: unknown) => Uint8Array[] };

/** ModelInferResponse.raw_output_contents = 6, length-delimited. */
const RAW_OUTPUT_TAG = (6 << 3) | 2;
/** ModelStreamInferResponse.infer_response = 2, length-delimited. */
const INFER_RESPONSE_TAG = (2 << 3) | 2;
const PREFIX_BYTES = 5;

/** The fields and methods of grpc-js's BaseServerInterceptingCall the replacement uses. */
interface ServerCall {
  readonly handler?: { readonly serialize?: unknown };
  readonly maxSendMessageSize: number;
  readonly stream: { write(chunk: Uint8Array, cb?: (error?: Error | null) => void): boolean };
  readonly callEventTracker?: { addMessageSent(): void };
  checkCancelled(): boolean;
  maybeSendMetadata(): void;
  sendStatus(status: { code: number; details: string; metadata: null }): void;
}
type SendMessage = (this: ServerCall, message: unknown, callback: () => void) => void;

let installed = false;

/** Replaces grpc-js's server-side sendMessage (once per process). */
export function installFramedResponses(): void {
  if (installed) return;
  const proto = serverCallPrototype(['sendMessage', 'serializeMessage', 'checkCancelled', 'maybeSendMetadata', 'sendStatus'], 'src/frontends/grpc/framed-responses.ts');
  const grpcSend = proto['sendMessage'] as SendMessage;
  const replacement: SendMessage = function (message, callback) {
    const s = this.handler?.serialize;
    if (typeof s !== 'function' || !(FRAMED in s)) return grpcSend.call(this, message, callback);
    sendParts(this, (s as FramedSerialize)[FRAMED], message, callback);
  };
  proto['sendMessage'] = replacement;
  installed = true;
}

/** grpc-js's sendMessage, writing the frame's parts in order instead of one serialized copy. */
function sendParts(call: ServerCall, frame: (value: unknown) => Uint8Array[], message: unknown, callback: () => void): void {
  if (call.checkCancelled()) return;
  let parts: Uint8Array[];
  try {
    parts = frame(message);
  } catch {
    call.sendStatus({ code: status.INTERNAL, details: 'Error serializing response', metadata: null });
    return;
  }
  const length = parts.reduce((n, p) => n + p.length, 0);
  if (call.maxSendMessageSize !== -1 && length - PREFIX_BYTES > call.maxSendMessageSize) {
    call.sendStatus({ code: status.RESOURCE_EXHAUSTED, details: `Sent message larger than max (${length} vs. ${call.maxSendMessageSize})`, metadata: null });
    return;
  }
  call.maybeSendMetadata();
  for (let i = 0; i < parts.length - 1; i++) call.stream.write(parts[i]!);
  call.stream.write(parts[parts.length - 1]!, (error) => {
    if (error) {
      call.sendStatus({ code: status.INTERNAL, details: 'Internal server error', metadata: null });
      return;
    }
    call.callEventTracker?.addMessageSent();
    callback();
  });
}

/** `def` with ModelInfer's and ModelStreamInfer's responseSerialize marked to write their frame in parts. */
export function withFramedResponses<D extends ServiceDefinition>(def: D): D {
  const infer = def['ModelInfer'];
  const stream = def['ModelStreamInfer'];
  if (infer === undefined || stream === undefined) return def;
  const encodeInfer = infer.responseSerialize as Serialize;
  const encodeStream = stream.responseSerialize as Serialize;
  return {
    ...def,
    ModelInfer: { ...infer, responseSerialize: mark(encodeInfer, (v) => inferParts(v as ModelInferResponse, encodeInfer)) },
    ModelStreamInfer: { ...stream, responseSerialize: mark(encodeStream, (v) => streamParts(v as ModelStreamInferResponse, encodeStream, encodeInfer)) },
  };
}

function mark(serialize: Serialize, parts: (value: unknown) => Uint8Array[]): FramedSerialize {
  const s: Serialize = (v) => serialize(v);
  return Object.assign(s, { [FRAMED]: parts });
}

/**
 * The frame of a ModelInferResponse in parts: prefix and head (every field but raw outputs), then
 * each raw output's tag and length, then its bytes (the output's own view, not a copy).
 */
export function inferParts(r: ModelInferResponse, encode: Serialize): Uint8Array[] {
  const raws = rawOutputs(r);
  if (raws === undefined) return [frameOf(encode(r))];
  const head = encode({ ...r, raw_output_contents: [] });
  return [prefixed(head, inferSize(head, raws)), ...rawParts(raws)];
}

/** The frame of a ModelStreamInferResponse in parts: error_message (when set), then infer_response. */
export function streamParts(m: ModelStreamInferResponse, encodeStream: Serialize, encodeInfer: Serialize): Uint8Array[] {
  const inner = m.infer_response;
  const raws = inner === undefined || inner === null ? undefined : rawOutputs(inner);
  if (inner === undefined || inner === null || raws === undefined) return [frameOf(encodeStream(m))];
  const first = encodeStream({ ...m, infer_response: undefined });
  const head = encodeInfer({ ...inner, raw_output_contents: [] });
  const innerSize = inferSize(head, raws);
  const lead = Buffer.allocUnsafe(first.length + 1 + varintLength(innerSize) + head.length);
  first.copy(lead, 0);
  let at = first.length;
  lead[at++] = INFER_RESPONSE_TAG;
  at = writeVarint(lead, at, innerSize);
  head.copy(lead, at);
  return [prefixed(lead, lead.length - head.length + innerSize), ...rawParts(raws)];
}

/** The raw outputs when there are any and all are bytes (a base64 string takes protobufjs's path). */
function rawOutputs(r: ModelInferResponse): Uint8Array[] | undefined {
  const raws = r.raw_output_contents ?? [];
  return raws.length === 0 || raws.some((b) => typeof b === 'string') ? undefined : (raws as Uint8Array[]);
}

/** Each raw output as its tag and length, then its bytes (empty outputs add no part of their own). */
function rawParts(raws: readonly Uint8Array[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (const b of raws) {
    const tag = Buffer.allocUnsafe(1 + varintLength(b.length));
    tag[0] = RAW_OUTPUT_TAG;
    writeVarint(tag, 1, b.length);
    parts.push(tag);
    if (b.length > 0) parts.push(b);
  }
  return parts;
}

/** `head` behind the 5-byte prefix of a frame whose message is `size` bytes (head included). */
function prefixed(head: Buffer, size: number): Buffer {
  if (size > 0xffffffff) throw new RangeError(`response of ${size} bytes does not fit a gRPC frame`);
  const out = Buffer.allocUnsafe(PREFIX_BYTES + head.length);
  out[0] = 0; // not compressed
  out.writeUInt32BE(size, 1);
  head.copy(out, PREFIX_BYTES);
  return out;
}

function frameOf(message: Buffer): Buffer {
  return prefixed(message, message.length);
}

function inferSize(head: Uint8Array, raws: readonly Uint8Array[]): number {
  let n = head.length;
  for (const b of raws) n += 1 + varintLength(b.length) + b.length;
  return n;
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
