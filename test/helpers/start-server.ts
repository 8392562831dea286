/**
 * Boots the real server in-process on port 0 and returns a grpc-js client generated from our
 * protos. Register `close` with t.after / after() right away.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { InferenceServer } from '../../src/server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { loadInferenceProtos } from '../../src/frontends/grpc/proto-loader.js';
import type { GRPCInferenceServiceClient } from '../../src/generated/inference/GRPCInferenceService.js';
import type { HealthClient } from '../../src/generated/grpc/health/v1/Health.js';
import type { ServerOptions } from '../../src/config/server-options.js';
import type { TempRepo } from './repo.js';

export interface TestServer {
  server: InferenceServer;
  client: GRPCInferenceServiceClient;
  health: HealthClient;
  target: string;
  /** `http://127.0.0.1:<port>`, or '' when --allow-http=false. */
  httpUrl: string;
  /** `http://127.0.0.1:<port>`, or '' when --allow-metrics=false. */
  metricsUrl: string;
  /** Settles when the initial model load has (already settled unless `deferLoad`). */
  loading: Promise<void>;
  close(): Promise<void>;
}

/** With `deferLoad`, listens first and loads the models after, as main.ts does. */
export async function startServer(
  repos: string[],
  extra: Partial<ServerOptions> = {},
  log: Logger = silentLogger(),
  { deferLoad = false }: { deferLoad?: boolean } = {},
): Promise<TestServer> {
  const server = await InferenceServer[deferLoad ? 'open' : 'create'](
    {
      modelRepositories: repos, grpcPort: 0, host: '127.0.0.1', httpPort: 0, httpAddress: '127.0.0.1',
      metricsPort: 0, metricsAddress: '127.0.0.1', exitTimeoutSecs: 5, ...extra,
    },
    log,
  );
  const { grpcPort, httpPort, metricsPort } = await server.start();
  const loading = deferLoad ? server.loadModels() : Promise.resolve();
  const target = `127.0.0.1:${grpcPort}`;
  const { grpcObject } = loadInferenceProtos();
  const opts = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };
  const client = new grpcObject.inference.GRPCInferenceService(target, credentials.createInsecure(), opts);
  const health = new grpcObject.grpc.health.v1.Health(target, credentials.createInsecure());
  return {
    server,
    client,
    health,
    target,
    httpUrl: httpPort === undefined ? '' : `http://127.0.0.1:${httpPort}`,
    metricsUrl: metricsPort === undefined ? '' : `http://127.0.0.1:${metricsPort}`,
    loading,
    async close() {
      client.close();
      health.close();
      await server.stop();
    },
  };
}

/**
 * The common lifecycle of a test file: a server on `repo` started before its tests (handed to
 * `set`) and, after them, closed and the repository removed.
 */
export function serveDuringTests(repo: TempRepo, set: (ts: TestServer) => void): void {
  let ts: TestServer | undefined;
  before(async () => {
    ts = await startServer([repo.dir]);
    set(ts);
  });
  after(async () => {
    await ts?.close();
    repo.remove();
  });
}

/** Calls a unary client method as a promise. */
export function call<Req, Res>(
  fn: (req: Req, cb: (err: ServiceError | null, res?: Res) => void) => unknown,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(req, (err, res) => (err ? reject(err) : resolve(res as Res)));
  });
}

/** An assert.rejects validator: a gRPC error with `code` whose details match `re`. */
export function fails(code: status, re: RegExp): (e: ServiceError) => boolean {
  return (e) => {
    assert.equal(e.code, code, `expected ${status[code]}, got ${status[e.code]}: ${e.details}`);
    assert.match(e.details, re);
    return true;
  };
}
