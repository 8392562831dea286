/**
 * The tensors a sequence model has beyond its config `input`/`output` lists: the control inputs
 * the sequence batcher synthesises (CONTROL_SEQUENCE_START/END/READY/CORRID) and the implicit
 * state inputs and outputs (`sequence_batching.state`). Backends add these to the tensors they
 * check against the model and feed, so a stateful model's extra inputs are accepted at load;
 * clients never see or send them (they are not in the request signature or ModelMetadata).
 *
 * Shapes are config dims without the batch dim: controls are [1] per batch element, as in Triton.
 */
import type { DataType as ConfigDataType, ModelConfig, ModelInput, ModelOutput, SequenceControl } from './model-config.js';

/** The config type of a control's tensor: its false/true list decides it, CORRID names it. */
export function controlDataType(c: SequenceControl): ConfigDataType {
  if (c.kind === 'CONTROL_SEQUENCE_CORRID') return c.data_type ?? 'TYPE_UINT64';
  if ((c.int32_false_true ?? []).length > 0) return 'TYPE_INT32';
  if ((c.fp32_false_true ?? []).length > 0) return 'TYPE_FP32';
  return 'TYPE_BOOL';
}

/** Control and state inputs, in config order (controls first). */
export function sequenceInputs(config: Readonly<ModelConfig>): ModelInput[] {
  const sb = config.sequence_batching;
  if (sb === undefined) return [];
  const controls = (sb.control_input ?? []).flatMap((ci) => {
    const c = ci.control?.[0];
    return c === undefined ? [] : [{ name: ci.name ?? '', data_type: controlDataType(c), dims: [1] }];
  });
  const states = (sb.state ?? []).map((s) => ({ name: s.input_name ?? '', data_type: s.data_type ?? 'TYPE_INVALID', dims: [...(s.dims ?? [])] }));
  return [...controls, ...states];
}

/** Implicit state outputs. */
export function sequenceOutputs(config: Readonly<ModelConfig>): ModelOutput[] {
  return (config.sequence_batching?.state ?? []).map((s) => ({ name: s.output_name ?? '', data_type: s.data_type ?? 'TYPE_INVALID', dims: [...(s.dims ?? [])] }));
}
