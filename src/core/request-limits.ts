/**
 * What one inference request may declare, over either protocol. Far above any real model
 * (Triton's models have at most hundreds of inputs and rank ≤ 8), far below what costs the
 * server: each front-end checks these before it builds objects for a request (gRPC:
 * frontends/grpc/wire-scan.ts on the wire bytes; HTTP: frontends/http/json-scan.ts on the JSON
 * text), so a request declaring millions of entries is refused in milliseconds.
 */
export const REQUEST_LIMITS = Object.freeze({
  /** Inputs, outputs, raw_input_contents entries (any repeated message, string or bytes field). */
  entries: 4096,
  /** Parameters of one map / JSON object of parameters. */
  parameters: 1024,
  /** Dimensions of one shape. */
  dims: 64,
  /** Message or JSON nesting. */
  depth: 32,
});
