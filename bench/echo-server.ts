/**
 * The transport ceiling: a bare grpc-js unary server that answers every call with a fixed
 * message of the given size, with the same message-size options as Infera. Run as a child
 * process: `node echo-server.js <responseBytes>`; prints `{"port": N}` once listening.
 */
import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';

const identity = (b: Buffer) => b;
const responseBytes = Number(process.argv[2] ?? '0');
const response = Buffer.alloc(responseBytes, 7);

const service: ServiceDefinition = {
  Echo: {
    path: '/bench.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

const server = new Server({ 'grpc.max_receive_message_length': 2_147_483_647, 'grpc.max_send_message_length': 2_147_483_647 });
server.addService(service, { Echo: (_call: unknown, cb: (e: null, r: Buffer) => void) => cb(null, response) });
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.on('SIGTERM', () => server.forceShutdown());
