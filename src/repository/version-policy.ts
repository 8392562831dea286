/** Which version folders a model serves under its version_policy (PROTOCOL.md §8.2). */
import type { ModelVersionPolicy } from '../config/model-config.js';

/** `available` ascending; returns ascending. Missing specific versions are reported, not served. */
export function selectVersions(
  policy: ModelVersionPolicy | undefined,
  available: readonly number[],
): { versions: number[]; missing: number[] } {
  if (policy?.all !== undefined) return { versions: [...available], missing: [] };
  if (policy?.specific !== undefined) {
    const wanted = [...new Set(policy.specific.versions ?? [])].sort((a, b) => a - b);
    return {
      versions: wanted.filter((v) => available.includes(v)),
      missing: wanted.filter((v) => !available.includes(v)),
    };
  }
  const n = Math.max(1, policy?.latest?.num_versions ?? 1);
  return { versions: available.slice(-n), missing: [] };
}
