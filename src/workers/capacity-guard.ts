/**
 * The process's own limits, checked before a worker starts or a session loads, so that a load
 * that would not fit fails that model with a reason instead of taking the whole process down:
 *
 * - memory mappings: the kernel kills (or V8 aborts) a process that reaches vm.max_map_count.
 *   Every worker thread costs V8 heap spaces, a stack and its libuv/ORT threads' stacks; every
 *   ORT session costs a few more. Compared: lines of /proc/self/maps + the estimate for the load
 *   against max_map_count less a reserve.
 * - memory: MemAvailable from /proc/meminfo, and the cgroup v2 limit when the process runs in one
 *   (memory.max − memory.current), against the estimate for the load plus a reserve.
 *
 * Estimates (bench/density-bench.ts on Linux x64, Node 20, onnxruntime-node 1.30; README
 * "Density"): a host worker with ORT loaded ≈ 67 mappings and ≈ 42 MiB; a small ORT session ≈ 0.1
 * mappings and ≈ 0.1 MiB, rounded up here to leave room for intra-op threads (2 mappings each)
 * and bigger graphs, plus 3× the model file for its weights and arena. Where /proc is not there
 * (not Linux), the check passes.
 *
 * The counts are read at most every READ_INTERVAL_MS; loads placed in between add their
 * estimates, so a burst of parallel loads cannot all squeeze through the same stale reading.
 */
import { readFileSync } from 'node:fs';

export interface CapacityProbe {
  /** Mappings of this process now, undefined when unknown. */
  mapCount(): number | undefined;
  maxMapCount(): number | undefined;
  /** Bytes this process may still allocate, undefined when unknown. */
  availableBytes(): number | undefined;
}

export interface CapacityNeeds {
  newWorker: boolean;
  /** Model file size in bytes (0 when unknown). */
  modelBytes: number;
  /** Native threads the session starts (e.g. ORT intra-op pool threads); each has a stack and a guard page. */
  threads?: number;
}

export const WORKER_MAPPINGS = 70;
export const SESSION_MAPPINGS = 4;
export const WORKER_BYTES = 45 * 1024 * 1024;
export const SESSION_BYTES = 1024 * 1024;
/** Measured: a session with one ORT intra-op thread costs 3 mappings more than one without. */
export const THREAD_MAPPINGS = 3;
export const MODEL_BYTES_FACTOR = 3;
/** Mappings kept free for everything else the process does (sockets, buffers, GC). */
export const MAPPINGS_RESERVE = 1_000;
/** Memory kept free: 256 MiB. */
export const MEMORY_RESERVE_BYTES = 256 * 1024 * 1024;
const READ_INTERVAL_MS = 200;

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function countLines(file: string): number | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return undefined;
  }
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

function cgroupAvailable(): number | undefined {
  const max = readText('/sys/fs/cgroup/memory.max')?.trim();
  const current = Number(readText('/sys/fs/cgroup/memory.current')?.trim());
  if (max === undefined || max === 'max' || !Number.isFinite(current)) return undefined;
  const limit = Number(max);
  return Number.isFinite(limit) ? Math.max(0, limit - current) : undefined;
}

/** The Linux /proc and cgroup readings of this process. */
export const procProbe: CapacityProbe = {
  mapCount: () => countLines('/proc/self/maps'),
  maxMapCount: () => {
    const n = Number(readText('/proc/sys/vm/max_map_count')?.trim());
    return Number.isFinite(n) && n > 0 ? n : undefined;
  },
  availableBytes: () => {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readText('/proc/meminfo') ?? '');
    const host = m === null ? undefined : Number(m[1]) * 1024;
    const cg = cgroupAvailable();
    if (host === undefined) return cg;
    return cg === undefined ? host : Math.min(host, cg);
  },
};

const MiB = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;

export class CapacityGuard {
  readonly #probe: CapacityProbe;
  readonly #maxMaps: number | undefined;
  #readAtMs = Number.NEGATIVE_INFINITY;
  #maps: number | undefined;
  #bytes: number | undefined;

  constructor(probe: CapacityProbe = procProbe) {
    this.#probe = probe;
    this.#maxMaps = probe.maxMapCount();
  }

  /** Why a load with `needs` would not fit, or undefined when it fits (and is counted in). */
  check(needs: CapacityNeeds): string | undefined {
    this.#refresh();
    const maps = (needs.newWorker ? WORKER_MAPPINGS : 0) + SESSION_MAPPINGS + THREAD_MAPPINGS * (needs.threads ?? 0);
    const bytes = (needs.newWorker ? WORKER_BYTES : 0) + SESSION_BYTES + MODEL_BYTES_FACTOR * needs.modelBytes;
    if (this.#maps !== undefined && this.#maxMaps !== undefined && this.#maps + maps > this.#maxMaps - MAPPINGS_RESERVE) {
      return `the process would exceed its memory mapping limit: ${this.#maps} mappings in use, about ${maps} more needed, `
        + `vm.max_map_count is ${this.#maxMaps} (${MAPPINGS_RESERVE} kept in reserve); raise vm.max_map_count or load fewer models`;
    }
    if (this.#bytes !== undefined && bytes > this.#bytes - MEMORY_RESERVE_BYTES) {
      return `not enough memory: loading needs about ${MiB(bytes)}, ${MiB(this.#bytes)} available (${MiB(MEMORY_RESERVE_BYTES)} kept in reserve)`;
    }
    if (this.#maps !== undefined) this.#maps += maps;
    if (this.#bytes !== undefined) this.#bytes -= bytes;
    return undefined;
  }

  #refresh(): void {
    const now = Date.now();
    if (now - this.#readAtMs < READ_INTERVAL_MS) return;
    this.#readAtMs = now;
    this.#maps = this.#probe.mapCount();
    this.#bytes = this.#probe.availableBytes();
  }
}
