/**
 * Every manifest in deploy/ validates against the real schemas: Kubernetes' OpenAPI definitions
 * for the built-in kinds and KServe's CRD openAPIV3Schema, extracted into deploy/schemas/ (origin
 * in each file's $comment; scripts/extract-deploy-schemas.mjs). Unknown fields are errors, as
 * under `kubectl apply --validate=strict`. Then what no schema can say: the flags in the manifests
 * are Infera's, the pieces reference each other by the right names and ports, and the metrics the
 * autoscaling rule queries are ones Infera exports.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT } from '../../helpers/repo.js';
import { parseCommandLine } from '../../../src/cli.js';

type Obj = Record<string, any>;

const DEPLOY = path.join(ROOT, 'deploy');
const k8s = JSON.parse(readFileSync(path.join(DEPLOY, 'schemas', 'kubernetes.schema.json'), 'utf8')) as { kinds: Record<string, string> };
const kserve = JSON.parse(readFileSync(path.join(DEPLOY, 'schemas', 'kserve.schema.json'), 'utf8')) as { kinds: Record<string, object> };

const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addSchema(k8s);
const validators = new Map<string, ValidateFunction>();

function validatorFor(doc: Obj): ValidateFunction {
  const key = `${doc['apiVersion']}/${doc['kind']}`;
  let v = validators.get(key);
  if (v === undefined) {
    const builtIn = k8s.kinds[key];
    const crd = kserve.kinds[key];
    assert.ok(builtIn !== undefined || crd !== undefined, `no schema for ${key}`);
    v = ajv.compile(builtIn !== undefined ? { $ref: `kubernetes#/definitions/${builtIn}` } : crd!);
    validators.set(key, v);
  }
  return v;
}

function errorsOf(doc: Obj): string[] {
  const v = validatorFor(doc);
  return v(doc) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}

function manifests(): { file: string; doc: Obj }[] {
  const out: { file: string; doc: Obj }[] = [];
  for (const dir of ['kserve', 'kubernetes']) {
    for (const f of readdirSync(path.join(DEPLOY, dir)).filter((x) => x.endsWith('.yaml')).sort()) {
      for (const d of parseAllDocuments(readFileSync(path.join(DEPLOY, dir, f), 'utf8'))) {
        assert.deepEqual(d.errors, [], `${dir}/${f} is YAML`);
        out.push({ file: `${dir}/${f}`, doc: d.toJS() as Obj });
      }
    }
  }
  return out;
}

const all = manifests();
const byKind = (kind: string): Obj => {
  const m = all.find((x) => x.doc['kind'] === kind);
  assert.ok(m !== undefined, `a ${kind} in deploy/`);
  return m.doc;
};
const clone = (o: Obj): Obj => structuredClone(o);

describe('deploy/ manifests against the schemas', () => {
  it('there is one of each expected kind', () => {
    assert.deepEqual(all.map((m) => m.doc['kind']).sort(), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'InferenceService', 'InferenceService', 'Service', 'ServingRuntime']);
  });

  for (const { file, doc } of all) {
    it(`${file} (${doc['kind']}) is valid`, () => {
      assert.deepEqual(errorsOf(doc), []);
    });
  }

  it('the validation rejects what the API server would', () => {
    const typo = clone(byKind('Deployment'));
    typo['spec']['template']['spec']['containers'][0]['imagePullPolciy'] = 'Always';
    assert.match(errorsOf(typo).join('\n'), /must NOT have additional properties.*imagePullPolciy/);
    const wrongType = clone(byKind('Deployment'));
    wrongType['spec']['replicas'] = 'two';
    assert.match(errorsOf(wrongType).join('\n'), /\/spec\/replicas must be integer/);
    const noTarget = clone(byKind('HorizontalPodAutoscaler'));
    delete noTarget['spec']['scaleTargetRef'];
    assert.match(errorsOf(noTarget).join('\n'), /must have required property 'scaleTargetRef'/);
    const runtime = clone(byKind('ServingRuntime'));
    runtime['spec']['supportedModelFormats'][0]['autoselect'] = true;
    assert.match(errorsOf(runtime).join('\n'), /additional properties.*autoselect/);
    const isvc = clone(byKind('InferenceService'));
    isvc['spec']['predictor']['model']['storageUri'] = 42;
    assert.match(errorsOf(isvc).join('\n'), /storageUri must be string/);
    const badMeta = clone(byKind('Service'));
    badMeta['metadata']['labels'] = { a: 1 };
    assert.match(errorsOf(badMeta).join('\n'), /labels\/a must be string/);
  });
});

/** The container's args as Infera's command line parses them (throws for a flag Infera lacks). */
function optionsOf(container: Obj) {
  return parseCommandLine(['node', 'infera', ...(container['args'] as string[])], {}, false);
}

describe('deploy/ manifests fit Infera and each other', () => {
  it('the ServingRuntime follows KServe\'s conventions', () => {
    const rt = byKind('ServingRuntime');
    assert.deepEqual(rt['spec']['supportedModelFormats'].map((f: Obj) => f['name']).sort(), ['onnx', 'tensorflow']);
    assert.deepEqual(rt['spec']['protocolVersions'], ['v2', 'grpc-v2']);
    const [c] = rt['spec']['containers'];
    assert.equal(c['name'], 'kserve-container');
    const o = optionsOf(c);
    assert.deepEqual(o.modelRepositories, ['/mnt/models']);
    assert.deepEqual([o.httpPort, o.grpcPort, o.metricsPort], [8080, 9000, Number(rt['spec']['annotations']['prometheus.kserve.io/port'])]);
    assert.equal(o.modelControlMode, 'explicit', 'KServe\'s model agent loads and unloads through the repository API');
    assert.equal(c['readinessProbe']['httpGet']['port'], o.httpPort);
  });

  it('the InferenceServices use the runtime, with a model format and protocol it supports', () => {
    const rt = byKind('ServingRuntime');
    const grpcPort = optionsOf(rt['spec']['containers'][0]).grpcPort;
    const services = all.filter((m) => m.doc['kind'] === 'InferenceService').map((m) => m.doc);
    assert.deepEqual(services.map((s) => s['spec']['predictor']['model']['protocolVersion']).sort(), ['grpc-v2', 'v2']);
    for (const isvc of services) {
      const model = isvc['spec']['predictor']['model'];
      assert.equal(model['runtime'], rt['metadata']['name']);
      assert.ok(rt['spec']['supportedModelFormats'].some((f: Obj) => f['name'] === model['modelFormat']['name']));
      assert.ok(rt['spec']['protocolVersions'].includes(model['protocolVersion']));
      if (model['protocolVersion'] === 'grpc-v2') assert.deepEqual(model['ports'], [{ name: 'h2c', containerPort: grpcPort, protocol: 'TCP' }]);
    }
  });

  it('Deployment, Service and HPA agree on names, ports and probes', () => {
    const dep = byKind('Deployment');
    const svc = byKind('Service');
    const hpa = byKind('HorizontalPodAutoscaler');
    const pod = dep['spec']['template'];
    const [c] = pod['spec']['containers'];
    const o = optionsOf(c);
    const ports = Object.fromEntries(c['ports'].map((p: Obj) => [p['name'], p['containerPort']]));
    assert.deepEqual(ports, { http: o.httpPort, grpc: o.grpcPort, metrics: o.metricsPort });
    assert.deepEqual(svc['spec']['selector'], dep['spec']['selector']['matchLabels']);
    assert.deepEqual(svc['spec']['ports'].map((p: Obj) => p['targetPort']).sort(), Object.keys(ports).sort());
    assert.equal(pod['metadata']['annotations']['prometheus.io/port'], String(o.metricsPort));
    assert.equal(c['readinessProbe']['httpGet']['path'], '/v2/health/ready');
    assert.ok(pod['spec']['terminationGracePeriodSeconds'] > o.exitTimeoutSecs, 'the pod outlives the drain');
    assert.deepEqual(hpa['spec']['scaleTargetRef'], { apiVersion: dep['apiVersion'], kind: 'Deployment', name: dep['metadata']['name'] });
  });

  it('the HPA\'s metric is the one the adapter rule serves, built from metrics Infera exports', async () => {
    const hpa = byKind('HorizontalPodAutoscaler');
    const rules = (parse(byKind('ConfigMap')['data']['config.yaml']) as { rules: Obj[] }).rules;
    const metric = hpa['spec']['metrics'][0]['pods']['metric']['name'];
    const rule = rules.find((r) => r['name']['as'] === metric);
    assert.ok(rule !== undefined, `an adapter rule serving ${metric}`);
    const queried = new Set([...`${rule['seriesQuery']} ${rule['metricsQuery']}`.matchAll(/\b(nv_[a-z_]+)\{/g)].map((m) => m[1]!));
    assert.deepEqual([...queried].sort(), ['nv_inference_queue_duration_us', 'nv_inference_request_success']);
    // The families exist in Infera's exposition, as counters (rate() needs counters).
    const { InferenceServer } = await import('../../../src/server.js');
    const { silentLogger } = await import('../../../src/observability/logger.js');
    const { BUNDLED_REPO } = await import('../../helpers/repo.js');
    const server = await InferenceServer.create({
      modelRepositories: [BUNDLED_REPO], modelControlMode: 'explicit', loadModels: ['simple'], grpcPort: 0, host: '127.0.0.1',
      allowHttp: false, metricsPort: 0, metricsAddress: '127.0.0.1',
    }, silentLogger());
    try {
      const { metricsPort } = await server.start();
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      for (const name of queried) assert.match(text, new RegExp(`^# TYPE ${name} counter$`, 'm'), `${name} is an exported counter`);
    } finally {
      await server.stop();
    }
  });
});
