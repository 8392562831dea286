/**
 * BLS rows of `npm run bench` (issue 12): the bundled bls_pipeline (a TypeScript model calling
 * branch_a and branch_b through ctx.infer, with pre- and postprocessing in TS; parameter branch
 * "both", its default) against the bundled `pipeline` ensemble, which computes the same PROBS,
 * CLASS and NORMALIZED (test/integration/typescript/bls.test.ts checks that), at c=1 and c=16,
 * on one server. The BLS row's ceiling is the ensemble row at the same concurrency.
 */
import { cpSync } from 'node:fs';
import path from 'node:path';

export const BLS_MODELS = ['bls_pipeline', 'pipeline', 'preprocess', 'branch_a', 'branch_b', 'combine'] as const;

/** Copies the bundled models both rows need into the bench repository. */
export function addBlsModels(root: string, repo: string): void {
  for (const m of BLS_MODELS) cpSync(path.join(root, 'model-repository', m), path.join(repo, m), { recursive: true });
}

/** One RAW [1, 4] FP32 request, as the caller's encodeRequest frames it. */
export function pipelineInput(): { name: string; datatype: string; shape: number[]; data: Buffer }[] {
  return [{ name: 'RAW', datatype: 'FP32', shape: [1, 4], data: Buffer.from(Float32Array.of(1, 2, 3, 4).buffer) }];
}

export const BLS_CONCURRENCY = [1, 16] as const;
