/**
 * Version labels, canary and shadow traffic of one model, read from its config.pbtxt
 * `parameters` (the mechanism Triton already has for settings it passes through unread, so the
 * same config.pbtxt still loads in Triton, and a reload of the config is what changes a split):
 *
 *   parameters { key: "version_labels" value: { string_value: "stable:1,canary:2" } }
 *   parameters { key: "canary_version" value: { string_value: "canary" } }   a version or a label
 *   parameters { key: "canary_percent" value: { string_value: "10" } }       0..100, decimals allowed
 *   parameters { key: "shadow_version" value: { string_value: "3" } }
 *   parameters { key: "shadow_percent" value: { string_value: "5" } }
 *
 * Invariants: a label is not a number (so "2" always means version 2) and names a version the
 * version policy loads; the canary and shadow versions are loaded versions; the percentages are
 * in [0, 100]. Any violation fails the load with INVALID_ARG naming the model and parameter.
 * The routing is frozen with the registry entry, so a reload swaps it atomically.
 */
import type { ModelConfig } from '../config/model-config.js';
import { errors } from '../errors/catalogue.js';

export interface TrafficSplit {
  readonly version: number;
  /** Share of the traffic, in basis points (1 % = 100). */
  readonly basisPoints: number;
}

export interface VersionRouting {
  /** label → version. */
  readonly labels: ReadonlyMap<string, number>;
  readonly canary?: TrafficSplit | undefined;
  readonly shadow?: TrafficSplit | undefined;
}

export const ROUTING_PARAMETERS = ['version_labels', 'canary_version', 'canary_percent', 'shadow_version', 'shadow_percent'] as const;

const LABEL = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const NUMERIC_VERSION = /^[0-9]{1,15}$/;

/** Whether `s` could be a label (front-ends accept it where a version goes). */
export function isLabelSyntax(s: string): boolean {
  return LABEL.test(s);
}

/** Parses and checks the routing parameters of `config` against the versions that load. */
export function parseVersionRouting(config: Readonly<ModelConfig>, modelName: string, versions: readonly number[]): VersionRouting {
  const param = (key: string): string | undefined => config.parameters?.[key]?.string_value?.trim();
  const bad = (key: string, why: string) => errors.invalidArg(`invalid parameter '${key}' of model '${modelName}': ${why}`);
  const loaded = new Set(versions);
  const labels = new Map<string, number>();
  const rawLabels = param('version_labels');
  if (rawLabels !== undefined && rawLabels !== '') {
    for (const item of rawLabels.split(',')) {
      const m = /^\s*([^:\s]+)\s*:\s*([0-9]{1,15})\s*$/.exec(item);
      if (m === null) throw bad('version_labels', `expected '<label>:<version>[,<label>:<version>...]', got '${item.trim()}'`);
      const [, label, v] = m as unknown as [string, string, string];
      if (!LABEL.test(label)) throw bad('version_labels', `label '${label}' must start with a letter or '_' and hold only letters, digits, '_', '.', '-' (at most 64)`);
      if (labels.has(label)) throw bad('version_labels', `label '${label}' is given twice`);
      if (!loaded.has(Number(v))) throw bad('version_labels', `label '${label}' names version ${v}, which the version policy does not load (loaded: ${[...loaded].join(', ') || 'none'})`);
      labels.set(label, Number(v));
    }
  }
  const split = (kind: 'canary' | 'shadow'): TrafficSplit | undefined => {
    const vKey = `${kind}_version`;
    const pKey = `${kind}_percent`;
    const v = param(vKey);
    const p = param(pKey);
    if ((v === undefined || v === '') && (p === undefined || p === '')) return undefined;
    if (v === undefined || v === '') throw bad(vKey, `'${pKey}' is set, so '${vKey}' must name a version or label`);
    const version = NUMERIC_VERSION.test(v) ? Number(v) : labels.get(v);
    if (version === undefined) throw bad(vKey, `'${v}' is neither a version number nor one of the labels (${[...labels.keys()].join(', ') || 'none'})`);
    if (!loaded.has(version)) throw bad(vKey, `version ${version} is not loaded under the version policy`);
    const percent = p === undefined || p === '' ? 100 : /^[0-9]{1,3}(\.[0-9]{1,2})?$/.test(p) ? Number(p) : Number.NaN;
    if (!(percent >= 0 && percent <= 100)) throw bad(pKey, `must be a number from 0 to 100 with at most two decimals, got '${p}'`);
    return { version, basisPoints: Math.round(percent * 100) };
  };
  return { labels, canary: split('canary'), shadow: split('shadow') };
}

/**
 * Whether a request falls in a split of `basisPoints`: by a hash of its id when it has one (the
 * same id always lands on the same side: sticky), else at random.
 */
export function inSplit(basisPoints: number, requestId: string, salt: string): boolean {
  if (basisPoints <= 0) return false;
  if (basisPoints >= 10000) return true;
  const bucket = requestId === '' ? Math.floor(Math.random() * 10000) : fnv1a(`${salt}\u0000${requestId}`) % 10000;
  return bucket < basisPoints;
}

/** 32-bit FNV-1a over UTF-16 code units: cheap, well spread for short ids. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (murmur3 fmix32) so consecutive ids spread over the low digits too.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
