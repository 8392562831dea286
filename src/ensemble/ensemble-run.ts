/**
 * One ensemble request on its way through the step DAG.
 *
 * Invariants:
 * - A step is launched once, as soon as every tensor it reads exists; independent steps run
 *   concurrently, each through its own model's scheduler (the injected StepRunner).
 * - Tensors pass by reference: a step's input is a view of the producing step's output bytes.
 *   The one exception follows from the backend contract that a step owns its inputs (worker
 *   backends transfer, i.e. detach, a view that core/detachable.ts calls detachable): such a tensor that
 *   another reader or the response still needs is copied for this reader (#take). A linear
 *   pipeline never copies; a fan-out of k copies at most k - 1 times.
 * - The run settles exactly once: with the requested outputs when the last planned step is done
 *   (#finish), or with the first failure (fail). Failing cancels #steps, the Cancellation every
 *   step request carries, so queued steps leave their queues and no further step is launched.
 */
import type { InferenceRequest, InferenceResponse, InputTensor } from '../core/inference-request.js';
import type { ValidatedRequest } from '../core/request-validator.js';
import { detachable } from '../core/detachable.js';
import type { Tensor } from '../core/tensor.js';
import { ErrorCode } from '../errors/error-codes.js';
import { errors } from '../errors/catalogue.js';
import { InferenceError } from '../errors/inference-error.js';
import { deferred } from '../util/deferred.js';
import { Cancellation, cancelError, type CancelListener } from '../core/cancellation.js';
import { nowNs } from '../util/clock.js';
import { stepLabel } from './ensemble-graph.js';
import type { ExecutionPlan, PlannedStep } from './ensemble-plan.js';
import type { StepGate } from './step-gate.js';

/** Runs one request on a composing model (InferenceService.inferInternal in the server). */
export type StepRunner = (req: InferenceRequest) => Promise<InferenceResponse>;

export interface RunContext {
  readonly ensemble: string;
  readonly version: string;
  readonly runStep: StepRunner;
  /** max_inflight_requests gates by graph step index; undefined entries are unbounded. */
  readonly gates: readonly (StepGate | undefined)[];
}

export class EnsembleRun {
  readonly #ctx: RunContext;
  readonly #plan: ExecutionPlan;
  readonly #vr: ValidatedRequest;
  readonly #tensors = new Map<string, Tensor>();
  readonly #missing: number[];
  /** Readers (and the response) still to be served, per ensemble tensor. */
  readonly #uses: Map<string, number>;
  /** Every step request's cancellation: cancelled when the run fails. */
  readonly #steps = new Cancellation();
  readonly #done = deferred<Tensor[]>();
  #completed = 0;
  #listening = false;
  /** When the first step was handed to its model (0 = not yet). */
  firstLaunchNs = 0;

  constructor(ctx: RunContext, plan: ExecutionPlan, vr: ValidatedRequest) {
    this.#ctx = ctx;
    this.#plan = plan;
    this.#vr = vr;
    this.#missing = plan.steps.map((s) => s.waitsFor.length);
    this.#uses = new Map(plan.uses);
  }

  /** Starts every step that can start; resolves with the outputs in `vr.outputNames` order. */
  start(): Promise<Tensor[]> {
    for (const t of this.#vr.inputs) this.#tensors.set(t.name, t);
    const cancellation = this.#vr.request.cancellation;
    if (cancellation?.aborted === true) {
      this.fail(this.#cancelError(cancellation.reason));
      return this.#done.promise;
    }
    if (cancellation !== undefined) {
      cancellation.subscribe(ON_CANCEL, this);
      this.#listening = true;
    }
    if (this.#plan.steps.length === 0) this.#finish();
    this.#plan.steps.forEach((_, pos) => {
      if (this.#missing[pos] === 0) this.#launch(pos);
    });
    return this.#done.promise;
  }

  /** Fails the run (first failure wins) and stops every step that has not started. */
  fail(err: InferenceError): void {
    if (this.#done.settled) return;
    this.#detach();
    this.#done.reject(err);
    this.#steps.cancel(err);
  }

  #launch(pos: number): void {
    const step = this.#plan.steps[pos]!;
    const gate = this.#ctx.gates[step.node.index];
    const admitted = gate === undefined ? Promise.resolve() : gate.acquire(this.#steps);
    admitted.then(
      () => this.#run(step).finally(() => gate?.release()),
      () => undefined, // aborted while waiting for a slot: the run has already settled
    );
  }

  async #run(step: PlannedStep): Promise<void> {
    if (this.#done.settled) return;
    if (this.firstLaunchNs === 0) this.firstLaunchNs = nowNs();
    let res: InferenceResponse;
    try {
      res = await this.#ctx.runStep(this.#stepRequest(step));
    } catch (e) {
      this.#onStepFailed(step, InferenceError.from(e));
      return;
    }
    this.#onStepDone(step, res);
  }

  #stepRequest(step: PlannedStep): InferenceRequest {
    const inputs: InputTensor[] = [];
    const taken = new Map<string, Uint8Array>();
    for (const b of step.node.inputs) {
      const t = this.#tensors.get(b.ensembleTensor);
      if (t === undefined) continue; // an optional ensemble input the request left out
      let data = taken.get(b.ensembleTensor);
      if (data === undefined) {
        data = this.#take(t);
        taken.set(b.ensembleTensor, data);
      }
      inputs.push({ name: b.modelTensor, datatype: t.datatype, shape: t.shape, data, parameters: {} });
    }
    const req = this.#vr.request;
    return {
      id: req.id,
      modelName: step.node.modelName,
      modelVersion: step.node.modelVersion,
      // Scheduling parameters (priority, timeout) apply to every step, as in Triton.
      parameters: req.parameters,
      inputs,
      outputs: step.outputs.map((b) => ({ name: b.modelTensor, parameters: {} })),
      cancellation: this.#steps,
      // A traced ensemble request traces its steps as its children.
      ...(req.trace === undefined ? {} : { parentTrace: req.trace }),
      ...(req.blsCallers === undefined ? {} : { blsCallers: req.blsCallers }),
    };
  }

  /** `t`'s bytes for one reader: the tensor's own view, or a copy if a backend could detach it while others still need it. */
  #take(t: Tensor): Uint8Array {
    const left = (this.#uses.get(t.name) ?? 1) - 1;
    this.#uses.set(t.name, left);
    return left > 0 && detachable(t.data) ? t.data.slice() : t.data;
  }

  #onStepDone(step: PlannedStep, res: InferenceResponse): void {
    if (this.#done.settled) return;
    for (const b of step.outputs) {
      const t = res.outputs.find((o) => o.name === b.modelTensor);
      if (t === undefined) {
        this.fail(errors.internal(`${this.#prefix(step)} did not return output '${b.modelTensor}'`));
        return;
      }
      this.#tensors.set(b.ensembleTensor, { name: b.ensembleTensor, datatype: t.datatype, shape: t.shape, data: t.data });
    }
    for (const b of step.outputs) {
      for (const reader of this.#plan.readers.get(b.ensembleTensor) ?? []) {
        if (--this.#missing[reader]! === 0) this.#launch(reader);
      }
    }
    this.#completed++;
    if (this.#completed === this.#plan.steps.length) this.#finish();
  }

  #onStepFailed(step: PlannedStep, inner: InferenceError): void {
    if (this.#done.settled) return;
    // A composing model that is gone makes the ensemble unavailable; it is not the client's NOT_FOUND.
    const code = inner.code === ErrorCode.NOT_FOUND ? ErrorCode.UNAVAILABLE : inner.code;
    this.fail(new InferenceError(code, `${this.#prefix(step)} failed: ${inner.message}`, { cause: inner }));
  }

  #finish(): void {
    const outputs = this.#vr.outputNames.map((n) => this.#tensors.get(n));
    if (outputs.some((t) => t === undefined)) {
      this.fail(errors.internal(`ensemble '${this.#ctx.ensemble}' version ${this.#ctx.version} finished without producing every requested output`));
      return;
    }
    this.#detach();
    this.#done.resolve(outputs as Tensor[]);
  }

  #prefix(step: PlannedStep): string {
    return `ensemble '${this.#ctx.ensemble}' version ${this.#ctx.version}: ${stepLabel(step.node)}`;
  }

  /** The request's cancellation fired (ON_CANCEL). */
  cancelled(reason: InferenceError | undefined): void {
    this.#listening = false;
    this.fail(this.#cancelError(reason));
  }

  #detach(): void {
    if (!this.#listening) return;
    this.#listening = false;
    this.#vr.request.cancellation!.unsubscribe(ON_CANCEL, this);
  }

  #cancelError(reason: InferenceError | undefined): InferenceError {
    return cancelError(reason, this.#ctx.ensemble, this.#ctx.version);
  }
}

/** One listener for every run (the item is the run): no closure per ensemble request. */
const ON_CANCEL: CancelListener<EnsembleRun> = { onCancel: (run, reason) => run.cancelled(reason) };
