/**
 * The HTTP/REST listener: a fastify instance with no body parsing of its own (every body is read
 * as a Buffer by body-reader.ts, whatever its Content-Type, which Triton does not check either,
 * bounded by --http-max-input-size), Triton's error bodies for unknown paths (404) and wrong
 * methods (405), and the route table of routes.ts.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Duplex, Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { InferenceService } from '../../core/inference-service.js';
import { logOutcome } from '../../observability/log-policy.js';
import { errorBody, toHttpFailure } from './http-status.js';
import { bodyOptions, registerRoutes } from './routes.js';
import { readBody } from './body-reader.js';
import { clip } from '../../errors/catalogue.js';

export interface HttpFrontendOptions {
  /** Largest request body in bytes, before and after decompression. */
  maxInputBytes: number;
  /** Headers must arrive within this (408). Default 30 s. */
  headerTimeoutMs?: number;
  /** The whole request (headers and body) must arrive within this (408); 0 = none. Default 300 s. */
  requestTimeoutMs?: number;
  /** A connection whose request moves no bytes this long is closed; 0 = never. Default 60 s. */
  idleTimeoutMs?: number;
}

/**
 * How often Node checks the header and request timeouts of open connections (its default, 30 s,
 * would let a slow connection overstay a short timeout by that much).
 */
const TIMEOUT_CHECK_INTERVAL_MS = 500;

/** Connections idle this long are closed; above common load-balancer idle timeouts (60 s). */
const KEEP_ALIVE_TIMEOUT_MS = 75_000;
/** Model names beyond this many characters cannot match a route (find-my-way's default is 100). */
const MAX_PARAM_LENGTH = 1024;

/** Requests Node's HTTP parser rejects never reach fastify: answer them in Triton's error format. */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout'] : [400, 'Bad Request'];
  const body = errorBody(`malformed HTTP request: ${err.code ?? err.message}`);
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** The router's own refusals (a path segment over MAX_PARAM_LENGTH, a malformed URL) in Triton's error format. */
function frameworkErrors(e: Error & { code?: string }, _req: FastifyRequest, reply: FastifyReply): void {
  const [status, message] = e.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? [414, `URI Too Long: a path segment (model name or version) is longer than ${MAX_PARAM_LENGTH} characters`]
    : [400, `malformed URL: ${e.message}`];
  reply.code(status).header('content-type', 'application/json').send(errorBody(message));
}

export class HttpFrontend {
  readonly #app: FastifyInstance;
  #port = 0;

  private constructor(app: FastifyInstance) {
    this.#app = app;
  }

  static create(svc: InferenceService, log: Logger, o: HttpFrontendOptions): HttpFrontend {
    const requestTimeout = o.requestTimeoutMs ?? 300_000;
    const app = Fastify({
      logger: false,
      // Slow or stalled clients (a body trickled byte by byte, headers and then nothing, a chunk
      // declaring 2^64 bytes) are ended: Node answers 408 through clientErrorHandler, or closes.
      requestTimeout,
      connectionTimeout: o.idleTimeoutMs ?? 60_000,
      http: { headersTimeout: o.headerTimeoutMs ?? 30_000, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
      exposeHeadRoutes: false,
      // While closing, requests on open connections still reach the routes: the core answers them
      // (503 "Server exiting" for infer, 400 for readiness) in Triton's error format.
      return503OnClosing: false,
      forceCloseConnections: 'idle',
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
      frameworkErrors,
      clientErrorHandler,
    });
    const hlog = log.child({ frontend: 'http' });
    // Node answers an unknown Expect header with a bare 417; answer it in the error format.
    app.server.on('checkExpectation', (req, res) => {
      const body = errorBody(`unsupported Expect header '${clip(String(req.headers.expect ?? ''))}': only 100-continue is supported`);
      res.writeHead(417, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
    app.removeAllContentTypeParsers();
    // Every body is read by body-reader.ts as it arrives (the route's config says how), bounded by maxInputBytes.
    app.addContentTypeParser('*', (req: FastifyRequest, payload: Readable) => readBody(req.headers, payload, bodyOptions(req, o.maxInputBytes)));
    // The declared type is irrelevant (and fastify would refuse a malformed one with 415 first).
    app.addHook('onRequest', (req, _reply, done) => {
      if (req.headers['content-type'] !== undefined) req.headers['content-type'] = 'application/octet-stream';
      done();
    });
    app.setNotFoundHandler((_req, reply) => {
      reply.code(404).header('content-type', 'application/json').send(errorBody('Not Found'));
    });
    app.setErrorHandler((e, req, reply) => {
      const f = toHttpFailure(e);
      if (f.error !== undefined) logOutcome(hlog, `${req.method} ${req.routeOptions.url ?? req.url}`, f.error);
      reply.code(f.status).header('content-type', 'application/json').send(errorBody(f.message));
    });
    registerRoutes(app, svc, { log: hlog });
    return new HttpFrontend(app);
  }

  /** Binds `host:port` (port 0 = any free port) and resolves with the bound port. */
  async listen(host: string, port: number): Promise<number> {
    await this.#app.listen({ host, port });
    const addr = this.#app.server.address();
    this.#port = typeof addr === 'object' && addr !== null ? addr.port : port;
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  /**
   * Stops accepting connections (requests on open ones are still answered), waits up to `timeoutMs` for
   * running requests, then closes every connection. Resolves when the listener is closed.
   */
  async close(timeoutMs: number): Promise<void> {
    const timer = setTimeout(() => this.#app.server.closeAllConnections(), Math.max(0, timeoutMs));
    try {
      await this.#app.close();
    } finally {
      clearTimeout(timer);
    }
  }
}
