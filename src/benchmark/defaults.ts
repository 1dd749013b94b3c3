// Every default of the benchmark gate in one place: the runner, the decision and its statistics read
// them from here; a recipe's workload or the caller's options override them.
export const BENCHMARK_DEFAULTS = {
  /** Measured runs per side: fewer cannot separate a 5% regression from run-to-run noise. */
  minRuns: 6,
  /** Warm-up iterations inside one harness run (caches, lazy init). */
  warmup: 3,
  /** Whole harness runs per side discarded before the measured ones (process start-up, page cache). */
  warmupRuns: 1,
  /** One harness run may take this long before it is killed. */
  runTimeoutMs: 10 * 60_000,
  /** Workload seed when the recipe names none. */
  seed: 0,
  /** Bootstrap resamples and seed of the confidence interval: seeded, so a report is reproducible. */
  resamples: 2000,
  bootstrapSeed: 1,
  confidence: 0.95,
} as const;
