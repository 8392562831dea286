/**
 * A strict parser for the Prometheus text exposition format (version 0.0.4), for asserting on
 * scrapes: every line must be a comment, HELP, TYPE or a well-formed sample, and every sample
 * must belong to a family declared by TYPE (histograms: _bucket/_sum/_count; summaries: the
 * quantile samples, _sum and _count). Anything else throws with the line number.
 */

export interface Sample {
  /** The sample's own name (`h_bucket`, `h_sum`, …). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?[0-9]+)?$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    const where = `line ${i + 1}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name '${name}'`);
      const f = families.get(name) ?? { name, type: 'untyped', help: '', samples: [] };
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type '${rest}'`);
        f.type = rest;
      } else {
        f.help = rest;
      }
      families.set(name, f);
      return;
    }
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`${where}: not a sample: ${line}`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    const sample = { name, labels: labelText === undefined ? {} : parseLabels(labelText, where), value: parseValue(valueText, where) };
    familyOf(families, name, where).samples.push(sample);
  });
  return families;
}

function familyOf(families: Map<string, Family>, sample: string, where: string): Family {
  const exact = families.get(sample);
  if (exact !== undefined && exact.type !== 'histogram') return exact;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const f = families.get(sample.slice(0, -suffix.length));
    if (f !== undefined && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  throw new Error(`${where}: sample '${sample}' belongs to no declared family`);
}

function parseValue(t: string, where: string): number {
  // Prometheus parses values with Go's ParseFloat: Inf and NaN in any case (prom-client writes "Nan").
  if (/^\+?inf$/i.test(t)) return Infinity;
  if (/^-inf$/i.test(t)) return -Infinity;
  if (/^nan$/i.test(t)) return NaN;
  if (!/^[-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)$/.test(t)) throw new Error(`${where}: bad value '${t}'`);
  return Number(t);
}

function parseLabels(t: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  let s = t.slice(1, -1);
  while (s.length > 0) {
    const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/.exec(s);
    if (m === null) throw new Error(`${where}: bad labels ${t}`);
    const [whole, key, value] = m as unknown as [string, string, string];
    if (key in out) throw new Error(`${where}: label '${key}' repeated`);
    out[key] = value.replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
    s = s.slice(whole.length);
  }
  return out;
}

/** The value of the one sample named `sample` whose labels include `labels`; throws if not exactly one. */
export function sampleValue(families: Map<string, Family>, family: string, sample: string, labels: Record<string, string>): number {
  const f = families.get(family);
  if (f === undefined) throw new Error(`no family '${family}'`);
  const hits = f.samples.filter((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length !== 1) throw new Error(`${hits.length} samples of ${sample} match ${JSON.stringify(labels)}`);
  return hits[0]!.value;
}
