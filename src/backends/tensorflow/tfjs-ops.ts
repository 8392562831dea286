/**
 * The TensorFlow op names TensorFlow.js's graph executor can run, read from the op tables that
 * ship inside @tensorflow/tfjs-converter (dist/operations/op_list/*.js, one `tfOpName` per op).
 * tfjs only reports an unknown op when it reaches it at run time, one at a time; reading the
 * tables lets a load fail up front with every unsupported op listed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let cached: ReadonlySet<string> | undefined;

/**
 * The supported op names, or undefined when the tables cannot be found (a tfjs-converter whose
 * layout changed): callers then skip the up-front check and tfjs reports unknown ops itself.
 */
export function tfjsSupportedOps(): ReadonlySet<string> | undefined {
  if (cached !== undefined) return cached;
  try {
    const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-converter');
    const dir = join(dirname(main), 'operations', 'op_list');
    const ops = new Set<string>();
    for (const f of readdirSync(dir)) {
      if (!f.endsWith('.js')) continue;
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/['"]tfOpName['"]\s*:\s*['"]([A-Za-z0-9_]+)['"]/g)) {
        ops.add(m[1]!);
      }
    }
    if (ops.size === 0) return undefined;
    cached = ops;
    return ops;
  } catch {
    return undefined;
  }
}

/** Ops of `used` that are not supported, sorted, with how many nodes use each. */
export function unsupportedOps(used: Iterable<string>, supported: ReadonlySet<string>): string[] {
  const counts = new Map<string, number>();
  for (const op of used) if (!supported.has(op)) counts.set(op, (counts.get(op) ?? 0) + 1);
  return [...counts.entries()].sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => (n === 1 ? op : `${op} (${n} nodes)`));
}
