/**
 * The ensemble branch of model loading. An ensemble has no backend and no instances: each version
 * is a signature (from its own config), statistics and an EnsembleScheduler over a graph that was
 * validated against the composing models already in the registry.
 *
 * Composing models are looked up again per request (the step runner resolves them through the
 * registry), so an ensemble whose composing model went away fails requests with UNAVAILABLE
 * naming that model, and `unavailableDependency` lets readiness report it.
 */
import type { ModelConfig } from '../config/model-config.js';
import { buildModelSignature } from '../core/model-signature.js';
import { InferenceStats } from '../observability/inference-stats.js';
import { errors } from '../errors/catalogue.js';
import { InferenceError } from '../errors/inference-error.js';
import { readyVersions, type LoadedVersion, type ModelRegistry } from '../repository/model-registry.js';
import { buildEnsembleGraph, stepLabel, type ComposingLookup, type EnsembleGraph } from './ensemble-graph.js';
import { EnsembleScheduler } from './ensemble-scheduler.js';
import type { StepRunner } from './ensemble-run.js';

/** What the loader needs to serve ensembles: where composing models live and how to call them. */
export interface EnsembleHost {
  readonly registry: ModelRegistry;
  /** Runs a step on a composing model; the server passes InferenceService.inferInternal. */
  readonly runStep: StepRunner;
}

/** The registry as the graph builder sees it. */
export function composingLookup(registry: ModelRegistry): ComposingLookup {
  return (name) => {
    const entry = registry.get(name);
    if (entry === undefined) return undefined;
    const ready = readyVersions(entry).map((v) => v.version);
    const reason = ready.length > 0 ? '' : `${entry.state}${entry.reason ? `: ${entry.reason}` : ''}`;
    return { config: entry.config ?? {}, readyVersions: ready, reason };
  };
}

/**
 * The LoadedVersions of ensemble `config` (normalized and validated), all READY. Throws
 * INVALID_ARG listing every graph problem, or UNSUPPORTED when no host was given.
 */
export function loadEnsembleVersions(
  config: Readonly<ModelConfig>,
  versions: readonly number[],
  labels: ReadonlyMap<string, readonly string[]>,
  host: EnsembleHost | undefined,
): LoadedVersion[] {
  const name = config.name ?? '';
  if (host === undefined) {
    throw errors.unsupported(`ensemble '${name}' cannot be loaded here: the loader has no registry to find its composing models`);
  }
  const { graph, problems } = buildEnsembleGraph(config, composingLookup(host.registry));
  if (graph === undefined) throw errors.invalidArg(problems.join('; '));
  return versions.map((version): LoadedVersion => {
    const stats = new InferenceStats();
    return {
      version,
      state: 'READY',
      reason: '',
      signature: buildModelSignature(config, version, labels),
      stats,
      scheduler: new EnsembleScheduler({ graph, version: String(version), runStep: host.runStep, stats }),
      instances: [],
      unavailableDependency: (seen) => unavailableDependency(graph, host.registry, seen),
    };
  });
}

/**
 * Why a composing model (or, for nested ensembles, one of theirs) cannot serve the ensemble's
 * steps now; undefined when every one resolves to a READY version.
 */
export function unavailableDependency(graph: EnsembleGraph, registry: ModelRegistry, seen = new Set<string>()): string | undefined {
  if (seen.has(graph.name)) return undefined; // a cycle made by later reloads is reported where it starts
  seen.add(graph.name);
  for (const step of graph.steps) {
    try {
      const { loaded } = registry.resolve(step.modelName, step.modelVersion);
      const deeper = loaded.unavailableDependency?.(seen);
      if (deeper !== undefined) return `ensemble '${graph.name}' ${stepLabel(step)}: ${deeper}`;
    } catch (e) {
      return `ensemble '${graph.name}' ${stepLabel(step)}: composing model '${step.modelName}' is not available (${InferenceError.from(e).message})`;
    }
  }
  return undefined;
}
