import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { git } from '../src/lib/git.ts';
import { applyRollbackToText, planRollback } from '../src/review/rollback.ts';
import { WorkingTreeSource } from '../src/registry/source.ts';
import { validateRegistry } from '../src/registry/validate.ts';
import { exampleRepo, runCli, write } from './helpers.ts';

const registryOf = (repo: string) => validateRegistry(new WorkingTreeSource(repo, { maxFileBytes: 1 << 20 })).registry;

/** The example registry with a rollback target that keeps every dependency satisfied. */
function repoWithSafeRollback(): string {
  const repo = exampleRepo();
  write(
    repo,
    'environments/production.yaml',
    `# yaml-language-server: $schema=../schemas/environment.schema.json
description: Customer traffic. A version must be in staging on main before it enters production.
requires: staging
models:
  intent-classifier:
    version: 2.1.0              # champion
    rollbackWindow: [2.0.0, 1.1.0]     # instant rollback targets, no re-benchmark
  pii-scrubber: 1.4.1
  structured-extractor: 1.0.0
`,
  );
  return repo;
}

describe('planRollback', () => {
  it("targets the rollback window's first version and drops the canary", () => {
    const plan = planRollback(registryOf(exampleRepo()), 'intent-classifier', 'production');
    expect(plan).toMatchObject({
      kind: 'champion',
      from: '2.0.0',
      to: '1.1.0',
      rollbackWindow: [],
      droppedCanary: '2.1.0',
    });
  });

  it('refuses targets outside the window, empty windows and unknown names', () => {
    const reg = registryOf(exampleRepo());
    expect(() => planRollback(reg, 'intent-classifier', 'production', { to: '1.0.0' })).toThrow(
      "1.0.0 is not in intent-classifier's rollbackWindow in production (1.1.0)",
    );
    expect(() => planRollback(reg, 'pii-scrubber', 'production')).toThrow(
      'pii-scrubber in production has an empty rollbackWindow',
    );
    expect(() => planRollback(reg, 'pii-scrubber', 'qa')).toThrow(
      'no environment "qa" (have: dev, production, staging)',
    );
    expect(() => planRollback(reg, 'nope', 'production')).toThrow('nope is not deployed in production');
    expect(() => planRollback(reg, 'pii-scrubber', 'production', { canaryOnly: true })).toThrow(
      'pii-scrubber has no canary in production',
    );
  });
});

describe('applyRollbackToText', () => {
  it('edits only the model entry and keeps the rest of the file, comments included', () => {
    const repo = repoWithSafeRollback();
    const before = readFileSync(join(repo, 'environments/production.yaml'), 'utf8');
    const plan = planRollback(registryOf(repo), 'intent-classifier', 'production');
    const after = applyRollbackToText(before, plan);
    expect(after).toContain('version: 2.0.0 # champion');
    expect(after).toContain('rollbackWindow: [1.1.0]');
    expect(after).toContain('# yaml-language-server: $schema=../schemas/environment.schema.json');
    expect(after).toContain(
      'description: Customer traffic. A version must be in staging on main before it enters production.',
    );
    expect(after.split('\n').filter((l) => l.includes('pii-scrubber'))).toEqual(['  pii-scrubber: 1.4.1']);
  });
});

describe('model-gitops rollback (CLI, real git)', () => {
  it('commits the rollback on a new branch, and the result validates', () => {
    const repo = repoWithSafeRollback();
    git(repo, ['init', '-q', '-b', 'main']);
    git(repo, ['-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-q', '--allow-empty', '-m', 'empty']);
    git(repo, ['add', '-A']);
    git(repo, ['-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-q', '-m', 'base']);
    const r = runCli(
      [
        'rollback',
        'intent-classifier',
        '--environment',
        'production',
        '--repo',
        repo,
        '--branch',
        'rollback/ic',
        '--json',
      ],
      { env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { message: string; commit: string; branch: string };
    expect(out.message).toBe('rollback: intent-classifier 2.1.0 -> 2.0.0 in production');
    expect(git(repo, ['rev-parse', '--abbrev-ref', 'HEAD']).trim()).toBe('rollback/ic');
    expect(git(repo, ['log', '-1', '--format=%H %s']).trim()).toBe(`${out.commit} ${out.message}`);
    expect(git(repo, ['diff', '--name-only', 'HEAD~1']).trim()).toBe('environments/production.yaml');
    expect(runCli(['validate', '--repo', repo]).status).toBe(0);
  });

  it('refuses a rollback that would break a dependent, naming it, and changes nothing', () => {
    const repo = exampleRepo();
    const before = readFileSync(join(repo, 'environments/production.yaml'), 'utf8');
    const r = runCli(['rollback', 'intent-classifier', '--environment', 'production', '--repo', repo]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("does not satisfy structured-extractor@1.0.0's dependency range ^2.0.0");
    expect(r.stderr).toContain('nothing was changed');
    expect(readFileSync(join(repo, 'environments/production.yaml'), 'utf8')).toBe(before);
  });

  it('drops only the canary with --canary', () => {
    const repo = exampleRepo();
    const r = runCli(['rollback', 'intent-classifier', '-e', 'production', '--canary', '--repo', repo]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('rollback: drop intent-classifier canary 2.1.0 in production');
    const reg = registryOf(repo);
    expect(reg.environments.get('production')!.deployments.get('intent-classifier')).toEqual({
      version: '2.0.0',
      rollbackWindow: ['1.1.0'],
    });
  });

  it('exits 2 on usage errors', () => {
    expect(runCli(['rollback', '--environment', 'production']).status).toBe(2);
    expect(runCli(['rollback', 'intent-classifier']).stderr).toContain('--environment is required');
    expect(runCli(['rollback', 'intent-classifier', '-e', 'production', '--to', '1.1.0', '--canary']).status).toBe(2);
  });
});
