/**
 * The one place that reads the shared-memory parameters of a request's tensors (PROTOCOL.md §6.5:
 * `shared_memory_region`, `shared_memory_offset` (default 0), `shared_memory_byte_size`), for both
 * front-ends, and binds them to registered regions for the request's lifetime.
 *
 *   bindRequestShm: lease every region named → read shm inputs into fresh buffers → check shm outputs
 *   (run the request as usual)
 *   writeOutputs:   copy each shm output into its region; the response carries no bytes for it
 *   release:        give every lease back (exactly once, success or failure)
 *
 * Requests that name no region pay one property probe per tensor (usesSharedMemory) and nothing else.
 * Rules (Triton's): an shm input carries no other data, and a fixed-size one's byte_size must
 * match its shape (checked before the copy, so a hostile byte_size costs nothing); an shm output cannot also ask for
 * classification; an output's bytes (BYTES outputs included, 4-byte length prefixes and all) must
 * fit its byte_size. Two outputs of one request may not write overlapping bytes of one region
 * (the result would depend on write order). Concurrent requests writing the same range are the
 * client's business, as in Triton: perf_analyzer reuses its output regions across requests.
 */
import type { InferenceRequest, InputTensor, OutputTensor } from '../inference-request.js';
import type { Parameters, ParameterValue } from '../tensor.js';
import { errors } from '../../errors/catalogue.js';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';
import { elementByteSize, elementCount } from '../datatype.js';
import type { ShmLease, SystemSharedMemoryRegistry } from './system-shm-registry.js';

export const SHM_REGION = 'shared_memory_region';
export const SHM_OFFSET = 'shared_memory_offset';
export const SHM_BYTE_SIZE = 'shared_memory_byte_size';

export interface ShmReference {
  readonly region: string;
  readonly offset: number;
  readonly byteSize: number;
}

const EMPTY = new Uint8Array(0);
/** Bytes one request may read from shared memory: a gRPC message's limit (Triton's INT32_MAX). */
export const MAX_SHM_INPUT_BYTES = 2_147_483_647;

/** A tensor's region reference, or undefined when it names none. `what` names the tensor for messages. */
export function shmReference(p: Parameters, what: string): ShmReference | undefined {
  const region = p[SHM_REGION];
  if (region === undefined) {
    for (const k of [SHM_OFFSET, SHM_BYTE_SIZE]) {
      if (p[k] !== undefined) throw errors.invalidArg(`${what}: '${k}' is set without '${SHM_REGION}'`);
    }
    return undefined;
  }
  if (typeof region !== 'string' || region === '') throw errors.invalidArg(`${what}: '${SHM_REGION}' must be a non-empty string`);
  const size = p[SHM_BYTE_SIZE];
  if (size === undefined) throw errors.invalidArg(`${what}: '${SHM_BYTE_SIZE}' must be given with '${SHM_REGION}'`);
  const offset = p[SHM_OFFSET];
  return {
    region,
    offset: offset === undefined ? 0 : nonNegative(offset, SHM_OFFSET, what),
    byteSize: nonNegative(size, SHM_BYTE_SIZE, what),
  };
}

function nonNegative(v: ParameterValue, key: string, what: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw errors.invalidArg(`${what}: '${key}' must be an integer >= 0, got ${String(v)}`);
  return n;
}

/** True when some input or requested output names a region. */
export function usesSharedMemory(req: InferenceRequest): boolean {
  for (const t of req.inputs) if (t.parameters[SHM_REGION] !== undefined) return true;
  for (const o of req.outputs) if (o.parameters[SHM_REGION] !== undefined) return true;
  return false;
}

/** One request's leases. */
export class RequestShm {
  readonly request: InferenceRequest;
  readonly #leases: ShmLease[];
  readonly #outputs: ReadonlyMap<string, ShmLease>;

  private constructor(request: InferenceRequest, leases: ShmLease[], outputs: Map<string, ShmLease>) {
    this.request = request;
    this.#leases = leases;
    this.#outputs = outputs;
  }

  /**
   * Leases the regions `req` names and returns the request with shm inputs' bytes filled in. On
   * any error every lease taken so far is released before the error propagates.
   */
  static async bind(registry: SystemSharedMemoryRegistry, req: InferenceRequest, ref: string): Promise<RequestShm> {
    const leases: ShmLease[] = [];
    try {
      const outputs = new Map<string, ShmLease>();
      for (const o of req.outputs) {
        const what = `output '${o.name}' of the request to ${ref}`;
        const r = shmReference(o.parameters, what);
        if (r === undefined) continue;
        if (o.parameters['classification'] !== undefined) throw errors.invalidArg(`${what}: a shared memory output cannot also use classification`);
        const lease = registry.acquire(r.region, r.offset, r.byteSize, what);
        leases.push(lease);
        checkNoOverlap(lease, outputs, what);
        outputs.set(o.name, lease);
      }
      const inputs: InputTensor[] = [];
      const budget = { left: MAX_SHM_INPUT_BYTES };
      for (const t of req.inputs) inputs.push(await readInput(registry, t, ref, leases, budget));
      return new RequestShm({ ...req, inputs }, leases, outputs);
    } catch (e) {
      for (const l of leases) l.release();
      throw e;
    }
  }

  /** Writes shm outputs into their regions; those come back with no bytes and their region in `parameters`. */
  async writeOutputs(outputs: OutputTensor[], ref: string): Promise<OutputTensor[]> {
    if (this.#outputs.size === 0) return outputs;
    const out: OutputTensor[] = [];
    for (const o of outputs) {
      const lease = this.#outputs.get(o.name);
      if (lease === undefined) {
        out.push(o);
        continue;
      }
      if (o.data.byteLength > lease.byteSize) {
        throw errors.invalidArg(
          `shared memory size specified with the request for output '${o.name}' of ${ref} (${lease.byteSize} bytes) should be at least ${o.data.byteLength} bytes to hold the results`,
        );
      }
      await lease.write(o.data);
      out.push({
        name: o.name, datatype: o.datatype, shape: o.shape, data: EMPTY,
        parameters: { [SHM_REGION]: lease.region, [SHM_OFFSET]: lease.offset, [SHM_BYTE_SIZE]: o.data.byteLength },
      });
    }
    return out;
  }

  release(): void {
    for (const l of this.#leases) l.release();
  }
}

async function readInput(registry: SystemSharedMemoryRegistry, t: InputTensor, ref: string, leases: ShmLease[], budget: { left: number }): Promise<InputTensor> {
  const what = `input '${t.name}' of the request to ${ref}`;
  const r = shmReference(t.parameters, what);
  if (r === undefined) return t;
  if (t.data.byteLength > 0) throw errors.invalidArg(`${what}: an input must set only one of its data or '${SHM_REGION}'`);
  // Bound the copy before making it: a fixed-size tensor's bytes follow from its shape, and no
  // request reads more than a gRPC message could carry.
  const size = elementByteSize(t.datatype);
  if (size > 0 && elementCount(t.shape) * size !== r.byteSize) {
    throw errors.invalidArg(`input byte size mismatch for input '${t.name}' for ${ref}. Expected ${elementCount(t.shape) * size}, got ${r.byteSize}`);
  }
  if (r.byteSize > budget.left) {
    throw new InferenceError(ErrorCode.RESOURCE_EXHAUSTED, `${what}: the shared memory inputs of one request may total at most ${MAX_SHM_INPUT_BYTES} bytes`);
  }
  budget.left -= r.byteSize;
  const lease = registry.acquire(r.region, r.offset, r.byteSize, what);
  leases.push(lease);
  return { ...t, data: await lease.read() };
}

function checkNoOverlap(lease: ShmLease, others: ReadonlyMap<string, ShmLease>, what: string): void {
  if (lease.byteSize === 0) return;
  for (const [name, o] of others) {
    if (o.region !== lease.region || o.byteSize === 0) continue;
    if (lease.offset < o.offset + o.byteSize && o.offset < lease.offset + lease.byteSize) {
      throw errors.invalidArg(
        `${what}: bytes [${lease.offset}, ${lease.offset + lease.byteSize}) of shared memory region '${lease.region}' overlap those of output '${name}' [${o.offset}, ${o.offset + o.byteSize})`,
      );
    }
  }
}
