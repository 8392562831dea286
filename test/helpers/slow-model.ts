/**
 * A CPU ONNX model that takes seconds per run (a chain of `matmuls` MatMuls on [1,4] FP32;
 * ~2 s at 3000 on an idle core, longer under load): for tests of what happens while a native run
 * is in flight (shutdown, the watchdog). One instance, max_batch_size 4, input IN / output OUT.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, SLOW_CONFIG, type TempRepo } from './repo.js';


/** Adds model `name` to `repo` with its config; call writeSlowModel before the server loads it. */
export function addSlowModel(repo: TempRepo, name: string): TempRepo {
  return repo.add(name, { config: SLOW_CONFIG, files: { '1/.keep': '' } });
}

/** Writes the model file of `name` (built by scripts/fixture-models.mjs, not committed: it is large). */
export async function writeSlowModel(repo: TempRepo, name: string, matmuls = 3000): Promise<void> {
  const { buildSlow } = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'fixture-models.mjs')).href)) as { buildSlow(o: { matmuls: number }): Uint8Array };
  writeFileSync(path.join(repo.dir, name, '1', 'model.onnx'), buildSlow({ matmuls }));
}
