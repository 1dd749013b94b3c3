// The gateway's options, events and results: what a caller of createGateway sees.
import type { ManifestVersion } from '../manifest/manifest.ts';
import type { EngineOptions, Loader } from './loaders.ts';
import type { RolloutRule } from './rollout.ts';
import type { VersionSource } from './source.ts';

export interface GatewayOptions {
  environment: string;
  source: VersionSource;
  loaderFor?: (model: string, version: string, entry: ManifestVersion) => Loader;
  /** Routing seed; default the environment name (see src/manifest/routing.ts). */
  seed?: string;
  /** Where rollback decisions persist across restarts; without it they live in memory only. */
  statePath?: string;
  /** Rule for deployments whose manifest entry has no `rollout`. */
  defaultRollout?: RolloutRule;
  /** Request bodies above this are refused with 413. Default GATEWAY_DEFAULTS.maxBodyBytes (1 MiB). */
  maxBodyBytes?: number;
  /** Per-engine settings for the default loaders (threads, devices, executables). */
  engines?: EngineOptions;
  /** When set, /v1/* requests need `Authorization: Bearer <apiKey>` (401 otherwise). */
  apiKey?: string;
  /** How long a retired version's open requests and streams may drain. Default GATEWAY_DEFAULTS.drainTimeoutMs. */
  drainTimeoutMs?: number;
  onEvent?: (event: GatewayEvent) => void;
  /** One JSON line per event; default: standard error. */
  log?: (line: string) => void;
}

export type GatewayEvent =
  | { type: 'manifest-applied'; environment: string; sequence: number; loaded: string[]; retired: string[]; at: string }
  | {
      type: 'canary-rolled-back';
      environment: string;
      model: string;
      canary: string;
      champion: string;
      reason: string;
      requests: number;
      failures: number;
      at: string;
    }
  | { type: 'version-closed'; environment: string; model: string; version: string; at: string }
  | { type: 'close-failed'; environment: string; model: string; version: string; error: string; at: string }
  | { type: 'prune-failed'; environment: string; error: string; at: string };

export interface ApplyResult {
  sequence: number;
  loaded: string[];
  retired: string[];
  rolledBack: string[];
  /** Start-up only: versions whose engine failed to load or warm, by slot key, with the reason. */
  unavailable: Record<string, string>;
}
