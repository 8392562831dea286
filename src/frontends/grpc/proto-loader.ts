/**
 * The one place that turns proto/*.proto into grpc-js service definitions.
 *
 * The objects grpc-js hands to handlers are shaped by PROTO_LOADER_OPTIONS, and the types in
 * src/generated/ were produced with the same options by scripts/gen-types.mjs (a unit test keeps
 * the two in step). Shapes a handler can rely on:
 * - Field names are the proto's snake_case names (`model_name`, `raw_input_contents`).
 * - Every 64-bit integer (int64 shapes, uint64 counters, int64_param, int64_contents) decodes to a
 *   JS number. Values beyond ±2^53 lose precision on decode; clients that need exact 64-bit
 *   tensor data send raw_input_contents (tritonclient does by default). When encoding, a decimal
 *   string is also accepted and is exact, e.g. for statistics counters past 2^53.
 * - Enums decode to their names ('TYPE_FP32', 'SERVING'); encoding accepts names or numbers.
 * - bytes decode to Buffers that are views into the received message (no copy).
 * - Omitted scalars decode to their proto3 defaults ('' / 0 / false / empty Buffer), repeated
 *   fields to [], maps to {}, and omitted message fields to null. Oneof members are exempt: only
 *   the member that was sent is present, and the virtual field named after the oneof
 *   (`parameter_choice`) holds its name, or is undefined when none was sent. Handlers must branch
 *   on that virtual field, never on `x.bool_param !== undefined` style probes of defaults.
 * - Known protobufjs limitation: keys of maps with 64-bit integer keys (only
 *   ModelDynamicBatching.priority_queue_policy) decode as 8-character binary strings, not numbers.
 *   The server only encodes that map, where string keys such as '1' work.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPackageRoot } from '../../util/package-root.js';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import type { ProtoGrpcType as InferenceProtoType } from '../../generated/grpc_service.js';
import type { ProtoGrpcType as HealthProtoType } from '../../generated/health.js';
import type { HealthDefinition } from '../../generated/grpc/health/v1/Health.js';
import type { GRPCInferenceServiceDefinition } from '../../generated/inference/GRPCInferenceService.js';

/** Root proto files, relative to the proto folder; model_config.proto is imported by the first. */
export const PROTO_FILES: readonly string[] = Object.freeze(['grpc_service.proto', 'health.proto']);

/**
 * Loader options. Must stay equal to GENERATOR_FLAGS in scripts/gen-types.mjs.
 * `defaults: true` is safe with `oneofs: true` on the protobufjs 7 that proto-loader uses: it
 * never fills in defaults for oneof members (asserted in test/unit/proto/proto-loader.test.ts).
 */
export const PROTO_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: true,
  longs: Number,
  enums: String,
  // `bytes` left unset: protobufjs then yields Node Buffers (the generator's default "Buffer").
  defaults: true,
  oneofs: true,
});

/** Everything the gRPC front-end needs to register its services. */
export interface InferenceProtos {
  /** Service definition for `inference.GRPCInferenceService`, for `server.addService`. */
  readonly inference: GRPCInferenceServiceDefinition;
  /** Service definition for `grpc.health.v1.Health`, for `server.addService`. */
  readonly health: HealthDefinition;
  /** The loaded package tree: message codecs and client constructors, keyed by proto package. */
  readonly grpcObject: InferenceProtoType & HealthProtoType;
  /** The raw proto-loader output, keyed by fully-qualified name ('inference.ModelInferRequest'). */
  readonly packageDefinition: PackageDefinition;
}

let cached: InferenceProtos | undefined;

/**
 * Loads the protos once per process and returns the same frozen result on every later call.
 * Throws (synchronously) when the proto folder is missing or a proto does not parse: a
 * deployment fault that should stop start-up.
 */
export function loadInferenceProtos(): InferenceProtos {
  if (cached !== undefined) return cached;
  const packageDefinition = loadSync([...PROTO_FILES], {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [resolveProtoDir()],
  });
  // loadPackageDefinition returns an untyped tree; its shape is exactly what gen-types described.
  const grpcObject = loadPackageDefinition(packageDefinition) as unknown as InferenceProtoType &
    HealthProtoType;
  cached = Object.freeze({
    inference: grpcObject.inference.GRPCInferenceService.service,
    health: grpcObject.grpc.health.v1.Health.service,
    grpcObject,
    packageDefinition,
  });
  return cached;
}

/**
 * Absolute path of the package's proto/ folder. Found by walking up from this module to the
 * nearest folder holding package.json, so it works both from src/ (ts sources) and from
 * dist/src/frontends/grpc/ (compiled code).
 */
export function resolveProtoDir(startDir: string = dirname(fileURLToPath(import.meta.url))): string {
  return join(findPackageRoot(startDir), 'proto');
}

