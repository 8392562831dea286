/**
 * The naive ceiling: the ~30-line Node server a user writes without Infera. grpc-js with the
 * same protos, onnxruntime-node `session.run` on the main thread per request, no workers, no
 * batching, no validation. Run as a child: `node naive-server.js <model.onnx>`; prints
 * `{"port": N}` once listening. Inputs are read from raw_input_contents by their declared
 * datatype (INT32 or FP32 here, the bench's two models).
 *
 * HTTP form (`node naive-server.js <model.onnx> <intraOp> http`, for the wrk rows): node:http,
 * a KServe v2 JSON body parsed with JSON.parse, `data` arrays into typed arrays, session.run,
 * the outputs answered as JSON, as the same user would write it for REST.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import * as ort from 'onnxruntime-node';
import { loadInferenceProtos } from '../src/frontends/grpc/proto-loader.js';
import type { ModelInferRequest__Output } from '../src/generated/inference/ModelInferRequest.js';
import type { ModelInferResponse } from '../src/generated/inference/ModelInferResponse.js';

const session = await ort.InferenceSession.create(process.argv[2]!, { intraOpNumThreads: Number(process.argv[3] ?? 1), interOpNumThreads: 1 });
const { inference } = loadInferenceProtos();

async function infer(call: ServerUnaryCall<ModelInferRequest__Output, ModelInferResponse>, cb: sendUnaryData<ModelInferResponse>): Promise<void> {
  const req = call.request;
  const feeds: Record<string, ort.Tensor> = {};
  req.inputs.forEach((inp, i) => {
    const raw = req.raw_input_contents[i]!;
    const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    feeds[inp.name] = new ort.Tensor(inp.datatype === 'FP32' ? 'float32' : 'int32', inp.datatype === 'FP32' ? new Float32Array(buf) : new Int32Array(buf), inp.shape);
  });
  const out = await session.run(feeds);
  const names = Object.keys(out);
  cb(null, {
    model_name: req.model_name,
    outputs: names.map((name) => ({ name, datatype: out[name]!.type === 'float32' ? 'FP32' : 'INT32', shape: out[name]!.dims as number[] })),
    raw_output_contents: names.map((name) => { const d = out[name]!.data as Int32Array; return Buffer.from(d.buffer, d.byteOffset, d.byteLength); }),
  });
}

async function inferHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = JSON.parse(Buffer.concat(chunks).toString()) as { inputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
  const feeds: Record<string, ort.Tensor> = {};
  for (const inp of body.inputs) {
    feeds[inp.name] = inp.datatype === 'FP32' ? new ort.Tensor('float32', Float32Array.from(inp.data), inp.shape) : new ort.Tensor('int32', Int32Array.from(inp.data), inp.shape);
  }
  const out = await session.run(feeds);
  const outputs = Object.keys(out).map((name) => ({
    name, datatype: out[name]!.type === 'float32' ? 'FP32' : 'INT32', shape: out[name]!.dims, data: Array.from(out[name]!.data as Int32Array),
  }));
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ model_name: 'naive', outputs }));
}

if (process.argv[4] === 'http') {
  const http = createServer((req, res) => {
    inferHttp(req, res).catch((e: Error) => res.writeHead(400).end(JSON.stringify({ error: e.message })));
  });
  http.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (http.address() as { port: number }).port })}\n`);
  });
  process.on('SIGTERM', () => http.close(() => process.exit(0)));
} else {
  const server = new Server();
  server.addService(inference, { ModelInfer: (call: ServerUnaryCall<ModelInferRequest__Output, ModelInferResponse>, cb: sendUnaryData<ModelInferResponse>) => { infer(call, cb).catch((e: Error) => cb(e)); } } as never);
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  });
  process.on('SIGTERM', () => server.forceShutdown());
}
