// GET /status (and Gateway.status()): per deployment, its versions with their live counters, the
// canary's state and rollback window, and the latest automated rollbacks.
import type { Manifest, ManifestDeployment } from '../manifest/manifest.ts';
import type { EngineInfo } from './loaders.ts';
import type { GatewayEvent } from './types.ts';
import type { VersionMetrics } from './metrics.ts';
import type { CanaryTracker, RollbackRecord, RolloutRule } from './rollout.ts';

export type RollbackEvent = Extract<GatewayEvent, { type: 'canary-rolled-back' }>;

export interface VersionStatus {
  loaded: boolean;
  /** The engine serving it, and whether it controls the weights (false: an external server decides). */
  engine?: EngineInfo;
  /** Why it is not loaded: it failed at start-up (engine, file or endpoint, and the cause). */
  unavailable?: string;
  inflight: number;
  requests: number;
  errors: number;
  /** Stopped before an answer (client gone, drain bound): neither a success nor a failure. */
  cancelled: number;
  /** Latency quantiles of successful predictions in ms; null before the first. */
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
}

/** The manifest's canary entry (version, weight) and what the gateway makes of it. */
export type CanaryStatus = NonNullable<ManifestDeployment['canary']> & {
  state: 'active' | 'rolled-back';
  /** The persisted record, while rolled back. */
  rollback?: RollbackRecord;
  /** The rule's measurement window, while a tracker runs. */
  window?: { requests: number; failures: number; championRequests: number; championFailures: number };
};

export interface ModelStatus {
  champion: string;
  canary: CanaryStatus | null;
  rollbackWindow: string[];
  /** The deployment's rule, else the gateway's default, else null. */
  rollout: RolloutRule | null;
  /** Champion, canary and rollback window, by version. */
  versions: Record<string, VersionStatus>;
}

export interface GatewayStatus {
  environment: string;
  ready: boolean;
  /** null before the first manifest. */
  sequence: number | null;
  seed: string | null;
  models: Record<string, ModelStatus>;
  /** The latest automated rollbacks, oldest first. */
  rollbacks: RollbackEvent[];
}

/** What the status is built from. */
export interface StatusSource {
  environment: string;
  ready: boolean;
  generation:
    | {
        manifest: Manifest;
        seed: string;
        isLoaded(model: string, version: string): boolean;
        trackers: ReadonlyMap<string, CanaryTracker>;
        engineOf?(model: string, version: string): EngineInfo | undefined;
        unavailable?(model: string, version: string): string | undefined;
      }
    | undefined;
  rolledBack: Readonly<Record<string, RollbackRecord>>;
  metricsOf(model: string, version: string): VersionMetrics | undefined;
  defaultRollout: RolloutRule | undefined;
  rollbacks: RollbackEvent[];
}

export function describeStatus(s: StatusSource): GatewayStatus {
  const gen = s.generation;
  const models: Record<string, ModelStatus> = {};
  for (const [model, d] of Object.entries(gen?.manifest.environments[s.environment]?.models ?? {})) {
    const versions = [d.version, ...(d.canary ? [d.canary.version] : []), ...(d.rollbackWindow ?? [])];
    const rec = s.rolledBack[model];
    const t = gen!.trackers.get(model);
    models[model] = {
      champion: d.version,
      canary: d.canary
        ? {
            ...d.canary,
            state: rec?.canaryVersion === d.canary.version ? 'rolled-back' : 'active',
            ...(rec?.canaryVersion === d.canary.version ? { rollback: rec } : {}),
            ...(t
              ? {
                  window: {
                    requests: t.canaryWindow.requests,
                    failures: t.canaryWindow.failures,
                    championRequests: t.championWindow.requests,
                    championFailures: t.championWindow.failures,
                  },
                }
              : {}),
          }
        : null,
      rollbackWindow: d.rollbackWindow ?? [],
      rollout: d.rollout ?? s.defaultRollout ?? null,
      versions: Object.fromEntries(
        versions.map((v) => [
          v,
          versionStatus(
            gen!.isLoaded(model, v),
            s.metricsOf(model, v),
            gen!.engineOf?.(model, v),
            gen!.unavailable?.(model, v),
          ),
        ]),
      ),
    };
  }
  return {
    environment: s.environment,
    ready: s.ready,
    sequence: gen?.manifest.sequence ?? null,
    seed: gen?.seed ?? null,
    models,
    rollbacks: s.rollbacks,
  };
}

function versionStatus(
  loaded: boolean,
  m: VersionMetrics | undefined,
  engine: EngineInfo | undefined,
  unavailable: string | undefined,
): VersionStatus {
  const q = (x: number) => (m && m.latency.count ? Number((m.latency.quantile(x) * 1000).toFixed(3)) : null);
  return {
    loaded,
    ...(engine ? { engine } : {}),
    ...(unavailable === undefined ? {} : { unavailable }),
    inflight: m?.inflight ?? 0,
    requests: m?.requests ?? 0,
    errors: m?.errors ?? 0,
    cancelled: m?.cancelled ?? 0,
    p50_ms: q(0.5),
    p95_ms: q(0.95),
    p99_ms: q(0.99),
  };
}
