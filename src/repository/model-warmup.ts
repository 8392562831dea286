/**
 * Triton's `model_warmup`: synthetic requests run on every instance before a version is READY
 * (PROTOCOL.md §3.3 ModelWarmup). Data is zeros, random bytes, or a raw file from
 * `<model>/warmup/<file>` (BYTES elements 4-byte length-prefixed, as Triton's warmup files).
 */
import { randomFillSync } from 'node:crypto';
import type { ModelInstance } from '../backends/backend.js';
import type { ModelConfig, ModelWarmup } from '../config/model-config.js';
import type { Tensor } from '../core/tensor.js';
import { configTypeToWire, elementByteSize, elementCount } from '../core/datatype.js';
import { encodeBytesElements } from '../core/bytes-tensor.js';
import { errors } from '../errors/catalogue.js';
import { readModelBytes, type ModelFolders } from './model-paths.js';

export async function runWarmup(config: Readonly<ModelConfig>, instances: readonly ModelInstance[], model: ModelFolders): Promise<void> {
  for (const w of config.model_warmup ?? []) {
    const count = Math.max(1, w.count ?? 1);
    for (const instance of instances) {
      for (let i = 0; i < count; i++) {
        const batchSize = Math.max(1, w.batch_size ?? 1);
        const inputs = await warmupInputs(config, w, batchSize, model);
        const outputNames = (config.output ?? []).map((o) => o.name ?? '');
        try {
          await instance.execute({ batchSize, inputs, outputNames });
        } catch (e) {
          throw errors.invalidArg(`warmup '${w.name ?? ''}' of model '${config.name ?? ''}' failed on instance ${instance.name}: ${(e as Error).message}`);
        }
      }
    }
  }
}

async function warmupInputs(config: Readonly<ModelConfig>, w: ModelWarmup, batch: number, model: ModelFolders): Promise<Tensor[]> {
  const tensors: Tensor[] = [];
  for (const [name, spec] of Object.entries(w.inputs ?? {})) {
    const datatype = configTypeToWire(spec.data_type);
    if (datatype === undefined) throw errors.invalidArg(`warmup '${w.name ?? ''}' input '${name}' has invalid data_type`);
    const dims = spec.dims ?? [];
    const shape = (config.max_batch_size ?? 0) > 0 ? [batch, ...dims] : [...dims];
    const n = elementCount(shape);
    let data: Uint8Array;
    if (spec.input_data_file !== undefined) {
      data = await readModelBytes(model, 'warmup', spec.input_data_file, `warmup file of warmup '${w.name ?? ''}'`);
    } else if (datatype === 'BYTES') {
      data = encodeBytesElements(Array.from({ length: n }, () => (spec.random_data === true ? Math.random().toString(36).slice(2, 8) : '')));
    } else {
      data = new Uint8Array(n * elementByteSize(datatype));
      if (spec.random_data === true) randomFillSync(data);
      if (spec.random_data === true && datatype === 'BOOL') for (let i = 0; i < data.length; i++) data[i]! &= 1;
    }
    tensors.push({ name, datatype, shape, data });
  }
  const order = (config.input ?? []).map((i) => i.name ?? '');
  return tensors.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
}
