import { describe, expect, it } from 'vitest';
import { edit, exampleRepo, runCli } from './helpers.ts';

describe('model-gitops validate (CLI)', () => {
  it('exits 0 and says what it checked on a valid registry', () => {
    const r = runCli(['validate', '--repo', exampleRepo()]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^valid {2}3 models, 8 versions, 3 environments \(14 files\) in \d+ ms$/m);
  });

  it('exits 1 and prints file:line:column  field  message for each violation, without a stack', () => {
    const repo = exampleRepo();
    edit(repo, 'models/intent-classifier/versions/2.0.0.yaml', (t) => t.replace('size: 37640', 'size: "37640"'));
    const r = runCli(['validate', '--repo', repo]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('models/intent-classifier/versions/2.0.0.yaml:11:');
    expect(r.stdout).toMatch(/2\.0\.0\.yaml:11:\d+ {2}artifacts\[0\]\.size {2}must be a whole number, not a string/);
    expect(r.stdout).toMatch(/^1 error {2}/m);
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints machine-readable results with --json', () => {
    const repo = exampleRepo();
    edit(repo, 'environments/dev.yaml', (t) => t.replace('pii-scrubber: 1.4.2', 'pii-scrubber: 9.9.9'));
    const r = runCli(['validate', '--repo', repo, '--json']);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as {
      valid: boolean;
      errors: number;
      diagnostics: { file: string; line: number; field: string; rule: string }[];
    };
    expect(out.valid).toBe(false);
    expect(out.errors).toBe(1);
    expect(out.diagnostics[0]).toMatchObject({
      file: 'environments/dev.yaml',
      line: 5,
      field: 'models.pii-scrubber',
      rule: 'environment-version',
    });
  });

  it('exits 2 on usage errors and on a repository that does not exist', () => {
    const bad = runCli(['validate', '--nope']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("Unknown option '--nope'");
    expect(bad.stderr).toContain('usage: model-gitops validate');
    const missing = runCli(['validate', '--repo', '/nonexistent/registry']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe('model-gitops validate: repository folder not found: /nonexistent/registry\n');
    expect(runCli(['frobnicate']).status).toBe(2);
  });
});

describe('model-gitops ls (CLI)', () => {
  it('lists every version with where it runs', () => {
    const r = runCli(['ls', '--repo', exampleRepo()]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^intent-classifier +2\.1\.0 +dev, production \(canary 5%\), staging /m);
    expect(r.stdout).toMatch(/^ +1\.1\.0 +production \(rollback\) /m);
    expect(r.stdout).toMatch(/^ +1\.0\.0 +- /m);
  });

  it('gives the same facts as JSON', () => {
    const r = runCli(['ls', '--repo', exampleRepo(), '--json']);
    const out = JSON.parse(r.stdout) as {
      models: { name: string; versions: { version: string; runs: unknown[] }[] }[];
    };
    const ic = out.models.find((m) => m.name === 'intent-classifier')!;
    expect(ic.versions.map((v) => v.version)).toEqual(['2.1.0', '2.0.0', '1.1.0', '1.0.0']);
    expect(ic.versions[0]!.runs).toEqual([
      { environment: 'dev', role: 'champion' },
      { environment: 'production', role: 'canary', weight: '5%' },
      { environment: 'staging', role: 'champion' },
    ]);
  });
});
