/**
 * The core's entry for requests that models make (BLS: `ctx.infer` of the typescript backend),
 * handed to backends as ModelLoadContext.infer. A call is an ordinary request of the callee: it
 * goes through InferenceService.inferInternal (unary) or inferStream (streaming), so it is
 * validated, queued and batched with the callee's direct traffic, and counted in the callee's
 * statistics, as an ensemble step is.
 *
 * What a call inherits from its parent request: its cancellation and deadline (`signal`), its
 * trace (the call is traced as the parent's child) and the call chain (`blsCallers`), which the
 * service checks so that a model never waits on itself (InferenceService.#route).
 */
import { Cancellation } from './cancellation.js';
import type { InternalInfer, InternalInferCall, InternalInferResult } from '../backends/backend.js';
import type { InferenceRequest, InferenceResponse } from './inference-request.js';
import type { InferenceService } from './inference-service.js';

let nextCallId = 0;

function toRequest(call: InternalInferCall): InferenceRequest {
  const req: InferenceRequest = {
    id: `bls-${++nextCallId}`,
    modelName: call.model,
    modelVersion: call.version,
    parameters: call.parameters,
    inputs: call.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.data, parameters: {} })),
    outputs: call.outputs.map((name) => ({ name, parameters: {} })),
    blsCallers: call.callers,
  };
  if (call.signal !== undefined) req.cancellation = Cancellation.fromSignal(call.signal);
  if (call.parentTrace !== undefined) req.parentTrace = call.parentTrace;
  return req;
}

function toResult(r: InferenceResponse): InternalInferResult {
  return { modelName: r.modelName, modelVersion: r.modelVersion, outputs: r.outputs, parameters: r.parameters };
}

/** `service` is read at call time: the server builds the service after the backends. */
export function createInternalInfer(service: () => InferenceService): InternalInfer {
  return async (call, onResponse) => {
    const req = toRequest(call);
    if (onResponse === undefined) return toResult(await service().inferInternal(req));
    let last: InternalInferResult | undefined;
    await service().inferStream(req, {
      accepted: () => undefined,
      send: (response) => {
        if (response === undefined) return;
        last = toResult(response);
        onResponse(last);
      },
    });
    return last;
  };
}
