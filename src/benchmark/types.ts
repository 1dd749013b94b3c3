// Shapes shared by the benchmark runner, the decision rule, the report and the promotion gate.
// schemas/benchmark-report.schema.json and schemas/harness-output.schema.json describe the same data.

/** Where a benchmark ran. Two runs are comparable only on the same testbed (see sameTestbed). */
export interface Testbed {
  /** Stable name used in report keys, e.g. `gpu` or `gpu-h100` (derived from the recipe's runner labels). */
  name: string;
  gpu: string | null;
  driver: string | null;
  cuda: string | null;
  /** The self-hosted runner's name (RUNNER_NAME); informational, ephemeral runners differ per job. */
  runner: string | null;
  cpu: string;
}

export type Side = 'champion' | 'challenger';
export type Verdict = 'pass' | 'fail' | 'inconclusive';

/** One harness invocation, flattened to the metric names the recipe's thresholds and regression use. */
export interface RunRecord {
  side: Side;
  /** Position in the interleaved schedule (0-based, warm-up excluded). */
  order: number;
  testbed: Testbed;
  artifactDigest: string;
  metrics: Record<string, number>;
  /** Set when the harness failed; such a run carries no metrics. */
  error?: string;
  durationMs?: number;
}

export interface MetricComparison {
  metric: string;
  kind: 'regression' | 'threshold' | 'errors';
  /** Which way is better for this metric. */
  better: 'lower' | 'higher';
  champion?: { median: number; n: number };
  challenger: { median: number; n: number };
  /** challenger median / champion median, with its bootstrap interval (regression checks only). */
  ratio?: number;
  ci?: [number, number];
  allowed?: string;
  bound?: { min?: number; max?: number };
  verdict: Verdict;
  reason: string;
}

export interface Decision {
  verdict: Verdict;
  reasons: string[];
  comparisons: MetricComparison[];
  method: {
    statistic: 'median';
    interval: 'percentile-bootstrap';
    resamples: number;
    confidence: number;
    seed: number;
    minRuns: number;
  };
}
