// runBenchmark's refusals and failure paths on the CPU harness with really trained demo weights. The
// full pass and fail paths (12 interleaved harness processes each) run in action-run-benchmark.test.ts.
import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { artifactDigest } from '../../src/registry/artifact-digest.ts';
import { FolderMaterializer } from '../../src/benchmark/materialize.ts';
import { runBenchmark, splitCommand } from '../../src/benchmark/run.ts';
import { detectTestbed } from '../../src/benchmark/testbed.ts';
import { tempDir } from '../helpers.ts';
import { benchFixture } from './fixture.ts';

const base = { model: 'intent-classifier', champion: 'production', warmupRuns: 0 } as const;

describe('runBenchmark on the CPU harness', () => {
  it('refuses bytes that do not match the card, naming the file and the card field', async () => {
    const f = benchFixture();
    const file = join(f.weights, 'intent-classifier/2.1.0/model.safetensors');
    const bytes = readFileSync(file);
    bytes[100] = bytes[100]! ^ 1;
    writeFileSync(file, bytes);
    await expect(
      runBenchmark({ ...base, version: '2.1.0', trustedRepo: f.repo, materializer: new FolderMaterializer(f.weights) }),
    ).rejects.toThrow(
      /refusing to benchmark intent-classifier@2\.1\.0[\s\S]*model\.safetensors: sha256 [0-9a-f]{64}, but models\/intent-classifier\/versions\/2\.1\.0\.yaml artifacts\[0\]\.sha256 says/,
    );
  });

  it('a harness that crashes leaves too few runs: inconclusive with the harness error', async () => {
    const f = benchFixture({
      command: 'node benchmarks/cpu/harness.ts --model-dir {model_dir} --golden {golden_set} --batch-sizes 0',
    });
    const r = await runBenchmark({
      ...base,
      version: '2.1.0',
      trustedRepo: f.repo,
      materializer: new FolderMaterializer(f.weights),
    });
    expect(r.report.decision.verdict).toBe('inconclusive');
    expect(r.report.decision.reasons).toContain('too few runs: 0 successful champion run(s), at least 6 are needed');
    expect(r.report.runs).toHaveLength(2); // stopped after the first pair failed on both sides
    expect(r.report.runs[1]!.error).toMatch(
      /harness exited with 2: harness: --batch-sizes must be a comma-separated list of positive integers/,
    );
  });

  it('rejects a golden set whose sha256 differs from the recipe', async () => {
    const f = benchFixture();
    const y = join(f.repo, 'models/intent-classifier/model.yaml');
    writeFileSync(y, readFileSync(y, 'utf8').replace(f.goldenSha, 'a'.repeat(64)));
    await expect(
      runBenchmark({ ...base, version: '2.1.0', trustedRepo: f.repo, materializer: new FolderMaterializer(f.weights) }),
    ).rejects.toThrow(
      `benchmark.workload.goldenSetSha256 is ${'a'.repeat(64)}, but benchmarks/golden/intents.jsonl hashes to ${f.goldenSha}`,
    );
  });
});

describe('pieces', () => {
  it('splitCommand splits on whitespace, honours quotes, never uses a shell', () => {
    expect(splitCommand(`python "bench marks/x.py" --a '' --b {model_dir};rm`)).toEqual([
      'python',
      'bench marks/x.py',
      '--a',
      '',
      '--b',
      '{model_dir};rm',
    ]);
    expect(() => splitCommand('python "x')).toThrow('unclosed " quote');
  });

  it('artifactDigest depends on the sha256s only, not their order or paths', () => {
    const a = { artifacts: [{ sha256: 'b'.repeat(64) }, { sha256: 'a'.repeat(64) }] };
    const b = { artifacts: [{ sha256: 'a'.repeat(64) }, { sha256: 'b'.repeat(64) }] };
    expect(artifactDigest(a)).toBe(artifactDigest(b));
    expect(artifactDigest(a)).toBe(
      'sha256:' +
        createHash('sha256')
          .update(`${'a'.repeat(64)}\n${'b'.repeat(64)}\n`)
          .digest('hex'),
    );
    expect(artifactDigest({ artifacts: [{ sha256: 'a'.repeat(64) }] })).not.toBe(artifactDigest(a));
  });

  it('detectTestbed reads GPU model, driver and CUDA from nvidia-smi, and the CPU otherwise', () => {
    const dir = tempDir('mg-smi-');
    const smi = join(dir, 'nvidia-smi');
    writeFileSync(
      smi,
      `#!/bin/sh\nif [ "$1" = "--query-gpu=name,driver_version" ]; then printf 'NVIDIA H100 80GB HBM3, 570.86.15\\nNVIDIA H100 80GB HBM3, 570.86.15\\n'; else echo '| NVIDIA-SMI 570.86.15   Driver Version: 570.86.15   CUDA Version: 12.8 |'; fi\n`,
    );
    chmodSync(smi, 0o755);
    const t = detectTestbed('gpu-h100', { nvidiaSmi: smi, env: { RUNNER_NAME: 'gpu-runner-7' } });
    expect(t).toMatchObject({
      name: 'gpu-h100',
      gpu: '2x NVIDIA H100 80GB HBM3',
      driver: '570.86.15',
      cuda: '12.8',
      runner: 'gpu-runner-7',
    });
    const cpu = detectTestbed('cpu', { nvidiaSmi: join(dir, 'absent'), env: {} });
    expect(cpu).toMatchObject({ gpu: null, driver: null, cuda: null, runner: null });
    expect(cpu.cpu).toMatch(/ x\d+$/);
    expect(existsSync(smi)).toBe(true);
  });
});
