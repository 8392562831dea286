/**
 * Builds the step DAG of an ensemble (`ensemble_scheduling`, PROTOCOL.md §3.3) and checks it
 * against the configs of its composing models. Pure: the caller supplies those configs through
 * `lookup`, so the same rules serve the loader and unit tests.
 *
 * Every problem is reported, each naming the ensemble, the step (index and model) and the tensor,
 * so one load attempt shows the user everything to fix. Rules:
 * - every step names a loaded model (model_version -1 = latest; proto3's unset 0 means version 0),
 *   never the ensemble itself, and leaves the reserved model_namespace empty;
 * - input_map keys are inputs of the step's model and cover its required inputs; output_map keys
 *   are outputs of it;
 * - each ensemble tensor is produced once (by one step, or as an ensemble input); every tensor a
 *   step consumes is produced; every ensemble input is consumed; every ensemble output produced;
 * - the steps form no cycle;
 * - datatypes and shapes agree wherever two sides declare the same tensor (-1 matches any size);
 * - a batching ensemble only composes models whose max_batch_size is at least its own.
 */
import type { ModelConfig, ModelInput, ModelOutput } from '../config/model-config.js';
import { checkTensorAgreement, type TensorDeclaration } from './tensor-agreement.js';

/** One entry of input_map / output_map: the step model's tensor ↔ the ensemble tensor. */
export interface StepBinding {
  readonly modelTensor: string;
  readonly ensembleTensor: string;
}

export interface EnsembleStepNode {
  readonly index: number;
  readonly modelName: string;
  /** '' = the latest READY version (model_version -1), else the decimal version. */
  readonly modelVersion: string;
  readonly inputs: readonly StepBinding[];
  readonly outputs: readonly StepBinding[];
}

export interface EnsembleGraph {
  readonly name: string;
  readonly steps: readonly EnsembleStepNode[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Ensemble tensor → the step producing it (ensemble inputs have none). */
  readonly producer: ReadonlyMap<string, number>;
  /** Every step index, each after the producers of its inputs. */
  readonly order: readonly number[];
  /** Global bound on a step's in-flight requests (max_inflight_requests); 0 = none. */
  readonly maxInflightRequests: number;
}

/** What the graph needs to know about a composing model. */
export interface ComposingModel {
  readonly config: Readonly<ModelConfig>;
  /** READY versions, ascending. */
  readonly readyVersions: readonly number[];
  /** Why the model has no READY version (its state and reason), when it has none. */
  readonly reason: string;
}

export type ComposingLookup = (name: string) => ComposingModel | undefined;

export interface GraphBuild {
  /** Undefined when there are problems. */
  readonly graph: EnsembleGraph | undefined;
  readonly problems: readonly string[];
}

type Report = (message: string) => void;

export function stepLabel(step: { index: number; modelName: string }): string {
  return `step ${step.index} (model '${step.modelName}')`;
}

export function buildEnsembleGraph(config: Readonly<ModelConfig>, lookup: ComposingLookup): GraphBuild {
  const name = config.name ?? '';
  const problems: string[] = [];
  const report: Report = (m) => problems.push(`ensemble '${name}': ${m}`);
  const rawSteps = config.ensemble_scheduling?.step ?? [];
  if (rawSteps.length === 0) report('ensemble_scheduling must list at least one step');
  const steps = rawSteps.map((s, index): EnsembleStepNode => ({
    index,
    modelName: s.model_name ?? '',
    modelVersion: (s.model_version ?? 0) === -1 ? '' : String(s.model_version ?? 0),
    inputs: bindings(s.input_map),
    outputs: bindings(s.output_map),
  }));
  const inputs = (config.input ?? []).map((t) => t.name ?? '');
  const outputs = (config.output ?? []).map((t) => t.name ?? '');
  const composing = steps.map((s, i) => checkStepModel(name, s, rawSteps[i]!, lookup, report));
  steps.forEach((s, i) => {
    const c = composing[i];
    if (c !== undefined) checkStepMapping(s, c.config, report);
  });
  checkBatching(config, steps, composing, report);
  const producer = checkDataFlow(steps, inputs, outputs, report);
  const order = topologicalOrder(steps, producer, report);
  checkTensorAgreement(declarations(config, steps, composing), report);
  if (problems.length > 0) return { graph: undefined, problems };
  const graph: EnsembleGraph = {
    name, steps, inputs, outputs, producer, order,
    maxInflightRequests: config.ensemble_scheduling?.max_inflight_requests ?? 0,
  };
  return { graph, problems };
}

function bindings(map: Readonly<Record<string, string>> | undefined): StepBinding[] {
  return Object.entries(map ?? {}).map(([modelTensor, ensembleTensor]) => ({ modelTensor, ensembleTensor }));
}

/** The step's model as the lookup knows it, or undefined (with a problem reported) when unusable. */
function checkStepModel(
  ensemble: string,
  step: EnsembleStepNode,
  raw: { model_version?: number; model_namespace?: string },
  lookup: ComposingLookup,
  report: Report,
): ComposingModel | undefined {
  const label = stepLabel(step);
  if (step.modelName === '') {
    report(`step ${step.index} must specify 'model_name'`);
    return undefined;
  }
  if (raw.model_namespace) report(`${label} sets model_namespace '${raw.model_namespace}', which is reserved and must be empty`);
  if (step.inputs.length === 0) report(`${label} must map at least one input (input_map)`);
  if (step.outputs.length === 0) report(`${label} must map at least one output (output_map)`);
  if (step.modelName === ensemble) {
    report(`${label}: circular dependency, the ensemble cannot be one of its own steps`);
    return undefined;
  }
  const version = raw.model_version ?? 0;
  if (!Number.isSafeInteger(version) || version < -1) {
    report(`${label}: model_version must be -1 (latest) or a version number >= 0, got ${version}`);
    return undefined;
  }
  const model = lookup(step.modelName);
  if (model === undefined) {
    report(`${label}: depends on '${step.modelName}', which is not in the model repository`);
    return undefined;
  }
  if (model.readyVersions.length === 0) {
    report(`${label}: depends on '${step.modelName}', which has no ready version (${model.reason || 'not loaded'})`);
    return undefined;
  }
  if (version !== -1 && !model.readyVersions.includes(version)) {
    const hint = raw.model_version === undefined ? " (model_version is unset, which means 0: write -1 for 'latest')" : '';
    report(`${label}: depends on '${step.modelName}' whose required version ${version} is not loaded${hint}`);
    return undefined;
  }
  return model;
}

function checkStepMapping(step: EnsembleStepNode, config: Readonly<ModelConfig>, report: Report): void {
  const label = stepLabel(step);
  const modelInputs = config.input ?? [];
  const modelOutputs = config.output ?? [];
  const known = (list: readonly { name?: string }[]) => list.map((t) => `'${t.name ?? ''}'`).join(', ') || 'none';
  for (const b of step.inputs) {
    if (!modelInputs.some((t) => t.name === b.modelTensor)) {
      report(`${label}: input_map names '${b.modelTensor}', which is not an input of model '${step.modelName}' (inputs: ${known(modelInputs)})`);
    }
  }
  for (const t of modelInputs) {
    if (t.optional !== true && !step.inputs.some((b) => b.modelTensor === t.name)) {
      report(`${label}: required input '${t.name ?? ''}' of model '${step.modelName}' is not mapped in input_map`);
    }
  }
  for (const b of step.outputs) {
    if (!modelOutputs.some((t) => t.name === b.modelTensor)) {
      report(`${label}: output_map names '${b.modelTensor}', which is not an output of model '${step.modelName}' (outputs: ${known(modelOutputs)})`);
    }
  }
}

/** Triton's rule: a batching ensemble (max_batch_size N > 0) needs every step model to allow N. */
function checkBatching(
  config: Readonly<ModelConfig>,
  steps: readonly EnsembleStepNode[],
  composing: readonly (ComposingModel | undefined)[],
  report: Report,
): void {
  const own = config.max_batch_size ?? 0;
  if (own <= 0) return;
  steps.forEach((s, i) => {
    const theirs = composing[i]?.config.max_batch_size ?? 0;
    if (composing[i] !== undefined && theirs < own) {
      const allows = theirs === 0 ? 'does not batch (max_batch_size 0)' : `allows at most ${theirs}`;
      report(`max_batch_size ${own} is larger than ${stepLabel(s)} supports: the model ${allows}`);
    }
  });
}

/** Checks who produces and consumes each tensor; returns ensemble tensor → producing step. */
function checkDataFlow(
  steps: readonly EnsembleStepNode[],
  inputs: readonly string[],
  outputs: readonly string[],
  report: Report,
): Map<string, number> {
  const producer = new Map<string, number>();
  const ensembleInputs = new Set(inputs);
  for (const s of steps) {
    for (const b of s.outputs) {
      const first = producer.get(b.ensembleTensor);
      if (ensembleInputs.has(b.ensembleTensor)) {
        report(`${stepLabel(s)} writes '${b.ensembleTensor}', which is an ensemble input: a tensor can only be produced once`);
      } else if (first !== undefined && first !== s.index) {
        report(`tensor '${b.ensembleTensor}' is produced by both ${stepLabel(steps[first]!)} and ${stepLabel(s)}: a tensor can only be produced once`);
      } else if (first === s.index) {
        report(`${stepLabel(s)} maps two outputs to tensor '${b.ensembleTensor}'`);
      } else {
        producer.set(b.ensembleTensor, s.index);
      }
    }
  }
  const consumed = new Set<string>();
  for (const s of steps) {
    for (const b of s.inputs) {
      consumed.add(b.ensembleTensor);
      if (!ensembleInputs.has(b.ensembleTensor) && !producer.has(b.ensembleTensor)) {
        report(`${stepLabel(s)} reads tensor '${b.ensembleTensor}', which is neither an ensemble input nor produced by any step`);
      }
    }
  }
  for (const t of inputs) if (!consumed.has(t)) report(`ensemble input '${t}' is not consumed by any step`);
  for (const t of outputs) if (!producer.has(t)) report(`ensemble output '${t}' is not produced by any step`);
  return producer;
}

/** Kahn's algorithm over steps; reports one cycle per strongly connected leftover. */
function topologicalOrder(steps: readonly EnsembleStepNode[], producer: ReadonlyMap<string, number>, report: Report): number[] {
  const deps = steps.map((s) => new Set(s.inputs.flatMap((b) => {
    const p = producer.get(b.ensembleTensor);
    return p === undefined ? [] : [p];
  })));
  const order: number[] = [];
  const placed = new Set<number>();
  let progress = true;
  while (progress) {
    progress = false;
    for (const s of steps) {
      if (placed.has(s.index) || ![...deps[s.index]!].every((d) => placed.has(d))) continue;
      placed.add(s.index);
      order.push(s.index);
      progress = true;
    }
  }
  const reported = new Set<number>();
  for (const s of steps) {
    if (placed.has(s.index) || reported.has(s.index)) continue;
    const cycle = findCycle(s.index, deps, placed);
    if (cycle === undefined) continue; // waits on a cycle without being in one; that cycle is reported
    cycle.forEach((i) => reported.add(i));
    const path = [...cycle, cycle[0]!].map((i) => stepLabel(steps[i]!)).join(' → ');
    report(`the steps form a cycle: ${path}`);
  }
  return order;
}

/** A cycle through `start` following unplaced dependencies, as step indices in data-flow order. */
function findCycle(start: number, deps: readonly Set<number>[], placed: ReadonlySet<number>): number[] | undefined {
  const stack: number[] = [];
  const visiting = new Set<number>();
  const explored = new Set<number>();
  const walk = (i: number): number[] | undefined => {
    if (visiting.has(i)) return i === start ? [...stack] : undefined;
    if (explored.has(i)) return undefined;
    visiting.add(i);
    stack.push(i);
    for (const d of deps[i]!) {
      if (placed.has(d)) continue;
      const found = walk(d);
      if (found !== undefined) return found;
    }
    stack.pop();
    visiting.delete(i);
    explored.add(i);
    return undefined;
  };
  const found = walk(start)?.reverse();
  if (found === undefined) return undefined;
  const first = found.indexOf(Math.min(...found)); // start the report at the lowest step index
  return [...found.slice(first), ...found.slice(0, first)];
}

/** Every declaration of every ensemble tensor: the ensemble's own IO and each step model's IO. */
function declarations(
  config: Readonly<ModelConfig>,
  steps: readonly EnsembleStepNode[],
  composing: readonly (ComposingModel | undefined)[],
): TensorDeclaration[] {
  const out: TensorDeclaration[] = [];
  const own = (config.max_batch_size ?? 0) > 0;
  const add = (tensor: string, where: string, io: ModelInput | ModelOutput | undefined, batching: boolean, produces: boolean) => {
    if (io !== undefined) out.push({ tensor, where, dataType: io.data_type, dims: io.dims, batching, produces });
  };
  for (const t of config.input ?? []) add(t.name ?? '', `ensemble input '${t.name ?? ''}'`, t, own, true);
  for (const t of config.output ?? []) add(t.name ?? '', `ensemble output '${t.name ?? ''}'`, t, own, false);
  steps.forEach((s, i) => {
    const c = composing[i]?.config;
    if (c === undefined) return;
    const batching = (c.max_batch_size ?? 0) > 0;
    const find = (list: readonly (ModelInput | ModelOutput)[] | undefined, n: string) => list?.find((t) => t.name === n);
    for (const b of s.inputs) add(b.ensembleTensor, `${stepLabel(s)} input '${b.modelTensor}'`, find(c.input, b.modelTensor), batching, false);
    for (const b of s.outputs) add(b.ensembleTensor, `${stepLabel(s)} output '${b.modelTensor}'`, find(c.output, b.modelTensor), batching, true);
  });
  return out;
}
