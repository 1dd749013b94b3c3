// select over a published manifest: qualification by each requirement, the stated order, the
// reasons for every exclusion, and the CLI's refusals.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMinimum, selectVersions } from '../../src/lifecycle/select.ts';
import type { Manifest } from '../../src/manifest/manifest.ts';
import { demoEntry, demoManifest } from '../gateway/helpers.ts';
import { NODE, ROOT, tempDir } from '../helpers.ts';

function manifest(): Manifest {
  const bench = (p99: number, accuracy: number) => ({
    testbed: 'cpu',
    verdict: 'pass' as const,
    report: 'r',
    metrics: { latency_p99_ms: p99, accuracy },
  });
  const m = demoManifest(
    {
      'intent-classifier': { version: '2.0.0', canary: { version: '2.1.0', weight: 5 } },
      'pii-scrubber': { version: '1.4.2' },
      'structured-extractor': { version: '1.1.0' },
    },
    {
      extraVersions: {
        'intent-classifier': {
          '2.0.0': {
            ...demoEntry('intent-classifier', '2.0.0'),
            benchmark: bench(9, 0.95),
            architecture: { family: 'bag', format: 'safetensors', parameters: 14_000 },
          },
          '2.1.0': {
            ...demoEntry('intent-classifier', '2.1.0'),
            benchmark: bench(12, 0.99),
            architecture: { family: 'bag', format: 'safetensors', parameters: 15_000 },
          },
        },
        'pii-scrubber': {
          '1.4.2': {
            ...demoEntry('pii-scrubber', '1.4.2'),
            benchmark: bench(4, 0.97),
            architecture: { family: 'bag', format: 'gguf', parameters: 7000 },
            deprecation: { sunset: '2020-01-01', replacement: 'pii-scrubber@1.4.1' },
          },
        },
        'structured-extractor': {
          '1.1.0': {
            ...demoEntry('structured-extractor', '1.1.0'),
            metrics: { accuracy: 0.96 },
            architecture: { family: 'bag', format: 'safetensors' },
          },
        },
      },
    },
  );
  m.models['intent-classifier']!.task = 'text-classification';
  m.models['pii-scrubber']!.task = 'token-classification';
  m.models['structured-extractor']!.task = 'information-extraction';
  return m;
}

describe('select', () => {
  it('lists qualified candidates best first and says why each other one is out', () => {
    const r = selectVersions(manifest(), { environment: 'production', maxLatencyP99Ms: 10, min: { accuracy: 0.9 } });
    expect(r.qualified.map((c) => `${c.model}@${c.version}`)).toEqual(['intent-classifier@2.0.0']);
    const why = Object.fromEntries(r.excluded.map((x) => [`${x.candidate.model}@${x.candidate.version}`, x.reasons]));
    expect(why['intent-classifier@2.1.0']).toEqual(['latency p99 12 ms > 10 ms']);
    expect(why['structured-extractor@1.1.0']).toEqual(['no benchmarked latency_p99_ms']);
    expect(why['pii-scrubber@1.4.2']).toEqual(['deprecated, sunset passed on 2020-01-01, use pii-scrubber@1.4.1']);
    expect(r.rule).toMatch(/^not deprecated first, then higher accuracy, then lower latency p99/);
  });

  it('orders by the first --min metric; card metrics count when there is no benchmark', () => {
    const r = selectVersions(manifest(), {
      environment: 'production',
      min: { accuracy: 0.95 },
      now: new Date('2019-01-01'),
    });
    expect(r.qualified.map((c) => `${c.model}@${c.version}:${c.metrics.accuracy}`)).toEqual([
      'intent-classifier@2.1.0:0.99',
      'structured-extractor@1.1.0:0.96',
      'intent-classifier@2.0.0:0.95',
      'pii-scrubber@1.4.2:0.97', // deprecated (sunset still ahead in 2019): qualifies, ranked last
    ]);
    expect(r.qualified[0]!.role).toBe('canary');
  });

  it('task, format, parameters and a missing metric exclude with their reasons', () => {
    const r = selectVersions(manifest(), {
      environment: 'production',
      task: 'text-classification',
      format: 'safetensors',
      maxParameters: 14_500,
      min: { f1: 0.5 },
    });
    expect(r.qualified).toEqual([]);
    const why = Object.fromEntries(r.excluded.map((x) => [`${x.candidate.model}@${x.candidate.version}`, x.reasons]));
    expect(why['intent-classifier@2.0.0']).toEqual(['no metric f1']);
    expect(why['intent-classifier@2.1.0']).toEqual(['15000 parameters > 14500', 'no metric f1']);
    expect(why['structured-extractor@1.1.0']).toEqual([
      'task is information-extraction, not text-classification',
      'parameters not published (architecture.parameters)',
      'no metric f1',
    ]);
    expect(why['pii-scrubber@1.4.2']![0]).toBe('task is token-classification, not text-classification');
    expect(why['pii-scrubber@1.4.2']).toContain('format is gguf, not safetensors');
  });

  it('refuses an unknown environment and a malformed --min by name', () => {
    expect(() => selectVersions(manifest(), { environment: 'prod' })).toThrow(
      /has no environment "prod" \(it has: production\)/,
    );
    expect(parseMinimum('macro_f1=0.9')).toEqual(['macro_f1', 0.9]);
    expect(() => parseMinimum('accuracy>0.9')).toThrow(
      /--min must be METRIC=NUMBER \(e\.g\. --min accuracy=0\.9\), got "accuracy>0\.9"/,
    );
    expect(() => parseMinimum('accuracy=')).toThrow(/METRIC=NUMBER/);
    expect(() => parseMinimum('accuracy=high')).toThrow(/METRIC=NUMBER/);
  });

  it('the CLI: --json from a manifest file; exit 1 when nothing qualifies; usage errors exit 2', () => {
    const file = join(tempDir('mg-select-'), 'manifest.json');
    writeFileSync(file, JSON.stringify(manifest()));
    const run = (...args: string[]) =>
      spawnSync(NODE, [join(ROOT, 'bin', 'model-gitops.js'), 'select', '--manifest', file, ...args], {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
    const ok = run('--environment', 'production', '--max-latency-p99', '10', '--min', 'accuracy=0.9', '--json');
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).qualified.map((c: { version: string }) => c.version)).toEqual(['2.0.0']);
    const none = run('--environment', 'production', '--max-latency-p99', '1');
    expect(none.status).toBe(1);
    expect(none.stdout).toContain('no version qualifies');
    expect(none.stdout).toContain('excluded intent-classifier@2.0.0: latency p99 9 ms > 1 ms');
    const bad = run('--environment', 'production', '--max-latency-p99', 'fast');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--max-latency-p99 must be a number >= 0, got "fast"');
    expect(run('--min', 'a=1').stderr).toContain('--environment is required');
    writeFileSync(file, '{"trunc');
    expect(run('--environment', 'production').stderr).toMatch(/manifest.json: not a readable JSON manifest/);
  });
});
