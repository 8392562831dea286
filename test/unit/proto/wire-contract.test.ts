// The gRPC wire contract, written out from ../shared/PROTOCOL.md §1.1 and §2. Triton's clients
// (tritonclient.grpc) interoperate only if every RPC, message, field name, number, type and
// label below matches proto/grpc_service.proto exactly; this table is the contract, so change it
// only when the upstream protocol changes.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { resolveProtoDir } from '../../../src/frontends/grpc/proto-loader.js';

type Kind = 'unary' | 'bidi' | 'server-stream';

// [rpc, request, response, kind], in declaration order (PROTOCOL.md §1.1).
const RPCS: readonly (readonly [string, string, string, Kind])[] = [
  ['ServerLive', 'ServerLiveRequest', 'ServerLiveResponse', 'unary'],
  ['ServerReady', 'ServerReadyRequest', 'ServerReadyResponse', 'unary'],
  ['ModelReady', 'ModelReadyRequest', 'ModelReadyResponse', 'unary'],
  ['ServerMetadata', 'ServerMetadataRequest', 'ServerMetadataResponse', 'unary'],
  ['ModelMetadata', 'ModelMetadataRequest', 'ModelMetadataResponse', 'unary'],
  ['ModelInfer', 'ModelInferRequest', 'ModelInferResponse', 'unary'],
  ['ModelStreamInfer', 'ModelInferRequest', 'ModelStreamInferResponse', 'bidi'],
  ['ModelConfig', 'ModelConfigRequest', 'ModelConfigResponse', 'unary'],
  ['ModelStatistics', 'ModelStatisticsRequest', 'ModelStatisticsResponse', 'unary'],
  ['RepositoryIndex', 'RepositoryIndexRequest', 'RepositoryIndexResponse', 'unary'],
  ['RepositoryModelLoad', 'RepositoryModelLoadRequest', 'RepositoryModelLoadResponse', 'unary'],
  ['RepositoryModelUnload', 'RepositoryModelUnloadRequest', 'RepositoryModelUnloadResponse', 'unary'],
  ['SystemSharedMemoryStatus', 'SystemSharedMemoryStatusRequest', 'SystemSharedMemoryStatusResponse', 'unary'],
  ['SystemSharedMemoryRegister', 'SystemSharedMemoryRegisterRequest', 'SystemSharedMemoryRegisterResponse', 'unary'],
  ['SystemSharedMemoryUnregister', 'SystemSharedMemoryUnregisterRequest', 'SystemSharedMemoryUnregisterResponse', 'unary'],
  ['CudaSharedMemoryStatus', 'CudaSharedMemoryStatusRequest', 'CudaSharedMemoryStatusResponse', 'unary'],
  ['CudaSharedMemoryRegister', 'CudaSharedMemoryRegisterRequest', 'CudaSharedMemoryRegisterResponse', 'unary'],
  ['CudaSharedMemoryUnregister', 'CudaSharedMemoryUnregisterRequest', 'CudaSharedMemoryUnregisterResponse', 'unary'],
  ['TraceSetting', 'TraceSettingRequest', 'TraceSettingResponse', 'unary'],
  ['LogSettings', 'LogSettingsRequest', 'LogSettingsResponse', 'unary'],
];

// Field notation as in PROTOCOL.md: `name = N : type`, then `[rep]` or `oneof <name>`;
// maps are `map<K, V>`. Message types are named relative to package `inference`.
const DUR = 'StatisticDuration';
const PARAMS = 'map<string, InferParameter>';
const MESSAGES: Readonly<Record<string, readonly string[]>> = {
  // §2.1
  ServerLiveRequest: [],
  ServerLiveResponse: ['live = 1 : bool'],
  ServerReadyRequest: [],
  ServerReadyResponse: ['ready = 1 : bool'],
  ModelReadyRequest: ['name = 1 : string', 'version = 2 : string'],
  ModelReadyResponse: ['ready = 1 : bool'],
  ServerMetadataRequest: [],
  ServerMetadataResponse: ['name = 1 : string', 'version = 2 : string', 'extensions = 3 : string [rep]'],
  ModelMetadataRequest: ['name = 1 : string', 'version = 2 : string'],
  ModelMetadataResponse: [
    'name = 1 : string',
    'versions = 2 : string [rep]',
    'platform = 3 : string',
    'inputs = 4 : ModelMetadataResponse.TensorMetadata [rep]',
    'outputs = 5 : ModelMetadataResponse.TensorMetadata [rep]',
  ],
  'ModelMetadataResponse.TensorMetadata': ['name = 1 : string', 'datatype = 2 : string', 'shape = 3 : int64 [rep]'],
  // §2.2
  InferParameter: [
    'bool_param = 1 : bool oneof parameter_choice',
    'int64_param = 2 : int64 oneof parameter_choice',
    'string_param = 3 : string oneof parameter_choice',
    'double_param = 4 : double oneof parameter_choice',
    'uint64_param = 5 : uint64 oneof parameter_choice',
  ],
  InferTensorContents: [
    'bool_contents = 1 : bool [rep]',
    'int_contents = 2 : int32 [rep]',
    'int64_contents = 3 : int64 [rep]',
    'uint_contents = 4 : uint32 [rep]',
    'uint64_contents = 5 : uint64 [rep]',
    'fp32_contents = 6 : float [rep]',
    'fp64_contents = 7 : double [rep]',
    'bytes_contents = 8 : bytes [rep]',
  ],
  ModelRepositoryParameter: [
    'bool_param = 1 : bool oneof parameter_choice',
    'int64_param = 2 : int64 oneof parameter_choice',
    'string_param = 3 : string oneof parameter_choice',
    'bytes_param = 4 : bytes oneof parameter_choice',
  ],
  // §2.3
  ModelInferRequest: [
    'model_name = 1 : string',
    'model_version = 2 : string',
    'id = 3 : string',
    `parameters = 4 : ${PARAMS}`,
    'inputs = 5 : ModelInferRequest.InferInputTensor [rep]',
    'outputs = 6 : ModelInferRequest.InferRequestedOutputTensor [rep]',
    'raw_input_contents = 7 : bytes [rep]',
  ],
  'ModelInferRequest.InferInputTensor': [
    'name = 1 : string',
    'datatype = 2 : string',
    'shape = 3 : int64 [rep]',
    `parameters = 4 : ${PARAMS}`,
    'contents = 5 : InferTensorContents',
  ],
  'ModelInferRequest.InferRequestedOutputTensor': ['name = 1 : string', `parameters = 2 : ${PARAMS}`],
  ModelInferResponse: [
    'model_name = 1 : string',
    'model_version = 2 : string',
    'id = 3 : string',
    `parameters = 4 : ${PARAMS}`,
    'outputs = 5 : ModelInferResponse.InferOutputTensor [rep]',
    'raw_output_contents = 6 : bytes [rep]',
  ],
  'ModelInferResponse.InferOutputTensor': [
    'name = 1 : string',
    'datatype = 2 : string',
    'shape = 3 : int64 [rep]',
    `parameters = 4 : ${PARAMS}`,
    'contents = 5 : InferTensorContents',
  ],
  ModelStreamInferResponse: ['error_message = 1 : string', 'infer_response = 2 : ModelInferResponse'],
  // §2.4
  ModelConfigRequest: ['name = 1 : string', 'version = 2 : string'],
  ModelConfigResponse: ['config = 1 : ModelConfig'],
  // §2.5
  ModelStatisticsRequest: ['name = 1 : string', 'version = 2 : string'],
  StatisticDuration: ['count = 1 : uint64', 'ns = 2 : uint64'],
  InferStatistics: [
    `success = 1 : ${DUR}`,
    `fail = 2 : ${DUR}`,
    `queue = 3 : ${DUR}`,
    `compute_input = 4 : ${DUR}`,
    `compute_infer = 5 : ${DUR}`,
    `compute_output = 6 : ${DUR}`,
    `cache_hit = 7 : ${DUR}`,
    `cache_miss = 8 : ${DUR}`,
  ],
  InferResponseStatistics: [
    `compute_infer = 1 : ${DUR}`,
    `compute_output = 2 : ${DUR}`,
    `success = 3 : ${DUR}`,
    `fail = 4 : ${DUR}`,
    `empty_response = 5 : ${DUR}`,
    `cancel = 6 : ${DUR}`,
  ],
  InferBatchStatistics: [
    'batch_size = 1 : uint64',
    `compute_input = 2 : ${DUR}`,
    `compute_infer = 3 : ${DUR}`,
    `compute_output = 4 : ${DUR}`,
  ],
  MemoryUsage: ['type = 1 : string', 'id = 2 : int64', 'byte_size = 3 : uint64'],
  ModelStatistics: [
    'name = 1 : string',
    'version = 2 : string',
    'last_inference = 3 : uint64',
    'inference_count = 4 : uint64',
    'execution_count = 5 : uint64',
    'inference_stats = 6 : InferStatistics',
    'batch_stats = 7 : InferBatchStatistics [rep]',
    'memory_usage = 8 : MemoryUsage [rep]',
    'response_stats = 9 : map<string, InferResponseStatistics>',
  ],
  ModelStatisticsResponse: ['model_stats = 1 : ModelStatistics [rep]'],
  // §2.6
  RepositoryIndexRequest: ['repository_name = 1 : string', 'ready = 2 : bool'],
  RepositoryIndexResponse: ['models = 1 : RepositoryIndexResponse.ModelIndex [rep]'],
  'RepositoryIndexResponse.ModelIndex': [
    'name = 1 : string',
    'version = 2 : string',
    'state = 3 : string',
    'reason = 4 : string',
  ],
  RepositoryModelLoadRequest: [
    'repository_name = 1 : string',
    'model_name = 2 : string',
    'parameters = 3 : map<string, ModelRepositoryParameter>',
  ],
  RepositoryModelLoadResponse: [],
  RepositoryModelUnloadRequest: [
    'repository_name = 1 : string',
    'model_name = 2 : string',
    'parameters = 3 : map<string, ModelRepositoryParameter>',
  ],
  RepositoryModelUnloadResponse: [],
  // §2.7
  SystemSharedMemoryStatusRequest: ['name = 1 : string'],
  SystemSharedMemoryStatusResponse: ['regions = 1 : map<string, SystemSharedMemoryStatusResponse.RegionStatus>'],
  'SystemSharedMemoryStatusResponse.RegionStatus': [
    'name = 1 : string',
    'key = 2 : string',
    'offset = 3 : uint64',
    'byte_size = 4 : uint64',
  ],
  SystemSharedMemoryRegisterRequest: [
    'name = 1 : string',
    'key = 2 : string',
    'offset = 3 : uint64',
    'byte_size = 4 : uint64',
  ],
  SystemSharedMemoryRegisterResponse: [],
  SystemSharedMemoryUnregisterRequest: ['name = 1 : string'],
  SystemSharedMemoryUnregisterResponse: [],
  CudaSharedMemoryStatusRequest: ['name = 1 : string'],
  CudaSharedMemoryStatusResponse: ['regions = 1 : map<string, CudaSharedMemoryStatusResponse.RegionStatus>'],
  'CudaSharedMemoryStatusResponse.RegionStatus': [
    'name = 1 : string',
    'device_id = 2 : uint64',
    'byte_size = 3 : uint64',
  ],
  CudaSharedMemoryRegisterRequest: [
    'name = 1 : string',
    'raw_handle = 2 : bytes',
    'device_id = 3 : int64',
    'byte_size = 4 : uint64',
  ],
  CudaSharedMemoryRegisterResponse: [],
  CudaSharedMemoryUnregisterRequest: ['name = 1 : string'],
  CudaSharedMemoryUnregisterResponse: [],
  // §2.8
  TraceSettingRequest: [
    'settings = 1 : map<string, TraceSettingRequest.SettingValue>',
    'model_name = 2 : string',
  ],
  'TraceSettingRequest.SettingValue': ['value = 1 : string [rep]'],
  TraceSettingResponse: ['settings = 1 : map<string, TraceSettingResponse.SettingValue>'],
  'TraceSettingResponse.SettingValue': ['value = 1 : string [rep]'],
  LogSettingsRequest: ['settings = 1 : map<string, LogSettingsRequest.SettingValue>'],
  'LogSettingsRequest.SettingValue': [
    'bool_param = 1 : bool oneof parameter_choice',
    'uint32_param = 2 : uint32 oneof parameter_choice',
    'string_param = 3 : string oneof parameter_choice',
  ],
  LogSettingsResponse: ['settings = 1 : map<string, LogSettingsResponse.SettingValue>'],
  'LogSettingsResponse.SettingValue': [
    'bool_param = 1 : bool oneof parameter_choice',
    'uint32_param = 2 : uint32 oneof parameter_choice',
    'string_param = 3 : string oneof parameter_choice',
  ],
};

function loadRoot(): protobuf.Root {
  const protoDir = resolveProtoDir(dirname(fileURLToPath(import.meta.url)));
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(protoDir, target);
  root.loadSync(['grpc_service.proto', 'health.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

/** Type name relative to package `inference` (scalars keep their proto name). */
function typeName(t: protobuf.Type | protobuf.Enum | null, scalar: string): string {
  return t === null ? scalar : t.fullName.replace(/^\.inference\./, '');
}

/** Renders a field in the table's notation. */
function describeField(f: protobuf.Field): string {
  const type = typeName(f.resolvedType, f.type);
  if (f instanceof protobuf.MapField) return `${f.name} = ${f.id} : map<${f.keyType}, ${type}>`;
  const label = f.repeated ? ' [rep]' : f.partOf ? ` oneof ${f.partOf.name}` : '';
  return `${f.name} = ${f.id} : ${type}${label}`;
}

/** All message types declared in grpc_service.proto, nested ones included, by relative name. */
function declaredMessages(ns: protobuf.NamespaceBase): protobuf.Type[] {
  const out: protobuf.Type[] = [];
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type && nested.filename?.endsWith('grpc_service.proto')) out.push(nested);
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) out.push(...declaredMessages(nested));
  }
  return out;
}

describe('grpc_service.proto wire contract', () => {
  const root = loadRoot();

  it('declares service inference.GRPCInferenceService with the 20 RPCs in order', () => {
    const service = root.lookupService('inference.GRPCInferenceService');
    assert.equal(service.fullName, '.inference.GRPCInferenceService');
    const actual = service.methodsArray.map((m) => {
      const kind = m.requestStream ? (m.responseStream ? 'bidi' : 'client-stream') : m.responseStream ? 'server-stream' : 'unary';
      return [m.name, typeName(m.resolvedRequestType, ''), typeName(m.resolvedResponseType, ''), kind];
    });
    assert.deepEqual(actual, RPCS);
  });

  it('declares exactly the messages of PROTOCOL.md §2, no more, no fewer', () => {
    const actual = declaredMessages(root).map((t) => typeName(t, '')).sort();
    assert.deepEqual(actual, Object.keys(MESSAGES).sort());
  });

  for (const [name, expected] of Object.entries(MESSAGES)) {
    it(`${name}: every field's name, number, type and label`, () => {
      const type = root.lookupType(`inference.${name}`);
      assert.deepEqual(type.fieldsArray.map(describeField), expected);
    });
  }

  it('has no oneof other than those in the table (InferTensorContents has none)', () => {
    const withOneof = declaredMessages(root)
      .filter((t) => t.oneofsArray.length > 0)
      .map((t) => `${typeName(t, '')}:${t.oneofsArray.map((o) => o.name).join(',')}`)
      .sort();
    assert.deepEqual(withOneof, [
      'InferParameter:parameter_choice',
      'LogSettingsRequest.SettingValue:parameter_choice',
      'LogSettingsResponse.SettingValue:parameter_choice',
      'ModelRepositoryParameter:parameter_choice',
    ]);
  });

  it('resolves ModelConfigResponse.config to inference.ModelConfig from model_config.proto', () => {
    const field = root.lookupType('inference.ModelConfigResponse').fields['config'];
    assert.ok(field?.resolvedType);
    assert.equal(field.resolvedType.fullName, '.inference.ModelConfig');
    assert.match(field.resolvedType.filename ?? '', /model_config\.proto$/);
  });
});

describe('health.proto wire contract', () => {
  const root = loadRoot();

  it('declares grpc.health.v1.Health with unary Check and server-streaming Watch', () => {
    const service = root.lookupService('grpc.health.v1.Health');
    const actual = service.methodsArray.map((m) => [
      m.name,
      m.resolvedRequestType?.fullName,
      m.resolvedResponseType?.fullName,
      Boolean(m.requestStream),
      Boolean(m.responseStream),
    ]);
    assert.deepEqual(actual, [
      ['Check', '.grpc.health.v1.HealthCheckRequest', '.grpc.health.v1.HealthCheckResponse', false, false],
      ['Watch', '.grpc.health.v1.HealthCheckRequest', '.grpc.health.v1.HealthCheckResponse', false, true],
    ]);
  });

  it('has HealthCheckRequest{service=1} and HealthCheckResponse{status=1} with the standard enum', () => {
    const req = root.lookupType('grpc.health.v1.HealthCheckRequest');
    assert.deepEqual(req.fieldsArray.map((f) => [f.name, f.id, f.type, f.repeated]), [['service', 1, 'string', false]]);
    const res = root.lookupType('grpc.health.v1.HealthCheckResponse');
    assert.deepEqual(res.fieldsArray.map((f) => [f.name, f.id, f.resolvedType?.fullName]), [
      ['status', 1, '.grpc.health.v1.HealthCheckResponse.ServingStatus'],
    ]);
    const status = root.lookupEnum('grpc.health.v1.HealthCheckResponse.ServingStatus');
    assert.deepEqual({ ...status.values }, { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 });
  });
});
