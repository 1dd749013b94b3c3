import { describe, expect, it } from 'vitest';
import { readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { validateRegistry } from '../src/registry/validate.ts';
import { MAX_UNKNOWN_FIELDS_PER_MAPPING } from '../src/registry/schemas.ts';
import { WorkingTreeSource } from '../src/registry/source.ts';
import { formatDiagnostic } from '../src/registry/diagnostics.ts';
import { FLEET, edit, exampleRepo, write } from './helpers.ts';

const validate = (repo: string) => validateRegistry(new WorkingTreeSource(repo, { maxFileBytes: 1024 * 1024 }));
const errorsOf = (repo: string) => validate(repo).diagnostics.filter((d) => d.severity === 'error');

describe('the example fleet (examples/fleet)', () => {
  it('is valid and fully loaded', () => {
    const r = validate(FLEET);
    expect(r.diagnostics).toEqual([]);
    expect(r.counts).toEqual({ files: 14, models: 3, versions: 8, environments: 3 });
    const prod = r.registry.environments.get('production')!;
    expect(prod.requires).toBe('staging');
    expect(prod.deployments.get('intent-classifier')).toEqual({
      version: '2.0.0',
      canary: { version: '2.1.0', weight: '5%' },
      rollbackWindow: ['1.1.0'],
    });
    expect(prod.deployments.get('pii-scrubber')).toEqual({ version: '1.4.1', rollbackWindow: [] });
  });
});

describe('schema messages', () => {
  it('names the field, line and column and says what is expected in words', () => {
    const repo = exampleRepo();
    edit(repo, 'models/pii-scrubber/versions/1.4.2.yaml', (t) => t.replace(/sha256: a4d29bb7\w+/, 'sha256: A4D29BB7'));
    const [d, ...rest] = errorsOf(repo);
    expect(rest).toEqual([]);
    expect(d).toMatchObject({
      file: 'models/pii-scrubber/versions/1.4.2.yaml',
      line: 11,
      field: 'artifacts[0].sha256',
      rule: 'schema',
    });
    expect(d!.message).toBe('must be 64 lowercase hex characters (got "A4D29BB7")');
    expect(formatDiagnostic(d!)).toMatch(
      /^models\/pii-scrubber\/versions\/1\.4\.2\.yaml:11:\d+ {2}artifacts\[0\]\.sha256 {2}must be 64 lowercase/,
    );
  });

  it('suggests the field a typo meant', () => {
    const repo = exampleRepo();
    edit(repo, 'models/intent-classifier/model.yaml', (t) => t.replace('description:', 'descripton:'));
    const ds = errorsOf(repo);
    expect(ds.map((d) => [d.field, d.message])).toEqual([
      ['description', 'required field "description" is missing'],
      ['descripton', 'unknown field "descripton"; did you mean "description"?'],
    ]);
    expect(ds[1]!.line).toBe(5);
    expect(ds[1]!.column).toBe(1);
  });

  it('lists the first unknown fields of a mapping one by one and sums up the rest on one line', () => {
    const repo = exampleRepo();
    const stray = Array.from({ length: 5000 }, (_, i) => `stray${i}: ${i}`).join('\n');
    edit(repo, 'models/intent-classifier/model.yaml', (t) => `${t.trimEnd()}\n${stray}\n`);
    const ds = errorsOf(repo);
    expect(ds).toHaveLength(MAX_UNKNOWN_FIELDS_PER_MAPPING + 1);
    expect(ds[0]!.message).toMatch(/^unknown field "stray0"/);
    const summary = ds.at(-1)!;
    expect(summary.message).toBe(
      `4,980 more unknown fields at the top level, from here on (only the first ${MAX_UNKNOWN_FIELDS_PER_MAPPING} are listed one by one); is this the right file?`,
    );
    // It points at the first field it sums up, so an editor jumps to where the listing stopped.
    expect(summary.field).toBe(`stray${MAX_UNKNOWN_FIELDS_PER_MAPPING}`);
    expect(summary.line).toBe(ds[MAX_UNKNOWN_FIELDS_PER_MAPPING - 1]!.line! + 1);
  });

  it('explains a version YAML read as a number', () => {
    const repo = exampleRepo();
    edit(repo, 'environments/dev.yaml', (t) => t.replace('pii-scrubber: 1.4.2', 'pii-scrubber: 1.4'));
    const [d] = errorsOf(repo);
    expect(d).toMatchObject({ file: 'environments/dev.yaml', line: 5, field: 'models.pii-scrubber' });
    expect(d!.message).toBe(
      'must be a version such as 1.4.2, or a mapping with version, canary and rollbackWindow, not a number (YAML read 1.4 as a number)',
    );
  });
});

describe('identity rules', () => {
  it('refuses a card whose name differs from its folder', () => {
    const repo = exampleRepo();
    edit(repo, 'models/pii-scrubber/versions/1.4.1.yaml', (t) => t.replace('name: pii-scrubber', 'name: pii-scrub'));
    expect(errorsOf(repo)).toEqual([
      expect.objectContaining({
        file: 'models/pii-scrubber/versions/1.4.1.yaml',
        line: 2,
        field: 'name',
        rule: 'identity-folder',
      }),
    ]);
  });

  it('refuses a version that differs from its file name, without cascading into the environments that use it', () => {
    const repo = exampleRepo();
    edit(repo, 'models/pii-scrubber/versions/1.4.1.yaml', (t) => t.replace('version: 1.4.1', 'version: 1.4.9'));
    expect(errorsOf(repo).map((d) => d.rule)).toEqual(['identity-file']);
  });

  it('refuses file names that are not semantic versions', () => {
    const repo = exampleRepo();
    write(repo, 'models/pii-scrubber/versions/v1.5.0.yaml', 'name: pii-scrubber\n');
    expect(errorsOf(repo)).toEqual([
      expect.objectContaining({ file: 'models/pii-scrubber/versions/v1.5.0.yaml', line: 1, rule: 'identity-file' }),
    ]);
  });

  it('accepts a prerelease version file', () => {
    const repo = exampleRepo();
    write(
      repo,
      'models/pii-scrubber/versions/1.5.0-rc.1.yaml',
      readFileSync(join(repo, 'models/pii-scrubber/versions/1.4.2.yaml'), 'utf8').replace(
        'version: 1.4.2',
        'version: 1.5.0-rc.1',
      ),
    );
    expect(errorsOf(repo)).toEqual([]);
  });
});

describe('cross-file rules', () => {
  it('refuses an environment that names a version that does not exist, listing the known ones', () => {
    const repo = exampleRepo();
    edit(repo, 'environments/staging.yaml', (t) => t.replace('pii-scrubber: 1.4.2', 'pii-scrubber: 1.4.3'));
    const [d] = errorsOf(repo);
    expect(d).toMatchObject({
      file: 'environments/staging.yaml',
      line: 6,
      field: 'models.pii-scrubber',
      rule: 'environment-version',
    });
    expect(d!.message).toBe('pii-scrubber has no version 1.4.3 (known: 1.4.2, 1.4.1)');
  });

  it('checks canary and rollback references at their own lines', () => {
    const repo = exampleRepo();
    edit(repo, 'environments/production.yaml', (t) =>
      t.replace('{version: 2.1.0, weight: 5%}', '{version: 2.2.0, weight: 5%}').replace('[1.1.0]', '[2.0.0]'),
    );
    expect(errorsOf(repo).map((d) => [d.line, d.field, d.rule])).toEqual([
      [7, 'models.intent-classifier.canary.version', 'environment-version'],
      [8, 'models.intent-classifier.rollbackWindow[0]', 'environment-rollback'],
    ]);
  });

  it('refuses a dependency range that the environment does not satisfy, naming both sides', () => {
    const repo = exampleRepo();
    edit(repo, 'environments/staging.yaml', (t) => t.replace('intent-classifier: 2.1.0', 'intent-classifier: 1.1.0'));
    const [d, ...rest] = errorsOf(repo);
    expect(rest).toEqual([]);
    expect(d).toMatchObject({
      file: 'environments/staging.yaml',
      line: 5,
      field: 'models.intent-classifier',
      rule: 'dependency-range-unsatisfied',
    });
    expect(d!.message).toBe(
      "intent-classifier 1.1.0 (champion in staging) does not satisfy structured-extractor@1.0.0's dependency range ^2.0.0",
    );
  });

  it('refuses a dependency that is not deployed in the environment', () => {
    const repo = exampleRepo();
    edit(repo, 'environments/dev.yaml', (t) => t.replace('  intent-classifier: 2.1.0\n', ''));
    expect(errorsOf(repo)).toEqual([
      expect.objectContaining({
        file: 'environments/dev.yaml',
        field: 'models.structured-extractor',
        rule: 'dependency-missing',
      }),
    ]);
  });

  it('accepts a dependency satisfied by both champion and canary', () => {
    expect(errorsOf(exampleRepo())).toEqual([]);
  });

  it('refuses requires chains that are unknown or cyclic, and accepts a linear one', () => {
    const repo = exampleRepo();
    edit(repo, 'environments/dev.yaml', (t) => t.replace('models:', 'requires: production\nmodels:'));
    const ds = errorsOf(repo);
    expect(ds).toEqual([
      expect.objectContaining({ file: 'environments/dev.yaml', field: 'requires', rule: 'requires-cycle' }),
    ]);
    expect(ds[0]!.message).toBe('requires chain is a cycle: dev -> production -> staging -> dev');
    const repo2 = exampleRepo();
    edit(repo2, 'environments/staging.yaml', (t) => t.replace('requires: dev', 'requires: qa'));
    expect(errorsOf(repo2)).toEqual([
      expect.objectContaining({
        rule: 'requires-unknown',
        message: 'requires "qa", but there is no environments/qa.yaml',
      }),
    ]);
  });

  it('refuses a symlink that leaves the repository but follows one that stays inside', () => {
    const repo = exampleRepo();
    symlinkSync('/etc/hostname', join(repo, 'environments', 'qa.yaml'));
    expect(errorsOf(repo)).toEqual([
      expect.objectContaining({
        file: 'environments/qa.yaml',
        rule: 'file-access',
        message: expect.stringContaining('outside the repository'),
      }),
    ]);
    rmSync(join(repo, 'environments', 'qa.yaml'));
    symlinkSync(join(repo, 'environments', 'dev.yaml'), join(repo, 'environments', 'qa.yaml'));
    expect(errorsOf(repo)).toEqual([]);
  });

  it('marks a deprecated champion with a warning, not an error', () => {
    const repo = exampleRepo();
    edit(repo, 'models/pii-scrubber/versions/1.4.1.yaml', (t) => `${t}deprecated: true\n`);
    const r = validate(repo);
    expect(r.errors).toBe(0);
    expect(r.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'warning',
        file: 'environments/production.yaml',
        rule: 'environment-deprecated',
      }),
    ]);
  });
});

describe('one hostile file in a pull request', () => {
  // Regression guard: the YAML parser's own unique-keys check was quadratic, and this card (about
  // 600 KB, under the 1 MiB limit) took over 40 s to validate. Now it is well under a second.
  it('a version card with 64,000 keys and one of them repeated is refused once, at the repeat', {
    timeout: 10_000,
  }, () => {
    const repo = exampleRepo();
    const path = 'models/intent-classifier/versions/2.1.0.yaml';
    const card = readFileSync(join(repo, path), 'utf8');
    const extra: string[] = [];
    for (let i = 0; i < 64_000; i++) extra.push(`x${i.toString(36).padStart(4, '0')}: ${i}`);
    write(repo, path, `${card}${extra.join('\n')}\nx0rs0: again\n`);
    const lines = card.split('\n').length - 1 + 64_001;
    expect(errorsOf(repo)).toEqual([
      expect.objectContaining({
        file: path,
        line: lines,
        column: 1,
        field: '',
        rule: 'yaml-syntax',
        message: expect.stringContaining('duplicate key'),
      }),
    ]);
  });
});

describe('formatDiagnostic', () => {
  it('indents the continuation lines of a multi-line message and escapes other control characters', () => {
    const d = {
      file: 'a\u001b[2Jb.yaml',
      line: 3,
      column: 1,
      field: 'version',
      message: 'too small:\n  FIELD  NEEDS\nx.yaml:1:1  forged',
      rule: 'semver-bump',
      severity: 'error' as const,
    };
    expect(formatDiagnostic(d)).toBe(
      'a\\u001b[2Jb.yaml:3:1  version  too small:\n      FIELD  NEEDS\n    x.yaml:1:1  forged',
    );
  });
});
