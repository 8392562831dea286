/**
 * Registered system (POSIX) shared-memory regions: Triton's `system_shared_memory` extension, one
 * registry per server, used by both front-ends through InferenceService.
 *
 * A region is `offset`..`offset + byte_size` of the shm object `key` (as `shm_open` names it:
 * `/name`, which Linux keeps as the file `/dev/shm/name`). Register opens the object once and
 * keeps the descriptor; requests read inputs from it and write outputs into it with positioned
 * fs reads/writes (see "copy, not map" below).
 *
 * Invariants:
 * - Names are unique; a region's bounds were checked against the object's size at register time.
 * - A request holds a lease (ShmLease) on every region it uses from validation to its end.
 *   Unregistering removes the name at once (new requests get NOT_FOUND, the name can be registered
 *   again) but the descriptor closes only when the last lease is released, so a request that is
 *   running finishes safely: reads and writes go to the same object (Triton's
 *   "awaiting_unregister", without keeping the stale name visible).
 * - At most MAX_REGIONS regions: each holds a file descriptor.
 *
 * Copy, not map: Node has no mmap in core, and the npm mmap bindings (mmap-io, shmmap) are native
 * addons that need a compiler at install time. A positioned read from tmpfs is one kernel memcpy
 * into a fresh buffer, which is exactly what a tensor in the request costs after decoding, minus
 * the socket, the protobuf/JSON framing and the decoding itself; the fresh buffer is also what the
 * backend contract wants (the instance may transfer it to its worker thread). Reads and writes up
 * to SYNC_IO_MAX_BYTES run synchronously (cheaper than a thread-pool hop); larger ones go to
 * libuv's thread pool so a big tensor does not stall the event loop.
 */
import { closeSync, constants, fstatSync, openSync, read, readSync, write, writeSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode } from '../../errors/error-codes.js';
import { errors } from '../../errors/catalogue.js';
import { InferenceError } from '../../errors/inference-error.js';

const readAsync = promisify(read);
const writeAsync = promisify(write);

/** Region registrations held at once; each keeps one file descriptor open. */
export const MAX_REGIONS = 1024;
const SYNC_IO_MAX_BYTES = 1 << 20;

/** A registered region as the status APIs report it. */
export interface SystemShmRegion {
  readonly name: string;
  readonly key: string;
  readonly offset: number;
  readonly byteSize: number;
}

interface Region extends SystemShmRegion {
  readonly fd: number;
  leases: number;
  unregistered: boolean;
}

/** `byteSize` bytes at `offset` inside one registered region, held for one request. */
export interface ShmLease {
  readonly region: string;
  readonly offset: number;
  readonly byteSize: number;
  read(): Promise<Uint8Array>;
  /** Writes `data` (at most byteSize bytes) at the lease's offset. */
  write(data: Uint8Array): Promise<void>;
  release(): void;
}

export interface SystemShmOptions {
  /** --allow-client-shm: false makes register answer UNSUPPORTED (status and unregister still work). */
  allowClientShm: boolean;
  /** Where shm_open's objects live; /dev/shm on Linux. */
  shmDir: string;
}

export const DEFAULT_SHM_DIR = '/dev/shm';

export class SystemSharedMemoryRegistry {
  readonly #o: SystemShmOptions;
  readonly #regions = new Map<string, Region>();

  constructor(o: SystemShmOptions) {
    this.#o = o;
  }

  get enabled(): boolean {
    return this.#o.allowClientShm;
  }

  /** Regions registered now (a name being unregistered while in use is already gone). */
  get size(): number {
    return this.#regions.size;
  }

  /**
   * UNSUPPORTED while --allow-client-shm is off; ALREADY_EXISTS for a taken name; INVALID_ARG for a
   * malformed key, a key that does not exist, or bounds beyond the object.
   */
  register(name: string, key: string, offset: number, byteSize: number): void {
    if (!this.#o.allowClientShm) {
      throw errors.unsupported(
        `failed to register shared memory region '${name}': client shared memory is disabled on this server; start it with --allow-client-shm=true to enable it`,
      );
    }
    if (name === '') throw errors.invalidArg('failed to register shared memory region: the region name is empty');
    if (this.#regions.has(name)) throw new InferenceError(ErrorCode.ALREADY_EXISTS, `shared memory region '${name}' already in manager`);
    if (this.#regions.size >= MAX_REGIONS) {
      throw new InferenceError(ErrorCode.RESOURCE_EXHAUSTED, `failed to register shared memory region '${name}': ${MAX_REGIONS} regions are registered already`);
    }
    for (const [what, v] of [['offset', offset], ['byte_size', byteSize]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw errors.invalidArg(`failed to register shared memory region '${name}': ${what} must be an integer >= 0, got ${v}`);
    }
    const file = this.#objectPath(name, key);
    let fd: number;
    try {
      // O_NOFOLLOW as glibc's shm_open: a symlink planted in /dev/shm cannot redirect the writes.
      fd = openSync(file, constants.O_RDWR | constants.O_NOFOLLOW);
    } catch (e) {
      throw errors.invalidArg(`Unable to open shared memory region: '${key}' (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw errors.invalidArg(`Invalid shared memory region: '${key}' is not a shared memory object`);
      if (offset + byteSize > st.size) {
        throw errors.invalidArg(
          `failed to register shared memory region '${name}': invalid args: offset ${offset} + byte_size ${byteSize} exceeds the ${st.size} bytes of '${key}'`,
        );
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.#regions.set(name, { name, key, offset, byteSize, fd, leases: 0, unregistered: false });
  }

  /** All regions, or the one named (NOT_FOUND when it is not registered). */
  status(name = ''): SystemShmRegion[] {
    const pick = ({ name: n, key, offset, byteSize }: Region): SystemShmRegion => ({ name: n, key, offset, byteSize });
    if (name === '') return [...this.#regions.values()].map(pick);
    const r = this.#regions.get(name);
    if (r === undefined) throw new InferenceError(ErrorCode.NOT_FOUND, `Unable to find system shared memory region: '${name}'`);
    return [pick(r)];
  }

  /** One region, or every region when `name` is ''. Unknown names succeed (as Triton). */
  unregister(name = ''): void {
    const names = name === '' ? [...this.#regions.keys()] : [name];
    for (const n of names) {
      const r = this.#regions.get(n);
      if (r === undefined) continue;
      this.#regions.delete(n);
      r.unregistered = true;
      if (r.leases === 0) closeSync(r.fd);
    }
  }

  /** Whether `name` is a registered region (lets callers give CUDA-vs-system errors). */
  has(name: string): boolean {
    return this.#regions.has(name);
  }

  /**
   * Leases `byteSize` bytes at `offset` (relative to the region's start) of region `name` for one
   * request. NOT_FOUND for an unknown region; INVALID_ARG when the range leaves the region. `what`
   * names the tensor and model for messages. The caller must release() the lease exactly once.
   */
  acquire(name: string, offset: number, byteSize: number, what: string): ShmLease {
    const r = this.#regions.get(name);
    if (r === undefined) throw new InferenceError(ErrorCode.NOT_FOUND, `Unable to find shared memory region: '${name}' (${what})`);
    if (offset > r.byteSize || byteSize > r.byteSize - offset) {
      throw errors.invalidArg(
        `Invalid offset + byte size for shared memory region: '${name}' (${what}): offset ${offset} + byte_size ${byteSize} exceeds the region's ${r.byteSize} bytes`,
      );
    }
    r.leases++;
    const position = r.offset + offset;
    let released = false;
    return {
      region: name,
      offset,
      byteSize,
      read: () => readRange(r.fd, position, byteSize),
      write: (data) => writeRange(r.fd, position, data),
      release: () => {
        if (released) return;
        released = true;
        if (--r.leases === 0 && r.unregistered) closeSync(r.fd);
      },
    };
  }

  /** Closes every descriptor (server stop); leases still held keep working until released. */
  close(): void {
    this.unregister('');
  }

  /** `/name` → `<shmDir>/name`; anything that could leave shmDir is refused. */
  #objectPath(name: string, key: string): string {
    const base = key.replace(/^\/+/, '');
    if (base === '' || base.includes('/') || base === '.' || base === '..' || base.includes('\0')) {
      throw errors.invalidArg(`failed to register shared memory region '${name}': invalid shared memory key '${key}' (expected a name such as '/input_data')`);
    }
    return path.join(this.#o.shmDir, base);
  }
}

async function readRange(fd: number, position: number, byteSize: number): Promise<Uint8Array> {
  const buf = Buffer.allocUnsafeSlow(byteSize);
  let done = 0;
  while (done < byteSize) {
    const n = byteSize - done <= SYNC_IO_MAX_BYTES
      ? readSync(fd, buf, done, byteSize - done, position + done)
      : (await readAsync(fd, buf, done, byteSize - done, position + done)).bytesRead;
    if (n === 0) throw errors.invalidArg(`shared memory object ended after ${done} of ${byteSize} bytes (was it truncated after registration?)`);
    done += n;
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, byteSize);
}

async function writeRange(fd: number, position: number, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const left = data.byteLength - done;
    done += left <= SYNC_IO_MAX_BYTES
      ? writeSync(fd, data, done, left, position + done)
      : (await writeAsync(fd, data, done, left, position + done)).bytesWritten;
  }
}
