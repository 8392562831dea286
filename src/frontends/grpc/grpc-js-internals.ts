/**
 * The one place that reaches into grpc-js's private classes: the prototype of
 * BaseServerInterceptingCall (server-interceptors.js), whose decompressMessage and
 * serializeMessage bounded-inflate.ts and framed-responses.ts replace. grpc-js is pinned
 * (package.json) to the version these were read against; a missing method throws here, at server
 * start, naming the module to update, and test/unit/frontends/grpc/grpc-js-internals.test.ts
 * fails when the version or the callers of these methods change.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The grpc-js version whose server call internals were read and are tested against. */
export const VERIFIED_GRPC_JS = '1.14.7';

export type ServerCallPrototype = Record<string, unknown>;

/** The installed grpc-js's version. */
export function grpcJsVersion(): string {
  return (require('@grpc/grpc-js/package.json') as { version: string }).version;
}

/** BaseServerInterceptingCall.prototype, checked to have `methods`; `user` names the module that needs them. */
export function serverCallPrototype(methods: readonly string[], user: string): ServerCallPrototype {
  const mod = require('@grpc/grpc-js/build/src/server-interceptors.js') as { BaseServerInterceptingCall?: { prototype: ServerCallPrototype } };
  const proto = mod.BaseServerInterceptingCall?.prototype;
  const missing = proto === undefined ? methods : methods.filter((m) => typeof proto[m] !== 'function');
  if (proto === undefined || missing.length > 0) {
    throw new Error(`@grpc/grpc-js ${grpcJsVersion()} has no BaseServerInterceptingCall.${missing.join(', .')} (read against ${VERIFIED_GRPC_JS}): update ${user}`);
  }
  return proto;
}
