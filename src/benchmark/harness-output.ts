// The harness-output contract (schemas/harness-output.schema.json): validation of what a harness
// wrote, and its flattening into the metric names a recipe's thresholds and regression rules use.
import type { ValidateFunction } from 'ajv/dist/2020.js';
import harnessSchema from '../../schemas/harness-output.schema.json' with { type: 'json' };
import { createAjv } from '../registry/schemas.ts';

export const HARNESS_CONTRACT = 'model-gitops/harness-output@1';

export interface Distribution {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  min?: number;
  max?: number;
}

export interface HarnessOutput {
  contract: typeof HARNESS_CONTRACT;
  harness: { name: string; version?: string; mode: 'full' | 'bare'; runtime?: string; timer?: string };
  device: { kind: 'cpu' | 'cuda' | 'mps' | 'other'; name: string };
  model: { dir: string; parameters?: number; dtype?: string; labels?: string[] };
  workload: {
    goldenSet: string;
    goldenSetSha256: string;
    examples: number;
    batchSizes: number[];
    warmup: number;
    iterations: number;
    seed: number;
  };
  accuracy: number | null;
  errors: number;
  peak_memory_bytes: number;
  results: {
    batchSize: number;
    samples: number;
    latency_ms: Distribution;
    throughput_per_s: number;
    peak_memory_bytes?: number;
    ttft_ms?: Distribution;
    tpot_ms?: Distribution;
  }[];
  overhead?: { batchSize: number; harness_ms: number; bare_ms: number; ratio: number; reps?: number }[];
  duration_ms?: number;
}

let validate: ValidateFunction | undefined;

/** Parses and validates one harness output; the error names the source and the offending field. */
export function parseHarnessOutput(text: string, source: string): HarnessOutput {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${source}: harness output is not JSON (${(e as Error).message}); the harness must print one JSON document (schemas/harness-output.schema.json)`,
    );
  }
  validate ??= createAjv().compile(harnessSchema);
  if (!validate(data)) {
    const first = (validate.errors ?? [])
      .slice(0, 3)
      .map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`)
      .join('; ');
    throw new Error(`${source}: harness output does not follow ${HARNESS_CONTRACT}: ${first}`);
  }
  return data as HarnessOutput;
}

/**
 * Metric names per run: `<metric>@<batch size>` for every batch size, the bare `<metric>` for the
 * first batch size in the workload (the interactive case), plus accuracy, errors and peak memory.
 */
export function flattenMetrics(o: HarnessOutput): Record<string, number> {
  const m: Record<string, number> = {
    errors: o.errors,
    peak_memory_bytes: o.peak_memory_bytes,
    peak_memory_mb: o.peak_memory_bytes / (1024 * 1024),
  };
  if (o.accuracy !== null) m.accuracy = o.accuracy;
  o.results.forEach((r, i) => {
    const put = (name: string, v: number | undefined) => {
      if (v === undefined) return;
      m[`${name}@${r.batchSize}`] = v;
      if (i === 0) m[name] = v;
    };
    put('latency_p50_ms', r.latency_ms.p50);
    put('latency_p95_ms', r.latency_ms.p95);
    put('latency_p99_ms', r.latency_ms.p99);
    put('latency_mean_ms', r.latency_ms.mean);
    put('throughput', r.throughput_per_s);
    put('ttft_p50_ms', r.ttft_ms?.p50);
    put('ttft_p99_ms', r.ttft_ms?.p99);
    put('tpot_p50_ms', r.tpot_ms?.p50);
    put('tpot_p99_ms', r.tpot_ms?.p99);
  });
  return m;
}
