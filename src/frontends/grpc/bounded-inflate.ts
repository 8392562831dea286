/**
 * Inflating a gzip- or deflate-compressed gRPC request, checked as it inflates.
 *
 * grpc-js (1.14) inflates a compressed message in BaseServerInterceptingCall.decompressMessage:
 * a zlib stream with 16 KiB output chunks (one main-thread callback each, 65,536 for 1 GiB), then
 * one Buffer.concat of the whole message, up to grpc.max_receive_message_length (2 GiB − 1 by
 * default, Triton's), and only then the deserializer, where the wire scan refuses a 1 GiB bomb of
 * zeros from its first byte. That cost every other client 12–22 s and 2 GB.
 *
 * Why an override of that one method (and not a server interceptor, a lower size limit or a
 * fork): grpc-js offers no hook between framing and deserialize (interceptors see the message
 * after it is deserialized), a lower default limit would break Triton's 2 GiB contract, and a fork
 * of grpc-js is a dependency to maintain. So installBoundedInflate() replaces decompressMessage on
 * grpc-js's prototype, once, after checking it is there, and the replacement is scoped: it acts
 * only for calls whose handler's deserializer carries an INFLATE_CHECK (bounded-deserialize.ts,
 * i.e. Infera's own services) and only for gzip and deflate; everything else (identity, an
 * unknown encoding → UNIMPLEMENTED, another grpc-js server in the process) goes to the original.
 * grpc-js-internals.ts finds the prototype; its test pins the grpc-js version and fails loudly
 * when these internals move.
 *
 * What the replacement does, differently from grpc-js:
 * - output chunks of up to 1 MiB (sized from the compressed length, so a small message does not
 *   hold a 1 MiB buffer), each fed to a WirePrefixScan before it is kept: a message the scan
 *   refuses (field 0, too many entries, a tensor declaring more than the size limit) stops
 *   inflating at once and reaches the deserializer as a Refused marker, answered like any other
 *   scan refusal (INVALID_ARGUMENT / RESOURCE_EXHAUSTED naming the model; on ModelStreamInfer, one
 *   error on the stream, which goes on);
 * - for gzip, the trailer's ISIZE (the inflated size mod 2^32; a message is < 2^31) sizes one
 *   buffer the chunks are copied into as they come, so a big message is never held twice for a
 *   final concat; when ISIZE is implausible or wrong (several gzip members) it falls back to concat.
 * What stays grpc-js's: corrupt data → INTERNAL "Failed to decompress message", inflating past
 * the limit → RESOURCE_EXHAUSTED "Received message that decompresses to a size larger than N",
 * `deflate` is zlib-wrapped deflate (RFC 1950), as grpc-js and gRPC define it.
 */
import { status } from '@grpc/grpc-js';
import { ChunkAssembly } from '../../util/chunk-assembly.js';
import { gzipSizeHint, inflateInChunks } from '../../util/zlib-inflate.js';
import { frameRefusal, INFLATE_CHECK, type InflateCheck, type Refused } from './bounded-deserialize.js';
import { serverCallPrototype } from './grpc-js-internals.js';


/** The fields of grpc-js's BaseServerInterceptingCall the replacement reads. */
interface ServerCall {
  readonly handler?: { readonly deserialize?: unknown };
  readonly maxReceiveMessageSize: number;
}
type Decompress = (this: ServerCall, message: Buffer, encoding: string) => Buffer | Promise<Buffer | Refused>;

let installed = false;

/** Replaces grpc-js's server-side decompressMessage (once per process). */
export function installBoundedInflate(): void {
  if (installed) return;
  const proto = serverCallPrototype(['decompressMessage', 'decompressAndMaybePush'], 'src/frontends/grpc/bounded-inflate.ts');
  const grpcDecompress = proto['decompressMessage'] as Decompress;
  const replacement: Decompress = function (message, encoding) {
    const early = frameRefusal(message); // refused while it arrived (message-reader.ts)
    if (early !== undefined) return Promise.resolve(early);
    const check = inflateCheckOf(this.handler?.deserialize);
    if (check === undefined || (encoding !== 'gzip' && encoding !== 'deflate')) return grpcDecompress.call(this, message, encoding);
    const max = this.maxReceiveMessageSize === -1 ? 2 ** 31 - 1 : this.maxReceiveMessageSize;
    return inflateChecked(message.subarray(5), encoding, max, check);
  };
  proto['decompressMessage'] = replacement;
  installed = true;
}

function inflateCheckOf(deserialize: unknown): InflateCheck | undefined {
  return typeof deserialize === 'function' && INFLATE_CHECK in deserialize ? (deserialize as { [INFLATE_CHECK]: InflateCheck })[INFLATE_CHECK] : undefined;
}

/**
 * Inflates `compressed` (the message without its 5-byte gRPC prefix), scanning each chunk. Resolves
 * with the message, or with a Refused marker; rejects with a grpc-js status object as grpc-js does.
 */
export function inflateChecked(compressed: Buffer, encoding: 'gzip' | 'deflate', maxBytes: number, check: InflateCheck): Promise<Buffer | Refused> {
  const scan = check.scan(maxBytes);
  // Allocated with the first chunk, which has passed the scan: a refused bomb never costs its ISIZE.
  const out = new ChunkAssembly(encoding === 'gzip' ? gzipSizeHint(compressed, maxBytes) : undefined, 0, true);
  return inflateInChunks<Buffer | Refused>(compressed, encoding === 'gzip' ? 'gzip' : 'zlib', {
    take: (chunk) => {
      try {
        scan.push(chunk);
      } catch (e) {
        return check.refuse(e);
      }
      if (out.length + chunk.length > maxBytes) {
        throw { code: status.RESOURCE_EXHAUSTED, details: `Received message that decompresses to a size larger than ${maxBytes}` };
      }
      out.push(chunk);
      return undefined;
    },
    end: () => out.finish(),
    failed: () => ({ code: status.INTERNAL, details: 'Failed to decompress message' }),
  });
}
