import { ErrorCode } from './error-codes.js';

/** The serialisable form of an InferenceError, used to cross the worker-thread boundary. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  stack?: string;
}

/**
 * The only error type that crosses module boundaries in the core. Create instances through the
 * factories in `catalogue.ts` so messages stay consistent and name the model, version and tensor.
 */
export class InferenceError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InferenceError';
    this.code = code;
  }

  /** Normalises anything thrown into an InferenceError; unknown errors become INTERNAL. */
  static from(err: unknown): InferenceError {
    if (err instanceof InferenceError) return err;
    if (err instanceof Error) return new InferenceError(ErrorCode.INTERNAL, err.message, { cause: err });
    return new InferenceError(ErrorCode.INTERNAL, String(err));
  }

  serialize(): SerializedError {
    return this.stack === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, stack: this.stack };
  }

  static deserialize(e: SerializedError): InferenceError {
    const err = new InferenceError(e.code, e.message);
    if (e.stack !== undefined) err.stack = e.stack;
    return err;
  }
}
