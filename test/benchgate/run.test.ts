// runBenchmark end to end on the CPU harness with really trained demo weights: interleaved child
// processes, verified bytes, the decision, the report (schema-valid) and the folder sink.
import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { artifactDigest } from '../../src/artifact-digest.ts';
import { FolderMaterializer } from '../../src/benchmark/materialize.ts';
import { parseReport } from '../../src/benchmark/report.ts';
import { runBenchmark, splitCommand } from '../../src/benchmark/run.ts';
import { FolderReportSink } from '../../src/benchmark/store.ts';
import { detectTestbed } from '../../src/benchmark/testbed.ts';
import { tempDir } from '../helpers.ts';
import { benchFixture } from './fixture.ts';

const base = { model: 'intent-classifier', champion: 'production', warmupRuns: 0 } as const;

describe('runBenchmark on the CPU harness', () => {
  it('2.1.0 vs production (2.0.0): interleaved runs, pass, report stored under reports/<model>/<version>/<testbed>.json', async () => {
    const f = benchFixture();
    const store = tempDir('mg-store-');
    const reportPath = join(tempDir('mg-out-'), 'report.json');
    const r = await runBenchmark({ ...base, version: '2.1.0', trustedRepo: f.repo, materializer: new FolderMaterializer(f.weights), sink: new FolderReportSink(store), reportPath });
    expect(r.key).toBe('reports/intent-classifier/2.1.0/cpu.json');
    const stored = parseReport(readFileSync(join(store, r.key)), r.key);
    expect(readFileSync(reportPath, 'utf8')).toBe(r.json);
    expect(stored.decision.verdict).toBe('pass');
    expect(stored.champion).toMatchObject({ version: '2.0.0', selectedAs: 'production' });
    expect(stored.runs.map((x) => x.side)).toEqual(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 'champion' : 'challenger')));
    expect(stored.accuracy.challenger).toBeGreaterThan(stored.accuracy.champion!);
    expect(stored.accuracy.challenger).toBeGreaterThanOrEqual(0.9);
    expect(stored.workload.goldenSetSha256).toBe(f.goldenSha);
    expect(stored.runs[0]!.results!.map((x) => x.batchSize)).toEqual([1, 8]);
    expect(stored.runs[0]!.metrics).toHaveProperty('latency_p99_ms@8');
    expect(stored.artifactDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(stored.decision.comparisons.map((c) => `${c.metric}:${c.kind}:${c.verdict}`)).toEqual(['accuracy:regression:pass', 'accuracy:threshold:pass']);
  });

  it('a 3-label challenger (1.1.0) against an explicit champion fails the accuracy threshold and regression', async () => {
    const f = benchFixture();
    const r = await runBenchmark({ ...base, champion: '2.0.0', version: '1.1.0', trustedRepo: f.repo, materializer: new FolderMaterializer(f.weights) });
    expect(r.report.decision.verdict).toBe('fail');
    expect(r.report.decision.reasons.join('\n')).toMatch(/accuracy median 0\.7\d* violates the threshold >= 0\.9/);
    expect(r.report.decision.reasons.join('\n')).toMatch(/accuracy regressed -2\d\.\d%/);
  });

  it('refuses bytes that do not match the card, naming the file and the card field', async () => {
    const f = benchFixture();
    const file = join(f.weights, 'intent-classifier/2.1.0/model.safetensors');
    const bytes = readFileSync(file);
    bytes[100] = bytes[100]! ^ 1;
    writeFileSync(file, bytes);
    await expect(runBenchmark({ ...base, version: '2.1.0', trustedRepo: f.repo, materializer: new FolderMaterializer(f.weights) }))
      .rejects.toThrow(/refusing to benchmark intent-classifier@2\.1\.0[\s\S]*model\.safetensors: sha256 [0-9a-f]{64}, but models\/intent-classifier\/versions\/2\.1\.0\.yaml artifacts\[0\]\.sha256 says/);
  });

  it('a harness that crashes leaves too few runs: inconclusive with the harness error', async () => {
    const f = benchFixture({ command: 'node benchmarks/cpu/harness.ts --model-dir {model_dir} --golden {golden_set} --batch-sizes 0' });
    const r = await runBenchmark({ ...base, version: '2.1.0', trustedRepo: f.repo, materializer: new FolderMaterializer(f.weights) });
    expect(r.report.decision.verdict).toBe('inconclusive');
    expect(r.report.decision.reasons).toContain('too few runs: 0 successful champion run(s), at least 6 are needed');
    expect(r.report.runs).toHaveLength(2); // stopped after the first pair failed on both sides
    expect(r.report.runs[1]!.error).toMatch(/harness exited with 2: harness: --batch-sizes must be a comma-separated list of positive integers/);
  });

  it('rejects a golden set whose sha256 differs from the recipe', async () => {
    const f = benchFixture();
    const y = join(f.repo, 'models/intent-classifier/model.yaml');
    writeFileSync(y, readFileSync(y, 'utf8').replace(f.goldenSha, 'a'.repeat(64)));
    await expect(runBenchmark({ ...base, version: '2.1.0', trustedRepo: f.repo, materializer: new FolderMaterializer(f.weights) }))
      .rejects.toThrow(`benchmark.workload.goldenSetSha256 is ${'a'.repeat(64)}, but benchmarks/golden/intents.jsonl hashes to ${f.goldenSha}`);
  });
});

describe('pieces', () => {
  it('splitCommand splits on whitespace, honours quotes, never uses a shell', () => {
    expect(splitCommand(`python "bench marks/x.py" --a '' --b {model_dir};rm`)).toEqual(['python', 'bench marks/x.py', '--a', '', '--b', '{model_dir};rm']);
    expect(() => splitCommand('python "x')).toThrow('unclosed " quote');
  });

  it('artifactDigest depends on the sha256s only, not their order or paths', () => {
    const a = { artifacts: [{ sha256: 'b'.repeat(64) }, { sha256: 'a'.repeat(64) }] };
    const b = { artifacts: [{ sha256: 'a'.repeat(64) }, { sha256: 'b'.repeat(64) }] };
    expect(artifactDigest(a)).toBe(artifactDigest(b));
    expect(artifactDigest(a)).toBe('sha256:' + createHash('sha256').update(`${'a'.repeat(64)}\n${'b'.repeat(64)}\n`).digest('hex'));
    expect(artifactDigest({ artifacts: [{ sha256: 'a'.repeat(64) }] })).not.toBe(artifactDigest(a));
  });

  it('detectTestbed reads GPU model, driver and CUDA from nvidia-smi, and the CPU otherwise', () => {
    const dir = tempDir('mg-smi-');
    const smi = join(dir, 'nvidia-smi');
    writeFileSync(smi, `#!/bin/sh\nif [ "$1" = "--query-gpu=name,driver_version" ]; then printf 'NVIDIA H100 80GB HBM3, 570.86.15\\nNVIDIA H100 80GB HBM3, 570.86.15\\n'; else echo '| NVIDIA-SMI 570.86.15   Driver Version: 570.86.15   CUDA Version: 12.8 |'; fi\n`);
    chmodSync(smi, 0o755);
    const t = detectTestbed('gpu-h100', { nvidiaSmi: smi, env: { RUNNER_NAME: 'gpu-runner-7' } });
    expect(t).toMatchObject({ name: 'gpu-h100', gpu: '2x NVIDIA H100 80GB HBM3', driver: '570.86.15', cuda: '12.8', runner: 'gpu-runner-7' });
    const cpu = detectTestbed('cpu', { nvidiaSmi: join(dir, 'absent'), env: {} });
    expect(cpu).toMatchObject({ gpu: null, driver: null, cuda: null, runner: null });
    expect(cpu.cpu).toMatch(/ x\d+$/);
    expect(existsSync(smi)).toBe(true);
  });
});
