/**
 * The compute ceiling: raw in-process onnxruntime-node session.run throughput at a given batch
 * size and thread count, with no server, queue or thread hop in between. Run while the server is
 * not running so both get the same cores.
 */
import * as ort from 'onnxruntime-node';

export async function ortCeiling(modelPath: string, o: {
  inputName: string; featureSize: number; batch: number; intraOpThreads: number; seconds: number; dtype: 'float32' | 'int32';
  extraInputs?: string[];
}): Promise<{ inferencesPerSec: number; msPerRun: number }> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: o.intraOpThreads, interOpNumThreads: 1 });
  const n = o.batch * o.featureSize;
  const make = () => (o.dtype === 'float32'
    ? new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => (i % 13) / 13), [o.batch, o.featureSize])
    : new ort.Tensor('int32', Int32Array.from({ length: n }, (_, i) => i % 100), [o.batch, o.featureSize]));
  const feeds: Record<string, ort.Tensor> = { [o.inputName]: make() };
  for (const name of o.extraInputs ?? []) feeds[name] = make();
  for (let i = 0; i < 5; i++) await session.run(feeds);
  let runs = 0;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(o.seconds * 1e9));
  while (process.hrtime.bigint() < deadline) {
    await session.run(feeds);
    runs++;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await session.release();
  return { inferencesPerSec: (runs * o.batch) / secs, msPerRun: (secs * 1000) / runs };
}
