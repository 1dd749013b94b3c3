// Continuous evaluation: the drop rule, the golden-set digest, report parsing, the GitHub steps
// against a local stand-in for the REST API, and `evaluate run` end to end (real folder store, the
// real CPU harness on the example weights, the stand-in for GitHub).
import { spawn } from 'node:child_process';
import { cpSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoWeights, sha256 } from '../../scripts/demo-weights.ts';
import { githubFromEnv, openPullRequest, upsertComment, upsertIssue } from '../../src/cli/github-rest.ts';
import {
  compareEvaluation,
  dropIssueBody,
  dropTest,
  EVALUATION_CONTRACT,
  type EvaluationReport,
  normalCdf,
  parseEvaluationReport,
  verifyGoldenSet,
} from '../../src/observe/evaluation.ts';
import { goldenReference } from '../../src/observe/run-evaluation.ts';
import { blobKey } from '../../src/store/keys.ts';
import { openStore } from '../../src/store/open.ts';
import { edit, exampleRepo, NODE, ROOT, tempDir } from '../helpers.ts';
import { GitHubStandIn } from './github-stand-in.ts';

const report = (accuracy: number, at: string, over: Partial<EvaluationReport> = {}): EvaluationReport => ({
  contract: EVALUATION_CONTRACT,
  model: 'm',
  version: '1.0.0',
  environment: 'production',
  role: 'champion',
  evaluatedAt: at,
  goldenSet: { path: 'g.jsonl', sha256: 'a'.repeat(64), examples: 400 },
  accuracy,
  reference: { requests: 1, outputs: {}, inputLength: [1] },
  ...over,
});

describe('evaluation drop rule', () => {
  it('normal CDF is accurate enough for the rule', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(-1.959964)).toBeCloseTo(0.025, 6);
    expect(normalCdf(-2.326348)).toBeCloseTo(0.01, 6);
    expect(normalCdf(3)).toBeCloseTo(0.99865, 5);
  });

  it('a 5-point drop on 400 examples is significant; a 1-point one is not', () => {
    expect(dropTest(0.95, 400, 0.9, 400, 0.01).significant).toBe(true);
    expect(dropTest(0.95, 400, 0.94, 400, 0.01).significant).toBe(false);
    expect(dropTest(0.9, 400, 0.95, 400, 0.01).significant).toBe(false); // a rise is never a drop
    expect(() => dropTest(0.9, 0, 0.9, 10, 0.01)).toThrow(/examples on both sides/);
  });

  it('compares with the card and the latest earlier run on the same golden set only', () => {
    const now = report(0.88, '2026-12-03T00:00:00.000Z');
    const previous = [
      report(0.93, '2026-12-01T00:00:00.000Z'),
      report(0.94, '2026-12-02T00:00:00.000Z'),
      report(0.2, '2026-12-02T12:00:00.000Z', { goldenSet: { path: 'g', sha256: 'b'.repeat(64), examples: 400 } }),
      report(0.2, '2026-12-04T00:00:00.000Z'), // later than the current run: not a baseline
    ];
    const c = compareEvaluation(now, 0.9, previous);
    expect(c.rows.map((r) => [r.against, r.baseline])).toEqual([
      ['model card', 0.9],
      ['evaluation of 2026-12-02T00:00:00.000Z', 0.94],
    ]);
    expect(c.rows[0]!.significant).toBe(false);
    expect(c.rows[1]!.significant).toBe(true);
    expect(c.drop).toBe(true);
    const body = dropIssueBody(now, c, previous);
    expect(body).toContain('| evaluation of 2026-12-02T00:00:00.000Z | 94.00% | 88.00% | -6.00 pt |');
    expect(body).toContain('xychart-beta');
    expect(body).toContain('line [93.00, 94.00, 88.00]');
  });

  it('the golden set must match its digest; the error names the field and both digests', () => {
    const bytes = Buffer.from('{"text":"hi","label":"greet"}\n');
    expect(verifyGoldenSet(bytes, sha256(bytes), 'models/m/model.yaml')).toBe(sha256(bytes));
    expect(() => verifyGoldenSet(bytes, 'f'.repeat(64), 'models/m/model.yaml')).toThrow(
      new RegExp(
        `models/m/model.yaml: the golden set's sha256 is ${sha256(bytes)}, benchmark.workload.goldenSetSha256 says f{64}`,
      ),
    );
    expect(() => verifyGoldenSet(bytes, undefined, 'models/m/model.yaml')).toThrow(/goldenSetSha256 is not set/);
  });

  it('builds the reference from the golden set and refuses malformed lines', () => {
    const r = goldenReference('{"text":"hello","label":"greet"}\n\n{"prompt":"abc"}\n', 'g.jsonl');
    expect(r).toMatchObject({ requests: 2, outputs: { greet: 1 } });
    expect(() => goldenReference('{"text":1}\n', 'g.jsonl')).toThrow(/g.jsonl:1: no "text"/);
    expect(() => goldenReference('x\n', 'g.jsonl')).toThrow(/g.jsonl:1: not a JSON line/);
    expect(() => goldenReference('\n', 'g.jsonl')).toThrow(/empty/);
  });

  it('a malformed report is refused naming the field', () => {
    const good = JSON.stringify(report(0.9, '2026-12-01T00:00:00.000Z'));
    expect(parseEvaluationReport(good, 'r.json').accuracy).toBe(0.9);
    expect(() => parseEvaluationReport('nope', 'r.json')).toThrow(/r.json: not JSON/);
    const bad = (f: (d: any) => void) => {
      const d = JSON.parse(good);
      f(d);
      return () => parseEvaluationReport(JSON.stringify(d), 'r.json');
    };
    expect(bad((d) => (d.accuracy = 1.5))).toThrow(/r.json: accuracy/);
    expect(bad((d) => (d.goldenSet.examples = 0))).toThrow(/goldenSet.examples/);
    expect(bad((d) => delete d.reference)).toThrow(/reference/);
    expect(bad((d) => (d.contract = 'x'))).toThrow(/contract/);
  });
});

describe('GitHub steps against a stand-in for the REST API', () => {
  let gh: GitHubStandIn;
  beforeAll(async () => {
    gh = await new GitHubStandIn('acme/registry').start();
  });
  afterAll(() => gh.stop());
  const target = () =>
    githubFromEnv({ GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acme/registry', GITHUB_TOKEN: 'test-token' });

  it('opens one issue per marker, updates it on the next run, and leaves a look-alike by someone else alone', async () => {
    gh.issues.push({
      number: 99,
      id: 1,
      title: 'fake',
      body: '<!-- mk:a -->',
      labels: [{ name: 'eval' }],
      state: 'open',
      user: { login: 'mallory' },
    });
    const first = await upsertIssue(target(), {
      marker: '<!-- mk:a -->',
      title: 'Drop',
      body: 'one',
      labels: ['eval'],
    });
    expect(first.updated).toBe(false);
    const second = await upsertIssue(target(), {
      marker: '<!-- mk:a -->',
      title: 'Drop',
      body: 'two',
      labels: ['eval'],
    });
    expect(second).toEqual({ number: first.number, updated: true });
    expect(gh.issues.find((i) => i.number === first.number)!.body).toBe('<!-- mk:a -->\ntwo');
    expect(gh.issues.find((i) => i.number === 99)!.body).toBe('<!-- mk:a -->');
    expect(gh.requests.every((r) => r.auth === 'Bearer test-token')).toBe(true);
  });

  it('upserts a verdict comment and opens a pull request once per branch', async () => {
    const a = await upsertComment(target(), 7, '<!-- v -->', 'first');
    const b = await upsertComment(target(), 7, '<!-- v -->', 'second');
    expect(b).toEqual({ id: a.id, updated: true });
    expect(gh.comments.filter((c) => c.issue === 7).map((c) => c.body)).toEqual(['<!-- v -->\nsecond']);
    const p = await openPullRequest(target(), { head: 'rollback/x', base: 'main', title: 'Roll back', body: '' });
    expect(p.existed).toBe(false);
    expect(await openPullRequest(target(), { head: 'rollback/x', base: 'main', title: 'Roll back', body: '' })).toEqual(
      {
        number: p.number,
        existed: true,
      },
    );
  });

  it('a refused token and a missing configuration are errors that say so', async () => {
    const bad = { ...target(), token: 'wrong' };
    await expect(upsertIssue(bad, { marker: 'm', title: 't', body: 'b', labels: ['x'] })).rejects.toThrow(
      /HTTP 401 .*Bad credentials/,
    );
    expect(() => githubFromEnv({ GITHUB_REPOSITORY: 'a/b' })).toThrow(/GITHUB_TOKEN/);
    expect(() => githubFromEnv({ GITHUB_TOKEN: 't', GITHUB_REPOSITORY: 'nope' })).toThrow(/owner\/name/);
  });
});

function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [join(ROOT, 'bin', 'model-gitops.js'), ...args], {
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('evaluate run (real store, real harness, GitHub stand-in)', () => {
  let gh: GitHubStandIn;
  let repo: string;
  let storeDir: string;
  beforeAll(async () => {
    gh = await new GitHubStandIn('acme/registry').start();
    repo = exampleRepo();
    symlinkSync(join(ROOT, 'benchmarks'), join(repo, 'benchmarks'));
    storeDir = tempDir('mg-eval-store-');
    const store = openStore(storeDir);
    for (const [id, files] of demoWeights())
      if (id.startsWith('intent-classifier/'))
        for (const b of Object.values(files)) await store.putObject(blobKey(sha256(b)), b);
  }, 60_000);
  afterAll(() => gh.stop());
  const env = () => ({ GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acme/registry', GITHUB_TOKEN: 'test-token' });
  const args = ['evaluate', 'run', '--environment', 'production', '--model', 'intent-classifier', '--quick', '--json'];

  it('no drop: reports stored, exit 0, no issue', async () => {
    const r = await cli([...args, '--repo', repo, '--store', storeDir, '--github'], env());
    expect(r.stderr).toContain('evaluating intent-classifier@2.0.0 (champion in production)');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.results.map((x: any) => [x.version, x.role, x.comparison.drop])).toEqual([
      ['2.0.0', 'champion', false],
      ['2.1.0', 'canary', false],
    ]);
    expect(out.results[0].accuracy).toBeCloseTo(0.9275, 4);
    expect(out.results[0].key).toMatch(/^evaluations\/intent-classifier\/2\.0\.0\/production\/.+\.json$/);
    expect(gh.issues).toHaveLength(0);
  }, 60_000);

  it('a significant drop against the card opens one issue with the table and chart, then updates it; rollback listed', async () => {
    edit(repo, 'models/intent-classifier/versions/2.0.0.yaml', (t) =>
      t.replace('accuracy: 0.9275', 'accuracy: 0.9900'),
    );
    edit(repo, 'models/intent-classifier/model.yaml', (t) => `${t}evaluation: {onDrop: rollback}\n`);
    const r = await cli([...args, '--repo', repo, '--store', storeDir, '--github'], env());
    expect(r.status, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.rollbacks).toEqual([
      { model: 'intent-classifier', environment: 'production', canaryOnly: false, version: '2.0.0' },
    ]);
    expect(gh.issues).toHaveLength(1);
    const issue = gh.issues[0]!;
    expect(issue.title).toBe('Evaluation drop: intent-classifier in production');
    expect(issue.body).toMatch(/\| model card \| 99\.00% \| 92\.75% \| -6\.25 pt \| .* \| yes \|/);
    expect(issue.body).toContain('```mermaid');
    expect(issue.body).toContain('a rollback pull request is being prepared');
    const again = await cli([...args, '--repo', repo, '--store', storeDir, '--github'], env());
    expect(again.status).toBe(1);
    expect(gh.issues).toHaveLength(1);
    expect(JSON.parse(again.stdout).issues).toEqual([
      { model: 'intent-classifier', number: issue.number, updated: true },
    ]);
    // Three runs so far: the chart of the last one has three points of 2.0.0.
    expect(gh.issues[0]!.body).toMatch(/line \[92\.75, 92\.75, 92\.75\]/);
    // The split workflow: the harness job's JSON, filed by another job with `evaluate issue --from`.
    const file = join(tempDir('mg-eval-out-'), 'evaluation.json');
    writeFileSync(file, again.stdout);
    const filed = await cli(['evaluate', 'issue', '--from', file, '--json'], env());
    expect(filed.status, filed.stderr).toBe(0);
    expect(JSON.parse(filed.stdout).issues).toEqual([
      { model: 'intent-classifier', number: issue.number, updated: true },
    ]);
    expect(gh.issues).toHaveLength(1);
    const tampered = JSON.parse(again.stdout);
    tampered.results[0].report.accuracy = 7;
    writeFileSync(file, JSON.stringify(tampered));
    const bad = await cli(['evaluate', 'issue', '--from', file], env());
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/results\[0\]\.report: accuracy is missing or invalid/);
  }, 90_000);

  it('plan: ubuntu-latest for the CPU harness, the recipe labels on request, and disagreeing recipes refused', async () => {
    const plan = (...a: string[]) => cli(['evaluate', 'plan', '-e', 'production', '--repo', repo, ...a], {});
    expect((await plan()).stdout.trim()).toBe('"ubuntu-latest"');
    expect(JSON.parse((await plan('--recipe-runner', '--model', 'intent-classifier')).stdout)).toEqual([
      'self-hosted',
      'gpu',
    ]);
    expect((await plan('--model', 'nope')).stderr).toMatch(/nope is not deployed in production/);
    const other = tempDir('mg-eval-plan-');
    cpSync(repo, other, { recursive: true, dereference: false });
    edit(
      other,
      'models/pii-scrubber/model.yaml',
      (t) => `${t}benchmark:\n  command: run {model_dir}\n  runner: [self-hosted, gpu, h100]\n`,
    );
    const split = await cli(['evaluate', 'plan', '-e', 'production', '--repo', other, '--recipe-runner'], {});
    expect(split.status).toBe(2);
    expect(split.stderr).toMatch(/the recipes name different runners .*evaluate one model at a time with --model/);
  }, 30_000);

  it('a tampered golden set digest or a missing blob is refused, naming what to fix', async () => {
    let original = '';
    edit(repo, 'models/intent-classifier/model.yaml', (t) =>
      t.replace(/goldenSetSha256: ([0-9a-f]{64})/, (_, d: string) => {
        original = d;
        return `goldenSetSha256: ${'e'.repeat(64)}`;
      }),
    );
    const r = await cli([...args, '--repo', repo, '--store', storeDir], env());
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /models\/intent-classifier\/model.yaml: the golden set's sha256 is [0-9a-f]{64}, benchmark.workload.goldenSetSha256 says e{64}/,
    );
    edit(repo, 'models/intent-classifier/model.yaml', (t) => t.replace('e'.repeat(64), original));
    const missing = await cli([...args, '--repo', repo, '--store', tempDir('mg-eval-empty-')], env());
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/blobs\/sha256\/[0-9a-f]{64}/);
  }, 60_000);
});
