/**
 * Which steps a request needs: only those that contribute to the outputs it asked for. A step
 * whose outputs nobody downstream reads is not run, and a run step is asked only for the outputs
 * someone reads (so an unused output is never computed or carried). Pure and cached per
 * requested-output set by the scheduler.
 */
import type { EnsembleGraph, EnsembleStepNode, StepBinding } from './ensemble-graph.js';

export interface PlannedStep {
  readonly node: EnsembleStepNode;
  /** The step's outputs that are read downstream or returned. */
  readonly outputs: readonly StepBinding[];
  /**
   * Distinct step-produced tensors the step waits for. Ensemble inputs are there from the start,
   * or absent for good (an optional input the request left out: the step gets no such input).
   */
  readonly waitsFor: readonly string[];
}

export interface ExecutionPlan {
  /** Needed steps in topological order. */
  readonly steps: readonly PlannedStep[];
  /** Ensemble tensor → positions in `steps` of the planned steps that read it. */
  readonly readers: ReadonlyMap<string, readonly number[]>;
  /** Ensemble tensor → how many planned steps read it, plus one when it is returned. */
  readonly uses: ReadonlyMap<string, number>;
}

export function planExecution(graph: EnsembleGraph, outputNames: readonly string[]): ExecutionPlan {
  const needed = new Set(outputNames);
  const chosen: PlannedStep[] = [];
  for (const i of [...graph.order].reverse()) {
    const node = graph.steps[i]!;
    const outputs = node.outputs.filter((b) => needed.has(b.ensembleTensor));
    if (outputs.length === 0) continue;
    const reads = [...new Set(node.inputs.map((b) => b.ensembleTensor))];
    reads.forEach((t) => needed.add(t));
    const waitsFor = reads.filter((t) => graph.producer.has(t));
    chosen.push({ node, outputs, waitsFor });
  }
  chosen.reverse();
  const readers = new Map<string, number[]>();
  const uses = new Map<string, number>(outputNames.map((n) => [n, 1]));
  chosen.forEach((s, pos) => {
    for (const t of s.waitsFor) {
      const list = readers.get(t) ?? [];
      list.push(pos);
      readers.set(t, list);
    }
    for (const t of new Set(s.node.inputs.map((b) => b.ensembleTensor))) uses.set(t, (uses.get(t) ?? 0) + 1);
  });
  return { steps: chosen, readers, uses };
}
