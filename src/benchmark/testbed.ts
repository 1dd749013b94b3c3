// What machine a benchmark ran on. Reports from different testbeds are never compared, and the
// promotion gate looks for the report of the testbed the recipe names.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import type { BenchmarkRecipe } from '../registry/types.ts';
import type { Testbed } from './types.ts';

/** The recipe's runner labels without `self-hosted`, joined: [self-hosted, gpu, h100] -> gpu-h100; none -> cpu. */
export function testbedName(recipe: Pick<BenchmarkRecipe, 'runner'> | undefined): string {
  const labels = (recipe?.runner ?? []).filter((l) => l.toLowerCase() !== 'self-hosted');
  const name = labels
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '-');
  return name === '' ? 'cpu' : name.slice(0, 64);
}

export interface DetectOptions {
  /** nvidia-smi executable (default: `nvidia-smi` on PATH). */
  nvidiaSmi?: string;
  env?: NodeJS.ProcessEnv;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000, env });
  return r.status === 0 ? r.stdout : undefined;
}

/** GPU model, driver and CUDA from nvidia-smi when present; the CPU model always. */
export function detectTestbed(name: string, o: DetectOptions = {}): Testbed {
  const env = o.env ?? process.env;
  const smi = o.nvidiaSmi ?? 'nvidia-smi';
  let gpu: string | null = null,
    driver: string | null = null,
    cuda: string | null = null;
  const csv = run(smi, ['--query-gpu=name,driver_version', '--format=csv,noheader'], env);
  if (csv !== undefined) {
    const rows = csv
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => l.split(',').map((c) => c.trim()));
    if (rows.length > 0) {
      const models = [...new Set(rows.map((r) => r[0] ?? 'unknown GPU'))];
      gpu = models.length === 1 ? `${rows.length > 1 ? `${rows.length}x ` : ''}${models[0]}` : models.join(' + ');
      driver = rows[0]![1] ?? null;
      // nvidia-smi's banner is the portable place the supported CUDA version is printed.
      cuda = /CUDA Version:\s*([\d.]+)/.exec(run(smi, [], env) ?? '')?.[1] ?? null;
    }
  }
  const c = cpus();
  return {
    name,
    gpu,
    driver,
    cuda,
    runner: env.RUNNER_NAME ?? null,
    cpu: `${c[0]?.model.trim() ?? 'unknown CPU'} x${c.length}`,
  };
}
