// The run-benchmark action as a runner runs it: `node actions/run-benchmark/src/main.ts` with INPUT_*,
// GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, a pull_request event and GITHUB_API_URL pointing at a local
// node:http server standing in for the GitHub REST API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseReport } from '../../src/benchmark/report.ts';
import { tempDir } from '../helpers.ts';
import { runAction as runRunner } from '../helpers/actions.ts';
import { FakeGitHub } from '../helpers/fake-github.ts';
import { benchFixture } from './fixture.ts';

const github = new FakeGitHub('acme/registry', 7);
const calls = github.requests;
beforeAll(() => github.start());
afterAll(() => github.stop());

async function runAction(inputs: Record<string, string>, cwd: string) {
  return runRunner('actions/run-benchmark/src/main.ts', {
    cwd,
    event: {
      action: 'labeled',
      number: 7,
      pull_request: { number: 7, head: { sha: 'a'.repeat(40) } },
      repository: { full_name: 'acme/registry' },
    },
    env: {
      GITHUB_EVENT_NAME: 'pull_request_target',
      GITHUB_REPOSITORY: 'acme/registry',
      GITHUB_API_URL: github.url,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_RUN_ID: '99',
    },
    inputs: { 'github-token': 'test-token', comment: 'true', 'warmup-runs': '0', champion: 'production', ...inputs },
  });
}

describe('actions/run-benchmark', () => {
  it('benchmarks a passing challenger, writes outputs, summary and report, and creates the PR comment', async () => {
    const f = benchFixture();
    const store = tempDir('mg-store-');
    // A human comment that quotes the marker must never be taken over.
    github.comments = [
      {
        id: 5,
        body: '<!-- model-gitops:benchmark -->\n<!-- model-gitops:benchmark model=intent-classifier -->\nlooks good',
        user: { login: 'dana', type: 'User' },
      },
    ];
    calls.length = 0;
    const r = await runAction(
      {
        model: 'intent-classifier',
        version: '2.1.0',
        'weights-root': f.weights,
        'report-store': store,
        'report-path': 'out/report.json',
        repo: f.repo,
      },
      f.repo,
    );
    expect(r.log).not.toContain('::error');
    expect(r.status).toBe(0);
    expect(r.outputs['verdict']).toBe('pass');
    expect(r.outputs['report-key']).toBe('reports/intent-classifier/2.1.0/cpu.json');
    const report = parseReport(readFileSync(join(store, 'reports/intent-classifier/2.1.0/cpu.json')), 'stored report');
    expect(report.decision.verdict).toBe('pass');
    expect(report.champion).toMatchObject({ version: '2.0.0', selectedAs: 'production' });
    // Interleaved A B A B ..., 6 measured runs each.
    expect(report.runs.map((x) => x.side)).toEqual(
      Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 'champion' : 'challenger')),
    );
    expect(report.accuracy.challenger).toBeGreaterThan(report.accuracy.champion!);
    expect(report.accuracy.challenger).toBeGreaterThanOrEqual(0.9);
    expect(report.workload.goldenSetSha256).toBe(f.goldenSha);
    expect(report.runs[0]!.results!.map((x) => x.batchSize)).toEqual([1, 8]);
    expect(report.runs[0]!.metrics).toHaveProperty('latency_p99_ms@8');
    expect(report.decision.comparisons.map((c) => `${c.metric}:${c.kind}:${c.verdict}`)).toEqual([
      'accuracy:regression:pass',
      'accuracy:threshold:pass',
    ]);
    expect(readFileSync(join(f.repo, 'out/report.json'), 'utf8')).toBe(
      readFileSync(join(store, 'reports/intent-classifier/2.1.0/cpu.json'), 'utf8'),
    );
    expect(report.source).toEqual({
      repository: 'acme/registry',
      pullRequest: 7,
      runUrl: 'https://github.com/acme/registry/actions/runs/99',
    });
    expect(r.outputs['artifact-digest']).toBe(report.artifactDigest);
    expect(r.summary).toContain('### Benchmark: intent-classifier 2.0.0 → 2.1.0 — ✅ pass');
    expect(r.summary).toContain('```mermaid\nxychart-beta');
    expect(calls.map((c) => `${c.method} ${c.url.split('?')[0]}`)).toEqual([
      'GET /repos/acme/registry/issues/7/comments',
      // A comment holding the marker exists (comment 5, a person's): who the token is decides it is not ours.
      'POST /graphql',
      'POST /repos/acme/registry/issues/7/comments',
    ]);
    const body = (calls[2]!.body as { body: string }).body;
    expect(
      body.startsWith('<!-- model-gitops:benchmark -->\n<!-- model-gitops:benchmark model=intent-classifier -->\n'),
    ).toBe(true);
    expect(body).toMatch(/\| accuracy \| 0\.9\d* \| 0\.99\d* \| \+\d+\.\d% \| ≤ 1% worse; CI \[/);
    expect(github.comments.find((c) => c.id === 5)!.body).toContain('looks good');
  });

  it('updates its own comment in place, and fails the step when the challenger fails', async () => {
    const f = benchFixture();
    github.comments = [
      {
        id: 42,
        body: '<!-- model-gitops:benchmark -->\n<!-- model-gitops:benchmark model=intent-classifier -->\nold',
        user: { login: 'github-actions[bot]', type: 'Bot' },
      },
    ];
    calls.length = 0;
    const r = await runAction(
      { model: 'intent-classifier', version: '1.1.0', champion: '2.0.0', 'weights-root': f.weights, repo: f.repo },
      f.repo,
    );
    expect(r.status).toBe(1);
    expect(r.outputs['verdict']).toBe('fail');
    expect(r.log).toMatch(/::error::benchmark fail for intent-classifier@1\.1\.0: /);
    expect(calls.map((c) => `${c.method} ${c.url.split('?')[0]}`)).toEqual([
      'GET /repos/acme/registry/issues/7/comments',
      'POST /graphql',
      'PATCH /repos/acme/registry/issues/comments/42',
    ]);
    expect(github.comments).toHaveLength(1);
    expect(github.comments[0]!.body).toContain('— ❌ fail');
    expect(github.comments[0]!.body).toMatch(/accuracy median 0\.7\d* violates the threshold >= 0\.9/);
    expect(github.comments[0]!.body).toMatch(/accuracy regressed -2\d\.\d%/);
    expect(r.summary).toContain('**Why fail:**');
  });

  it('refuses a bad input with a clear message', async () => {
    const f = benchFixture();
    calls.length = 0;
    const r = await runAction(
      { model: 'intent-classifier', version: '2.1.0', 'weights-root': f.weights, repo: f.repo, runs: 'many' },
      f.repo,
    );
    expect(r.status).toBe(1);
    expect(r.log).toContain('::error::input runs must be a whole number >= 1, got "many"');
    expect(calls).toHaveLength(0);
  });
});
