/**
 * Request builders for the sequence models (INT32 INPUT [1, 1]) and a handle on a model's
 * sequence batcher for leak checks.
 */
import type { ModelInferRequest } from '../../src/generated/inference/ModelInferRequest.js';
import type { InferParameter } from '../../src/generated/inference/InferParameter.js';
import type { InferenceServer } from '../../src/server.js';
import { SequenceBatcher, type SequenceCounts } from '../../src/scheduler/sequence-batcher.js';
import { int32 } from './stream-client.js';

export interface SeqFlags {
  start?: boolean;
  end?: boolean;
}

export function sequenceParameters(id: number | string | undefined, f: SeqFlags = {}): Record<string, InferParameter> {
  const p: Record<string, InferParameter> = {};
  if (id !== undefined) p['sequence_id'] = typeof id === 'string' ? { string_param: id } : { int64_param: id };
  if (f.start !== undefined) p['sequence_start'] = { bool_param: f.start };
  if (f.end !== undefined) p['sequence_end'] = { bool_param: f.end };
  return p;
}

export function seqRequest(model: string, id: number | string | undefined, value: number, f: SeqFlags = {}, reqId = ''): ModelInferRequest {
  return {
    id: reqId, model_name: model,
    inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1] }],
    raw_input_contents: [int32([value])],
    parameters: sequenceParameters(id, f),
  };
}

/** The live sequence batcher of `model` version 1. */
export function sequenceBatcher(server: InferenceServer, model: string): SequenceBatcher {
  const s = server.registry.get(model)?.versions.get(1)?.scheduler;
  if (!(s instanceof SequenceBatcher)) throw new Error(`model '${model}' has no sequence batcher`);
  return s;
}

export const NOTHING_HELD: SequenceCounts = Object.freeze({ live: 0, backlog: 0, slotsInUse: 0, statesHeld: 0, queued: 0, executing: 0 });
