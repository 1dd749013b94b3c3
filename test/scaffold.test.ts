// `model-gitops init` and `model-gitops new`, through the real CLI on real folders: what they write,
// what they refuse, and that `validate` passes right after each.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { environmentYaml, gitignoreWithWorkspace, modelCardInputs, modelYaml } from '../src/authoring/scaffold.ts';
import { runCli, tempDir, write } from './helpers.ts';

const read = (dir: string, p: string) => readFileSync(join(dir, p), 'utf8');

function validate(dir: string) {
  const r = runCli(['validate', '--repo', dir, '--json']);
  return { status: r.status, json: JSON.parse(r.stdout) as { valid: boolean; counts: Record<string, number> } };
}

/** Every file under `dir` with its content, to show that a command wrote nothing. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else out[p] = `${statSync(join(dir, p)).mtimeMs}:${read(dir, p)}`;
    }
  };
  walk('');
  return out;
}

describe('model-gitops init', () => {
  it('starts a registry in an empty folder that validate accepts', () => {
    const dir = tempDir('mg-init-');
    const r = runCli(['init', '--repo', dir]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('wrote  environments/dev.yaml');
    expect(r.stdout).toMatch(/next: model-gitops new MODEL --owner/);
    expect(read(dir, 'environments/dev.yaml')).toMatch(
      /^# yaml-language-server: \$schema=\.\.\/schemas\/environment\.schema\.json\n/,
    );
    expect(read(dir, 'environments/dev.yaml')).not.toContain('requires:');
    expect(read(dir, 'environments/staging.yaml')).toContain('\nrequires: dev\n');
    expect(read(dir, 'environments/production.yaml')).toContain('\nrequires: staging\n');
    expect(read(dir, 'environments/production.yaml')).toContain('\nmodels: {}\n');
    expect(existsSync(join(dir, 'models', '.gitkeep'))).toBe(true);
    expect(read(dir, '.gitignore')).toContain('/.model-gitops/\n');
    const v = validate(dir);
    expect(v.status).toBe(0);
    expect(v.json.valid).toBe(true);
    expect(v.json.counts.environments).toBe(3);
  });

  it('creates the --repo folder when it does not exist yet', () => {
    const dir = join(tempDir('mg-init-'), 'new', 'registry');
    expect(runCli(['init', '--repo', dir]).status).toBe(0);
    expect(validate(dir).status).toBe(0);
  });

  it('takes environment names in promotion order from --environments', () => {
    const dir = tempDir('mg-init-');
    const r = runCli(['init', '--repo', dir, '--environments', 'qa, canary-eu,prod', '--json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { written: string[]; skipped: string[]; next: string };
    expect(out.written).toEqual([
      'environments/qa.yaml',
      'environments/canary-eu.yaml',
      'environments/prod.yaml',
      'models/.gitkeep',
      '.gitignore',
    ]);
    expect(out.skipped).toEqual([]);
    expect(out.next).toMatch(/^model-gitops new MODEL/);
    expect(read(dir, 'environments/canary-eu.yaml')).toContain('requires: qa\n');
    expect(read(dir, 'environments/prod.yaml')).toContain('requires: canary-eu\n');
    expect(readdirSync(join(dir, 'environments')).sort()).toEqual(['canary-eu.yaml', 'prod.yaml', 'qa.yaml']);
    expect(validate(dir).status).toBe(0);
  });

  it('a single environment requires nothing', () => {
    const dir = tempDir('mg-init-');
    expect(runCli(['init', '--repo', dir, '--environments', 'production']).status).toBe(0);
    expect(read(dir, 'environments/production.yaml')).not.toContain('requires');
    expect(validate(dir).status).toBe(0);
  });

  it.each([
    ['Prod', /"Prod" is not a valid environment name/],
    ['dev,staging,dev', /names "dev" twice/],
    ['dev,,prod', /has an empty name/],
    ['', /at least one environment/],
    ['1st', /"1st" is not a valid environment name/],
    ['dev,../etc', /"\.\.\/etc" is not a valid environment name/],
  ])('refuses --environments "%s" and writes nothing', (names, message) => {
    const dir = tempDir('mg-init-');
    const r = runCli(['init', '--repo', dir, '--environments', names]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('--environments');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('run again without --force, it writes nothing and says so; --force replaces edited files', () => {
    const dir = tempDir('mg-init-');
    expect(runCli(['init', '--repo', dir]).status).toBe(0);
    const before = snapshot(dir);
    const again = runCli(['init', '--repo', dir, '--json']);
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ written: [] });
    const human = runCli(['init', '--repo', dir]);
    expect(human.status).toBe(0);
    expect(human.stdout).toContain('nothing written');
    expect(snapshot(dir)).toEqual(before);

    // An edited environment is the team's: kept, and named, unless --force.
    write(dir, 'environments/dev.yaml', 'description: ours\nmodels: {}\n');
    const kept = runCli(['init', '--repo', dir]);
    expect(kept.status).toBe(0);
    expect(kept.stdout).toMatch(/kept\s+environments\/dev\.yaml\s+exists and differs \(--force replaces it\)/);
    expect(kept.stdout).toContain('nothing written');
    expect(read(dir, 'environments/dev.yaml')).toBe('description: ours\nmodels: {}\n');
    const forced = runCli(['init', '--repo', dir, '--force', '--json']);
    expect(JSON.parse(forced.stdout).written).toEqual(['environments/dev.yaml']);
    expect(read(dir, 'environments/dev.yaml')).toContain('Every new version lands here first.');
  });

  it('adds the workspace to an existing .gitignore once, keeping its lines', () => {
    const dir = tempDir('mg-init-');
    write(dir, '.gitignore', 'node_modules/\n*.log'); // no final newline
    expect(runCli(['init', '--repo', dir]).status).toBe(0);
    const text = read(dir, '.gitignore');
    expect(text.startsWith('node_modules/\n*.log\n')).toBe(true);
    expect(text.split('\n').filter((l) => l === '/.model-gitops/')).toHaveLength(1);
    expect(runCli(['init', '--repo', dir, '--environments', 'dev']).status).toBe(0);
    expect(read(dir, '.gitignore')).toBe(text);
  });

  it('leaves a .gitignore that already ignores the workspace (in any of its spellings) alone', () => {
    for (const line of ['.model-gitops', '.model-gitops/', '/.model-gitops', '/.model-gitops/']) {
      expect(gitignoreWithWorkspace(`a\n${line}\nb\n`)).toBe(`a\n${line}\nb\n`);
    }
    expect(gitignoreWithWorkspace(undefined)).toContain('/.model-gitops/\n');
  });

  it('does not add models/.gitkeep to a models/ folder that has content', () => {
    const dir = tempDir('mg-init-');
    write(dir, 'models/.keep-me', '');
    const r = runCli(['init', '--repo', dir, '--json']);
    expect(JSON.parse(r.stdout).written).not.toContain('models/.gitkeep');
  });

  it('refuses to write through a symlinked environments folder', async () => {
    const { symlinkSync, mkdirSync } = await import('node:fs');
    const dir = tempDir('mg-init-');
    const elsewhere = tempDir('mg-elsewhere-');
    mkdirSync(join(elsewhere, 'envs'));
    symlinkSync(join(elsewhere, 'envs'), join(dir, 'environments'));
    const r = runCli(['init', '--repo', dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('environments is a symlink');
    expect(readdirSync(join(elsewhere, 'envs'))).toEqual([]);
  });
});

describe('model-gitops new', () => {
  function initialised(): string {
    const dir = tempDir('mg-new-');
    expect(runCli(['init', '--repo', dir]).status).toBe(0);
    return dir;
  }

  it('writes a model card that validate accepts, and an empty versions/ folder', () => {
    const dir = initialised();
    const r = runCli([
      'new',
      'intent-router',
      '--repo',
      dir,
      '--owner',
      '@acme/ml-platform',
      '--owner',
      'dana',
      '--task',
      'text-classification',
      '--description',
      'Routes messages: by intent, for the support bot.',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('wrote  models/intent-router/model.yaml');
    expect(r.stdout).toContain(
      'next: model-gitops push ./weights --model intent-router --version 0.1.0 --summary "first version"',
    );
    const card = read(dir, 'models/intent-router/model.yaml');
    expect(card).toMatch(/^# yaml-language-server: \$schema=\.\.\/\.\.\/schemas\/model\.schema\.json\n/);
    expect(card).toContain('\nname: intent-router\n');
    expect(card).toContain('\nowners: ["@acme/ml-platform", "@dana"]\n');
    expect(card).toContain('\ntask: text-classification\n');
    expect(card).toContain('\ndescription: "Routes messages: by intent, for the support bot."\n');
    expect(card).toContain('\n# benchmark:\n#   command: ');
    expect(card).toContain('{model_dir}');
    expect(readdirSync(join(dir, 'models/intent-router/versions'))).toEqual(['.gitkeep']);
    const v = validate(dir);
    expect(v.status).toBe(0);
    expect(v.json.counts.models).toBe(1);
  });

  it('the commented benchmark recipe is a valid recipe once uncommented and its digest filled in', () => {
    const dir = initialised();
    expect(runCli(['new', 'scrubber', '--repo', dir, '--owner', '@acme/privacy']).status).toBe(0);
    const card = read(dir, 'models/scrubber/model.yaml');
    const uncommented = card
      .split('\n')
      .map((l) => (/^# (benchmark:| {2})/.test(l) ? l.slice(2) : l))
      .join('\n')
      .replace('SHA256_OF_THE_GOLDEN_SET', 'a'.repeat(64));
    expect(uncommented).toContain('\nbenchmark:\n  command:');
    write(dir, 'models/scrubber/model.yaml', uncommented);
    const v = validate(dir);
    expect(v.status).toBe(0);
  });

  it('without --task or --description it writes valid defaults and says to edit them', () => {
    const dir = initialised();
    const r = runCli(['new', 'extractor', '--repo', dir, '--owner', '@acme/ml']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/note: task is text-generation \(the default\) and description is a placeholder/);
    expect(read(dir, 'models/extractor/model.yaml')).toContain('benchmarks/torch/causal_lm.py');
    expect(validate(dir).status).toBe(0);
  });

  it('works in a folder without init (no environments yet)', () => {
    const dir = tempDir('mg-new-');
    expect(runCli(['new', 'solo', '--repo', dir, '--owner', '@me']).status).toBe(0);
    expect(validate(dir).status).toBe(0);
  });

  it.each([
    [['new', 'Bad_Name', '--owner', '@acme/ml'], /"Bad_Name" is not a valid model name/],
    [['new', 'double--hyphen', '--owner', '@acme/ml'], /"double--hyphen" is not a valid model name/],
    [['new', 'ok'], /--owner is required/],
    [['new', 'ok', '--owner', 'dana@example.com'], /--owner "dana@example.com" must be a GitHub user/],
    [['new', 'ok', '--owner', '@a', '--owner', 'a'], /--owner "@a" is given twice/],
    [['new', 'ok', '--owner', '@a', '--task', 'Text Classification'], /--task "Text Classification" must be/],
    [['new', 'ok', '--owner', '@a', '--description', '  '], /--description must not be empty/],
    [['new', '--owner', '@a'], /expected exactly one model name/],
    [['new', 'a', 'b', '--owner', '@a'], /expected exactly one model name/],
  ])('refuses %j and writes nothing', (args, message) => {
    const dir = initialised();
    const before = snapshot(dir);
    const r = runCli([...args, '--repo', dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(snapshot(dir)).toEqual(before);
  });

  it('refuses a model that already has a different card unless --force', () => {
    const dir = initialised();
    expect(runCli(['new', 'm', '--repo', dir, '--owner', '@acme/a']).status).toBe(0);
    const again = runCli(['new', 'm', '--repo', dir, '--owner', '@acme/b']);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('models/m/model.yaml already exists; nothing written (--force replaces it)');
    expect(read(dir, 'models/m/model.yaml')).toContain('@acme/a');
    // The same card again is not a conflict: nothing to write.
    const same = runCli(['new', 'm', '--repo', dir, '--owner', '@acme/a', '--json']);
    expect(same.status).toBe(0);
    expect(JSON.parse(same.stdout)).toMatchObject({ written: [], skipped: ['models/m/model.yaml'] });
    const forced = runCli(['new', 'm', '--repo', dir, '--owner', '@acme/b', '--force', '--json']);
    expect(forced.status).toBe(0);
    expect(JSON.parse(forced.stdout).written).toEqual(['models/m/model.yaml']);
    expect(read(dir, 'models/m/model.yaml')).toContain('@acme/b');
    expect(validate(dir).status).toBe(0);
  });

  it('does not add versions/.gitkeep next to existing cards', () => {
    const dir = initialised();
    write(dir, 'models/m/versions/README.md', 'notes\n');
    const r = runCli(['new', 'm', '--repo', dir, '--owner', '@a', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({
      written: ['models/m/model.yaml'],
      skipped: [],
      next: expect.stringContaining('--model m --version 0.1.0'),
    });
  });

  it('refuses a --repo that does not exist', () => {
    const r = runCli(['new', 'm', '--owner', '@a', '--repo', join(tempDir(), 'missing')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('repository folder not found');
  });

  it('is listed in the help with init and upgrade', () => {
    const r = runCli(['--help']);
    for (const c of ['init', 'new', 'upgrade']) expect(r.stdout).toMatch(new RegExp(`\\n  ${c} +\\S`));
    expect(runCli(['new', '--help']).stdout).toMatch(/^usage: model-gitops new MODEL --owner/);
    expect(runCli(['init', '--help']).stdout).toMatch(/^usage: model-gitops init/);
  });
});

describe('scaffold contents', () => {
  it('environment files name the previous stage in their description', () => {
    expect(environmentYaml('prod', 'staging')).toContain(
      'description: A version must be in staging on main before it enters prod.',
    );
  });

  it('a multi-line description stays one YAML value', () => {
    const c = modelCardInputs({ name: 'm', owners: ['@a'], description: 'line one\nline two: with a colon' });
    expect((parse(modelYaml(c)) as { description: string }).description).toBe('line one\nline two: with a colon');
  });
});
