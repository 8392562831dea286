/**
 * One handler per RPC of inference.GRPCInferenceService: convert → InferenceService → convert.
 * No business logic here. RPCs whose feature has not landed answer UNIMPLEMENTED.
 */
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import type { GRPCInferenceServiceHandlers } from '../../generated/inference/GRPCInferenceService.js';
import type { ModelInferRequest__Output } from '../../generated/inference/ModelInferRequest.js';
import type { ModelInferResponse } from '../../generated/inference/ModelInferResponse.js';
import type { HealthHandlers } from '../../generated/grpc/health/v1/Health.js';
import type { InferenceService } from '../../core/inference-service.js';
import type { Logger } from 'pino';
import { errors } from '../../errors/catalogue.js';
import { InferenceError } from '../../errors/inference-error.js';
import { toServiceError } from './grpc-status.js';
import { toInferenceRequest, toModelInferResponse, toProtoConfig } from './grpc-convert.js';
import { CallCancellation } from './call-cancellation.js';
import { streamInferHandler } from './stream-infer-handler.js';
import { loadParameters, unloadDependents } from './grpc-repository.js';
import { cudaShmStatus, systemShmStatus } from './grpc-shared-memory.js';
import { logChanges, logResponse, traceChanges, traceContextOf, traceResponse } from './grpc-settings.js';
import { logOutcome } from '../../observability/log-policy.js';
import { refusal } from './bounded-deserialize.js';

type Unary<Req, Res> = (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void;

/**
 * Wraps a sync-or-async body so every outcome reaches the callback exactly once. A request the
 * bounded deserializer refused is answered with its error; the body never sees it.
 */
function unary<Req, Res>(rpc: string, log: Logger, body: (req: Req, call: ServerUnaryCall<Req, Res>) => Res | Promise<Res>): Unary<Req, Res> {
  return (call, cb) => {
    Promise.resolve()
      .then(() => {
        const refused = refusal(call.request);
        if (refused !== undefined) throw refused;
        return body(call.request, call);
      })
      .then(
        (res) => cb(null, res),
        (e: unknown) => {
          const err = InferenceError.from(e);
          logOutcome(log, rpc, err);
          cb(toServiceError(err));
        },
      );
  };
}

/**
 * ModelInfer, the hot path: unary()'s contract (every outcome reaches `cb` exactly once, a refused
 * message is answered with its error) in one async frame, without its promise chain and closures.
 * The call's cancellation is lazy (call-cancellation.ts): no listener unless the request queues.
 */
async function modelInfer(
  svc: InferenceService, log: Logger, call: ServerUnaryCall<ModelInferRequest__Output, ModelInferResponse>, cb: sendUnaryData<ModelInferResponse>,
): Promise<void> {
  let res: ModelInferResponse;
  let cancellation: CallCancellation | undefined;
  try {
    const r = call.request;
    const refused = refusal(r);
    if (refused !== undefined) throw refused;
    cancellation = new CallCancellation(call, r.model_name, r.model_version);
    const req = toInferenceRequest(r, cancellation);
    const tc = traceContextOf(call.metadata);
    if (tc !== undefined) req.traceContext = tc;
    res = toModelInferResponse(await svc.infer(req));
  } catch (e) {
    cancellation?.finish();
    const err = InferenceError.from(e);
    logOutcome(log, 'ModelInfer', err);
    cb(toServiceError(err));
    return;
  }
  cancellation.finish();
  cb(null, res);
}

function noRepositoryName(name: string): void {
  if (name !== '') throw errors.unsupported(`repository_name '${name}' is not supported: Infera serves one merged repository namespace`);
}

export function inferenceHandlers(svc: InferenceService, log: Logger): GRPCInferenceServiceHandlers {
  return {
    ServerLive: unary('ServerLive', log, () => ({ live: svc.serverLive() })),
    ServerReady: unary('ServerReady', log, () => ({ ready: svc.serverReady() })),
    ModelReady: unary('ModelReady', log, (r) => ({ ready: svc.modelReady(r.name, r.version) })),
    ServerMetadata: unary('ServerMetadata', log, () => svc.serverMetadata()),
    ModelMetadata: unary('ModelMetadata', log, (r) => svc.modelMetadata(r.name, r.version)),
    ModelConfig: unary('ModelConfig', log, (r) => ({ config: toProtoConfig(svc.modelConfig(r.name, r.version)) })),
    ModelStatistics: unary('ModelStatistics', log, (r) => ({ model_stats: svc.modelStatistics(r.name, r.version) })),
    RepositoryIndex: unary('RepositoryIndex', log, (r) => {
      noRepositoryName(r.repository_name);
      return { models: svc.repositoryIndex(r.ready) };
    }),
    ModelInfer: (call, cb) => void modelInfer(svc, log, call, cb),
    ModelStreamInfer: streamInferHandler(svc, log),
    RepositoryModelLoad: unary('RepositoryModelLoad', log, async (r) => {
      noRepositoryName(r.repository_name);
      await svc.loadModel(r.model_name, loadParameters(r.parameters));
      return {};
    }),
    RepositoryModelUnload: unary('RepositoryModelUnload', log, async (r) => {
      noRepositoryName(r.repository_name);
      await svc.unloadModel(r.model_name, unloadDependents(r.parameters));
      return {};
    }),
    SystemSharedMemoryStatus: unary('SystemSharedMemoryStatus', log, (r) => ({ regions: systemShmStatus(svc.systemShm.status(r.name)) })),
    SystemSharedMemoryRegister: unary('SystemSharedMemoryRegister', log, (r) => {
      svc.systemShm.register(r.name, r.key, r.offset, r.byte_size);
      return {};
    }),
    SystemSharedMemoryUnregister: unary('SystemSharedMemoryUnregister', log, (r) => {
      svc.systemShm.unregister(r.name);
      return {};
    }),
    CudaSharedMemoryStatus: unary('CudaSharedMemoryStatus', log, (r) => ({ regions: cudaShmStatus(svc.cudaShm.status(r.name)) })),
    CudaSharedMemoryRegister: unary('CudaSharedMemoryRegister', log, (r) => svc.cudaShm.register(r.name)),
    CudaSharedMemoryUnregister: unary('CudaSharedMemoryUnregister', log, (r) => {
      svc.cudaShm.unregister(r.name);
      return {};
    }),
    TraceSetting: unary('TraceSetting', log, (r) => {
      const changes = traceChanges(r);
      return traceResponse(Object.keys(changes).length === 0 ? svc.traceSettings(r.model_name) : svc.updateTraceSettings(r.model_name, changes));
    }),
    LogSettings: unary('LogSettings', log, (r) => {
      const changes = logChanges(r);
      return logResponse(Object.keys(changes).length === 0 ? svc.logSettings.get() : svc.logSettings.update(changes));
    }),
  };
}

/** grpc.health.v1.Health: SERVING iff the server is ready (Triton's semantics). */
export function healthHandlers(svc: InferenceService, log: Logger): HealthHandlers {
  return {
    Check: unary('Health/Check', log, () => ({ status: svc.serverReady() ? 'SERVING' : 'NOT_SERVING' })),
    Watch: (call) => {
      call.on('error', () => undefined);
      call.emit('error', toServiceError(errors.notImplemented('Health/Watch')));
    },
  };
}
