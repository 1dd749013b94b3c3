// `model-gitops drift` and `experiment report` on observation files (the gateway's snapshot format),
// with the hypothesis and thresholds from the registry's model.yaml; and their refusals.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/lib/prng.ts';
import { EVALUATION_CONTRACT, type EvaluationReport } from '../../src/observe/evaluation.ts';
import { Observations } from '../../src/observe/observations.ts';
import { goldenReference } from '../../src/observe/run-evaluation.ts';
import { edit, exampleRepo, runCli, tempDir } from '../helpers.ts';

const LABELS = ['greet', 'order', 'cancel_order', 'other'];
const GOLDEN = Array.from({ length: 400 }, (_, i) =>
  JSON.stringify({ text: 'x'.repeat(10 + (i % 40)), label: LABELS[i % 4] }),
).join('\n');

function setup(experiment: string, drift = 'drift: {metric: psi, warn: 0.1, fail: 0.25, minRequests: 100}') {
  const repo = exampleRepo();
  edit(repo, 'models/intent-classifier/model.yaml', (t) => `${t}${experiment}\n${drift}\n`);
  const dir = tempDir('mg-obs-');
  const reference: EvaluationReport = {
    contract: EVALUATION_CONTRACT,
    model: 'intent-classifier',
    version: '2.0.0',
    environment: 'production',
    role: 'champion',
    evaluatedAt: '2026-12-01T00:00:00.000Z',
    goldenSet: { path: 'g.jsonl', sha256: 'a'.repeat(64), examples: 400 },
    accuracy: 0.93,
    reference: goldenReference(GOLDEN, 'g.jsonl'),
  };
  writeFileSync(join(dir, 'reference.json'), JSON.stringify(reference));
  return { repo, dir };
}

/** Seeded traffic through Observations: champion 2.0.0 and canary 2.1.0 with conversion rates pA/pB. */
function observe(dir: string, o: { pA: number; pB: number; n: number; labels?: string[]; seed?: number }) {
  const obs = new Observations({ prefix: 't-', windowMs: 3_600_000, windows: 2 });
  const rng = mulberry32(o.seed ?? 1);
  const labels = o.labels ?? LABELS;
  for (let i = 0; i < o.n; i++) {
    const canary = i % 2 === 1;
    const id = obs.record(
      'intent-classifier',
      canary ? '2.1.0' : '2.0.0',
      labels[(i >> 1) % labels.length]!,
      10 + ((i >> 1) % 40),
      -1,
      1000,
    );
    obs.recordFeedback(id, rng() < (canary ? o.pB : o.pA) ? 1 : 0);
  }
  const file = join(dir, 'observations.json');
  writeFileSync(
    file,
    JSON.stringify(obs.snapshot({ 'intent-classifier': { champion: '2.0.0', canary: '2.1.0' } }, 2000)),
  );
  return file;
}

const EXPERIMENT =
  'experiment: {hypothesis: "2.1.0 routes cancellations right, so more conversations end resolved", metric: resolved, minimumDetectableEffect: 5%, alpha: 0.05, minSamples: 1000}';

describe('experiment report', () => {
  it('a clear lift: challenger wins, action promote, with the hypothesis in the verdict', () => {
    const { repo, dir } = setup(EXPERIMENT);
    const file = observe(dir, { pA: 0.5, pB: 0.6, n: 8000 });
    const r = runCli([
      'experiment',
      'report',
      '--model',
      'intent-classifier',
      '--observations',
      file,
      '--repo',
      repo,
      '--json',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      champion: '2.0.0',
      challenger: '2.1.0',
      action: 'promote',
      alpha: 0.05,
      minSamples: 1000,
    });
    expect(out.result.verdict).toBe('challenger');
    expect(out.result.champion.n).toBe(4000);
    const text = runCli([
      'experiment',
      'report',
      '--model',
      'intent-classifier',
      '--observations',
      file,
      '--repo',
      repo,
    ]);
    expect(text.stdout).toContain('**Hypothesis:** 2.1.0 routes cancellations right');
    expect(text.stdout).toContain('**Verdict: challenger** → promote the challenger');
  });

  it('A/A: inconclusive, keep collecting; too few outcomes: insufficient-samples', () => {
    const { repo, dir } = setup(EXPERIMENT);
    const aa = observe(dir, { pA: 0.5, pB: 0.5, n: 8000, seed: 3 });
    const r = JSON.parse(
      runCli(['experiment', 'report', '--model', 'intent-classifier', '--observations', aa, '--repo', repo, '--json'])
        .stdout,
    );
    expect(r.result.verdict).toBe('inconclusive');
    expect(r.action).toBe('wait');
    const few = observe(dir, { pA: 0.2, pB: 0.9, n: 400 });
    const f = JSON.parse(
      runCli(['experiment', 'report', '--model', 'intent-classifier', '--observations', few, '--repo', repo, '--json'])
        .stdout,
    );
    expect(f.result.verdict).toBe('insufficient-samples');
    expect(f.summary).toMatch(/each arm needs 1000 before a verdict/);
  });

  it('refuses a model without a hypothesis, a bad experiment block, and bad arguments', () => {
    const { repo, dir } = setup('');
    const file = observe(dir, { pA: 0.5, pB: 0.5, n: 10 });
    const r = runCli(['experiment', 'report', '--model', 'intent-classifier', '--observations', file, '--repo', repo]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /models\/intent-classifier\/model.yaml has no experiment: add \{hypothesis, metric, alpha, minSamples\}/,
    );
    const bad = setup('experiment: {hypothesis: "h", metric: resolved, alpha: 0.5, minSamples: 1000}');
    const b = runCli([
      'experiment',
      'report',
      '--model',
      'intent-classifier',
      '--observations',
      file,
      '--repo',
      bad.repo,
    ]);
    expect(b.status).toBe(1);
    expect(b.stderr).toMatch(/model.yaml:\d+:\d+ +experiment.alpha/);
    expect(runCli(['experiment', 'report', '--model', 'intent-classifier', '--repo', repo]).stderr).toMatch(
      /exactly one of --gateway URL or --observations FILE/,
    );
    writeFileSync(join(dir, 'bad.json'), '{"contract":"model-gitops/observations@1","versions":{}}');
    expect(
      runCli([
        'experiment',
        'report',
        '--model',
        'intent-classifier',
        '--observations',
        join(dir, 'bad.json'),
        '--repo',
        repo,
      ]).stderr,
    ).toMatch(/bad.json: versions is not a list/);
    expect(runCli(['experiment', 'report', '--model', 'x', '--gateway', 'not a url', '--repo', repo]).stderr).toMatch(
      /--gateway must be a URL/,
    );
  });
});

describe('drift', () => {
  it('traffic like the golden set: ok (exit 0); a shifted label mix: fail (exit 1) with the findings', () => {
    const { repo, dir } = setup(EXPERIMENT);
    const same = observe(dir, { pA: 0.5, pB: 0.5, n: 2000 });
    const ok = runCli([
      'drift',
      '--model',
      'intent-classifier',
      '--reference',
      join(dir, 'reference.json'),
      '--observations',
      same,
      '--repo',
      repo,
      '--json',
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ level: 'ok', version: '2.0.0', requests: 1000 });
    const shifted = observe(dir, {
      pA: 0.5,
      pB: 0.5,
      n: 2000,
      labels: ['cancel_order', 'cancel_order', 'cancel_order', 'greet'],
    });
    const bad = runCli([
      'drift',
      '--model',
      'intent-classifier',
      '--reference',
      join(dir, 'reference.json'),
      '--observations',
      shifted,
      '--repo',
      repo,
    ]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/intent-classifier@2.0.0: drift fail over 1000 requests/);
    expect(bad.stdout).toMatch(/outputs\s+psi\s+[0-9.]+\s+fail/);
  });

  it('refuses a reference of another model and a missing file', () => {
    const { repo, dir } = setup(EXPERIMENT);
    const file = observe(dir, { pA: 0.5, pB: 0.5, n: 10 });
    const r = runCli([
      'drift',
      '--model',
      'pii-scrubber',
      '--reference',
      join(dir, 'reference.json'),
      '--observations',
      file,
      '--repo',
      repo,
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is an evaluation of intent-classifier, not pii-scrubber/);
    expect(
      runCli(['drift', '--model', 'm', '--reference', join(dir, 'nope.json'), '--observations', file]).stderr,
    ).toMatch(/--reference .*nope.json: ENOENT/);
  });
});

describe('experiment promote', () => {
  it('the canary becomes the champion, the old champion the first rollback target; comments survive', () => {
    const repo = exampleRepo();
    const r = runCli([
      'experiment',
      'promote',
      'intent-classifier',
      '--environment',
      'production',
      '--repo',
      repo,
      '--json',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      from: '2.0.0',
      to: '2.1.0',
      rollbackWindow: ['2.0.0', '1.1.0'],
      commit: null,
    });
    const text = readFileSync(join(repo, 'environments/production.yaml'), 'utf8');
    expect(text).toMatch(
      /intent-classifier:\n\s+version: 2\.1\.0 +# champion\n\s+rollbackWindow: \[2\.0\.0, 1\.1\.0\]/,
    );
    expect(text).not.toContain('canary');
    expect(text).toContain('pii-scrubber: 1.4.1');
  });

  it('with --branch it commits on a new branch; without a canary it refuses and changes nothing', () => {
    const repo = exampleRepo();
    const g = (...a: string[]) =>
      execFileSync('git', ['-C', repo, ...a], {
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@x',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@x',
        },
      });
    g('init', '-q', '-b', 'main');
    g('add', '.');
    g('commit', '-qm', 'init');
    const env = {
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@x',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@x',
    };
    const r = runCli(
      ['experiment', 'promote', 'intent-classifier', '-e', 'production', '--repo', repo, '--branch', 'promote/x'],
      { env },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(g('rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe('promote/x');
    expect(g('log', '-1', '--format=%s').trim()).toBe(
      'promote: intent-classifier 2.0.0 -> 2.1.0 in production (A/B experiment)',
    );
    const before = readFileSync(join(repo, 'environments/staging.yaml'), 'utf8');
    const no = runCli(['experiment', 'promote', 'intent-classifier', '-e', 'staging', '--repo', repo]);
    expect(no.status).toBe(2);
    expect(no.stderr).toMatch(/intent-classifier has no canary in staging: there is no challenger to promote/);
    expect(readFileSync(join(repo, 'environments/staging.yaml'), 'utf8')).toBe(before);
    expect(runCli(['experiment', 'promote', '--repo', repo]).stderr).toMatch(/expected exactly one model name/);
  });
});
