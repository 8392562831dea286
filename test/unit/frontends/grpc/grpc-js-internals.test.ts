// The grpc-js internals that bounded-inflate.ts, framed-responses.ts and message-reader.ts replace are where, and
// called how, they were when those modules were written. A grpc-js upgrade that moves them fails
// here, loudly, instead of silently bringing back the 2 GiB inflate or the double response copy.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { grpcJsVersion, serverCallPrototype, VERIFIED_GRPC_JS } from '../../../../src/frontends/grpc/grpc-js-internals.js';
import { installBoundedInflate } from '../../../../src/frontends/grpc/bounded-inflate.js';
import { installFramedResponses } from '../../../../src/frontends/grpc/framed-responses.js';
import { installMessageReader } from '../../../../src/frontends/grpc/message-reader.js';

const require = createRequire(import.meta.url);
type Proto = Record<string, (...a: unknown[]) => unknown>;
const proto = (require('@grpc/grpc-js/build/src/server-interceptors.js') as { BaseServerInterceptingCall: { prototype: Proto } }).BaseServerInterceptingCall.prototype;

describe('grpc-js server call internals', () => {
  it(`are grpc-js ${VERIFIED_GRPC_JS}'s: re-read server-interceptors.js before moving the pin`, () => {
    assert.equal(grpcJsVersion(), VERIFIED_GRPC_JS);
    // decompressAndMaybePush awaits this.decompressMessage and hands its result to handler.deserialize.
    const push = proto['decompressAndMaybePush']!.toString();
    assert.match(push, /await this\.decompressMessage\(queueEntry\.compressedMessage, compressedMessageEncoding\)/);
    assert.match(push, /this\.handler\.deserialize\(decompressedMessage\)/);
    // handleDataFrame feeds this.decoder (message-reader.ts swaps it) and answers its throw with RESOURCE_EXHAUSTED.
    const frame = proto['handleDataFrame']!.toString();
    assert.match(frame, /rawMessages = this\.decoder\.write\(data\)/);
    assert.match(frame, /this\.sendStatus\(\{ code: constants_1\.Status\.RESOURCE_EXHAUSTED, details: e\.message \}\)/);
    // sendMessage, which framed-responses.ts re-implements for its handlers, still takes these steps.
    const send = proto['sendMessage']!.toString();
    for (const step of [/if \(this\.checkCancelled\(\)\) \{\s*return;/, /response = this\.serializeMessage\(message\)/, /details = 'Error serializing response'/,
      /response\.length - 5 > this\.maxSendMessageSize/, /details: `Sent message larger than max \(\$\{response\.length\} vs\. \$\{this\.maxSendMessageSize\}\)`/,
      /this\.maybeSendMetadata\(\);/, /this\.stream\.write\(response, error => \{/, /details = 'Internal server error'/,
      /this\.callEventTracker\) === null \|\| _a === void 0 \? void 0 : _a\.addMessageSent\(\);\s*callback\(\);/]) {
      assert.match(send, step);
    }
  });

  it('are replaced once, idempotently', () => {
    installBoundedInflate();
    installFramedResponses();
    installMessageReader();
    const [d, s, h] = [proto['decompressMessage'], proto['sendMessage'], proto['handleDataFrame']];
    assert.match(h!.toString(), /new MessageReader\(this\.maxReceiveMessageSize, /);
    assert.match(d!.toString(), /inflateChecked\(/);
    assert.match(s!.toString(), /grpcSend\.call\(this, message, callback\)/);
    installBoundedInflate();
    installFramedResponses();
    installMessageReader();
    assert.equal(proto['handleDataFrame'], h);
    assert.equal(proto['decompressMessage'], d);
    assert.equal(proto['sendMessage'], s);
  });

  it('a missing method is a clear error naming the module to update', () => {
    assert.throws(() => serverCallPrototype(['noSuchMethod'], 'x.ts'), /@grpc\/grpc-js 1\.\d+\.\d+ has no BaseServerInterceptingCall\.noSuchMethod \(read against .*\): update x\.ts/);
  });
});
