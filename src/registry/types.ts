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
  /** Pickle-based (loading it runs code): pushed only with --allow-pickle; validate warns. */
  pickle?: boolean;
}

export interface VersionCard {
  name: string;
  version: string;
  summary: string;
  interface: {
    inputs: TensorSpec[];
    outputs: TensorSpec[];
    tokenizer?: { name: string; sha256: string; configSha256?: string };
    /** sha256 of the chat template text and where it was read from. */
    chatTemplate?: { sha256: string; source?: string };
  };
  architecture: { family: string; format: string; parameters?: number; dtype?: string };
  artifacts: Artifact[];
  lineage: {
    parent?: string;
    code: { repository: string; commit: string };
    datasets?: { name: string; uri?: string; sha256?: string; md5?: string }[];
    source?: { hub: string; repo: string; revision: string };
    hyperparameters?: Record<string, number | string | boolean>;
    training?: { started?: string; duration_s?: number; hardware?: string };
  };
  metrics?: Record<string, number>;
  license?: string;
  language?: string[];
  pipelineTag?: string;
  dependencies?: Record<string, string>;
  base?: BaseRef;
  serving?: { engine?: string; endpoint?: string; modelId?: string; task?: 'causal-lm' | 'classifier' };
  /** `true`, or when, until when and in favour of what (see src/manifest/deprecation.ts). */
  deprecated?: boolean | DeprecationSpec;
  /** Set by `model-gitops archive`: out of every environment, kept in git for the record. */
  archived?: { on: string; reason?: string };
  notes?: string;
}

/** The object form of a card's `deprecated`. Dates are YYYY-MM-DD; replacement: a version or model@version. */
export interface DeprecationSpec {
  since?: string;
  sunset?: string;
  replacement?: string;
  reason?: string;
}

/** How a derived version relates to the model it was made from (see README "Adapters and derived models"). */
export type BaseRelation = 'adapter' | 'merge' | 'quantized' | 'finetune';

/** A version card's `base`: the model it was made from and the base versions it runs on. */
export interface BaseRef {
  model: string;
  range: string;
  relation: BaseRelation;
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
  experiment?: ExperimentSpec;
  drift?: DriftSpec;
  evaluation?: EvaluationSpec;
}

/** model.yaml `experiment`: the hypothesis an A/B experiment tests and when it may decide (src/observe/sequential.ts). */
export interface ExperimentSpec {
  hypothesis: string;
  /** The feedback metric compared, e.g. conversion (0/1 outcomes) or a value such as rating. */
  metric: string;
  /** Relative lift the experiment is sized for, e.g. 5% (tunes the mixture; default 5%). */
  minimumDetectableEffect?: string;
  alpha: number;
  minSamples: number;
  /** higher (default) or lower is better. */
  better?: 'higher' | 'lower';
}

/** model.yaml `drift`: which distance, and the warn/fail thresholds (src/observe/drift.ts). */
export interface DriftSpec {
  metric: 'psi' | 'js';
  warn: number;
  fail: number;
  /** Fewer live requests than this in the window: no verdict. */
  minRequests?: number;
}

/** model.yaml `evaluation`: what a significant drop in continuous evaluation does. */
export interface EvaluationSpec {
  onDrop: 'issue' | 'rollback';
  /** One-sided significance level of the drop test (default 0.01). */
  alpha?: number;
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
