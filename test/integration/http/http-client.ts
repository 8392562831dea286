/**
 * A minimal HTTP client over node:http for the HTTP tests: no automatic decompression (fetch would
 * hide Content-Encoding) and full control of headers, plus the v2 binary-framing helpers a client
 * such as tritonclient.http implements.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export function http(url: string, init: RequestInit = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body === undefined ? undefined : Buffer.from(init.body));
  });
}

export function json(r: HttpResult): unknown {
  return JSON.parse(r.body.toString('utf8'));
}

/** Error message of a `{"error": …}` body. */
export function errorOf(r: HttpResult): string {
  const b = json(r) as { error?: unknown };
  if (typeof b.error !== 'string') throw new Error(`not an error body: ${r.body.toString()}`);
  return b.error;
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  return http(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** JSON header + binary tensors, framed with Inference-Header-Content-Length. */
export function binaryBody(header: unknown, tensors: Uint8Array[]): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  return {
    body: Buffer.concat([json, ...tensors]),
    headers: { 'inference-header-content-length': String(json.length), 'content-type': 'application/octet-stream' },
  };
}

export interface ParsedInferResponse {
  header: {
    id?: string;
    model_name: string;
    model_version: string;
    outputs: { name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: { binary_data_size?: number } }[];
  };
  /** Output name → its binary bytes (binary outputs only). */
  binary: Map<string, Buffer>;
}

/** Splits a (decompressed) /infer response the way tritonclient does. */
export function parseInferResponse(r: HttpResult, body: Buffer = r.body): ParsedInferResponse {
  const hl = r.headers['inference-header-content-length'];
  const n = hl === undefined ? body.length : Number(hl);
  const header = JSON.parse(body.subarray(0, n).toString('utf8')) as ParsedInferResponse['header'];
  const binary = new Map<string, Buffer>();
  let at = n;
  for (const o of header.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    binary.set(o.name, body.subarray(at, at + size));
    at += size;
  }
  if (at !== body.length) throw new Error(`response has ${body.length - at} unexplained trailing bytes`);
  return { header, binary };
}

/** Writes raw bytes on a socket and returns everything the server sends until it closes or `ms` pass. */
export function rawExchange(url: string, bytes: Buffer, halfClose: boolean, ms = 2000): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, ms);
    sock.on('data', (d: Buffer) => (out += d.toString('latin1')));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      if (out !== '') resolve(out);
      else reject(e);
    });
    sock.write(bytes, () => {
      if (halfClose) sock.end();
    });
  });
}
