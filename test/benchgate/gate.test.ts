// checkProductionEvidence: production entry requires a passing report for exactly the card's artifact
// digest on the recipe's testbed; each missing piece is a diagnostic at the production.yaml line.
import { describe, expect, it } from 'vitest';
import { artifactDigest } from '../../src/registry/artifact-digest.ts';
import { decide } from '../../src/benchmark/decision.ts';
import { checkProductionEvidence } from '../../src/benchmark/gate.ts';
import { type BenchmarkReport, buildReport, parseReport, summarizeReport } from '../../src/benchmark/report.ts';
import { FolderReportSink, reportKey } from '../../src/benchmark/store.ts';
import type { RunRecord, Testbed } from '../../src/benchmark/types.ts';
import { WorkingTreeSource } from '../../src/registry/source.ts';
import { validateRegistry } from '../../src/registry/validate.ts';
import { exampleRepo, tempDir } from '../helpers.ts';

const TB: Testbed = {
  name: 'gpu',
  gpu: 'NVIDIA H100 80GB HBM3',
  driver: '570.86.15',
  cuda: '12.8',
  runner: 'gpu-1',
  cpu: 'AMD EPYC x16',
};

function registry() {
  const r = validateRegistry(new WorkingTreeSource(exampleRepo(), { maxFileBytes: 1 << 20 }));
  expect(r.errors).toBe(0);
  return r.registry;
}

function report(
  reg: ReturnType<typeof registry>,
  o: { verdict?: 'pass' | 'inconclusive'; digest?: string; testbed?: Testbed } = {},
): BenchmarkReport {
  const card = reg.models.get('intent-classifier')!.versions.get('2.1.0')!.card;
  const champion = reg.models.get('intent-classifier')!.versions.get('2.0.0')!.card;
  const digest = o.digest ?? artifactDigest(card);
  const runs: RunRecord[] = [];
  const n = o.verdict === 'inconclusive' ? 3 : 6;
  for (let i = 0; i < n; i++) {
    runs.push({
      side: 'champion',
      order: runs.length,
      testbed: o.testbed ?? TB,
      artifactDigest: artifactDigest(champion),
      metrics: { latency_p50_ms: 2 + i * 0.01, accuracy: 0.93 },
    });
    runs.push({
      side: 'challenger',
      order: runs.length,
      testbed: o.testbed ?? TB,
      artifactDigest: digest,
      metrics: { latency_p50_ms: 2 + i * 0.01, accuracy: 0.94 },
    });
  }
  const decision = decide({
    runs,
    expected: { championDigest: artifactDigest(champion), challengerDigest: digest },
    policy: { regression: { latency_p50_ms: '10%', accuracy: '1%' }, thresholds: { accuracy: { min: 0.9 } } },
  });
  return buildReport(
    {
      model: 'intent-classifier',
      version: '2.1.0',
      artifactDigest: digest,
      champion: { version: '2.0.0', artifactDigest: artifactDigest(champion), selectedAs: 'production' },
      testbed: o.testbed ?? TB,
      workload: {
        goldenSet: 'benchmarks/golden/intents.jsonl',
        goldenSetSha256: 'c'.repeat(64),
        batchSizes: [1],
        warmup: 3,
        seed: 7,
        runs: n,
        command: 'python benchmarks/torch/classifier.py --model-dir {model_dir}',
      },
      records: runs,
      decision,
    },
    new Map(),
    { champion: '2.0.0', challenger: '2.1.0' },
  );
}

async function gate(store: FolderReportSink) {
  return checkProductionEvidence(registry(), [{ model: 'intent-classifier', version: '2.1.0', role: 'canary' }], store);
}

const key = reportKey('intent-classifier', '2.1.0', 'gpu');

describe('checkProductionEvidence', () => {
  it('no report: one error at the canary line naming the digest, testbed, key and how to produce it', async () => {
    const d = await gate(new FolderReportSink(tempDir('mg-store-')));
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({
      file: 'environments/production.yaml',
      line: 7,
      field: 'models.intent-classifier.canary.version',
      rule: 'production-benchmark',
      severity: 'error',
    });
    const digest = artifactDigest(registry().models.get('intent-classifier')!.versions.get('2.1.0')!.card);
    expect(d[0]!.message).toBe(
      `intent-classifier@2.1.0 cannot enter production: no benchmark evidence. It needs a passing report for artifact digest ${digest} on testbed "gpu" at reports/intent-classifier/2.1.0/gpu.json; ` +
        'produce it with the benchmark workflow (.github/workflows/benchmark.yml): a maintainer comments "/benchmark" on the pull request or adds the "benchmark" label; it runs on [self-hosted, gpu]. ' +
        'On such a runner by hand: node scripts/run-benchmark.ts --model intent-classifier --version 2.1.0 --champion production --weights-root <dir> --report-store <store>',
    );
  });

  it('a passing report for exactly this digest and testbed satisfies the gate', async () => {
    const store = new FolderReportSink(tempDir('mg-store-'));
    const r = report(registry());
    expect(r.decision.verdict).toBe('pass');
    await store.put(key, Buffer.from(JSON.stringify(r)));
    expect(await gate(store)).toEqual([]);
    expect(summarizeReport(parseReport(JSON.stringify(r), key), key)).toMatchObject({
      testbed: 'gpu',
      verdict: 'pass',
      report: key,
      metrics: { accuracy: 0.94 },
    });
  });

  it('a report for other bytes, another testbed, an inconclusive verdict or garbage does not', async () => {
    const reg = registry();
    const cases: [BenchmarkReport | string, RegExp][] = [
      [
        report(reg, { digest: `sha256:${'e'.repeat(64)}` }),
        /the report measured artifact digest sha256:e{64}, but the card's artifacts give sha256:[0-9a-f]{64} \(the weights changed after the benchmark\); re-run/,
      ],
      [report(reg, { testbed: { ...TB, name: 'cpu' } }), /the report ran on testbed "cpu", the recipe requires "gpu"/],
      [
        report(reg, { verdict: 'inconclusive' }),
        /its benchmark on "gpu" is inconclusive \(too few runs: 3 successful champion run\(s\), at least 6 are needed; .*Re-run with more runs/,
      ],
      [
        '{"schemaVersion": 1}',
        /reports\/intent-classifier\/2\.1\.0\/gpu\.json: not a valid benchmark report: \(root\) must have required property/,
      ],
    ];
    for (const [content, message] of cases) {
      const store = new FolderReportSink(tempDir('mg-store-'));
      await store.put(key, Buffer.from(typeof content === 'string' ? content : JSON.stringify(content)));
      const d = await gate(store);
      expect(d).toHaveLength(1);
      expect(d[0]!.message).toMatch(message);
    }
  });

  it('a model without a benchmark recipe cannot enter production; the champion form points at the version line', async () => {
    const d = await checkProductionEvidence(
      registry(),
      [
        { model: 'pii-scrubber', version: '1.4.2' },
        { model: 'intent-classifier', version: '2.1.0' },
      ],
      new FolderReportSink(tempDir('mg-store-')),
    );
    expect(d.map((x) => `${x.line}:${x.field}`)).toEqual([
      '9:models.pii-scrubber',
      '6:models.intent-classifier.version',
    ]);
    expect(d[0]!.message).toBe(
      'pii-scrubber@1.4.2 cannot enter production: models/pii-scrubber/model.yaml has no benchmark recipe, so no benchmark can show it is fit; add benchmark.command, runner, workload, thresholds and regression',
    );
  });
});

describe('benchmark plan', () => {
  it("lists versions newly served in production (champion or canary) with the base recipe's runner labels", async () => {
    const { benchmarkPlan, productionChanges } = await import('../../src/benchmark/plan.ts');
    const { edit } = await import('../helpers.ts');
    const baseRepo = exampleRepo();
    const headRepo = exampleRepo();
    edit(headRepo, 'environments/production.yaml', (t) =>
      t
        .replace('version: 2.0.0', 'version: 2.1.0')
        .replace('canary: {version: 2.1.0, weight: 5%}', 'rollbackWindow: [2.0.0]')
        .replace('rollbackWindow: [1.1.0]', '')
        .replace('structured-extractor: 1.0.0', 'structured-extractor: 1.1.0'),
    );
    const load = (d: string) => validateRegistry(new WorkingTreeSource(d, { maxFileBytes: 1 << 20 })).registry;
    // 2.1.0 was already the canary, so only structured-extractor 1.1.0 is new to production.
    expect(productionChanges(load(baseRepo), load(headRepo))).toEqual([
      { model: 'structured-extractor', version: '1.1.0', role: 'version' },
    ]);
    const warnings: string[] = [];
    expect(benchmarkPlan(load(baseRepo), load(headRepo), (w) => warnings.push(w))).toEqual([]);
    expect(warnings[0]).toMatch(/structured-extractor@1\.1\.0 enters production but .* has no benchmark recipe/);
    const fresh = exampleRepo();
    edit(fresh, 'environments/production.yaml', (t) =>
      t.replace('canary: {version: 2.1.0, weight: 5%}', 'canary: {version: 1.0.0, weight: 5%}'),
    );
    expect(benchmarkPlan(load(fresh), load(baseRepo))).toEqual([
      { model: 'intent-classifier', version: '2.1.0', runs_on: ['self-hosted', 'gpu'] },
    ]);
  });
});
