/**
 * ONNX Runtime's process environment. Its telemetry (on by default in the Linux builds) writes
 * ~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db, $TMPDIR/mat-debug-<pid>.log and
 * looks up mobile.events.data.microsoft.com; Infera fetches nothing at run time and suits
 * air-gapped sites, so it is switched off for every instance.
 *
 * Invariant: must run on the main thread before the first worker loads onnxruntime-node. ORT
 * reads the variable with getenv() in native code, which sees the process environment; assigning
 * process.env on the main thread updates it (in a worker thread process.env is a private copy, so
 * setting it there would not reach ORT). Workers started later inherit it.
 */
export const ORT_TELEMETRY_ENV = 'ORT_DISABLE_TELEMETRY';

export function disableOnnxruntimeTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  env[ORT_TELEMETRY_ENV] = '1';
}
