/**
 * GPU discovery, the one place that knows how: NVIDIA GPUs as `nvidia-smi` lists them, renumbered
 * the way CUDA numbers them for this process (CUDA_VISIBLE_DEVICES), because CUDA device ids are
 * what a model's `instance_group { gpus: [..] }` names and what the execution providers take.
 *
 * An absent, failing, slow or unintelligible nvidia-smi means "no GPUs" plus a reason; discovery
 * never throws, so a machine without a GPU serves KIND_AUTO models on the CPU.
 *
 * Ordering caveat: nvidia-smi lists GPUs in PCI bus order; CUDA does too only with
 * CUDA_DEVICE_ORDER=PCI_BUS_ID (its default puts the fastest first). On machines whose GPUs
 * differ, set CUDA_DEVICE_ORDER=PCI_BUS_ID so both agree (Triton's documentation says the same).
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { ErrorCode } from '../../errors/error-codes.js';
import { InferenceError } from '../../errors/inference-error.js';

/** One GPU as nvidia-smi reports it. */
export interface SmiGpu {
  /** nvidia-smi's index: position in PCI bus order among all GPUs of the machine. */
  smiIndex: number;
  uuid: string;
  name: string;
  memoryTotalBytes: number | undefined;
  memoryUsedBytes: number | undefined;
  /** 0–1; undefined where nvidia-smi says [N/A] or [Not Supported]. */
  utilization: number | undefined;
}

/** A GPU this process can use. */
export interface GpuDevice extends SmiGpu {
  /** CUDA device id in this process (0-based, after CUDA_VISIBLE_DEVICES). */
  id: number;
}

export interface GpuInventory {
  devices: readonly GpuDevice[];
  /** Why `devices` is empty (empty string when it is not): shown in KIND_GPU load failures. */
  reason: string;
}

export interface GpuDiscoveryOptions {
  /** nvidia-smi command or path; '' switches discovery off. */
  nvidiaSmi: string;
  /** The process's CUDA_VISIBLE_DEVICES; undefined when unset. */
  cudaVisibleDevices?: string | undefined;
  /** Default 5000 ms: a wedged driver must not hang startup. */
  timeoutMs?: number;
}

export const NVIDIA_SMI_ARGS: readonly string[] = Object.freeze([
  '--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu',
  '--format=csv,noheader,nounits',
]);
export const DEFAULT_NVIDIA_SMI_TIMEOUT_MS = 5000;
const MIB = 1024 * 1024;
const FIELD_COUNT = 6;
/** nvidia-smi's spellings of "no value" in csv output. */
const NOT_AVAILABLE = /^\[(N\/A|Not Supported|Unknown Error|Insufficient Permissions|GPU is lost)\]$/i;

function parseError(line: number, column: number, message: string): InferenceError {
  return new InferenceError(ErrorCode.INTERNAL, `nvidia-smi output line ${line}, column ${column}: ${message}`);
}

interface Field {
  text: string;
  column: number;
}

/** Splits a csv line into trimmed fields, remembering where each starts (1-based). */
function splitFields(line: string): Field[] {
  const out: Field[] = [];
  let start = 0;
  for (const part of line.split(',')) {
    const lead = part.length - part.trimStart().length;
    out.push({ text: part.trim(), column: start + lead + 1 });
    start += part.length + 1;
  }
  return out;
}

/** A GPU name may contain commas: the fields after index and uuid and before the last 3 are the name. */
function regroup(fields: Field[]): Field[] {
  if (fields.length <= FIELD_COUNT) return fields;
  const nameEnd = fields.length - 3;
  const name = { text: fields.slice(2, nameEnd).map((f) => f.text).join(', '), column: fields[2]!.column };
  return [fields[0]!, fields[1]!, name, ...fields.slice(nameEnd)];
}

function optionalNumber(f: Field, what: string, lineNo: number, max: number): number | undefined {
  if (NOT_AVAILABLE.test(f.text)) return undefined;
  const value = /^\d+(\.\d+)?$/.test(f.text) ? Number(f.text) : Number.NaN;
  if (!(value >= 0 && value <= max)) throw parseError(lineNo, f.column, `${what} '${f.text}' is not a number in [0, ${max}]`);
  return value;
}

function parseLine(line: string, lineNo: number): SmiGpu {
  const fields = regroup(splitFields(line));
  if (fields.length !== FIELD_COUNT) {
    throw parseError(lineNo, 1, `expected ${FIELD_COUNT} comma-separated fields (index, uuid, name, memory.total, memory.used, utilization.gpu), got ${fields.length}`);
  }
  const [index, uuid, name, total, used, util] = fields as [Field, Field, Field, Field, Field, Field];
  if (!/^\d{1,4}$/.test(index.text)) throw parseError(lineNo, index.column, `index '${index.text}' is not a non-negative integer`);
  if (!/^\S+$/.test(uuid.text)) throw parseError(lineNo, uuid.column, `uuid '${uuid.text}' is empty or contains spaces`);
  if (name.text === '') throw parseError(lineNo, name.column, 'name is empty');
  const totalMib = optionalNumber(total, 'memory.total', lineNo, Number.MAX_SAFE_INTEGER / MIB);
  const usedMib = optionalNumber(used, 'memory.used', lineNo, Number.MAX_SAFE_INTEGER / MIB);
  const percent = optionalNumber(util, 'utilization.gpu', lineNo, 100);
  return {
    smiIndex: Number(index.text), uuid: uuid.text, name: name.text,
    memoryTotalBytes: totalMib === undefined ? undefined : Math.round(totalMib * MIB),
    memoryUsedBytes: usedMib === undefined ? undefined : Math.round(usedMib * MIB),
    utilization: percent === undefined ? undefined : percent / 100,
  };
}

/**
 * Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu
 * --format=csv,noheader,nounits`. Blank lines are skipped; anything else that is not a GPU line
 * throws INTERNAL naming the line and column. Duplicate indexes or uuids are refused too.
 */
export function parseNvidiaSmiCsv(text: string): SmiGpu[] {
  const gpus: SmiGpu[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const gpu = parseLine(line, i + 1);
    if (gpus.some((g) => g.smiIndex === gpu.smiIndex || g.uuid === gpu.uuid)) {
      throw parseError(i + 1, 1, `GPU ${gpu.smiIndex} (${gpu.uuid}) is listed twice`);
    }
    gpus.push(gpu);
  });
  return gpus;
}

function matchVisible(entry: string, gpus: readonly SmiGpu[]): SmiGpu | undefined {
  if (/^\d+$/.test(entry)) return gpus.find((g) => g.smiIndex === Number(entry));
  const byPrefix = gpus.filter((g) => g.uuid.startsWith(entry) || g.uuid.startsWith(`GPU-${entry}`));
  return byPrefix.length === 1 ? byPrefix[0] : undefined;
}

/**
 * The GPUs CUDA shows this process, numbered as CUDA numbers them. CUDA_VISIBLE_DEVICES lists
 * indexes or (prefixes of) UUIDs; as in CUDA, the list stops at the first entry that matches no
 * GPU (or repeats one), and an empty value hides every GPU.
 */
export function visibleDevices(gpus: readonly SmiGpu[], cudaVisibleDevices: string | undefined): GpuDevice[] {
  if (cudaVisibleDevices === undefined) return gpus.map((g, id) => ({ ...g, id }));
  const out: GpuDevice[] = [];
  for (const raw of cudaVisibleDevices.split(',')) {
    const gpu = matchVisible(raw.trim(), gpus);
    if (gpu === undefined || out.some((d) => d.uuid === gpu.uuid)) break;
    out.push({ ...gpu, id: out.length });
  }
  return out;
}

function runFailure(command: string, err: ExecFileException, stderr: string, timeoutMs: number): InferenceError {
  if (err.code === 'ENOENT') return new InferenceError(ErrorCode.UNAVAILABLE, `${command} was not found (no NVIDIA driver tools on this machine)`);
  if (err.killed === true || err.signal === 'SIGTERM') {
    return new InferenceError(ErrorCode.UNAVAILABLE, `${command} did not answer within ${timeoutMs} ms`);
  }
  const detail = stderr.trim().split('\n')[0] || err.message;
  return new InferenceError(ErrorCode.UNAVAILABLE, `${command} failed (${typeof err.code === 'number' ? `exit code ${err.code}` : String(err.code ?? err.signal)}): ${detail}`);
}

/** Runs nvidia-smi once and parses its answer. Rejects with UNAVAILABLE or INTERNAL (garbage) and a reason. */
export function queryNvidiaSmi(command: string, timeoutMs = DEFAULT_NVIDIA_SMI_TIMEOUT_MS): Promise<SmiGpu[]> {
  return new Promise((resolve, reject) => {
    execFile(command, [...NVIDIA_SMI_ARGS], { timeout: timeoutMs, maxBuffer: 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      if (err !== null) return reject(runFailure(command, err, String(stderr), timeoutMs));
      try {
        resolve(parseNvidiaSmiCsv(String(stdout)));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** The GPUs this process can use, or none with the reason. Never rejects. */
export async function discoverGpus(o: GpuDiscoveryOptions): Promise<GpuInventory> {
  if (o.nvidiaSmi === '') return { devices: [], reason: 'GPU discovery is switched off (empty --nvidia-smi)' };
  let all: SmiGpu[];
  try {
    all = await queryNvidiaSmi(o.nvidiaSmi, o.timeoutMs);
  } catch (e) {
    return { devices: [], reason: InferenceError.from(e).message };
  }
  if (all.length === 0) return { devices: [], reason: `${o.nvidiaSmi} lists no GPUs` };
  const devices = visibleDevices(all, o.cudaVisibleDevices);
  if (devices.length === 0) {
    return { devices, reason: `CUDA_VISIBLE_DEVICES='${o.cudaVisibleDevices ?? ''}' hides all ${all.length} GPU(s) nvidia-smi lists` };
  }
  return { devices, reason: '' };
}
