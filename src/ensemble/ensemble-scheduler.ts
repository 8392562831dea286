/**
 * The Scheduler of an ensemble version: runs each request through the step DAG (EnsembleRun),
 * each step on its composing model's own scheduler through the injected StepRunner, so composing
 * models batch ensemble and direct traffic together and keep their own instances.
 *
 * Statistics (Triton's view of an ensemble): per successful request, inference_count grows by its
 * batch size and execution_count by one; queue is the wait before the first step was handed to
 * its model (max_inflight_requests waits included). Compute time belongs to the composing models,
 * which record their own statistics as for any request.
 */
import type { Tensor } from '../core/tensor.js';
import type { ValidatedRequest } from '../core/request-validator.js';
import type { InferenceStats } from '../observability/inference-stats.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { errors } from '../errors/catalogue.js';
import type { InferenceError } from '../errors/inference-error.js';
import { deferred, type Deferred } from '../util/deferred.js';
import { nowNs } from '../util/clock.js';
import type { EnsembleGraph } from './ensemble-graph.js';
import { planExecution, type ExecutionPlan } from './ensemble-plan.js';
import { EnsembleRun, type RunContext, type StepRunner } from './ensemble-run.js';
import { StepGate } from './step-gate.js';

export interface EnsembleSchedulerOptions {
  graph: EnsembleGraph;
  version: string;
  runStep: StepRunner;
  stats: InferenceStats;
}

const NO_COMPUTE = Object.freeze({ computeInputNs: 0, computeInferNs: 0, computeOutputNs: 0 });
/** Distinct requested-output sets remembered; beyond this plans are rebuilt per request. */
const PLAN_CACHE_LIMIT = 64;

export class EnsembleScheduler implements Scheduler {
  readonly graph: EnsembleGraph;
  readonly #ctx: RunContext;
  readonly #stats: InferenceStats;
  readonly #gates: readonly (StepGate | undefined)[];
  readonly #plans = new Map<string, ExecutionPlan>();
  readonly #runs = new Set<EnsembleRun>();
  #stopping = false;
  #drained: Deferred<void> | undefined;

  constructor(o: EnsembleSchedulerOptions) {
    this.graph = o.graph;
    this.#stats = o.stats;
    const limit = o.graph.maxInflightRequests;
    this.#gates = o.graph.steps.map(() => (limit > 0 ? new StepGate(limit) : undefined));
    this.#ctx = { ensemble: o.graph.name, version: o.version, runStep: o.runStep, gates: this.#gates };
  }

  /** Requests accepted and not yet settled. */
  get inflightCount(): number {
    return this.#runs.size;
  }

  /** Steps waiting for a max_inflight_requests slot. */
  get pendingCount(): number {
    return this.#gates.reduce((n, g) => n + (g?.waiting ?? 0), 0);
  }

  enqueue(vr: ValidatedRequest, arrivalNs: number = nowNs()): Promise<Tensor[]> {
    if (this.#stopping) return Promise.reject(errors.serverStopping());
    const run = new EnsembleRun(this.#ctx, this.#planFor(vr.outputNames), vr);
    this.#runs.add(run);
    const result = run.start();
    void result.then(
      () => {
        this.#stats.recordQueue(Math.max(0, run.firstLaunchNs - arrivalNs));
        this.#stats.recordExecution(vr.batchSize, 1, NO_COMPUTE);
      },
      () => undefined,
    ).finally(() => {
      this.#runs.delete(run);
      if (this.#drained !== undefined && this.#runs.size === 0) this.#drained.resolve();
    });
    return result;
  }

  /** New requests are refused; resolves when every accepted one has settled. */
  stop(): Promise<void> {
    this.#stopping = true;
    if (this.#runs.size === 0) return Promise.resolve();
    this.#drained ??= deferred<void>();
    return this.#drained.promise;
  }

  /** Fails every unsettled request; their steps not yet started are never launched. */
  failQueued(err: InferenceError): void {
    for (const run of [...this.#runs]) run.fail(err);
  }

  #planFor(outputNames: readonly string[]): ExecutionPlan {
    const key = outputNames.join('\u0000');
    let plan = this.#plans.get(key);
    if (plan === undefined) {
      plan = planExecution(this.graph, outputNames);
      if (this.#plans.size < PLAN_CACHE_LIMIT) this.#plans.set(key, plan);
    }
    return plan;
  }
}
