// How much each fuzz target runs. In `npm test` (and CI) the whole fuzz suite stays around a minute;
// `npm run fuzz` multiplies every budget (FUZZ_SCALE, default 20 there) for a longer hunt. A fixed seed
// per target keeps CI deterministic; FUZZ_SEED overrides it to explore, and a failure prints the seed
// and the shrunk input, which then goes into test/fixtures/fuzz/<target>/ as a regression input.
import type { Parameters } from 'fast-check';

const scale = Number(process.env.FUZZ_SCALE ?? '1');

/** fast-check parameters for a target: `runs` in CI scaled by FUZZ_SCALE, a time cap, and the seed. */
export function fuzzParameters(runs: number, seed: number): Parameters<unknown> {
  const envSeed = process.env.FUZZ_SEED;
  return {
    numRuns: Math.max(1, Math.round(runs * (Number.isFinite(scale) && scale > 0 ? scale : 1))),
    seed: envSeed === undefined ? seed : Number(envSeed),
    // Never let one target take the CI budget: stop early (and pass) once its share of time is spent.
    interruptAfterTimeLimit: Math.round(15_000 * (Number.isFinite(scale) && scale > 0 ? scale : 1)),
    markInterruptAsFailure: false,
  };
}

/** Test timeout for a fuzz target: its time cap plus slack. */
export const fuzzTimeout = (): number => 30_000 * (Number.isFinite(scale) && scale > 0 ? scale : 1);
