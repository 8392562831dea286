#!/usr/bin/env node
// Extracts the JSON schemas that test/unit/deploy/manifests.test.ts validates deploy/ against, and
// writes them to deploy/schemas/. Run once when the target Kubernetes or KServe version changes:
//
//   node scripts/extract-deploy-schemas.mjs \
//     --kubernetes <swagger.json> --kubernetes-origin '<where it came from>' \
//     --kserve-crd <serving.kserve.io_servingruntimes.yaml> --kserve-crd <…_inferenceservices.yaml> \
//     --kserve-origin '<where they came from>'
//
// Inputs: Kubernetes' OpenAPI v2 document (api/openapi-spec/swagger.json of a release branch) and
// KServe's full CRDs (config/crd/full/serving.kserve.io_*.yaml). What is kept, and how it is changed
// so a JSON-schema validator judges a manifest as `kubectl apply --validate=strict` would:
// - Kubernetes: only the definitions reachable from the kinds in KUBERNETES_KINDS.
// - Descriptions and x-kubernetes-* annotations are dropped (size), `format` is dropped (the
//   OpenAPI formats int32/int64/byte/… are not JSON-schema formats).
// - IntOrString and Quantity accept what YAML gives for them (a number or a string); the OpenAPI
//   document calls them strings with a custom format.
// - Objects that list their properties get `additionalProperties: false` (the API server rejects
//   unknown fields under strict validation; kubeconform's -strict does the same), except where
//   the CRD says x-kubernetes-preserve-unknown-fields.
// - CRD CEL rules (x-kubernetes-validations) cannot be evaluated here and are dropped.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const KUBERNETES_KINDS = [
  'io.k8s.api.apps.v1.Deployment',
  'io.k8s.api.core.v1.Service',
  'io.k8s.api.core.v1.ConfigMap',
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler',
];
const LOOSE_SCALARS = {
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { oneOf: [{ type: 'string' }, { type: 'integer' }] },
  'io.k8s.apimachinery.pkg.api.resource.Quantity': { oneOf: [{ type: 'string' }, { type: 'number' }] },
};

function args() {
  const out = { kserveCrds: [] };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    const [k, v] = [a[i], a[i + 1]];
    if (k === '--kubernetes') out.kubernetes = v;
    else if (k === '--kubernetes-origin') out.kubernetesOrigin = v;
    else if (k === '--kserve-crd') out.kserveCrds.push(v);
    else if (k === '--kserve-origin') out.kserveOrigin = v;
    else throw new Error(`unknown argument ${k}`);
  }
  if (!out.kubernetes || !out.kubernetesOrigin || out.kserveCrds.length === 0 || !out.kserveOrigin) {
    throw new Error('usage: --kubernetes FILE --kubernetes-origin TEXT --kserve-crd FILE… --kserve-origin TEXT');
  }
  return out;
}

/** Deep copy without descriptions, formats and x- keys; strict objects unless told otherwise. */
function trim(node) {
  if (Array.isArray(node)) return node.map(trim);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'description' || k === 'format' || k.startsWith('x-')) continue;
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, trim(s)])) : trim(v);
  }
  if (node.properties !== undefined && node.additionalProperties === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false;
  }
  return out;
}

function refsOf(node, into) {
  if (Array.isArray(node)) for (const n of node) refsOf(n, into);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') into.add(v.replace('#/definitions/', ''));
      else refsOf(v, into);
    }
  }
}

function kubernetesSchemas(file, origin) {
  const all = JSON.parse(readFileSync(file, 'utf8')).definitions;
  const keep = new Set();
  const todo = [...KUBERNETES_KINDS];
  while (todo.length > 0) {
    const name = todo.pop();
    if (keep.has(name)) continue;
    if (all[name] === undefined) throw new Error(`definition ${name} is not in ${file}`);
    keep.add(name);
    const refs = new Set();
    refsOf(all[name], refs);
    todo.push(...refs);
  }
  const definitions = {};
  const kinds = {};
  for (const name of [...keep].sort()) {
    definitions[name] = LOOSE_SCALARS[name] ?? trim(all[name]);
    for (const gvk of all[name]['x-kubernetes-group-version-kind'] ?? []) {
      if (KUBERNETES_KINDS.includes(name)) kinds[`${gvk.group === '' ? '' : `${gvk.group}/`}${gvk.version}/${gvk.kind}`] = name;
    }
  }
  return { $id: 'kubernetes', $comment: `Trimmed from ${origin} by scripts/extract-deploy-schemas.mjs`, kinds, definitions };
}

function kserveSchemas(files, origin) {
  const kinds = {};
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const crd = doc.toJS();
      for (const v of crd.spec.versions) {
        const schema = trim(v.schema.openAPIV3Schema);
        // The API server checks metadata as ObjectMeta, whatever the CRD says.
        schema.properties.metadata = { $ref: 'kubernetes#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' };
        kinds[`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`] = schema;
      }
    }
  }
  return { $id: 'kserve', $comment: `openAPIV3Schema of ${origin}, trimmed by scripts/extract-deploy-schemas.mjs`, kinds };
}

const a = args();
const dir = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'deploy', 'schemas');
writeFileSync(join(dir, 'kubernetes.schema.json'), `${JSON.stringify(kubernetesSchemas(a.kubernetes, a.kubernetesOrigin))}\n`);
writeFileSync(join(dir, 'kserve.schema.json'), `${JSON.stringify(kserveSchemas(a.kserveCrds, a.kserveOrigin))}\n`);
