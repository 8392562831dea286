// Types for the parts of scripts/onnx-builder.mjs that TypeScript code uses.
// TS sources compile to dist/, where this .mjs is not copied: import it at run
// time by absolute URL and type the result with
//   typeof import('<relative path>/scripts/onnx-builder.mjs')

/** ONNX IR version written into every generated model. */
export declare const IR_VERSION: number;
/** Default-domain opset imported by every generated model. */
export declare const OPSET_VERSION: number;

export interface MlpOptions {
  /** Features per batch item (INPUT is [batch, inputSize]). */
  inputSize: number;
  /** Hidden layer widths, each followed by Relu; default [1024, 1024, 1024]. */
  hidden?: readonly number[];
  /** Outputs per batch item (OUTPUT is [batch, outputSize]). */
  outputSize: number;
  /** Weight seed; the same options always give the same bytes. Default 1. */
  seed?: number;
}

/**
 * Serialized FP32 MLP: input "INPUT" [batch, inputSize] → output "OUTPUT"
 * [batch, outputSize] (first dim symbolic "batch"). Throws a plain Error when a
 * size is not a positive integer.
 */
export declare function buildMlp(options: MlpOptions): Uint8Array;

/** mulberry32 PRNG: floats in [0, 1) determined by the 32-bit seed. */
export declare function mulberry32(seed: number): () => number;

/**
 * Serialized FP32 model OUTPUT = INPUT + addend, INPUT and OUTPUT [batch, width]
 * (first dim symbolic). Throws a plain Error when width is not a positive integer.
 */
export declare function buildAddConstant(options: { width: number; addend: number }): Uint8Array;
