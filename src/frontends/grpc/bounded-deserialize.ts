/**
 * Every request message is scanned (wire-scan.ts) before protobufjs decodes it: the service
 * definitions handed to grpc-js get a requestDeserialize that scans first.
 *
 * A refusal cannot be thrown from a deserializer: grpc-js turns any throw there into INTERNAL
 * "Error deserializing request" and drops the reason. So the deserializer returns a Refused
 * marker instead, and handlers call `refusal(call.request)` (unary handlers do in
 * inference-handlers.ts; a streaming handler must do it for each message it reads) and answer the
 * InferenceError it returns. A decode that throws after a clean scan is refused the same way.
 *
 * A compressed message is also checked while it inflates (bounded-inflate.ts, through the
 * INFLATE_CHECK each bounded deserializer carries: its top-level wire form, and for
 * ModelInferRequest its raw entries' sizes); one refused there reaches the deserializer as its
 * Refused marker instead of bytes, and is answered the same way.
 */
import path from 'node:path';
import type { ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { errors, modelRef } from '../../errors/catalogue.js';
import { InferenceError } from '../../errors/inference-error.js';
import { PROTO_FILES, resolveProtoDir } from './proto-loader.js';
import { REQUEST_LIMITS, scanMessage, WireScanError, type ScanResult, type WireLimits } from './wire-scan.js';
import { WirePrefixScan } from './wire-prefix-scan.js';
import { RawSizePrecheck } from './raw-size-precheck.js';

const REFUSED: unique symbol = Symbol('refused request');

/** What a bounded deserializer returns in place of a message it refused. */
export interface Refused {
  readonly [REFUSED]: InferenceError;
}

const REFUSED_FRAMES = new WeakMap<Buffer, Refused>();

/**
 * A framed message standing for one refused while it arrived (message-reader.ts): grpc-js hands
 * this very Buffer to decompressMessage, whose replacement (bounded-inflate.ts) hands on the
 * Refused marker, so the handler answers the refusal.
 */
export function refusedFrame(r: Refused): Buffer {
  const frame = Buffer.alloc(5);
  REFUSED_FRAMES.set(frame, r);
  return frame;
}

/** The refusal a refusedFrame stands for, else undefined. */
export function frameRefusal(frame: Buffer): Refused | undefined {
  return REFUSED_FRAMES.get(frame);
}

/** The error to answer when `msg` is a Refused marker, else undefined. */
export function refusal(msg: unknown): InferenceError | undefined {
  return typeof msg === 'object' && msg !== null && REFUSED in msg ? (msg as Refused)[REFUSED] : undefined;
}

/**
 * What a bounded deserializer offers bounded-inflate.ts: a prefix scan to run on the inflated
 * bytes as they arrive, and the Refused marker to hand the deserializer in place of a message
 * refused part-way.
 */
export const INFLATE_CHECK: unique symbol = Symbol('inflate check');
export interface InflateCheck {
  scan(maxBytes: number): InflateScan;
  refuse(e: unknown): Refused;
}

/** Takes the inflated bytes in order; throws the refusal. */
export interface InflateScan {
  push(chunk: Buffer): void;
}

/**
 * Checks of a message type beyond its wire form, run while it inflates: ModelInferRequest's raw
 * entries against its inputs' sizes (raw-size-precheck.ts; ModelStreamInfer carries the same type).
 */
const PRECHECKS: Readonly<Record<string, (type: protobuf.Type, limits: WireLimits) => RawSizePrecheck>> = {
  'inference.ModelInferRequest': (type, limits) => new RawSizePrecheck(type, limits),
};

/** A deserializer that also takes a Refused marker (passed through) and carries its InflateCheck. */
export type BoundedDeserializer<T> = ((b: Buffer | Refused) => T | Refused) & { readonly [INFLATE_CHECK]: InflateCheck };

let root: protobuf.Root | undefined;

/** The schema the scan walks: the same proto files as proto-loader's, loaded once with protobufjs. */
function schema(): protobuf.Root {
  if (root !== undefined) return root;
  const dir = resolveProtoDir();
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => path.join(dir, path.basename(target));
  r.loadSync([...PROTO_FILES], { keepCase: true });
  r.resolveAll();
  return (root = r);
}

/** The protobufjs type the scans walk for `typeName` ('inference.ModelInferRequest'). */
export function messageType(typeName: string): protobuf.Type {
  return schema().lookupType(typeName);
}

function refuse(e: unknown, typeName: string, name: string | undefined): Refused {
  if (e instanceof InferenceError) return Object.freeze({ [REFUSED]: e }); // a precheck's own refusal, worded as the core's
  const where = name === undefined || name === '' ? '' : ` to ${modelRef(name)}`;
  const reason = e instanceof Error ? e.message : String(e);
  const err = e instanceof WireScanError && e.exhausted
    ? errors.resourceExhausted(`${typeName}${where} refused: ${reason}`)
    : errors.invalidArg(`malformed ${typeName}${where}: ${reason}`);
  return Object.freeze({ [REFUSED]: err });
}

/**
 * A deserializer for the proto message `typeName` ('inference.ModelInferRequest') that scans the
 * bytes within `limits` before calling `decode`, and returns Refused when either fails.
 * Reusable by any handler that deserializes requests itself.
 */
export function boundedDeserializer<T>(typeName: string, decode: (b: Buffer) => T, limits: WireLimits = REQUEST_LIMITS): BoundedDeserializer<T> {
  const type = messageType(typeName);
  const short = typeName.replace(/^.*\./, '');
  const deserialize = (b: Buffer | Refused): T | Refused => {
    if (!Buffer.isBuffer(b)) return b; // refused while inflating (bounded-inflate.ts)
    let scanned: ScanResult | undefined;
    try {
      scanned = scanMessage(b, type, limits);
      return decode(b);
    } catch (e) {
      return refuse(e, short, e instanceof WireScanError ? e.modelName : scanned?.name);
    }
  };
  const precheck = PRECHECKS[typeName];
  const check: InflateCheck = {
    scan: (maxBytes) => {
      const pre = precheck?.(type, limits);
      const scan = new WirePrefixScan(type, maxBytes, limits, pre?.observe);
      return pre === undefined ? scan : { push: (chunk) => { pre.keep(chunk); scan.push(chunk); } };
    },
    refuse: (e) => refuse(e, short, e instanceof WireScanError ? e.modelName : undefined),
  };
  return Object.assign(deserialize, { [INFLATE_CHECK]: check });
}

/** `def` with every method's requestDeserialize bounded (the definition itself is not changed). */
export function withBoundedRequests<D extends ServiceDefinition>(def: D, serviceName: string): D {
  const service = schema().lookupService(serviceName);
  const out: Record<string, unknown> = {};
  for (const [key, m] of Object.entries(def)) {
    const method = service.methods[m.path.slice(m.path.lastIndexOf('/') + 1)];
    if (method === undefined) throw new Error(`method ${m.path} is not in ${serviceName}`);
    const typeName = method.resolvedRequestType?.fullName.replace(/^\./, '') ?? method.requestType;
    out[key] = { ...m, requestDeserialize: boundedDeserializer(typeName, m.requestDeserialize) };
  }
  return out as D;
}
