// The registry's data once its files have passed their schemas. Shapes mirror schemas/*.json.

export interface TensorSpec {
  name: string;
  dtype: string;
  shape?: (number | string)[];
  labels?: string[];
  description?: string;
}

export interface Artifact {
  path: string;
  sha256: string;
  size: number;
}

export interface VersionCard {
  name: string;
  version: string;
  summary: string;
  interface: { inputs: TensorSpec[]; outputs: TensorSpec[]; tokenizer?: { name: string; sha256: string } };
  architecture: { family: string; format: string; parameters?: number; dtype?: string };
  artifacts: Artifact[];
  lineage: {
    parent?: string;
    code: { repository: string; commit: string };
    datasets?: { name: string; uri?: string; sha256: string }[];
    hyperparameters?: Record<string, number | string | boolean>;
    training?: { started?: string; duration_s?: number; hardware?: string };
  };
  metrics?: Record<string, number>;
  dependencies?: Record<string, string>;
  serving?: { engine?: string; endpoint?: string; modelId?: string };
  deprecated?: boolean;
  notes?: string;
}

export interface BenchmarkRecipe {
  command: string;
  runner?: string[];
  workload?: {
    goldenSet?: string;
    goldenSetSha256?: string;
    batchSizes?: number[];
    warmup?: number;
    runs?: number;
    seed?: number;
  };
  thresholds?: Record<string, { min?: number; max?: number }>;
  regression?: Record<string, string>;
}

export interface ModelCard {
  name: string;
  owners: string[];
  task: string;
  description: string;
  tags?: string[];
  benchmark?: BenchmarkRecipe;
}

/** An environment entry normalised from either `name: 1.2.3` or `name: {version, canary, rollbackWindow}`. */
export interface Deployment {
  version: string;
  canary?: { version: string; weight: string };
  rollbackWindow: string[];
  rollout?: RolloutSpec;
}

/** When a gateway rolls a canary back on its own (see src/gateway/rollout.ts for the exact rules). */
export interface RolloutSpec {
  maxErrorRate?: string;
  maxP99LatencyRatio?: number;
  failureLimit?: number;
  minRequests?: number;
}

export interface EnvironmentFile {
  description?: string;
  requires?: string;
  models: Record<string, string | Deployment>;
}

export interface Environment {
  name: string;
  file: string;
  description?: string;
  requires?: string;
  deployments: Map<string, Deployment>;
}

export interface ModelEntry {
  name: string;
  /** models/<name>/model.yaml when present and valid. */
  card?: ModelCard;
  cardFile: string;
  /** Whether model.yaml exists at all (it may exist and still be invalid). */
  cardPresent: boolean;
  /** Version files that exist but failed their own checks (reported there, not again by references). */
  brokenVersions: Set<string>;
  /** Valid version cards, keyed by version. */
  versions: Map<string, { file: string; card: VersionCard }>;
}

export function normaliseDeployment(d: string | Deployment): Deployment {
  if (typeof d === 'string') return { version: d, rollbackWindow: [] };
  return {
    version: d.version,
    ...(d.canary ? { canary: d.canary } : {}),
    rollbackWindow: d.rollbackWindow ?? [],
    ...(d.rollout ? { rollout: d.rollout } : {}),
  };
}

/** Every version an environment entry names: champion, canary, rollback targets. */
export function referencedVersions(
  d: Deployment,
): { version: string; role: 'version' | 'canary' | 'rollbackWindow'; index?: number }[] {
  const refs: { version: string; role: 'version' | 'canary' | 'rollbackWindow'; index?: number }[] = [
    { version: d.version, role: 'version' },
  ];
  if (d.canary) refs.push({ version: d.canary.version, role: 'canary' });
  d.rollbackWindow.forEach((v, index) => refs.push({ version: v, role: 'rollbackWindow', index }));
  return refs;
}
