// The benchmark report (schemas/benchmark-report.schema.json): building it from runs and a decision,
// validating one read back from the store, and the short summary the manifest carries.
import type { ValidateFunction } from 'ajv/dist/2020.js';
import reportSchema from '../../schemas/benchmark-report.schema.json' with { type: 'json' };
import type { BenchmarkSummary } from '../manifest/manifest.ts';
import { createAjv } from '../registry/schemas.ts';
import type { HarnessOutput } from './harness-output.ts';
import { median } from './stats.ts';
import type { Decision, RunRecord, Side, Testbed } from './types.ts';

type Pct = { p50: number; p95: number; p99: number };

export interface ReportRun {
  side: Side;
  order: number;
  version: string;
  durationMs?: number;
  error?: string;
  accuracy?: number | null;
  errors?: number;
  peakMemoryBytes?: number;
  results?: {
    batchSize: number;
    latencyMs: Pct;
    throughputPerS: number;
    peakMemoryBytes?: number;
    ttftMs?: Pct;
    tpotMs?: Pct;
  }[];
  metrics: Record<string, number>;
}

export interface BenchmarkReport {
  schemaVersion: 1;
  model: string;
  version: string;
  artifactDigest: string;
  champion: { version: string; artifactDigest: string; selectedAs: 'production' | 'explicit' };
  testbed: Testbed;
  workload: {
    goldenSet: string;
    goldenSetSha256: string;
    batchSizes: number[];
    warmup: number;
    seed: number;
    runs: number;
    command: string;
  };
  harness?: { name: string; version?: string; runtime?: string; device?: string };
  runs: ReportRun[];
  accuracy: { champion: number | null; challenger: number | null };
  decision: Decision;
  createdAt: string;
  source?: { repository?: string; commit?: string; pullRequest?: number; runUrl?: string };
}

export interface ReportInput {
  model: string;
  version: string;
  artifactDigest: string;
  champion: BenchmarkReport['champion'];
  testbed: Testbed;
  workload: BenchmarkReport['workload'];
  harness?: BenchmarkReport['harness'];
  records: RunRecord[];
  decision: Decision;
  source?: BenchmarkReport['source'];
  createdAt?: Date;
}

const pct = (d: { p50: number; p95: number; p99: number }): Pct => ({ p50: d.p50, p95: d.p95, p99: d.p99 });

export function buildReport(
  input: ReportInput,
  outputs: Map<RunRecord, HarnessOutput>,
  versions: Record<Side, string>,
): BenchmarkReport {
  const runs: ReportRun[] = input.records.map((r) => {
    const o = outputs.get(r);
    return {
      side: r.side,
      order: r.order,
      version: versions[r.side],
      ...(r.durationMs !== undefined ? { durationMs: Math.round(r.durationMs * 10) / 10 } : {}),
      ...(r.error !== undefined ? { error: r.error } : {}),
      ...(o
        ? {
            accuracy: o.accuracy,
            errors: o.errors,
            peakMemoryBytes: o.peak_memory_bytes,
            results: o.results.map((x) => ({
              batchSize: x.batchSize,
              latencyMs: pct(x.latency_ms),
              throughputPerS: x.throughput_per_s,
              ...(x.peak_memory_bytes !== undefined ? { peakMemoryBytes: x.peak_memory_bytes } : {}),
              ...(x.ttft_ms ? { ttftMs: pct(x.ttft_ms) } : {}),
              ...(x.tpot_ms ? { tpotMs: pct(x.tpot_ms) } : {}),
            })),
          }
        : {}),
      metrics: r.metrics,
    };
  });
  const acc = (side: Side) => {
    const v = input.records
      .filter((r) => r.side === side && typeof r.metrics.accuracy === 'number')
      .map((r) => r.metrics.accuracy!);
    return v.length ? median(v) : null;
  };
  const report: BenchmarkReport = {
    schemaVersion: 1,
    model: input.model,
    version: input.version,
    artifactDigest: input.artifactDigest,
    champion: input.champion,
    testbed: input.testbed,
    workload: input.workload,
    ...(input.harness ? { harness: input.harness } : {}),
    runs,
    accuracy: { champion: acc('champion'), challenger: acc('challenger') },
    decision: input.decision,
    createdAt: (input.createdAt ?? new Date()).toISOString(),
    ...(input.source ? { source: input.source } : {}),
  };
  // Round-trip through JSON so NaN/Infinity become null exactly as they will in the stored file.
  return JSON.parse(JSON.stringify(report)) as BenchmarkReport;
}

let validate: ValidateFunction | undefined;

/** Parses and validates a stored report; throws with the key and the first problems. */
export function parseReport(bytes: Buffer | string, where: string): BenchmarkReport {
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString());
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`);
  }
  validate ??= createAjv().compile(reportSchema);
  if (!validate(data)) {
    throw new Error(
      `${where}: not a valid benchmark report: ${(validate.errors ?? [])
        .slice(0, 3)
        .map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`)
        .join('; ')}`,
    );
  }
  return data as BenchmarkReport;
}

/** What the manifest carries for a version (BenchmarkSummary): verdict, where the report is, key medians. */
export function summarizeReport(r: BenchmarkReport, key: string): BenchmarkSummary {
  const challenger = r.runs.filter((x) => x.side === 'challenger' && x.error === undefined);
  const metrics: Record<string, number> = {};
  for (const name of [
    'latency_p50_ms',
    'latency_p99_ms',
    'throughput',
    'accuracy',
    'peak_memory_mb',
    'ttft_p50_ms',
    'tpot_p50_ms',
  ]) {
    const v = challenger.map((x) => x.metrics[name]).filter((n): n is number => typeof n === 'number');
    if (v.length) metrics[name] = median(v);
  }
  return { testbed: r.testbed.name, verdict: r.decision.verdict, report: key, metrics };
}
